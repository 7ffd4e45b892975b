//! SSTables: immutable, sorted, checksummed files of versioned entries.
//!
//! A memtable flush or a compaction writes its output through a [`TableBuilder`]; readers
//! open the result as a [`Table`], shared behind an `Arc` by every reader and iterator. A
//! table never changes once `finish` has returned, so readers need no locks: every read is a
//! positional `pread` (`FileExt::read_exact_at`) and the decoded data blocks live in the
//! shared [`crate::cache::BlockCache`], keyed by `(file number, block offset)`.
//!
//! ## Design choices
//!
//! - LevelDB-style layout: prefix-compressed data blocks with restart points, one index entry
//!   per data block, a bloom filter over the *user keys* of the whole table (point reads ask for
//!   a key at some version, so the version must not take part in the filter), a properties
//!   block, and a fixed-size footer found from the end of the file.
//! - The index key of a data block is that block's **last** `(key, version)`, not a shortened
//!   separator: it keeps `seek` exact and lets `get` touch exactly one data block.
//! - Every block, the footer included, carries a CRC32; corruption surfaces as
//!   `Error::ChecksumMismatch` / `Error::Corruption` naming the file and offset, never as
//!   wrong data or a panic. The index, filter and properties are read and verified eagerly at
//!   `open`, so a table that opened can only fail later on a damaged data block.
//! - LZ4 is used for a block only when it saves at least 12.5%: a block that barely
//!   compresses costs a decompression on every cache miss for almost no disk saved.
//!
//! ## File layout (format version 1). All fixed-width integers are little-endian.
//!
//! ```text
//!   [data block 0][trailer] ... [data block n-1][trailer]
//!   [filter block][trailer]        never compressed
//!   [properties block][trailer]    never compressed
//!   [index block][trailer]         compressed like data blocks
//!   [footer: 64 bytes]
//! ```
//!
//! **Block trailer** (5 bytes) after the *stored* bytes of every block:
//!
//! ```text
//!   compression type: u8     0 = none, 1 = LZ4 (anything else is corruption)
//!   crc: u32                 CRC32 (IEEE, crc32fast) over the stored bytes, then the type byte
//! ```
//!
//! A block handle `(offset, size)` names the stored bytes only; the trailer follows them.
//! Stored bytes of an LZ4 block are `uncompressed length: varint` then one raw LZ4 block
//! (`lz4_flex::block` format, no frame). Uncompressed, the stored bytes are the contents.
//!
//! **Data and index block contents** (the decoded, decompressed form cached in memory):
//!
//! ```text
//!   entry*
//!   restarts: u32 * num_restarts     byte offsets of restart entries; restarts[0] = 0,
//!                                    strictly increasing, each < start of this array
//!   num_restarts: u32                >= 1 (an empty block has restarts = [0])
//!
//!   entry:
//!     shared: varint        bytes of the key shared with the previous entry's key
//!                           (0 at a restart point, where the full key is stored)
//!     unshared: varint      length of the key suffix that follows
//!     value_len: varint
//!     key suffix: `unshared` bytes
//!     version: u64
//!     kind: u8              0 = tombstone, 1 = value
//!     value: `value_len` bytes (empty for tombstones)
//! ```
//!
//! Only the user key is prefix-compressed; the version is stored whole. Data blocks restart
//! every `restart_interval` (default 4: a point read parses at most four entries after its
//! binary search; 16, LevelDB's, cost 3% more CPU per pgbench -S query for 4% less space)
//! entries. The index block restarts at every entry, so
//! an index seek is a pure binary search. An index entry has the key and version of the last
//! entry of its data block, kind 1, and the value `offset: varint, size: varint` (the data
//! block's handle; nothing may follow it).
//!
//! **Filter block contents**: empty when the table was built with `bloom_bits_per_key = 0`
//! (then every key "may" be present); otherwise `bits: m bytes` then `num_probes: u8` in
//! 1..=30. A key sets/tests bits `fastrange(h1 + i*h2, 8m)` for `i in 0..num_probes`, where
//! `h1 = hash64(key)`, `h2 = h1.rotate_left(32) | 1` (wrapping arithmetic), and `hash64` is
//! the xxHash64-style function in `bloom.rs` (seed 0): it is part of the format.
//!
//! **Properties block contents**:
//!
//! ```text
//!   num_entries: varint, num_tombstones: varint,
//!   smallest_key_len: varint, smallest_key, smallest_version: u64,
//!   largest_key_len: varint,  largest_key,  largest_version: u64,
//!   min_version: u64, max_version: u64
//! ```
//!
//! Bytes after these fields are ignored, so later versions may append properties. The file
//! size is not stored; it is taken from the file. An empty table (no entries) has empty keys
//! and all versions 0.
//!
//! **Footer** (64 bytes at the very end of the file):
//!
//! ```text
//!    0  index offset: u64        8  index size: u64
//!   16  filter offset: u64      24  filter size: u64
//!   32  properties offset: u64  40  properties size: u64
//!   48  format version: u32 = 1
//!   52  crc: u32                CRC32 over bytes 0..52
//!   56  magic: u64 = 0x3154_5342_5346_5246 (the bytes "FRFSBST1")
//! ```
//!
//! ## Invariants
//!
//! - Entries are in strictly increasing internal order (`types::compare_internal`); the
//!   builder rejects anything else with `Error::InvalidArgument`.
//! - Every block handle satisfies `offset + size + 5 <= file size - 64`, checked (with checked
//!   arithmetic) before any read.
//! - A finished table is fsynced; its directory entry is the caller's to sync.

mod block;
mod block_iter;
pub(crate) mod bloom;
mod builder;
mod format;
mod iter;
mod reader;

#[cfg(test)]
mod corruption_tests;
#[cfg(test)]
mod tests;

pub use block::Block;
pub use bloom::hash64;
pub use builder::TableBuilder;
pub use iter::TableIterator;
pub use reader::Table;

use crate::types::Version;

/// How data and index blocks are compressed on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
}

/// Knobs for building a table. Readers need none of them: everything is in the file.
#[derive(Clone, Debug)]
pub struct TableOptions {
    /// Target uncompressed size of a data block; a block is cut once it reaches this. Values
    /// above 1 GiB are treated as 1 GiB (restart offsets are u32).
    pub block_size: usize,
    /// Entries between restart points in data blocks (0 is treated as 1).
    pub restart_interval: usize,
    /// Bloom filter bits per distinct user key; 0 = no filter.
    pub bloom_bits_per_key: usize,
    pub compression: Compression,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 4,
            bloom_bits_per_key: 10,
            compression: Compression::None,
        }
    }
}

/// Summary of a table, stored in its properties block (plus the file size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableProperties {
    pub file_size: u64,
    pub num_entries: u64,
    pub num_tombstones: u64,
    pub smallest_key: Vec<u8>,
    pub smallest_version: Version,
    pub largest_key: Vec<u8>,
    pub largest_version: Version,
    pub min_version: Version,
    pub max_version: Version,
}
