//! The engine: ties the WAL, memtables, tables, manifest and background work together.
//!
//! ```text
//!   Engine ── Arc<Inner>
//!               state: RwLock<Arc<State>>    readers clone the Arc and release the lock at once
//!                        mem (active memtable, WAL segment mem_log)
//!                        imm (immutable memtables, newest first, each with its WAL segment)
//!                        version (the live tables per level)
//!               core:  Mutex<Core>           manifest, file numbers, background error;
//!                                            the state is only ever replaced while holding it
//!               queue + wal                  the group-commit write path (write.rs)
//!               flush thread, compaction thread (background.rs)
//! ```
//!
//! Lock order, outermost first: `queue` -> `wal` -> `gc_gate` -> `core` -> `state`, and
//! `compaction_lock` -> `gc_gate`. The write leader never waits for background work while
//! holding `gc_gate`.
//!
//! Each batch becomes visible to readers all at once (see `seq_filter`), and a snapshot's
//! view never changes, whatever is written after it.
//!
//! Reads never take a lock beyond the instant needed to clone `Arc<State>`. A point read
//! consults every source that may hold a newer matching version, newest first, skipping a
//! source when its version range cannot beat what was already found (versions are chosen by
//! the caller, so a newer *source* does not always hold a newer *version*).
//!
//! Garbage collection: `set_gc_watermark(w)` allows flush and compaction to drop, per key,
//! versions older than the newest one at or below `w`. Open snapshots hold the effective
//! watermark down to their version. Reads below the watermark outside a snapshot are not
//! guaranteed to see dropped versions, and writes below the watermark are refused (a dropped
//! tombstone could otherwise let an older write resurrect a deleted key).

mod background;
mod open;
mod write;

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use crate::fs::{table_file_name, DirLock};
use crate::iterator::InternalIterator;
use crate::level_iter::LevelIterator;
use crate::manifest::Manifest;
use crate::memtable::Memtable;
use crate::merge::MergingIterator;
use crate::options::Options;
use crate::scan::{Direction, Scan};
use crate::seq_filter::{get_visible, SeqFilter};
use crate::stats::{Counters, LevelStats, Stats};
use crate::table_cache::TableCache;
use crate::types::{ValueKind, Version as Ver};
use crate::version::{FileDeleter, Version};
use crate::wal::RecordWriter;
use crate::{Error, Result, WriteBatch};

/// An immutable memtable waiting to be flushed, and the WAL segment holding its data.
#[derive(Clone)]
pub(crate) struct Imm {
    pub mem: Arc<Memtable>,
    pub log: u64,
}

/// What readers see: replaced wholesale (copy-on-write) under `core`.
pub(crate) struct State {
    pub mem: Arc<Memtable>,
    pub mem_log: u64,
    pub imm: Vec<Imm>,
    pub version: Arc<Version>,
}

pub(crate) struct Core {
    pub manifest: Manifest,
    pub next_file_number: u64,
    /// Oldest WAL segment still holding unflushed data.
    pub log_number: u64,
    /// Round-robin compaction position per level.
    pub pointers: Vec<Vec<u8>>,
    /// First background failure; the engine refuses writes after it. Set through
    /// `Inner::fail`, which also raises `Inner::failed`.
    pub bg_error: Option<Error>,
    pub flush_running: bool,
    pub compaction_running: bool,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub opts: Options,
    pub _lock: DirLock,
    pub state: RwLock<Arc<State>>,
    pub core: Mutex<Core>,
    /// Signalled whenever the state changes or background work finishes.
    pub bg_cond: Condvar,
    pub queue: Mutex<write::Queue>,
    pub wal: Mutex<RecordWriter>,
    pub seq: AtomicU64,
    /// Writers currently inside `write` (for group commit's wait; see write.rs).
    pub active_writers: std::sync::atomic::AtomicUsize,
    /// `queue.len()`, mirrored so a leader can watch its group fill without the queue lock.
    pub queued: std::sync::atomic::AtomicUsize,
    /// Memtable entries with a sequence number below this are fully written (seq_filter.rs).
    pub visible_seq: AtomicU64,
    pub tables: Arc<TableCache>,
    pub deleter: Arc<dyn FileDeleter>,
    pub counters: Counters,
    pub shutdown: AtomicBool,
    /// Mirrors `core.bg_error.is_some()`, so the write path need not lock `core` to check.
    pub failed: AtomicBool,
    /// Open snapshot versions (a multiset).
    pub snapshots: Mutex<BTreeMap<Ver, usize>>,
    pub gc_watermark: AtomicU64,
    /// Serializes compactions (background and manual).
    pub compaction_lock: Mutex<()>,
    /// Held shared by the write leader while it checks the GC watermark and inserts, and
    /// exclusively by a compaction while it reads the watermark and the sources above it.
    pub gc_gate: RwLock<()>,
}

