//! `TableBuilder`: streams sorted entries into a new table file.
//!
//! Entries arrive in strictly increasing internal order (checked: a misordered or duplicate
//! entry is `InvalidArgument`, because a table out of order would silently return wrong
//! answers forever). They accumulate in a data block until it reaches `block_size`; the block
//! is then written (LZ4-compressed if that saves 12.5%), followed by its trailer, and an index
//! entry keyed by its last `(key, version)` is added. `finish` writes the filter, properties,
//! index and footer, in that order, and fsyncs the file. Writes go through a `BufWriter`, so
//! the builder's only allocations are its reused block buffers and one hash per distinct key.
//!
//! The builder never removes its file on its own: the caller ends every build with `finish`
//! or `abandon` (a dropped builder leaves a partial file that no manifest names).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::block::BlockBuilder;
use super::bloom::BloomBuilder;
use super::format::{
    block_crc, compress_lz4, encode_properties, BlockHandle, Footer, TRAILER_SIZE, TYPE_LZ4,
    TYPE_NONE,
};
use super::{Compression, TableOptions, TableProperties};
use crate::error::IoResultExt;
use crate::types::{check_key, check_value, compare_internal, ValueKind, Version};
use crate::{Error, Result};

/// Largest block size honoured: keeps every offset inside a block within u32 even after one
/// maximal entry (64 KiB key + 16 MiB value) overshoots it.
const MAX_BLOCK_SIZE: usize = 1 << 30;

/// Writes one table file.
pub struct TableBuilder {
    w: Writer,
    block_size: usize,
    data: BlockBuilder,
    index: BlockBuilder,
    bloom: BloomBuilder,
    handle_buf: Vec<u8>,
    props: TableProperties,
}

impl TableBuilder {
    /// Create `path` (which must not exist) and start a table.
    pub fn create(path: &Path, opts: TableOptions) -> Result<TableBuilder> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_path(path)?;
        Ok(TableBuilder {
            w: Writer {
                path: path.to_path_buf(),
                out: BufWriter::with_capacity(64 * 1024, file),
                compression: opts.compression,
                offset: 0,
                scratch: Vec::new(),
            },
            block_size: opts.block_size.min(MAX_BLOCK_SIZE),
            data: BlockBuilder::new(opts.restart_interval),
            index: BlockBuilder::new(1),
            bloom: BloomBuilder::new(opts.bloom_bits_per_key),
            handle_buf: Vec::new(),
            props: TableProperties {
                file_size: 0,
                num_entries: 0,
                num_tombstones: 0,
                smallest_key: Vec::new(),
                smallest_version: 0,
                largest_key: Vec::new(),
                largest_version: 0,
                min_version: 0,
                max_version: 0,
            },
        })
    }

    /// Append an entry. Entries must arrive in strictly increasing internal order;
    /// otherwise `Err(InvalidArgument)`.
    pub fn add(
        &mut self,
        key: &[u8],
        version: Version,
        kind: ValueKind,
        value: &[u8],
    ) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        let p = &mut self.props;
        if p.num_entries > 0 {
            if compare_internal(key, version, &p.largest_key, p.largest_version).is_le() {
                return Err(Error::InvalidArgument(format!(
                    "table entries out of order: {key:?}@{version} after {:?}@{}",
                    p.largest_key, p.largest_version
                )));
            }
            if key != p.largest_key.as_slice() {
                self.bloom.add_key(key);
            }
            p.min_version = p.min_version.min(version);
            p.max_version = p.max_version.max(version);
        } else {
            self.bloom.add_key(key);
            p.smallest_key = key.to_vec();
            p.smallest_version = version;
            p.min_version = version;
            p.max_version = version;
        }
        p.largest_key.clear();
        p.largest_key.extend_from_slice(key);
        p.largest_version = version;
        p.num_entries += 1;
        if kind == ValueKind::Tombstone {
            p.num_tombstones += 1;
        }
        // Tombstones carry no value whatever the caller passed.
        let value = if kind == ValueKind::Tombstone {
            &[][..]
        } else {
            value
        };
        self.data.add(key, version, kind, value);
        if self.data.estimated_size() >= self.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Bytes written so far plus the pending data block.
    pub fn estimated_size(&self) -> u64 {
        self.w.offset + self.data.estimated_size() as u64
    }

    pub fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    /// Write the remaining blocks and the footer, fsync the file (not its directory).
    pub fn finish(mut self) -> Result<TableProperties> {
        self.flush_data_block()?;
        let filter_contents = self.bloom.finish();
        let filter = self.w.write_block(&filter_contents, false)?;
        let properties = self.w.write_block(&encode_properties(&self.props), false)?;
        let index = self.w.write_block(self.index.finish(), true)?;
        let footer = Footer {
            index,
            filter,
            properties,
        }
        .encode();
        let w = &mut self.w;
        w.out.write_all(&footer).with_path(&w.path)?;
        w.offset += footer.len() as u64;
        w.out.flush().with_path(&w.path)?;
        w.out.get_ref().sync_all().with_path(&w.path)?;
        self.props.file_size = w.offset;
        tracing::debug!(
            path = %w.path.display(),
            entries = self.props.num_entries,
            bytes = w.offset,
            "finished table"
        );
        Ok(self.props)
    }

    /// Stop building and delete the partial file.
    pub fn abandon(self) -> Result<()> {
        let Writer { path, out, .. } = self.w;
        // Buffered bytes are moot; dropping the writer may try to flush them, so take the
        // file out without flushing.
        let (file, _) = out.into_parts();
        drop(file);
        std::fs::remove_file(&path).with_path(&path)
    }

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let handle = self.w.write_block(self.data.finish(), true);
        let (key, version) = (self.data.last_key(), self.data.last_version());
        let handle = handle?;
        self.handle_buf.clear();
        handle.encode_to(&mut self.handle_buf);
        self.index
            .add(key, version, ValueKind::Value, &self.handle_buf);
        self.data.reset();
        Ok(())
    }
}

/// The file side of the builder: appends blocks with their trailers and tracks the offset.
struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
    compression: Compression,
    /// Bytes written so far (the next block's offset).
    offset: u64,
    scratch: Vec<u8>,
}

impl Writer {
    /// Write one block and its trailer; compress if allowed, configured and worthwhile.
    fn write_block(&mut self, contents: &[u8], compressible: bool) -> Result<BlockHandle> {
        let use_lz4 = compressible
            && self.compression == Compression::Lz4
            && compress_lz4(contents, &mut self.scratch);
        let (stored, ty) = if use_lz4 {
            (&self.scratch[..], TYPE_LZ4)
        } else {
            (contents, TYPE_NONE)
        };
        let crc = block_crc(stored, ty);
        let handle = BlockHandle {
            offset: self.offset,
            size: stored.len() as u64,
        };
        let mut trailer = [0u8; TRAILER_SIZE];
        trailer[0] = ty;
        trailer[1..].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(stored).with_path(&self.path)?;
        self.out.write_all(&trailer).with_path(&self.path)?;
        self.offset += (stored.len() + TRAILER_SIZE) as u64;
        Ok(handle)
    }
}
