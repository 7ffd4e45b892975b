//! `Table`: an open, immutable table file shared by every reader.
//!
//! `open` reads the footer, then the index, filter and properties blocks, verifying every
//! checksum, and keeps them in memory for the life of the handle; only data blocks are read
//! lazily, through the shared block cache. All reads are positional (`read_exact_at`), so a
//! `Table` has no seek state and is `Send + Sync` without locks.
//!
//! A point read (`get`) checks the key range and the bloom filter, binary-searches the index
//! for the one data block that can hold `(key, version)` (the first whose last entry is at or
//! after it), and seeks inside that block.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::block::{Block, Malformed};
use super::block_iter::BlockIter;
use super::bloom::{hash64, BloomFilter};
use super::format::{decode_properties, read_block, BlockHandle, Footer, FOOTER_SIZE};
use super::iter::TableIterator;
use super::TableProperties;
use crate::cache::{BlockCache, CachedRow, ShardedCache};
use crate::error::IoResultExt;
use crate::types::{Entry, Version};
use crate::{Error, Result};

/// An open table. Cheap to share (`Arc<Table>`); reads never mutate it.
pub struct Table {
    path: PathBuf,
    file: File,
    file_number: u64,
    cache: Arc<BlockCache>,
    props: TableProperties,
    index: Arc<Block>,
    index_offset: u64,
    bloom: Option<BloomFilter>,
    /// Offset of the footer: every block ends at or before it.
    data_end: u64,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("file_number", &self.file_number)
            .field("props", &self.props)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Open `path`, reading and verifying footer, index, filter and properties eagerly.
    pub fn open(path: &Path, file_number: u64, cache: Arc<BlockCache>) -> Result<Arc<Table>> {
        let file = File::open(path).with_path(path)?;
        let file_size = file.metadata().with_path(path)?.len();
        let data_end = file_size
            .checked_sub(FOOTER_SIZE as u64)
            .ok_or_else(|| Error::corruption(path, 0, "file too short to be a table"))?;
        let mut raw = [0u8; FOOTER_SIZE];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut raw, data_end).with_path(path)?;
        let footer = Footer::decode(path, data_end, &raw)?;