/// Deletes table files that left the live set, once the last reader lets go.
pub(crate) struct TableDeleter {
    pub dir: PathBuf,
    pub tables: Arc<TableCache>,
}

impl FileDeleter for TableDeleter {
    fn delete_table(&self, number: u64) {
        self.tables.evict(number);
        let path = table_file_name(&self.dir, number);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::debug!(file = %path.display(), "deleted obsolete table"),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "could not delete obsolete table")
            }
        }
        // Make the deletion durable too; a failure only means the file may reappear after a
        // crash, and open deletes unreferenced tables anyway.
        if let Err(e) = crate::fs::sync_dir(&self.dir) {
            tracing::warn!(error = %e, "could not sync the directory after deleting a table");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
        .expect("engine mutex poisoned: a thread panicked while holding it")
}

impl Inner {
    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    pub(crate) fn current(&self) -> Arc<State> {
        self.state
            .read()
            .expect("engine state lock poisoned")
            .clone()
    }

    pub(crate) fn install(&self, _core: &MutexGuard<'_, Core>, st: State) {
        *self.state.write().expect("engine state lock poisoned") = Arc::new(st);
    }

    /// The watermark compaction may use: the configured one, held down by open snapshots.
    pub(crate) fn effective_watermark(&self) -> Ver {
        let w = self.gc_watermark.load(Ordering::Acquire);
        match lock(&self.snapshots).keys().next() {
            Some(&s) => w.min(s),
            None => w,
        }
    }

    /// Record the first background failure; writes are refused from now on.
    pub(crate) fn fail(&self, core: &mut MutexGuard<'_, Core>, e: Error) {
        core.bg_error.get_or_insert(e);
        self.failed.store(true, Ordering::Release);
    }

    fn closed_error(&self) -> Option<Error> {
        if self.shutdown.load(Ordering::Acquire) {
            return Some(Error::Closed { reason: None });
        }
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.core().bg_error.as_ref().map(|e| Error::Closed {
            reason: Some(format!("a background operation failed: {e}")),
        })
    }
}

/// Point read against one state.
fn get_in(
    st: &State,
    tables: &TableCache,
    key: &[u8],
    at: Ver,
    max_seq: u64,
) -> Result<Option<Vec<u8>>> {
    let mut best: Option<(Ver, ValueKind, Vec<u8>)> = None;
    let worth = |best: &Option<(Ver, ValueKind, Vec<u8>)>, min: Ver, max: Ver| {
        min <= at && best.as_ref().is_none_or(|b| max > b.0)
    };
    let consider = |best: &mut Option<(Ver, ValueKind, Vec<u8>)>,
                    hit: (Ver, ValueKind, Vec<u8>)| {
        if best.as_ref().is_none_or(|b| hit.0 > b.0) {
            *best = Some(hit);
        }
    };
    for mem in std::iter::once(&st.mem).chain(st.imm.iter().map(|i| &i.mem)) {
        if let Some((min, max)) = mem.version_range() {
            if worth(&best, min, max) && mem.may_contain(key) {
                if let Some(hit) = get_visible(mem, key, at, max_seq) {
                    consider(&mut best, hit);
                }
            }
        }
    }
    let levels = &st.version.levels;
    let l0 = levels[0].iter().filter(|f| f.contains_key(key));
    let deeper = (1..levels.len()).filter_map(|l| st.version.find_in_level(l, key));
    for f in l0.chain(deeper) {
        if worth(&best, f.info.min_version, f.info.max_version) {
            if let Some(e) = tables.get(f.info.number)?.get(key, at)? {
                consider(&mut best, (e.version, e.kind, e.value));
            }
        }
    }
    Ok(best.and_then(|(_, kind, v)| (kind == ValueKind::Value).then_some(v)))
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    b.map(|k| k.to_vec())
}

