//! The commit log: the durable, version-ordered record of committed transactions.
//!
//! ## The life of a commit, part 3 of 3
//!
//! A batch got its commit version from the [sequencer](crate::sequencer) and the
//! [resolver](crate::resolver) accepted some of its transactions. The pipeline now
//! [`CommitLog::append`]s ONE entry for the batch: its commit version and the accepted
//! transactions' mutations concatenated in batch order (versions are strictly increasing, so
//! transactions sharing a version share an entry; appends are buffered in memory). When it
//! has appended as many batches as it wants to share a disk flush, it calls
//! [`CommitLog::sync`]: ONE `fdatasync` makes every appended entry durable (group commit). Only then are the clients told "committed" and the
//! sequencer told [`set_committed`](crate::sequencer::Sequencer::set_committed), so a read
//! version never runs ahead of the log. Storage servers [`CommitLog::pull`] durable entries
//! in version order and apply them; once every storage server has made everything below `v`
//! durable itself, [`CommitLog::truncate_below`] deletes the segments that hold nothing else.
//!
//! ## Design
//!
//! Entries are appended in strictly increasing version order (anything else is rejected), so
//! the log is sorted by construction and a pull is a seek plus a sequential read. Each entry
//! is one record of the storage crate's CRC-framed record log (`wal::RecordWriter` to write,
//! `wal::read_log` to recover), so framing, torn-tail detection and corruption detection are
//! shared with the storage engine's WAL. Segment files are rolled at a size limit
//! ([`CommitLogOptions::segment_bytes`]) so truncation deletes whole files; a new segment is
//! preallocated (so an fdatasync commits no file-size change) and, before it is created, the
//! old one is synced, so only the newest segment can ever hold unsynced bytes.
//!
//! An in-memory index holds `(version, offset)` per entry (16 bytes each; the log is
//! truncated as storage servers catch up, so it holds seconds of commits, not history).
//! A pull reads the entries it returns with one positional read and re-checks their CRCs.
//!
//! Invariants: entry versions strictly increase across the whole log; a segment's first entry
//! has the version in its name; every sealed (not newest) segment is fully durable; `pull`
//! never returns an entry above the durable version; truncation never deletes the newest
//! durable entry (so recovery never forgets how far the log got).
//!
//! ## Directory layout
//!
//! ```text
//!   log-{first_version:020}.clog   one segment: entries from first_version on
//!   LOCK                           flock(2)-held while a CommitLog is open on the directory
//! ```
//!
//! ## Segment format, byte by byte
//!
//! A segment is records laid end to end (no header), in the storage crate's framing, followed
//! by zero fill up to the preallocated size:
//!
//! ```text
//!   offset  size  field
//!   0       4     len: u32 LE     payload length, 1 ..= 1 GiB
//!   4       4     crc: u32 LE     CRC-32 (IEEE) of the 4 len bytes followed by the payload
//!   8       len   payload:
//!                   0   8    version: u64 LE     the commit version
//!                   8   ..   mutations           kv::encode_mutations (varint count, then
//!                                                tagged mutations; see kv::types)
//! ```
//!
//! ## Recovery ([`CommitLog::open`])
//!
//! Segments are replayed oldest first. In the newest segment, a bad record with no valid
//! record after it is a torn tail (the crash cut a write that was never acknowledged): it is
//! dropped and the file truncated there; a newest segment left with no entries is deleted.
//! Anything else (a bad record in a sealed segment, a bad record followed by a good one, a
//! payload that does not decode, versions out of order, a first version that does not match
//! the name) is corruption, reported with the file and the byte offset.

mod segment;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ferrisdb_kv::{Mutation, Version};
use ferrisdb_storage::error::IoResultExt;
use ferrisdb_storage::fs::{lock_dir, sync_dir, DirLock};
use ferrisdb_storage::wal::{RecordWriter, MAX_RECORD_LEN};

