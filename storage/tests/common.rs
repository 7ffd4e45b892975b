//! Shared helpers for the engine's integration tests: small options that make flushes and
//! compactions happen after a few KiB, and a BTreeMap oracle of the engine's model.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Bound;

use ferrisdb_storage::{Direction, Options, SyncMode};

/// Options under which a few hundred writes flush, compact and fill several levels.
pub fn tiny_options() -> Options {
    Options {
        sync_mode: SyncMode::None,
        memtable_size: 4096,
        max_immutable_memtables: 2,
        block_size: 256,
        block_cache_size: 64 << 10,
        max_open_tables: 8,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 6,
        l0_stop_trigger: 10,
        l1_target_size: 8 << 10,
        level_size_multiplier: 2,
        target_file_size: 4096,
        num_levels: 5,
        ..Options::default()
    }
}

/// The engine's model: key -> version -> value (None = tombstone).
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    pub data: BTreeMap<Vec<u8>, BTreeMap<u64, Option<Vec<u8>>>>,
}

impl Oracle {
    pub fn put(&mut self, key: &[u8], version: u64, value: &[u8]) {
        self.data
            .entry(key.to_vec())
            .or_default()
            .insert(version, Some(value.to_vec()));
    }

    pub fn delete(&mut self, key: &[u8], version: u64) {
        self.data
            .entry(key.to_vec())
            .or_default()
            .insert(version, None);
    }

    pub fn get(&self, key: &[u8], at: u64) -> Option<Vec<u8>> {
        self.data.get(key)?.range(..=at).next_back()?.1.clone()
    }

    pub fn scan(
        &self,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        at: u64,
        d: Direction,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        // BTreeMap::range panics on an inverted range; an engine scan of one is just empty.
        let inverted = match (&lo, &hi) {
            (Bound::Included(l), Bound::Included(h)) => l > h,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => {
                l >= h
            }
            _ => false,
        };
        if inverted {
            return Vec::new();
        }
        let mut out: Vec<_> = self
            .data
            .range((lo, hi))
            .filter_map(|(k, _)| self.get(k, at).map(|v| (k.clone(), v)))
            .collect();
        if d == Direction::Reverse {
            out.reverse();
        }
        out
    }
}
