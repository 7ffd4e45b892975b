//! Range scans at a version: what a reader at version `v` sees of a key range.
//!
//! A [`Scan`] sits on a merging iterator over every source (memtables, L0 tables, levels),
//! which yields *all* entries in the internal order. For each user key it shows the newest
//! entry whose version is `<= v`, hides the key if that entry is a tombstone, and skips the
//! rest of the key's versions:
//!
//! ```text
//!   forward:  ("a",9) ("a",5) ("a",2) ("b",7) ("b",3)      read at v = 6
//!              skip    SHOW    skip    skip    SHOW(b@3)
//!   reverse:  walks each key's versions oldest first and keeps the last one <= v
//! ```
//!
//! Forward, a key's versions are stepped over one at a time only up to
//! [`MAX_SEQUENTIAL_SKIPS`]; past that the scan seeks, so a key updated thousands of
//! times inside the MVCC window costs a seek, not a walk over its history.
//!
//! Among equal (key, version) entries the newest source comes first going forward and last
//! going backward, so both directions pick the same entry. The scan streams: it holds one
//! key and one value at a time, plus the sources' current blocks.

use std::ops::Bound;
use std::sync::Arc;

use crate::iterator::InternalIterator;
use crate::types::{ValueKind, Version};
use crate::Result;

/// Versions of one key a forward scan steps over one by one before it seeks past them
/// (LevelDB's and RocksDB's `max_sequential_skip_in_iterations`): stepping is cheaper for
/// a few, a seek (O(log n) in every source) for a hot key with thousands of versions
/// inside the MVCC window.
const MAX_SEQUENTIAL_SKIPS: usize = 8;

/// Scan direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
}