use crate::error::{Error, Result};
use segment::{encode_entry, list_segments, segment_path, Segment};

/// Tuning of a [`CommitLog`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitLogOptions {
    /// A segment is sealed and a new one started once it holds this many bytes.
    pub segment_bytes: u64,
    /// Preallocate each new segment to `segment_bytes`.
    pub preallocate: bool,
}

impl Default for CommitLogOptions {
    fn default() -> Self {
        CommitLogOptions {
            segment_bytes: 64 << 20,
            preallocate: true,
        }
    }
}

/// The durable log of committed transactions; see the module docs.
#[derive(Debug)]
pub struct CommitLog {
    dir: PathBuf,
    options: CommitLogOptions,
    _lock: DirLock,
    /// Oldest first; appends go to the back one, through `writer`.
    segments: VecDeque<Segment>,
    writer: Option<RecordWriter>,
    last_appended: Option<Version>,
    /// Every entry at or below this version is durable (by `sync` or recovery; syncs through
    /// sync points are in `synced`: read both with `durable_now`).
    durable: Option<Version>,
    /// The newest version a [`SyncPoint`] has made durable (0: none), set from the thread
    /// that synced.
    synced: Arc<AtomicU64>,
    /// An append or sync failed: refuse writes until reopened.
    failed: bool,
    /// A sync through a [`SyncPoint`] failed (set from another thread): as `failed`.
    sync_failed: Arc<AtomicBool>,
    /// A second handle on the newest segment, for [`SyncPoint`]s (made on first use).
    sync_file: Option<Arc<File>>,
}

/// What makes the entries flushed so far durable, from another thread: one fdatasync of the
/// segment they are in (an older segment was synced when the log moved past it). From
/// [`CommitLog::flush_for_sync`].
pub struct SyncPoint {
    version: Version,
    file: Arc<File>,
    path: PathBuf,
    failed: Arc<AtomicBool>,
    /// The log's `synced`, raised to `version` once the sync succeeds.
    synced: Arc<AtomicU64>,
}

impl SyncPoint {
    /// The newest entry this sync makes durable.
    pub fn version(&self) -> Version {
        self.version
    }

    /// fdatasync; a failure poisons the log (its page cache state is unknown). On success
    /// the log counts the entries through [`Self::version`] as durable: its pulls return
    /// them.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| {
            self.failed.store(true, Ordering::Release);
            ferrisdb_storage::Error::io(&self.path, e)
        })?;
        self.synced.fetch_max(self.version, Ordering::AcqRel);
        Ok(())
    }
}

impl CommitLog {
    /// Open (or create) the log in `dir` with default options, recovering its segments.
    pub fn open(dir: &Path) -> Result<CommitLog> {
        CommitLog::open_with(dir, CommitLogOptions::default())
    }

    /// Open (or create) the log in `dir`, recovering its segments (rules in the module docs).
    pub fn open_with(dir: &Path, options: CommitLogOptions) -> Result<CommitLog> {
        if options.segment_bytes == 0 {
            return Err(Error::InvalidArgument(
                "segment_bytes must be positive".into(),
            ));
        }
        std::fs::create_dir_all(dir).with_path(dir)?;
        let lock = lock_dir(dir)?;
        let segments = recover_segments(dir)?;
        let writer = match segments.back() {
            Some(s) => Some(RecordWriter::open_append(&s.path, s.end)?),
            None => None,
        };
        let last = segments.back().and_then(Segment::last_version);
        tracing::info!(dir = %dir.display(), segments = segments.len(), last_version = ?last, "commit log opened");
        Ok(CommitLog {
            dir: dir.to_path_buf(),
            options,
            _lock: lock,
            segments,
            writer,
            last_appended: last,
            // Recovered entries are on disk: `open_append` fsynced the newest segment.
            durable: last,
            synced: Arc::new(AtomicU64::new(0)),
            failed: false,
            sync_failed: Arc::new(AtomicBool::new(false)),
            sync_file: None,
        })
    }

