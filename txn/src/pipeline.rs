//! The commit pipeline: sequencer, resolver and commit log behind one batching front door.
//! The embedded cluster and the coordinator process both run one.
//!
//! Life of a commit (`CommitPipeline::commit`, called by the client's `Transaction::commit`
//! through a [`TxnBackend`]):
//!
//! ```text
//!   1. queue the request; the committer that gets the pipeline lock leads: it commits
//!      everything queued as batches until its own is done, then hands over to the next
//!      queued committer. Waiters park on their own request and are unparked when their batch
//!      is done, so they never contend for the lock just to learn their result (with a plain
//!      combining lock, 16 committers scaled 1.5x; a returning leader kept barging back in).
//!   2. Sequencer::next_commit_version        one version for the whole batch
//!   3. Resolver::resolve(version, batch)      conflicts, in batch order (earlier wins)
//!   4. CommitLog::append(version, mutations of the committed transactions, in batch order)
//!      CommitLog::sync                        one fsync for the batch: now durable
//!   5. Sequencer::set_committed(version); the entry joins the in-memory log tail
//!   6. embedded: StorageServer::apply(version, ...) on the local storage server
//!      distributed: storage servers pull the entry (`pull`), long-polling on `committed`
//!   7. publish the version as the read version; answer every request of the batch: its
//!      commit version, NotCommitted or TooOld
//! ```
//!
//! Embedded, only versions the local storage server has applied become read versions, so
//! readers never wait. Distributed, the read version is the newest durable commit and a
//! storage server that has not applied it yet makes its readers wait (bounded): the log, not
//! any storage server, is what makes a commit acknowledged.
//!
//! When idle, `read_version` commits an empty batch so the read version keeps up with the
//! clock (FoundationDB's proxies do the same): a read version older than the MVCC window would
//! make every read-write transaction `TooOld`. Empty batches are not logged; a pull reports
//! `through`, the version up to which the log has nothing else, and storage servers advance
//! to it.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use ferrisdb_kv::{KeyRange, Mutation, StorageServer, Version, METADATA_VERSION_KEY};

use crate::client::{CommitRequest, TxnError};
use crate::commit_log::CommitLog;
use crate::resolver::{Outcome, ResolveRequest, Resolver};
use crate::sequencer::Sequencer;

/// Log entries as storage servers pull them.
pub type LogEntries = Vec<(Version, Vec<Mutation>)>;

/// Bytes of recent log entries kept in memory for pulls.
const TAIL_BYTES: usize = 64 << 20;

struct Core {
    sequencer: Sequencer,
    resolver: Resolver,
    log: CommitLog,
    batches: u64,
}

struct Pending {
    req: CommitRequest,
    result: Mutex<Option<Result<Version, TxnError>>>,
    /// Set (after `result`) when the request's batch is done.
    done: AtomicBool,
    /// The committing thread, unparked when `done` is set or when it should lead.
    thread: std::thread::Thread,
}

/// The newest durable log entries, so pulls rarely touch the disk.
struct Tail {
    entries: VecDeque<(Version, Arc<Vec<Mutation>>, usize)>,
    bytes: usize,
    /// The tail holds every logged entry from this version on.
    complete_from: Version,
}

/// Sequencer, resolver and commit log with batching; optionally a local storage server.
pub struct CommitPipeline {
    core: Mutex<Core>,
    queue: Mutex<Vec<Arc<Pending>>>,
    tail: RwLock<Tail>,
    /// The local storage server (embedded cluster), applied synchronously.
    local: Option<StorageServer>,
    /// The read version: the newest commit that is durable (and, embedded, applied).
    committed: AtomicU64,
    /// The newest commit that wrote [`METADATA_VERSION_KEY`] (or the version the pipeline
    /// opened at). Stored before `committed` moves past it, so a reader that loads
    /// `committed` first never sees an older value than the one its read version implies.
    metadata_version: AtomicU64,
    /// Wall-clock microseconds when `committed` last moved.
    committed_at: AtomicU64,
    /// Watched by pullers waiting for new versions.
    watch: tokio::sync::watch::Sender<Version>,
    /// Below this version the log may be deleted (distributed: set by the controller).
    truncate_below: AtomicU64,
    mvcc_window: Version,
}

pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl CommitPipeline {
    /// Open the sequencer and log under `dir`; with a `local` storage server, catch it up
    /// from the log first.
    pub fn open(
        dir: &Path,
        local: Option<StorageServer>,
        mvcc_window: Version,
        pull_bytes: usize,
    ) -> Result<CommitPipeline, TxnError> {
        let log = CommitLog::open(&dir.join("log"))?;
        let sequencer = Sequencer::open(&dir.join("sequencer"))?;
        if let Some(storage) = &local {
            let mut from = storage.applied_version() + 1;
            loop {
                let entries = log.pull(from, pull_bytes)?;
                let Some(last) = entries.last().map(|e| e.0) else {
                    break;
                };
                storage.apply(&entries)?;
                from = last + 1;
            }
        }
        let applied = local.as_ref().map_or(0, |s| s.applied_version());
        let committed = applied
            .max(log.last_version().unwrap_or(0))
            .max(sequencer.last_commit_version());
        let resolver = Resolver::with_max_window(committed, mvcc_window);
        let pipeline = CommitPipeline {
            core: Mutex::new(Core {
                sequencer,
                resolver,
                log,
                batches: 0,
            }),
            queue: Mutex::new(Vec::new()),
            tail: RwLock::new(Tail {
                entries: VecDeque::new(),
                bytes: 0,
                complete_from: committed + 1,
            }),
            local,
            committed: AtomicU64::new(committed),
            metadata_version: AtomicU64::new(0),
            committed_at: AtomicU64::new(0),
            watch: tokio::sync::watch::channel(committed).0,
            truncate_below: AtomicU64::new(0),
            mvcc_window,
        };
        // Versions follow the clock: start from a current one. No conflict history survives a
        // restart, so nothing read below it can be checked any more.
        let v = pipeline.advance(true)?;
        // No client has cached anything from before this process: start a new epoch.
        pipeline.metadata_version.store(v, Ordering::Release);
        pipeline.lock_core()?.resolver.set_oldest(v);
        Ok(pipeline)
    }

    fn lock_core(&self) -> Result<std::sync::MutexGuard<'_, Core>, TxnError> {
        self.core.lock().map_err(|_| {
            TxnError::CommitUnknownResult("the commit pipeline failed earlier; restart it".into())
        })
    }

    /// Take the core lock (a test panics while holding it, as a failed batch would).
    #[cfg(test)]
    pub(crate) fn poison_for_test(&self) -> std::sync::MutexGuard<'_, impl Sized> {
        self.core.lock().expect("not yet poisoned")
    }

    pub fn local(&self) -> Option<&StorageServer> {
        self.local.as_ref()
    }

    /// The newest published (readable) version.
    pub fn committed(&self) -> Version {
        self.committed.load(Ordering::Acquire)
    }

    /// Subscribe to published versions (for long-polling pulls).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Version> {
        self.watch.subscribe()
    }

    /// The log may be deleted below `v` (every storage server owning data has it durably).
    pub fn set_truncation_point(&self, v: Version) {
        self.truncate_below.fetch_max(v, Ordering::AcqRel);
    }

    /// A version at which every acknowledged commit is visible.
    pub fn read_version(&self) -> Result<Version, TxnError> {
        if self.is_stale() {
            return self.advance(false);
        }
        Ok(self.committed())
    }

    /// Commit an empty batch so the read version keeps up with the clock. Unless `force`,
    /// only when the committed version is more than half a window old.
    fn advance(&self, force: bool) -> Result<Version, TxnError> {
        let mut core = self.lock_core()?;
        if !force && !self.is_stale() {
            return Ok(self.committed());
        }
        let version = core.sequencer.next_commit_version(now_micros())?;
        core.sequencer.set_committed(version)?;
        if let Some(storage) = &self.local {
            storage.apply_through(&[], version)?;
        }
        self.publish(version);
        Ok(version)
    }

    /// A read version and the metadata version as of it (the newest commit at or below it
    /// that wrote [`METADATA_VERSION_KEY`]). When a commit is being published concurrently
    /// the second may exceed the first; callers then treat the metadata as unknown.
    pub fn read_version_and_metadata(&self) -> Result<(Version, Version), TxnError> {
        let rv = self.read_version()?;
        Ok((rv, self.metadata_version.load(Ordering::Acquire)))
    }

    /// Whether the next `read_version` call commits an empty batch (and so may block).
    pub fn read_version_is_stale(&self) -> bool {
        self.is_stale()
    }

    fn is_stale(&self) -> bool {
        now_micros().saturating_sub(self.committed_at.load(Ordering::Acquire))
            > self.mvcc_window / 2
    }

    fn publish(&self, version: Version) {
        self.committed.store(version, Ordering::Release);
        self.committed_at.store(now_micros(), Ordering::Release);
        self.watch.send_replace(version);
    }

    /// Log entries from `from` on, at most about `max_bytes`, and `through`: the version up to
    /// which the caller has seen everything once it applies them.
    pub fn pull(&self, from: Version, max_bytes: usize) -> Result<(LogEntries, Version), TxnError> {
        // Read `committed` first: every entry at or below it is in the tail or the log.
        let committed = self.committed();
        if from > committed {
            return Ok((Vec::new(), committed));
        }
        let mut out = Vec::new();
        let mut used = 0usize;
        {
            let tail = self.tail.read().expect("log tail lock poisoned");
            if from >= tail.complete_from {
                let start = tail.entries.partition_point(|e| e.0 < from);
                for (v, ms, size) in tail.entries.iter().skip(start) {
                    if *v > committed || (used + size > max_bytes && !out.is_empty()) {
                        let through = out.last().map_or(from - 1, |e: &(Version, _)| e.0);
                        return Ok((out, through));
                    }
                    used += size;
                    out.push((*v, ms.as_ref().clone()));
                }
                return Ok((out, committed));
            }
        }
        // Behind the tail: read the log file itself. The caller comes back for the rest, so
        // `through` is the last entry read (or `committed` when the log holds nothing more).
        let entries = self.lock_core()?.log.pull(from, max_bytes)?;
        let entries: LogEntries = entries.into_iter().filter(|e| e.0 <= committed).collect();
        let through = entries.last().map_or(committed, |e| e.0);
        Ok((entries, through))
    }

    /// A status line for `status` output.
    pub fn status(&self) -> String {
        let core = self.core.lock();
        let (first, last) = match &core {
            Ok(c) => (c.log.first_version(), c.log.last_version()),
            Err(_) => (None, None),
        };
        format!(
            "committed version {}\ncommit log holds versions {:?}..={:?}",
            self.committed(),
            first,
            last
        )
    }
}