        let props_data = read_block(&file, path, footer.properties, data_end)?;
        let props = decode_properties(&props_data, file_size).ok_or_else(|| {
            Error::corruption(path, footer.properties.offset, "malformed properties block")
        })?;
        let filter_data = read_block(&file, path, footer.filter, data_end)?;
        let bloom = BloomFilter::from_block(filter_data)
            .map_err(|reason| Error::corruption(path, footer.filter.offset, reason))?;
        let index_data = read_block(&file, path, footer.index, data_end)?;
        let index =
            Block::new(index_data).map_err(|m| block_corruption(path, footer.index.offset, m))?;
        if index.is_empty() != (props.num_entries == 0) {
            return Err(Error::corruption(
                path,
                footer.index.offset,
                "index block disagrees with the entry count",
            ));
        }
        Ok(Arc::new(Table {
            path: path.to_path_buf(),
            file,
            file_number,
            cache,
            props,
            index: Arc::new(index),
            index_offset: footer.index.offset,
            bloom,
            data_end,
        }))
    }

    pub fn properties(&self) -> &TableProperties {
        &self.props
    }

    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bloom filter's answer: false only if no entry of `key` is in the table.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.bloom.as_ref().is_none_or(|b| b.may_contain(key))
    }

    /// The newest entry of exactly `key` with version <= `version` (bloom checked first).
    pub fn get(&self, key: &[u8], version: Version) -> Result<Option<Entry>> {
        let p = &self.props;
        if p.num_entries == 0
            || key < p.smallest_key.as_slice()
            || key > p.largest_key.as_slice()
            || !self.may_contain(key)
        {
            return Ok(None);
        }
        if let Some(rows) = self.cache.rows() {
            return self.get_through_rows(rows, key, version);
        }
        self.get_uncached(key, version)
    }

    fn get_uncached(&self, key: &[u8], version: Version) -> Result<Option<Entry>> {
        let Some((it, _)) = self.seek_data(key, version)? else {
            return Ok(None);
        };
        if !it.valid() || it.key() != key {
            return Ok(None);
        }
        Ok(Some(Entry {
            key: key.to_vec(),
            version: it.version(),
            kind: it.kind(),
            value: it.value().to_vec(),
        }))
    }

    /// A cursor at the first entry at or after `(key, version)` in the data block that may
    /// hold it, and that block's offset; `None` when every entry of the table is smaller.
    fn seek_data(&self, key: &[u8], version: Version) -> Result<Option<(BlockIter, u64)>> {
        let mut index = self.index_iter();
        index
            .seek(key, version)
            .map_err(|m| self.corruption(self.index_offset, m))?;
        if !index.valid() {
            return Ok(None);
        }
        let handle = self.decode_handle(index.value())?;
        let mut it = BlockIter::new(self.data_block(handle, true)?);
        it.seek(key, version)
            .map_err(|m| self.corruption(handle.offset, m))?;
        Ok(Some((it, handle.offset)))
    }

    /// A point read through the row cache: a hit answers from the key's cached versions in
    /// this table; a miss reads every version of the key and caches them (unless they run
    /// past the end of their block, which is rare and then read the ordinary way).
    fn get_through_rows(
        &self,
        rows: &ShardedCache<CachedRow>,
        key: &[u8],
        version: Version,
    ) -> Result<Option<Entry>> {
        let h = hash64(key);
        let row = match rows.get(self.file_number, h) {
            Some(row) if *row.key == *key => row,
            _ => match self.read_row(key)? {
                Some(row) => {
                    let row = Arc::new(row);
                    let charge = row.charge();
                    rows.insert(self.file_number, h, Arc::clone(&row), charge);
                    row
                }
                None => return self.get_uncached(key, version),
            },
        };
        Ok(row.at(version).map(|(v, kind, value)| Entry {
            key: key.to_vec(),
            version: *v,
            kind: *kind,
            value: value.to_vec(),
        }))
    }

    /// Every version of `key` in this table, if they all sit in one data block. A key the
    /// table does not hold gives an empty row (worth caching too: its bloom filter said maybe).
    fn read_row(&self, key: &[u8]) -> Result<Option<CachedRow>> {
        let mut versions = Vec::new();
        if let Some((mut it, offset)) = self.seek_data(key, Version::MAX)? {
            while it.valid() && it.key() == key {
                versions.push((it.version(), it.kind(), Box::<[u8]>::from(it.value())));
                it.next().map_err(|m| self.corruption(offset, m))?;
            }
            if !it.valid() && !versions.is_empty() {
                // The block ended inside the key's versions; older ones may be in the next.
                return Ok(None);
            }
        }
        Ok(Some(CachedRow {
            key: key.into(),
            versions: versions.into_boxed_slice(),
        }))
    }

    /// A cursor over every entry; it keeps the table alive. Blocks it reads fill the cache.
    pub fn iter(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), true)
    }

    /// Like `iter`, but blocks read from disk are not inserted into the cache (for
    /// compactions, whose one-pass reads would otherwise evict the working set).
    pub fn iter_without_cache_fill(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), false)
    }

    pub(crate) fn index_iter(&self) -> BlockIter {
        BlockIter::new(Arc::clone(&self.index))
    }

    pub(crate) fn index_offset(&self) -> u64 {
        self.index_offset
    }

    /// Decode an index entry's value into a data block handle.
    pub(crate) fn decode_handle(&self, value: &[u8]) -> Result<BlockHandle> {
        BlockHandle::decode(value).ok_or_else(|| {
            Error::corruption(
                &self.path,
                self.index_offset,
                "malformed block handle in index",
            )
        })
    }

    /// The data block at `handle`, from the cache or from disk.
    pub(crate) fn data_block(&self, handle: BlockHandle, fill_cache: bool) -> Result<Arc<Block>> {
        if let Some(b) = self.cache.get(self.file_number, handle.offset) {
            return Ok(b);
        }
        let data = read_block(&self.file, &self.path, handle, self.data_end)?;
        let block = Arc::new(Block::new(data).map_err(|m| self.corruption(handle.offset, m))?);
        if fill_cache {
            self.cache
                .insert(self.file_number, handle.offset, Arc::clone(&block));
        }
        Ok(block)
    }

    /// A corruption error for a malformed block at file offset `block_offset`.
    pub(crate) fn corruption(&self, block_offset: u64, m: Malformed) -> Error {
        block_corruption(&self.path, block_offset, m)
    }
}

fn block_corruption(path: &Path, block_offset: u64, m: Malformed) -> Error {
    Error::corruption(
        path,
        block_offset,
        format!("{} (byte {} of the decoded block)", m.reason, m.at),
    )
}
