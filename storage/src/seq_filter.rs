//! Atomic visibility of write batches in the active memtable.
//!
//! The write leader inserts a group's entries one at a time, so a reader could otherwise see
//! half of a batch. Every memtable entry carries the engine-internal sequence number its write
//! was given; the leader publishes `visible_seq` (one past the last sequence of the group)
//! only after the whole group is inserted. A reader captures `visible_seq` first and ignores
//! memtable entries at or above it, so it sees each batch entirely or not at all, and a
//! snapshot's view of the memtable it pinned never changes, whatever is written later.
//!
//! Tables never need the filter: everything in a memtable is visible before it is flushed.

use std::sync::Arc;

use crate::iterator::InternalIterator;
use crate::memtable::{Memtable, MemtableIterator};
use crate::types::{ValueKind, Version};
use crate::Result;

/// A memtable cursor that skips entries with `seq >= max_seq`.
pub struct SeqFilter {
    inner: MemtableIterator,
    max_seq: u64,
}

impl SeqFilter {
    pub fn new(mem: &Arc<Memtable>, max_seq: u64) -> SeqFilter {
        SeqFilter {
            inner: mem.iter(),
            max_seq,
        }
    }

    fn skip_forward(&mut self) {
        while self.inner.valid() && self.inner.seq() >= self.max_seq {
            // Memtable cursors never fail; the Result exists for disk-backed iterators.
            let _ = self.inner.next();
        }
    }

    fn skip_backward(&mut self) {
        while self.inner.valid() && self.inner.seq() >= self.max_seq {
            let _ = self.inner.prev();
        }
    }
}

/// Newest visible entry of `key` at or below `at` in `mem`.
pub fn get_visible(
    mem: &Arc<Memtable>,
    key: &[u8],
    at: Version,
    max_seq: u64,
) -> Option<(Version, ValueKind, Vec<u8>)> {
    let mut it = SeqFilter::new(mem, max_seq);
    it.seek(key, at).ok()?;
    (it.valid() && it.key() == key).then(|| (it.version(), it.kind(), it.value().to_vec()))
}

impl InternalIterator for SeqFilter {
    fn valid(&self) -> bool {
        self.inner.valid()
    }
    fn key(&self) -> &[u8] {
        self.inner.key()
    }
    fn version(&self) -> Version {
        self.inner.version()
    }
    fn kind(&self) -> ValueKind {
        self.inner.kind()
    }
    fn value(&self) -> &[u8] {
        self.inner.value()
    }
    fn next(&mut self) -> Result<()> {
        self.inner.next()?;
        self.skip_forward();
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        self.inner.prev()?;
        self.skip_backward();
        Ok(())
    }
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.inner.seek(key, version)?;
        self.skip_forward();
        Ok(())
    }
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.inner.seek_for_prev(key, version)?;
        self.skip_backward();
        Ok(())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.inner.seek_to_first()?;
        self.skip_forward();
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.inner.seek_to_last()?;
        self.skip_backward();
        Ok(())
    }
}
