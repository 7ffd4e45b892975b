//! The internal iterator: one cursor interface over every sorted source of entries.
//!
//! The memtable, a data block, an SSTable, a level of SSTables and the merge of all of them
//! implement `InternalIterator`. It walks entries in the internal order (key ascending, version
//! descending; see `types`) and exposes *every* entry, tombstones and old versions included.
//! Deciding what a reader at some version sees is the job of the layer above
//! (`crate::db::scan`), not of these cursors.
//!
//! Positioning methods return `Result` because moving may read a block from disk. After an
//! error, or when the iterator runs off either end, `valid()` is false.
//!
//! ```text
//!   seek(k, v)           first entry >= (k, v): key > k, or key == k and version <= v
//!   seek_for_prev(k, v)  last entry  <= (k, v): key < k, or key == k and version >= v
//! ```

use crate::types::{ValueKind, Version};
use crate::Result;

/// A bidirectional cursor over entries in the internal order.
pub trait InternalIterator: Send {
    /// Whether the cursor is on an entry. `key`, `version`, `kind` and `value` may only be
    /// called while this is true.
    fn valid(&self) -> bool;
    fn key(&self) -> &[u8];
    fn version(&self) -> Version;
    fn kind(&self) -> ValueKind;
    /// Empty for tombstones.
    fn value(&self) -> &[u8];
    fn next(&mut self) -> Result<()>;
    fn prev(&mut self) -> Result<()>;
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()>;
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()>;
    fn seek_to_first(&mut self) -> Result<()>;
    fn seek_to_last(&mut self) -> Result<()>;
}

impl<I: InternalIterator + ?Sized> InternalIterator for Box<I> {
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn version(&self) -> Version {
        (**self).version()
    }
    fn kind(&self) -> ValueKind {
        (**self).kind()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
    fn next(&mut self) -> Result<()> {
        (**self).next()
    }
    fn prev(&mut self) -> Result<()> {
        (**self).prev()
    }
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        (**self).seek(key, version)
    }
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        (**self).seek_for_prev(key, version)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        (**self).seek_to_first()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        (**self).seek_to_last()
    }
}

/// A sorted in-memory vector of entries behind the iterator interface; the reference
/// implementation the other iterators are tested against.
#[derive(Clone, Debug, Default)]
pub struct VecIterator {
    entries: Vec<crate::types::Entry>,
    /// `entries.len()` means "not positioned".
    pos: usize,
}

impl VecIterator {
    /// `entries` must already be in the internal order.
    pub fn new(entries: Vec<crate::types::Entry>) -> VecIterator {
        let pos = entries.len();
        VecIterator { entries, pos }
    }

    fn cur(&self) -> &crate::types::Entry {
        &self.entries[self.pos]
    }
}

impl InternalIterator for VecIterator {
    fn valid(&self) -> bool {
        self.pos < self.entries.len()
    }
    fn key(&self) -> &[u8] {
        &self.cur().key
    }
    fn version(&self) -> Version {
        self.cur().version
    }
    fn kind(&self) -> ValueKind {
        self.cur().kind
    }
    fn value(&self) -> &[u8] {
        &self.cur().value
    }
    fn next(&mut self) -> Result<()> {
        if self.valid() {
            self.pos += 1;
        }
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        if self.valid() {
            self.pos = if self.pos == 0 {
                self.entries.len()
            } else {
                self.pos - 1
            };
        }
        Ok(())
    }
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.pos = self.entries.partition_point(|e| {
            crate::types::compare_internal(&e.key, e.version, key, version).is_lt()
        });
        Ok(())
    }
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        let n = self.entries.partition_point(|e| {
            crate::types::compare_internal(&e.key, e.version, key, version).is_le()
        });
        self.pos = if n == 0 { self.entries.len() } else { n - 1 };
        Ok(())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.pos = 0;
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.pos = if self.entries.is_empty() {
            0
        } else {
            self.entries.len() - 1
        };
        Ok(())
    }
}
