//! Engine options, with defaults sized for a 2-core, many-GiB machine.
//!
//! Memory is bounded by `memtable_size * (1 + max_immutable_memtables) + block_cache_size +
//! row_cache_size` plus table indexes and blooms (about 1.3 bytes per key at 10 bits per key).

use crate::sstable::{Compression, TableOptions};
use crate::wal::SyncMode;

/// Everything an engine can be tuned with. Start from `Options::default()`.
#[derive(Clone, Debug)]
pub struct Options {
    /// When a write is durable; see [`SyncMode`]. Default: group commit.
    pub sync_mode: SyncMode,
    /// A memtable becomes immutable (and is flushed) once it holds about this many bytes.
    pub memtable_size: usize,
    /// Writers wait when this many immutable memtables are waiting to be flushed.
    pub max_immutable_memtables: usize,
    /// Data block size before compression.
    pub block_size: usize,
    /// Bloom filter bits per key; 0 disables filters. 10 gives about 1% false positives.
    pub bloom_bits_per_key: usize,
    /// Block compression for new tables.
    pub compression: Compression,
    /// Memory bound of the shared block cache.
    pub block_cache_size: usize,
    /// Memory bound of the row cache (every version of a key in a table, for point reads,
    /// so a repeated read skips the index and block search); 0 turns it off. Default: off.
    pub row_cache_size: usize,
    /// How many table handles (open file, index, bloom) stay cached.
    pub max_open_tables: usize,
    /// L0 is compacted into L1 once it holds this many files.
    pub l0_compaction_trigger: usize,
    /// Each write is delayed by 1 ms while L0 holds at least this many files.
    pub l0_slowdown_trigger: usize,
    /// Writes wait for compaction while L0 holds at least this many files.
    pub l0_stop_trigger: usize,
    /// Target size of L1; each deeper level is `level_size_multiplier` times larger.
    pub l1_target_size: u64,
    pub level_size_multiplier: u64,
    /// Compaction output is cut into tables of about this size (never splitting one user key).
    pub target_file_size: u64,
    /// Number of levels, L0 included.
    pub num_levels: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sync_mode: SyncMode::GroupCommit,
            memtable_size: 32 << 20,
            max_immutable_memtables: 2,
            block_size: 4096,
            bloom_bits_per_key: 10,
            compression: Compression::None,
            block_cache_size: 64 << 20,
            row_cache_size: 0,
            max_open_tables: 1000,
            l0_compaction_trigger: 2,
            l0_slowdown_trigger: 12,
            l0_stop_trigger: 20,
            l1_target_size: 256 << 20,
            level_size_multiplier: 10,
            target_file_size: 32 << 20,
            num_levels: 7,
        }
    }
}

impl Options {
    pub(crate) fn table_options(&self) -> TableOptions {
        TableOptions {
            block_size: self.block_size,
            bloom_bits_per_key: self.bloom_bits_per_key,
            compression: self.compression,
            ..TableOptions::default()
        }
    }

    /// Size a new WAL segment is preallocated to: a little more than a full memtable's worth
    /// of records, so a segment normally never grows (see `RecordWriter::create_preallocated`).
    pub(crate) fn wal_preallocate_bytes(&self) -> u64 {
        (self.memtable_size as u64).saturating_mul(5) / 4
    }

    /// Target byte size of `level` (1-based levels; L0 is governed by file count).
    pub fn level_target_size(&self, level: usize) -> u64 {
        let mut size = self.l1_target_size;
        for _ in 1..level {
            size = size.saturating_mul(self.level_size_multiplier);
        }
        size
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::InvalidArgument(m.to_string()));
        if self.num_levels < 2 || self.num_levels > 16 {
            return bad("num_levels must be between 2 and 16");
        }
        if self.memtable_size < 4096 {
            return bad("memtable_size must be at least 4096 bytes");
        }
        if self.max_immutable_memtables == 0 {
            return bad("max_immutable_memtables must be at least 1");
        }
        if self.l0_compaction_trigger == 0
            || self.l0_slowdown_trigger < self.l0_compaction_trigger
            || self.l0_stop_trigger < self.l0_slowdown_trigger
        {
            return bad("need 0 < l0_compaction_trigger <= l0_slowdown_trigger <= l0_stop_trigger");
        }
        if self.block_size < 256 || self.target_file_size < 4096 || self.level_size_multiplier < 2 {
            return bad("block_size >= 256, target_file_size >= 4096, level_size_multiplier >= 2");
        }
        Ok(())
    }
}