    /// Buffer the entry `(version, mutations)`; durable only after the next [`sync`](Self::sync).
    /// `version` must be above every version appended before.
    pub fn append(&mut self, version: Version, mutations: &[Mutation]) -> Result<()> {
        self.check_usable()?;
        if let Some(last) = self.last_appended.filter(|l| version <= *l) {
            return Err(Error::VersionOrder { version, last });
        }
        let payload = encode_entry(version, mutations);
        if payload.len() > MAX_RECORD_LEN as usize {
            return Err(Error::InvalidArgument(format!(
                "commit of {} bytes exceeds the {MAX_RECORD_LEN}-byte record limit",
                payload.len()
            )));
        }
        self.roll_if_full(version)?;
        let (Some(w), Some(seg)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(Error::InvalidArgument("no active segment".into()));
        };
        let offset = w.len();
        if let Err(e) = w.append(&payload) {
            self.failed = true;
            return Err(e.into());
        }
        seg.index.push((version, offset));
        seg.end = w.len();
        self.last_appended = Some(version);
        Ok(())
    }

    /// Make every appended entry durable with one fdatasync (none if nothing is pending).
    pub fn sync(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.durable_now() == self.last_appended {
            return Ok(());
        }
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.sync() {
                self.failed = true;
                return Err(e.into());
            }
        }
        self.durable = self.last_appended;
        Ok(())
    }

    /// Hand every appended entry to the OS and return the [`SyncPoint`] that makes them
    /// durable (`None` if nothing was appended), so that a thread can fdatasync while this
    /// one appends the next entries. Until a sync point or [`Self::sync`] has synced, the
    /// entries are not durable; once it has, `pull` and `durable_version` count them.
    pub fn flush_for_sync(&mut self) -> Result<Option<SyncPoint>> {
        self.check_usable()?;
        let (Some(version), Some(w), Some(seg)) = (
            self.last_appended,
            self.writer.as_mut(),
            self.segments.back(),
        ) else {
            return Ok(None);
        };
        if let Err(e) = w.flush() {
            self.failed = true;
            return Err(e.into());
        }
        let file = match &self.sync_file {
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(w.sync_handle()?);
                self.sync_file = Some(f.clone());
                f
            }
        };
        Ok(Some(SyncPoint {
            version,
            file,
            path: seg.path.clone(),
            failed: self.sync_failed.clone(),
            synced: self.synced.clone(),
        }))
    }

    /// Durable entries with version `>= from_version`, in order, stopping before the entry that
    /// would take the total above `max_bytes` (record bytes, 8-byte headers included); at least
    /// one entry is returned when any is available. Entries deleted by `truncate_below` are
    /// simply absent: the caller compares the first returned version with what it expected.
    pub fn pull(
        &self,
        from_version: Version,
        max_bytes: usize,
    ) -> Result<Vec<(Version, Vec<Mutation>)>> {
        let Some(durable) = self.durable_now() else {
            return Ok(Vec::new());
        };
        let budget = u64::try_from(max_bytes).unwrap_or(u64::MAX);
        let first_seg = self
            .segments
            .partition_point(|s| s.last_version().is_none_or(|l| l < from_version));
        let mut out = Vec::new();
        let mut used = 0u64;
        for seg in self.segments.iter().skip(first_seg) {
            let i = seg.index.partition_point(|(v, _)| *v < from_version);
            let mut j = i;
            let mut done = false;
            while j < seg.index.len() {
                let size = seg.entry_bytes(j);
                let fits = used.saturating_add(size) <= budget || (out.is_empty() && j == i);
                if seg.index[j].0 > durable || !fits {
                    done = true;
                    break;
                }
                used = used.saturating_add(size);
                j += 1;
            }
            if j > i {
                out.extend(seg.read(i, j)?);
            }
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// Delete the oldest segments whose entries are all below `v`, then fsync the directory.
    /// Returns how many were deleted. A segment goes only once the segment after it holds a
    /// durable entry, so the newest durable entry is never deleted and `last_version` after a
    /// crash never goes back below a version already acknowledged.
    pub fn truncate_below(&mut self, v: Version) -> Result<usize> {
        let mut removed = 0;
        while let (Some(front), Some(next)) = (self.segments.front(), self.segments.get(1)) {
            let Some(last) = front.last_version() else {
                break;
            };
            let next_durable = next
                .index
                .first()
                .is_some_and(|(first, _)| self.durable_now().is_some_and(|d| *first <= d));
            if last >= v || !next_durable {
                break;
            }
            let Some(seg) = self.segments.pop_front() else {
                break;
            };
            if let Err(e) = std::fs::remove_file(&seg.path) {
                self.segments.push_front(seg);
                return Err(ferrisdb_storage::Error::io(&self.dir, e).into());
            }
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
            tracing::info!(below = v, removed, "commit log segments deleted");
        }
        Ok(removed)
    }

    /// The last version appended (durable or not), `None` for an empty log.
    pub fn last_version(&self) -> Option<Version> {
        self.last_appended
    }

    /// The last version made durable by `sync` or a [`SyncPoint`] (or recovered at open).
    pub fn durable_version(&self) -> Option<Version> {
        self.durable_now()
    }

    fn durable_now(&self) -> Option<Version> {
        let synced = self.synced.load(Ordering::Acquire);
        match self.durable {
            Some(d) => Some(d.max(synced)),
            None => (synced > 0).then_some(synced),
        }
    }

    /// The oldest version still held.
    pub fn first_version(&self) -> Option<Version> {
        self.segments
            .front()
            .and_then(|s| s.index.first())
            .map(|(v, _)| *v)
    }

    /// Segment files currently making up the log.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seal the active segment (syncing it) and start a new one named for `version` when there
    /// is none yet or the active one is full.
    fn roll_if_full(&mut self, version: Version) -> Result<()> {
        let full = self
            .writer
            .as_ref()
            .is_none_or(|w| w.len() >= self.options.segment_bytes);
        if !full {
            return Ok(());
        }
        if self.writer.is_some() {
            // Only the newest segment may hold unsynced bytes, so recovery can tell a torn
            // tail (newest segment) from corruption (any other).
            self.sync()?;
        }
        let path = segment_path(&self.dir, version);
        let writer = if self.options.preallocate {
            RecordWriter::create_preallocated(&path, self.options.segment_bytes)
        } else {
            RecordWriter::create(&path)
        }?;
        tracing::debug!(path = %path.display(), "commit log segment started");
        self.writer = Some(writer);
        self.sync_file = None;
        self.segments.push_back(Segment::new(path));
        Ok(())
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed || self.sync_failed.load(Ordering::Acquire) {
            return Err(Error::Poisoned {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }
}

/// Replay every segment in `dir`, deleting a newest segment left without entries.
fn recover_segments(dir: &Path) -> Result<VecDeque<Segment>> {
    let files = list_segments(dir)?;
    let mut segments = VecDeque::with_capacity(files.len());
    let mut prev = None;
    for (n, (first, path)) in files.iter().enumerate() {
        let newest = n + 1 == files.len();
        let seg = Segment::recover(*first, path, prev, newest)?;
        if seg.index.is_empty() {
            if !newest {
                return Err(Error::corruption(
                    path,
                    0,
                    "sealed segment holds no entries",
                ));
            }
            // Created just before a crash; nothing in it was ever acknowledged.
            tracing::warn!(path = %path.display(), "deleting empty newest commit log segment");
            std::fs::remove_file(path).with_path(path)?;
            sync_dir(dir)?;
            continue;
        }
        prev = seg.last_version();
        segments.push_back(seg);
    }
    Ok(segments)
}