fn writes_metadata_version(m: &Mutation) -> bool {
    match m {
        Mutation::Set { key, .. } | Mutation::Clear { key } | Mutation::AtomicAdd { key, .. } => {
            key == METADATA_VERSION_KEY
        }
        Mutation::ClearRange { range } => range.contains(METADATA_VERSION_KEY),
    }
}

fn entry_size(ms: &[Mutation]) -> usize {
    16 + ms.iter().map(|m| m.size() + 8).sum::<usize>()
}

enum BatchResult {
    Committed(Version),
    Conflict(KeyRange, Version),
    TooOld(Version),
}

impl BatchResult {
    fn clone_result(&self) -> Result<Version, TxnError> {
        match self {
            BatchResult::Committed(v) => Ok(*v),
            BatchResult::Conflict(range, rv) => Err(TxnError::NotCommitted {
                range: range.clone(),
                read_version: *rv,
            }),
            BatchResult::TooOld(rv) => Err(TxnError::TooOld { read_version: *rv }),
        }
    }
}

impl CommitPipeline {
    /// Resolve and durably commit; returns the commit version (see the module doc).
    pub fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        let pending = Arc::new(Pending {
            req,
            result: Mutex::new(None),
            done: AtomicBool::new(false),
            thread: std::thread::current(),
        });
        self.queue
            .lock()
            .expect("commit queue poisoned")
            .push(pending.clone());
        loop {
            if pending.done.load(Ordering::Acquire) {
                let r = pending
                    .result
                    .lock()
                    .expect("commit result lock poisoned")
                    .take();
                return r.unwrap_or_else(|| {
                    Err(TxnError::CommitUnknownResult(
                        "the commit batch produced no result".into(),
                    ))
                });
            }
            let core = match self.core.try_lock() {
                Ok(c) => Some(c),
                Err(std::sync::TryLockError::WouldBlock) => None,
                // A batch panicked mid-commit: its state is unknown, so refuse rather than
                // wait forever for a leader that will never come.
                Err(std::sync::TryLockError::Poisoned(_)) => {
                    return Err(TxnError::CommitUnknownResult(
                        "the commit pipeline failed earlier; restart it".into(),
                    ))
                }
            };
            if let Some(mut core) = core {
                // Lead: commit everything queued, batch after batch, until our own is done.
                while !pending.done.load(Ordering::Acquire) {
                    let batch =
                        std::mem::take(&mut *self.queue.lock().expect("commit queue poisoned"));
                    if batch.is_empty() {
                        break;
                    }
                    self.run_batch(&mut core, batch);
                }
                drop(core);
                // Hand over: whoever queued while we led may be parked, waiting for a leader.
                if let Some(next) = self.queue.lock().expect("commit queue poisoned").first() {
                    next.thread.unpark();
                }
                continue;
            }
            // Someone else leads; they unpark us when our batch is done (or hand over to us).
            std::thread::park_timeout(std::time::Duration::from_millis(1));
        }
    }

    /// Commit everything queued as one batch (the caller holds the core lock).
    fn run_batch(&self, core: &mut Core, batch: Vec<Arc<Pending>>) {
        let outcome = self.commit_batch(core, &batch);
        for (i, pending) in batch.iter().enumerate() {
            let r = match &outcome {
                Ok(results) => results[i].clone_result(),
                // The batch may or may not have reached the log before the failure.
                Err(e) => Err(TxnError::CommitUnknownResult(e.to_string())),
            };
            *pending.result.lock().expect("commit result lock poisoned") = Some(r);
            pending.done.store(true, Ordering::Release);
            pending.thread.unpark();
        }
    }

    fn commit_batch(
        &self,
        core: &mut Core,
        batch: &[Arc<Pending>],
    ) -> Result<Vec<BatchResult>, TxnError> {
        let version = core.sequencer.next_commit_version(now_micros())?;
        let requests: Vec<ResolveRequest> = batch
            .iter()
            .map(|b| ResolveRequest {
                read_version: b.req.read_version,
                reads: b.req.read_ranges.clone(),
                writes: b.req.write_ranges.clone(),
            })
            .collect();
        let outcomes = core.resolver.resolve(version, &requests)?;
        let mut mutations: Vec<Mutation> = Vec::new();
        let mut results = Vec::with_capacity(batch.len());
        let mut touches_metadata = false;
        for (b, o) in batch.iter().zip(outcomes) {
            results.push(match o {
                Outcome::Committed => {
                    touches_metadata |= b.req.mutations.iter().any(writes_metadata_version);
                    mutations.extend(b.req.mutations.iter().cloned());
                    BatchResult::Committed(version)
                }
                Outcome::Conflict { range } => BatchResult::Conflict(range, b.req.read_version),
                Outcome::TooOld => BatchResult::TooOld(b.req.read_version),
            });
        }
        if !mutations.is_empty() {
            core.log.append(version, &mutations)?;
            core.log.sync()?;
        }
        core.sequencer.set_committed(version)?;
        if !mutations.is_empty() {
            if let Some(storage) = &self.local {
                storage.apply(&[(version, mutations)])?;
            } else {
                self.push_tail(version, mutations);
            }
            if touches_metadata {
                self.metadata_version.store(version, Ordering::Release);
            }
            // Embedded, only applied versions become read versions: a reader at an empty
            // batch's version would wait for a version storage never sees.
            self.publish(version);
        }
        core.batches += 1;
        if core.batches.is_multiple_of(1024) {
            let below = match &self.local {
                // Storage applies synchronously; once synced, the log below it is
                // redundant (one engine fsync per 1,024 batches).
                Some(storage) => storage.sync()?,
                None => self.truncate_below.load(Ordering::Acquire),
            };
            core.log.truncate_below(below)?;
        }
        Ok(results)
    }

    fn push_tail(&self, version: Version, mutations: Vec<Mutation>) {
        let size = entry_size(&mutations);
        let mut tail = self.tail.write().expect("log tail lock poisoned");
        tail.entries.push_back((version, Arc::new(mutations), size));
        tail.bytes += size;
        while tail.bytes > TAIL_BYTES && tail.entries.len() > 1 {
            if let Some((v, _, s)) = tail.entries.pop_front() {
                tail.bytes -= s;
                tail.complete_from = v + 1;
            }
        }
    }
}
