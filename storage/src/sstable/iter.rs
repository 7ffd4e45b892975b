//! `TableIterator`: the two-level cursor over a whole table.
//!
//! An index cursor picks the data block; a block cursor walks inside it. Running off either
//! end of a data block moves the index cursor one step and loads the neighbouring block
//! (skipping empty ones, which a valid table never has but a cheap loop tolerates). The data
//! cursor keeps its key buffer across blocks, and a block is only fetched when the index
//! moves to a different handle, so walking a table allocates nothing per entry.
//!
//! `seek(k, v)` asks the index for the first block whose last entry is >= (k, v), which must
//! hold the answer. `seek_for_prev(k, v)` seeks the same way, then steps back once unless it
//! landed exactly on (k, v) (tables hold no duplicate (key, version), so the entry before the
//! first one >= target is the last one <= target).
//!
//! Errors invalidate the cursor before they are returned, as the trait requires. The
//! iterator owns an `Arc<Table>`, so it is `'static + Send` and outlives any table handle
//! cache eviction.

use std::sync::Arc;

use super::block::{Block, Malformed};
use super::block_iter::BlockIter;
use super::reader::Table;
use crate::iterator::InternalIterator;
use crate::types::{ValueKind, Version};
use crate::Result;

/// A cursor over every entry of a table, in internal order.
pub struct TableIterator {
    table: Arc<Table>,
    fill_cache: bool,
    index: BlockIter,
    /// Cursor over the current data block, and that block's file offset.
    data: Option<(BlockIter, u64)>,
}

enum Dir {
    Forward,
    Backward,
}

impl TableIterator {
    pub(crate) fn new(table: Arc<Table>, fill_cache: bool) -> TableIterator {
        let index = table.index_iter();
        TableIterator {
            table,
            fill_cache,
            index,
            data: None,
        }
    }

    /// The table this iterator reads.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    fn data_valid(&self) -> bool {
        self.data.as_ref().is_some_and(|(d, _)| d.valid())
    }

    /// Invalidate the whole cursor and pass `e` on.
    fn fail<T>(&mut self, e: crate::Error) -> Result<T> {
        self.data = None;
        Err(e)
    }

    fn index_step(&mut self, r: std::result::Result<(), Malformed>) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(m) => {
                let e = self.table.corruption(self.table.index_offset(), m);
                self.fail(e)
            }
        }
    }

    fn data_step(
        &mut self,
        op: impl FnOnce(&mut BlockIter) -> std::result::Result<(), Malformed>,
    ) -> Result<()> {
        let Some((d, offset)) = self.data.as_mut() else {
            return Ok(());
        };
        let offset = *offset;
        match op(d) {
            Ok(()) => Ok(()),
            Err(m) => {
                let e = self.table.corruption(offset, m);
                self.fail(e)
            }
        }
    }

    /// Point the data cursor at the block the index cursor names (unpositioned), or clear it
    /// when the index cursor is invalid.
    fn load_data_block(&mut self) -> Result<()> {
        if !self.index.valid() {
            self.data = None;
            return Ok(());
        }
        let handle = match self.table.decode_handle(self.index.value()) {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        if let Some((d, offset)) = &mut self.data {
            if *offset == handle.offset {
                let block: Arc<Block> = Arc::clone(d.block());
                d.set_block(block);
                return Ok(());
            }
        }
        let block = match self.table.data_block(handle, self.fill_cache) {
            Ok(b) => b,
            Err(e) => return self.fail(e),
        };
        match &mut self.data {
            Some((d, offset)) => {
                d.set_block(block);
                *offset = handle.offset;
            }
            None => self.data = Some((BlockIter::new(block), handle.offset)),
        }
        Ok(())
    }

    /// While the data cursor is off its block, move to the neighbouring block in `dir`.
    fn skip_exhausted(&mut self, dir: Dir) -> Result<()> {
        while self.data.is_some() && !self.data_valid() {
            let r = match dir {
                Dir::Forward => self.index.next(),
                Dir::Backward => self.index.prev(),
            };
            self.index_step(r)?;
            self.load_data_block()?;
            match dir {
                Dir::Forward => self.data_step(|d| d.seek_to_first())?,
                Dir::Backward => self.data_step(|d| d.seek_to_last())?,
            }
        }
        Ok(())
    }

    /// Position the index with `op`, load its block, position inside it with `data_op`,
    /// then settle on a valid entry in `dir`.
    fn position(
        &mut self,
        op: impl FnOnce(&mut BlockIter) -> std::result::Result<(), Malformed>,
        data_op: impl FnOnce(&mut BlockIter) -> std::result::Result<(), Malformed>,
        dir: Dir,
    ) -> Result<()> {
        let r = op(&mut self.index);
        self.index_step(r)?;
        self.load_data_block()?;
        self.data_step(data_op)?;
        self.skip_exhausted(dir)
    }

    fn current(&self) -> Option<&BlockIter> {
        self.data.as_ref().map(|(d, _)| d)
    }
}

impl InternalIterator for TableIterator {
    fn valid(&self) -> bool {
        self.data_valid()
    }

    fn key(&self) -> &[u8] {
        self.current().map_or(&[], |d| d.key())
    }

    fn version(&self) -> Version {
        self.current().map_or(0, |d| d.version())
    }

    fn kind(&self) -> ValueKind {
        self.current().map_or(ValueKind::Tombstone, |d| d.kind())
    }

    fn value(&self) -> &[u8] {
        self.current().map_or(&[], |d| d.value())
    }

    fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.data_step(|d| d.next())?;
        self.skip_exhausted(Dir::Forward)
    }

    fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.data_step(|d| d.prev())?;
        self.skip_exhausted(Dir::Backward)
    }

    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.position(
            |i| i.seek(key, version),
            |d| d.seek(key, version),
            Dir::Forward,
        )
    }

    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        let r = self.index.seek(key, version);
        self.index_step(r)?;
        if !self.index.valid() {
            // Every entry is before the target.
            return self.seek_to_last();
        }
        self.load_data_block()?;
        self.data_step(|d| d.seek(key, version))?;
        if !self.data_valid() {
            // Cannot happen in a well-formed table (the block's last entry is >= target);
            // fall back to the block's last entry and walk back from there.
            self.data_step(|d| d.seek_to_last())?;
            return self.skip_exhausted(Dir::Backward);
        }
        if self.key() == key && self.version() == version {
            return Ok(());
        }
        self.prev()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.position(|i| i.seek_to_first(), |d| d.seek_to_first(), Dir::Forward)
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.position(|i| i.seek_to_last(), |d| d.seek_to_last(), Dir::Backward)
    }
}