/// A streaming range scan. Use it as a lending cursor (`advance`, then `key`/`value`), or as an
/// `Iterator` of owned `(key, value)` pairs.
pub struct Scan {
    iter: Box<dyn InternalIterator>,
    /// Keeps memtables, tables and (for snapshots) registrations alive while the scan runs.
    _pin: Arc<dyn Send + Sync>,
    version: Version,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    direction: Direction,
    started: bool,
    done: bool,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Scan {
    pub(crate) fn new(
        iter: Box<dyn InternalIterator>,
        pin: Arc<dyn Send + Sync>,
        version: Version,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        direction: Direction,
    ) -> Scan {
        Scan {
            iter,
            _pin: pin,
            version,
            lower,
            upper,
            direction,
            started: false,
            done: false,
            key: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Move to the next visible entry. Returns false at the end of the range.
    pub fn advance(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let r = match self.direction {
            Direction::Forward => self.advance_forward(),
            Direction::Reverse => self.advance_reverse(),
        };
        if !matches!(r, Ok(true)) {
            self.done = true;
        }
        r
    }

    /// Key of the current entry (after `advance` returned true).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Value of the current entry (after `advance` returned true).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    fn above_upper(&self, key: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(u) => key > u.as_slice(),
            Bound::Excluded(u) => key >= u.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn below_lower(&self, key: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(l) => key < l.as_slice(),
            Bound::Excluded(l) => key <= l.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn advance_forward(&mut self) -> Result<bool> {
        if !self.started {
            self.started = true;
            match &self.lower {
                Bound::Included(k) | Bound::Excluded(k) => self.iter.seek(k, Version::MAX)?,
                Bound::Unbounded => self.iter.seek_to_first()?,
            }
        } else {
            self.skip_rest_of_key()?;
        }
        loop {
            if !self.iter.valid() || self.above_upper(self.iter.key()) {
                return Ok(false);
            }
            if self.below_lower(self.iter.key()) {
                self.iter.next()?;
                continue;
            }
            self.key.clear();
            self.key.extend_from_slice(self.iter.key());
            let mut steps = 0;
            while self.iter.valid()
                && self.iter.key() == self.key.as_slice()
                && self.iter.version() > self.version
            {
                steps += 1;
                if steps > MAX_SEQUENTIAL_SKIPS {
                    // Many versions newer than the read: jump to the newest one at or
                    // below it (the first entry >= (key, version) in internal order).
                    self.iter.seek(&self.key, self.version)?;
                    break;
                }
                self.iter.next()?;
            }
            if self.iter.valid() && self.iter.key() == self.key.as_slice() {
                if self.iter.kind() == ValueKind::Value {
                    self.value.clear();
                    self.value.extend_from_slice(self.iter.value());
                    return Ok(true);
                }
                self.skip_rest_of_key()?;
            }
        }
    }

    /// Step past every remaining entry of `self.key`.
    fn skip_rest_of_key(&mut self) -> Result<()> {
        let mut steps = 0;
        while self.iter.valid() && self.iter.key() == self.key.as_slice() {
            steps += 1;
            if steps > MAX_SEQUENTIAL_SKIPS {
                // A key with many old versions (a hot row): seek to the first possible
                // next key, `key ++ 00`, instead of stepping through every version.
                let mut next = self.key.clone();
                next.push(0);
                return self.iter.seek(&next, Version::MAX);
            }
            self.iter.next()?;
        }
        Ok(())
    }

    fn advance_reverse(&mut self) -> Result<bool> {
        if !self.started {
            self.started = true;
            match &self.upper {
                Bound::Included(k) => self.iter.seek_for_prev(k, 0)?,
                Bound::Excluded(k) => self.iter.seek_for_prev(k, Version::MAX)?,
                Bound::Unbounded => self.iter.seek_to_last()?,
            }
        }
        loop {
            if !self.iter.valid() || self.below_lower(self.iter.key()) {
                return Ok(false);
            }
            if self.above_upper(self.iter.key()) {
                self.iter.prev()?;
                continue;
            }
            self.key.clear();
            self.key.extend_from_slice(self.iter.key());
            let mut found = None;
            while self.iter.valid() && self.iter.key() == self.key.as_slice() {
                if self.iter.version() <= self.version {
                    found = Some(self.iter.kind());
                    if self.iter.kind() == ValueKind::Value {
                        self.value.clear();
                        self.value.extend_from_slice(self.iter.value());
                    }
                }
                self.iter.prev()?;
            }
            if found == Some(ValueKind::Value) {
                return Ok(true);
            }
        }
    }
}

impl Iterator for Scan {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.advance() {
            Ok(true) => Some(Ok((self.key.clone(), self.value.clone()))),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iterator::VecIterator;
    use crate::types::Entry;

    fn e(k: &str, v: u64, val: Option<&str>) -> Entry {
        Entry {
            key: k.into(),
            version: v,
            kind: if val.is_some() {
                ValueKind::Value
            } else {
                ValueKind::Tombstone
            },
            value: val.unwrap_or("").into(),
        }
    }

    fn scan(
        entries: Vec<Entry>,
        v: u64,
        lo: Bound<&str>,
        hi: Bound<&str>,
        d: Direction,
    ) -> Vec<(String, String)> {
        let own = |b: Bound<&str>| b.map(|s| s.as_bytes().to_vec());
        let s = Scan::new(
            Box::new(VecIterator::new(entries)),
            Arc::new(()),
            v,
            own(lo),
            own(hi),
            d,
        );
        s.map(|r| {
            let (k, v) = r.unwrap();
            (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
        })
        .collect()
    }

    fn data() -> Vec<Entry> {
        vec![
            e("a", 9, Some("a9")),
            e("a", 5, Some("a5")),
            e("a", 2, Some("a2")),
            e("b", 7, None),
            e("b", 3, Some("b3")),
            e("c", 4, Some("c4")),
            e("c", 4, Some("c4-older-source")),
            e("d", 8, Some("d8")),
        ]
    }

    #[test]
    fn forward_and_reverse_agree_at_every_version() {
        for v in 0..11 {
            let fwd = scan(
                data(),
                v,
                Bound::Unbounded,
                Bound::Unbounded,
                Direction::Forward,
            );
            let mut rev = scan(
                data(),
                v,
                Bound::Unbounded,
                Bound::Unbounded,
                Direction::Reverse,
            );
            rev.reverse();
            assert_eq!(fwd, rev, "at version {v}");
        }
        let at6 = scan(
            data(),
            6,
            Bound::Unbounded,
            Bound::Unbounded,
            Direction::Forward,
        );
        let want: Vec<(String, String)> = vec![
            ("a".into(), "a5".into()),
            ("b".into(), "b3".into()),
            ("c".into(), "c4".into()),
        ];
        assert_eq!(at6, want);
        let at8 = scan(
            data(),
            8,
            Bound::Unbounded,
            Bound::Unbounded,
            Direction::Forward,
        );
        assert_eq!(
            at8.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            vec!["a", "c", "d"],
            "b is deleted at 7"
        );
    }

    /// "hot" has 100 versions (tombstones every 7th), between two ordinary keys: the
    /// forward scan seeks past runs of versions, and must agree with the reverse scan
    /// (which steps) and with the model at every read version.
    #[test]
    fn a_key_with_many_versions_reads_right_when_the_scan_seeks_past_them() {
        let mut entries = vec![e("ant", 50, Some("ant50"))];
        for v in (1..=100u64).rev() {
            let val = format!("hot{v}");
            entries.push(e("hot", v, (v % 7 != 0).then_some(val.as_str())));
        }
        entries.push(e("hot\0", 3, Some("nul3")));
        entries.push(e("zoo", 1, Some("zoo1")));
        for v in 0..=101u64 {
            let fwd = scan(
                entries.clone(),
                v,
                Bound::Unbounded,
                Bound::Unbounded,
                Direction::Forward,
            );
            let mut rev = scan(
                entries.clone(),
                v,
                Bound::Unbounded,
                Bound::Unbounded,
                Direction::Reverse,
            );
            rev.reverse();
            assert_eq!(fwd, rev, "at version {v}");
            let mut want = Vec::new();
            if v >= 50 {
                want.push(("ant".to_string(), "ant50".to_string()));
            }
            let newest = v.min(100);
            if newest >= 1 && newest % 7 != 0 {
                want.push(("hot".to_string(), format!("hot{newest}")));
            }
            if v >= 3 {
                want.push(("hot\0".to_string(), "nul3".to_string()));
            }
            if v >= 1 {
                want.push(("zoo".to_string(), "zoo1".to_string()));
            }
            assert_eq!(fwd, want, "at version {v}");
        }
    }

    #[test]
    fn bounds_inclusive_and_exclusive_both_directions() {
        for d in [Direction::Forward, Direction::Reverse] {
            let keys = |lo, hi| {
                let mut k: Vec<String> = scan(data(), 100, lo, hi, d)
                    .into_iter()
                    .map(|p| p.0)
                    .collect();
                k.sort();
                k
            };
            assert_eq!(
                keys(Bound::Included("a"), Bound::Included("c")),
                vec!["a", "c"]
            );
            assert_eq!(keys(Bound::Excluded("a"), Bound::Excluded("d")), vec!["c"]);
            assert_eq!(keys(Bound::Excluded("c"), Bound::Unbounded), vec!["d"]);
            assert_eq!(
                keys(Bound::Unbounded, Bound::Excluded("a")),
                Vec::<String>::new()
            );
            assert_eq!(
                keys(Bound::Included("bb"), Bound::Included("cc")),
                vec!["c"]
            );
        }
    }
}
