//! A cursor over one sorted level (L1 or deeper): the concatenation of its tables.
//!
//! Tables of a level are sorted and disjoint, so the level reads as one sorted run. Only the
//! table under the cursor is open; moving past its end opens the neighbour. Seeks pick the
//! table by binary search over the tables' smallest/largest entries, without opening others.

use std::sync::Arc;

use crate::iterator::InternalIterator;
use crate::sstable::TableIterator;
use crate::table_cache::TableCache;
use crate::types::{compare_internal, ValueKind, Version};
use crate::version::FileMeta;
use crate::Result;

pub struct LevelIterator {
    files: Vec<Arc<FileMeta>>,
    tables: Arc<TableCache>,
    /// Index of the open table; `files.len()` when none.
    idx: usize,
    cur: Option<TableIterator>,
    /// Whether blocks read through this cursor go into the block cache (not for compaction).
    fill_cache: bool,
}

impl LevelIterator {
    /// `files` must be sorted and disjoint (a level's invariant).
    pub fn new(files: Vec<Arc<FileMeta>>, tables: Arc<TableCache>) -> LevelIterator {
        let idx = files.len();
        LevelIterator {
            files,
            tables,
            idx,
            cur: None,
            fill_cache: true,
        }
    }

    /// A cursor for compaction: its reads do not evict hot blocks from the cache.
    pub fn without_cache_fill(files: Vec<Arc<FileMeta>>, tables: Arc<TableCache>) -> LevelIterator {
        LevelIterator {
            fill_cache: false,
            ..LevelIterator::new(files, tables)
        }
    }

    fn open(&mut self, idx: usize) -> Result<()> {
        self.cur = None;
        self.idx = idx;
        if let Some(f) = self.files.get(idx) {
            let t = self.tables.get(f.info.number)?;
            self.cur = Some(if self.fill_cache {
                t.iter()
            } else {
                t.iter_without_cache_fill()
            });
        }
        Ok(())
    }

    fn invalidate(&mut self) {
        self.cur = None;
        self.idx = self.files.len();
    }

    /// Move forward over exhausted tables until positioned or past the last one.
    fn skip_forward(&mut self) -> Result<()> {
        while !self.valid() && self.idx < self.files.len() {
            let next = self.idx + 1;
            self.open(next)?;
            if let Some(c) = self.cur.as_mut() {
                c.seek_to_first()?;
            }
        }
        Ok(())
    }

    fn skip_backward(&mut self) -> Result<()> {
        while !self.valid() && self.idx < self.files.len() {
            if self.idx == 0 {
                self.invalidate();
                break;
            }
            let prev = self.idx - 1;
            self.open(prev)?;
            if let Some(c) = self.cur.as_mut() {
                c.seek_to_last()?;
            }
        }
        Ok(())
    }

    fn guard(&mut self, r: Result<()>) -> Result<()> {
        if r.is_err() {
            self.invalidate();
        }
        r
    }

    fn cur(&self) -> &TableIterator {
        self.cur
            .as_ref()
            .expect("LevelIterator accessed while not valid")
    }
}

impl InternalIterator for LevelIterator {
    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|c| c.valid())
    }
    fn key(&self) -> &[u8] {
        self.cur().key()
    }
    fn version(&self) -> Version {
        self.cur().version()
    }
    fn kind(&self) -> ValueKind {
        self.cur().kind()
    }
    fn value(&self) -> &[u8] {
        self.cur().value()
    }
    fn next(&mut self) -> Result<()> {
        let r = match self.cur.as_mut() {
            Some(c) => c.next().and_then(|_| self.skip_forward()),
            None => Ok(()),
        };
        self.guard(r)
    }
    fn prev(&mut self) -> Result<()> {
        let r = match self.cur.as_mut() {
            Some(c) => c.prev().and_then(|_| self.skip_backward()),
            None => Ok(()),
        };
        self.guard(r)
    }
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        let i = self.files.partition_point(|f| {
            compare_internal(&f.info.largest_key, f.info.largest_version, key, version).is_lt()
        });
        let r = self.open(i).and_then(|_| match self.cur.as_mut() {
            Some(c) => c.seek(key, version),
            None => Ok(()),
        });
        let r = r.and_then(|_| self.skip_forward());
        self.guard(r)
    }
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        let n = self.files.partition_point(|f| {
            compare_internal(&f.info.smallest_key, f.info.smallest_version, key, version).is_le()
        });
        if n == 0 {
            self.invalidate();
            return Ok(());
        }
        let r = self.open(n - 1).and_then(|_| match self.cur.as_mut() {
            Some(c) => c.seek_for_prev(key, version),
            None => Ok(()),
        });
        let r = r.and_then(|_| self.skip_backward());
        self.guard(r)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        let r = self.open(0).and_then(|_| match self.cur.as_mut() {
            Some(c) => c.seek_to_first(),
            None => Ok(()),
        });
        let r = r.and_then(|_| self.skip_forward());
        self.guard(r)
    }
    fn seek_to_last(&mut self) -> Result<()> {
        if self.files.is_empty() {
            return Ok(());
        }
        let last = self.files.len() - 1;
        let r = self.open(last).and_then(|_| match self.cur.as_mut() {
            Some(c) => c.seek_to_last(),
            None => Ok(()),
        });
        let r = r.and_then(|_| self.skip_backward());
        self.guard(r)
    }
}