/// Build the merged cursor over every source of `st` that may meet the range.
fn scan_in(
    st: Arc<State>,
    tables: &Arc<TableCache>,
    pin: Arc<dyn Send + Sync>,
    range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    at: Ver,
    max_seq: u64,
    direction: Direction,
) -> Result<Scan> {
    let meets = |lo: &[u8], hi: &[u8]| {
        let above = match &range.0 {
            Bound::Included(l) => hi >= l.as_slice(),
            Bound::Excluded(l) => hi > l.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match &range.1 {
            Bound::Included(u) => lo <= u.as_slice(),
            Bound::Excluded(u) => lo < u.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    };
    let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
    children.push(Box::new(SeqFilter::new(&st.mem, max_seq)));
    for i in &st.imm {
        children.push(Box::new(SeqFilter::new(&i.mem, max_seq)));
    }
    for f in st.version.levels[0]
        .iter()
        .filter(|f| meets(&f.info.smallest_key, &f.info.largest_key))
    {
        children.push(Box::new(tables.get(f.info.number)?.iter()));
    }
    for files in st.version.levels.iter().skip(1) {
        let files: Vec<_> = files
            .iter()
            .filter(|f| meets(&f.info.smallest_key, &f.info.largest_key))
            .cloned()
            .collect();
        if !files.is_empty() {
            children.push(Box::new(LevelIterator::new(files, tables.clone())));
        }
    }
    let merged = MergingIterator::new(children);
    let pin: Arc<dyn Send + Sync> = Arc::new((st, pin));
    Ok(Scan::new(
        Box::new(merged),
        pin,
        at,
        range.0,
        range.1,
        direction,
    ))
}

/// FerrisDB's LSM-tree storage engine. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Engine {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    /// Open (or create) the engine in `dir`, recovering from the manifest and WAL.
    pub fn open(dir: impl Into<PathBuf>, opts: Options) -> Result<Engine> {
        let inner = Arc::new(open::open_inner(dir.into(), opts)?);
        let threads = background::spawn(&inner)?;
        Ok(Engine {
            inner,
            threads: Mutex::new(threads),
        })
    }

    /// Apply `batch` atomically; durable before return as the sync mode promises.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.inner.write(batch)
    }

    /// Store `value` for `key` at `version`.
    pub fn put(&self, key: &[u8], version: Ver, value: &[u8]) -> Result<()> {
        let mut b = WriteBatch::with_capacity(key.len() + value.len() + 24);
        b.put(key, version, value)?;
        self.write(b)
    }

    /// Delete `key` as of `version`.
    pub fn delete(&self, key: &[u8], version: Ver) -> Result<()> {
        let mut b = WriteBatch::with_capacity(key.len() + 16);
        b.delete(key, version)?;
        self.write(b)
    }

    /// The value of `key` as of `version`: its newest entry at or below it, unless a tombstone.
    pub fn get(&self, key: &[u8], version: Ver) -> Result<Option<Vec<u8>>> {
        if self.inner.shutdown.load(Ordering::Acquire) {
            return Err(Error::Closed { reason: None });
        }
        let max_seq = self.inner.visible_seq.load(Ordering::Acquire);
        get_in(
            &self.inner.current(),
            &self.inner.tables,
            key,
            version,
            max_seq,
        )
    }

    /// Stream the keys in `range` as of `version`, in `direction`.
    pub fn scan(
        &self,
        range: impl RangeBounds<[u8]>,
        version: Ver,
        direction: Direction,
    ) -> Result<Scan> {
        if self.inner.shutdown.load(Ordering::Acquire) {
            return Err(Error::Closed { reason: None });
        }
        let range = (owned(range.start_bound()), owned(range.end_bound()));
        let max_seq = self.inner.visible_seq.load(Ordering::Acquire);
        scan_in(
            self.inner.current(),
            &self.inner.tables,
            Arc::new(()),
            range,
            version,
            max_seq,
            direction,
        )
    }

    /// A consistent view as of `version`: it keeps the current tables and memtables alive and
    /// holds garbage collection at or below `version` until dropped.
    pub fn snapshot(&self, version: Ver) -> Snapshot {
        *lock(&self.inner.snapshots).entry(version).or_insert(0) += 1;
        let max_seq = self.inner.visible_seq.load(Ordering::Acquire);
        Snapshot {
            reg: Arc::new(SnapshotReg {
                inner: self.inner.clone(),
                version,
            }),
            state: self.inner.current(),
            max_seq,
        }
    }

    /// Allow garbage collection of versions at or below `version` (see the module doc). The
    /// watermark only moves forward; it is persisted with the next flush or compaction (a
    /// caller that needs it exactly after a restart sets it again). From now on, writes at a
    /// version below it are refused with `InvalidArgument`: that history may be collected.
    pub fn set_gc_watermark(&self, version: Ver) {
        self.inner.gc_watermark.fetch_max(version, Ordering::AcqRel);
    }

    pub fn gc_watermark(&self) -> Ver {
        self.inner.gc_watermark.load(Ordering::Acquire)
    }

    /// Make every write that has returned durable: fsync the active WAL segment (older
    /// segments are synced when they are rotated out). With `SyncMode::None` this is how a
    /// caller chooses when to pay for durability (the KV storage server does it before it
    /// lets the commit log be truncated); with the other modes it is a no-op in effect.
    pub fn sync_wal(&self) -> Result<()> {
        if self.inner.shutdown.load(Ordering::Acquire) {
            return Err(Error::Closed { reason: None });
        }
        self.inner.sync_wal()
    }

    /// Turn the active memtable into a table now and wait until every memtable is flushed.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush_and_wait()
    }

    /// Wait until no flush or compaction is pending or running.
    pub fn wait_for_compactions(&self) -> Result<()> {
        self.inner.wait_idle()
    }

    /// Flush, then compact every level down into the deepest level holding data and rewrite
    /// that level, applying garbage collection everywhere.
    pub fn compact_all(&self) -> Result<()> {
        self.inner.flush_and_wait()?;
        self.inner.compact_all()
    }

    /// Current statistics.
    pub fn stats(&self) -> Stats {
        let st = self.inner.current();
        let mut s = Stats {
            levels: st
                .version
                .levels
                .iter()
                .map(|files| LevelStats {
                    files: files.len(),
                    bytes: files.iter().map(|f| f.info.size).sum(),
                })
                .collect(),
            memtable_bytes: st.mem.approximate_size(),
            immutable_memtables: st.imm.len(),
            ..Stats::default()
        };
        s.fill_counters(&self.inner.counters);
        let bc = self.inner.tables.block_cache();
        s.block_cache_hits = bc.hits();
        s.block_cache_misses = bc.misses();
        s.block_cache_usage = bc.usage();
        s.block_cache_capacity = bc.capacity();
        if let Some(rows) = bc.rows() {
            s.row_cache_hits = rows.hits();
            s.row_cache_misses = rows.misses();
            s.row_cache_usage = rows.usage();
        }
        s.open_tables = self.inner.tables.len();
        s
    }

    /// Stop background work and make every acknowledged write durable. Unflushed memtables
    /// stay in the WAL and are recovered by the next open.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        if self.inner.shutdown.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let _core = self.inner.core();
            self.inner.bg_cond.notify_all();
        }
        for t in lock(&self.threads).drain(..) {
            if t.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        lock(&self.inner.wal).sync()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "error while closing the storage engine");
        }
    }
}

struct SnapshotReg {
    inner: Arc<Inner>,
    version: Ver,
}

impl Drop for SnapshotReg {
    fn drop(&mut self) {
        let mut snaps = lock(&self.inner.snapshots);
        if let Some(n) = snaps.get_mut(&self.version) {
            *n -= 1;
            if *n == 0 {
                snaps.remove(&self.version);
            }
        }
    }
}

/// A consistent read-only view at one version (see [`Engine::snapshot`]).
pub struct Snapshot {
    reg: Arc<SnapshotReg>,
    state: Arc<State>,
    max_seq: u64,
}

impl Snapshot {
    pub fn version(&self) -> Ver {
        self.reg.version
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get_in(
            &self.state,
            &self.reg.inner.tables,
            key,
            self.reg.version,
            self.max_seq,
        )
    }

    pub fn scan(&self, range: impl RangeBounds<[u8]>, direction: Direction) -> Result<Scan> {
        let range = (owned(range.start_bound()), owned(range.end_bound()));
        let pin: Arc<dyn Send + Sync> = self.reg.clone();
        scan_in(
            self.state.clone(),
            &self.reg.inner.tables,
            pin,
            range,
            self.reg.version,
            self.max_seq,
            direction,
        )
    }
}
