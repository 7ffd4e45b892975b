//! The write-ahead log: segments of CRC-framed records, and the framing itself, which the
//! manifest reuses.
//!
//! ## What it is for
//!
//! A write is durable once its batch is a record in the WAL (how durable is [`SyncMode`]); the
//! memtable is just a faster copy. After a crash, replaying the WAL segments that were not yet
//! flushed into SSTables rebuilds the memtables.
//!
//! ## Segments
//!
//! The log is a series of files `{number:06}.log` in the engine directory (numbers come from
//! the engine's shared file-number counter, so they never collide with tables or manifests).
//! A new segment starts whenever the active memtable is frozen, so each segment's records
//! belong to exactly one memtable, and a segment can be deleted once that memtable's SSTable
//! is recorded in the manifest. [`list_wal_segments`] finds them in number order for replay.
//!
//! ## Records
//!
//! Each segment (and each manifest) is a plain sequence of records:
//!
//! ```text
//!   [len: u32 LE][crc: u32 LE = crc32(len bytes ++ payload)][payload: len bytes]
//! ```
//!
//! with `1 <= len <= 1 GiB`; see [`record`] for the byte-level format and the writer,
//! [`reader`] for recovery and its torn-tail versus corruption rules, and [`scan`] for how a
//! valid record is searched for after a bad one. A WAL record's payload is the encoding of one
//! `WriteBatch` (see `crate::batch`).
//!
//! The group-commit queue that turns [`SyncMode::GroupCommit`] into shared fsyncs lives in the
//! engine's write path; this module only provides `flush` and `sync`.

use std::path::{Path, PathBuf};

use crate::error::IoResultExt;
use crate::fs::{parse_file_name, FileKind};
use crate::Result;

pub mod reader;
pub mod record;
mod scan;

#[cfg(test)]
mod tests;

pub use reader::{read_log, RecoveredLog};
pub use record::{RecordWriter, HEADER_LEN, MAX_RECORD_LEN};

/// How durable a write is when the write call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncMode {
    /// Each write fsyncs on its own before returning.
    Always,
    /// Each write is durable before returning, but concurrent writers share one fsync.
    GroupCommit,
    /// Written to the OS only: survives a process crash, not a power loss.
    None,
}

/// `dir/{number:06}.log`
pub fn wal_file_name(dir: &Path, number: u64) -> PathBuf {
    crate::fs::wal_file_name(dir, number)
}

/// Every WAL segment in `dir` as `(number, path)`, sorted by number.
pub fn list_wal_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).with_path(dir)? {
        let entry = entry.with_path(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if let Some((FileKind::Wal, number)) = parse_file_name(name) {
            segments.push((number, entry.path()));
        }
    }
    segments.sort_unstable_by_key(|(n, _)| *n);
    Ok(segments)
}
