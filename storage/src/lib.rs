//! # ferrisdb-storage: FerrisDB's LSM-tree storage engine
//!
//! Every byte FerrisDB keeps goes through this crate. It stores *versioned entries*: a user
//! key, a caller-chosen `u64` version, and a value or tombstone. Reads ask for a key (or a
//! range) *at a version* and see, per key, the newest entry whose version is at or below it.
//!
//! ```text
//!   write(batch) ──► WAL (CRC-framed records, fsync by SyncMode) ──► active memtable
//!                                                                       │ full
//!                                                                       ▼
//!   get / scan ◄── merge( memtable, immutable memtables,          immutable memtable
//!                         L0 tables (overlapping, newest first),        │ flush thread
//!                         L1..Ln (sorted runs of tables) )              ▼
//!                                                                  L0 SSTable ──► compaction
//!                                                                                (leveled)
//! ```
//!
//! Module map (one concept per file):
//! - [`types`], [`batch`], [`coding`], [`error`]: the vocabulary and the byte helpers.
//! - [`iterator`]: the internal cursor interface every sorted source implements.
//! - [`wal`]: write-ahead log segments and the CRC record framing shared with the manifest.
//! - [`memtable`]: the lock-free skiplist (crossbeam-epoch) holding recent writes.
//! - [`sstable`]: immutable sorted tables: blocks, bloom filter, builder, reader.
//! - [`cache`]: the shared, memory-bounded block cache.
//! - [`merge`]: the merging iterator over many sources; [`level_iter`]: one sorted level.
//! - [`version`], [`manifest`]: the live file set and its durable log of edits.
//! - [`compaction`]: the pure compaction policy, garbage collection, and table writing.
//! - [`scan`]: what a reader at a version sees of a key range.
//! - `db`: the [`Engine`] itself (write path, background threads, open and recovery).

pub mod batch;
pub mod cache;
pub mod coding;
pub mod compaction;
mod db;
pub mod error;
pub mod fs;
pub mod iterator;
pub mod level_iter;
pub mod manifest;
pub mod memtable;
pub mod merge;
pub mod options;
pub mod scan;
pub mod seq_filter;
pub mod sstable;
pub mod stats;
pub mod table_cache;
pub mod types;
pub mod version;
pub mod wal;

pub use batch::{BatchOp, WriteBatch};
pub use db::{Engine, Snapshot};
pub use error::{Error, IoResultExt, Result};
pub use options::Options;
pub use scan::{Direction, Scan};
pub use sstable::Compression;
pub use stats::{LevelStats, Stats};
pub use types::{Entry, ValueKind, Version, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use wal::SyncMode;
