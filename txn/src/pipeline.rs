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
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::task::{Context, Poll, Waker};

use ferrisdb_kv::{KeyRange, Mutation, StorageServer, Version, METADATA_VERSION_KEY};

use crate::client::{CommitRequest, TxnError};
use crate::commit_log::CommitLog;
use crate::resolver::{Outcome, ResolveRequest, Resolver};
use crate::sequencer::Sequencer;

mod apply;
mod sync;
#[cfg(test)]
mod tests;

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
    /// Taken (moved out, not cloned) by the batch that commits it.
    req: Mutex<CommitRequest>,
    result: Mutex<Option<Result<Version, TxnError>>>,
    /// Set (after `result`) when the request's batch is done.
    done: AtomicBool,
    waiter: Waiter,
}

/// Who waits for a queued commit.
enum Waiter {
    /// A committing thread ([`CommitPipeline::commit`]): unparked when its request is done or
    /// when it should lead.
    Thread(std::thread::Thread),
    /// A task ([`CommitPipeline::commit_async`]): woken when its request is done. Tasks never
    /// lead (a batch blocks on the fsync); the pipeline's commit thread leads for them.
    Task(Mutex<Option<Waker>>),
}

impl Pending {
    /// Store the result and wake whoever waits.
    fn answer(&self, r: Result<Version, TxnError>) {
        *self.result.lock().expect("commit result lock poisoned") = Some(r);
        self.finish();
    }

    /// Mark done (the result is already stored) and wake whoever waits.
    fn finish(&self) {
        self.done.store(true, Ordering::Release);
        match &self.waiter {
            Waiter::Thread(t) => t.unpark(),
            Waiter::Task(w) => {
                if let Some(w) = w.lock().expect("commit waker lock poisoned").take() {
                    w.wake();
                }
            }
        }
    }

    fn take_result(&self) -> Result<Version, TxnError> {
        let r = self
            .result
            .lock()
            .expect("commit result lock poisoned")
            .take();
        r.unwrap_or_else(|| {
            Err(TxnError::CommitUnknownResult(
                "the commit batch produced no result".into(),
            ))
        })
    }
}

/// The answer to [`CommitPipeline::commit_async`].
pub struct CommitFuture {
    pending: Arc<Pending>,
}

impl Future for CommitFuture {
    type Output = Result<Version, TxnError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let p = &self.pending;
        if !p.done.load(Ordering::Acquire) {
            if let Waiter::Task(w) = &p.waiter {
                *w.lock().expect("commit waker lock poisoned") = Some(cx.waker().clone());
            }
            // Checked again after registering: `finish` sets `done` before taking the waker.
            if !p.done.load(Ordering::Acquire) {
                return Poll::Pending;
            }
        }
        Poll::Ready(p.take_result())
    }
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
    /// The local storage server (embedded cluster), applied by the apply thread.
    local: Option<Arc<StorageServer>>,
    applier: Option<apply::Applier>,
    published: Arc<Published>,
    /// Below this version the log may be deleted (distributed: set by the controller).
    truncate_below: AtomicU64,
    mvcc_window: Version,
    /// The thread that leads batches for queued tasks, started by the first `commit_async`.
    commit_thread: OnceLock<std::thread::Thread>,
    /// The thread that syncs, publishes and answers the commit thread's batches.
    sync_thread: OnceLock<sync::SyncThread>,
}

/// What readers see (shared with the apply thread, which publishes embedded batches).
struct Published {
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
}

impl Published {
    fn publish(&self, version: Version) {
        self.committed.store(version, Ordering::Release);
        self.committed_at.store(now_micros(), Ordering::Release);
        self.watch.send_replace(version);
    }
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
        let published = Arc::new(Published {
            committed: AtomicU64::new(committed),
            metadata_version: AtomicU64::new(0),
            committed_at: AtomicU64::new(0),
            watch: tokio::sync::watch::channel(committed).0,
        });
        let local = local.map(Arc::new);
        let applier = local.as_ref().map(|s| apply::Applier::start(s.clone()));
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
            applier,
            published,
            truncate_below: AtomicU64::new(0),
            mvcc_window,
            commit_thread: OnceLock::new(),
            sync_thread: OnceLock::new(),
        };
        // Versions follow the clock: start from a current one. No conflict history survives a
        // restart, so nothing read below it can be checked any more.
        let v = pipeline.advance(true)?;
        // No client has cached anything from before this process: start a new epoch.
        pipeline
            .published
            .metadata_version
            .store(v, Ordering::Release);
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

    /// Make the next apply fail as a storage error would.
    #[cfg(test)]
    pub(crate) fn fail_next_apply_for_test(&self) {
        self.applier
            .as_ref()
            .expect("an embedded pipeline")
            .fail_next_apply();
    }

    /// Stop the apply thread before its next job until the guard is dropped.
    #[cfg(test)]
    pub(crate) fn hold_apply_for_test(&self) -> std::sync::MutexGuard<'_, ()> {
        self.applier.as_ref().expect("an embedded pipeline").hold()
    }

    pub fn local(&self) -> Option<&StorageServer> {
        self.local.as_deref()
    }

    /// The newest published (readable) version.
    pub fn committed(&self) -> Version {
        self.published.committed.load(Ordering::Acquire)
    }

    /// Subscribe to published versions (for long-polling pulls).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Version> {
        self.published.watch.subscribe()
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
        self.wait_for_sync_thread();
        if !force && !self.is_stale() {
            return Ok(self.committed());
        }
        let version = core.sequencer.next_commit_version(now_micros())?;
        core.sequencer.set_committed(version)?;
        if let Some(applier) = &self.applier {
            applier.through(version);
        }
        self.published.publish(version);
        Ok(version)
    }

    /// A read version and the metadata version as of it (the newest commit at or below it
    /// that wrote [`METADATA_VERSION_KEY`]). When a commit is being published concurrently
    /// the second may exceed the first; callers then treat the metadata as unknown.
    pub fn read_version_and_metadata(&self) -> Result<(Version, Version), TxnError> {
        let rv = self.read_version()?;
        Ok((rv, self.published.metadata_version.load(Ordering::Acquire)))
    }

    /// Whether the next `read_version` call commits an empty batch (and so may block).
    pub fn read_version_is_stale(&self) -> bool {
        self.is_stale()
    }

    fn is_stale(&self) -> bool {
        now_micros().saturating_sub(self.published.committed_at.load(Ordering::Acquire))
            > self.mvcc_window / 2
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

/// The commit thread: holds the pipeline only while leading, and ends once it is dropped.
fn lead_for_tasks(pipeline: Weak<CommitPipeline>) {
    // Measured and dropped, on 2 vCPUs, 64 tasks: spinning up to 20 us for the next request
    // before parking (it takes the CPU from the tasks that would send it), and tasks leading
    // batches themselves when the core lock is free (143-150k commits/s against 150-207k:
    // the tokio workers then resolve instead of running tasks, and contend for the lock).
    loop {
        match pipeline.upgrade() {
            Some(p) => p.lead_queued(),
            None => return,
        }
        std::thread::park_timeout(std::time::Duration::from_millis(100));
    }
}

/// What a batch's requests hear when the batch failed: a refusal before anything was
/// written (a failed storage apply earlier, see `apply`) as it is; anything else may or
/// may not have reached the log, so its result is unknown.
fn batch_error(e: &TxnError) -> TxnError {
    match e {
        TxnError::Remote {
            message,
            retryable: false,
        } => TxnError::Remote {
            message: message.clone(),
            retryable: false,
        },
        other => TxnError::CommitUnknownResult(other.to_string()),
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

/// A resolved batch whose committed mutations are in the log (synced or not).
struct Prepared {
    version: Version,
    results: Vec<BatchResult>,
    mutations: Vec<Mutation>,
    touches_metadata: bool,
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
            req: Mutex::new(req),
            result: Mutex::new(None),
            done: AtomicBool::new(false),
            waiter: Waiter::Thread(std::thread::current()),
        });
        self.queue
            .lock()
            .expect("commit queue poisoned")
            .push(pending.clone());
        loop {
            if pending.done.load(Ordering::Acquire) {
                return pending.take_result();
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
                    self.run_batch(&mut core, batch, true);
                }
                drop(core);
                self.hand_over();
                if !pending.done.load(Ordering::Acquire) {
                    // Our batch is with the apply thread, which unparks us.
                    std::thread::park_timeout(std::time::Duration::from_millis(1));
                }
                continue;
            }
            // Someone else leads; they unpark us when our batch is done (or hand over to us).
            std::thread::park_timeout(std::time::Duration::from_millis(1));
        }
    }

    /// Commit one batch (the caller holds the core lock) and answer its requests. `may_apply_here`: the caller is a
    /// committing thread, which applies the batch itself when the apply thread is idle
    /// (see [`apply`]).
    fn run_batch(&self, core: &mut Core, batch: Vec<Arc<Pending>>, may_apply_here: bool) {
        match self.commit_batch(core, &batch, may_apply_here) {
            Ok(results) => {
                for (pending, r) in batch.iter().zip(&results) {
                    pending.answer(r.clone_result());
                }
            }
            // The batch may or may not have reached the log before the failure.
            Err(e) => {
                for pending in &batch {
                    pending.answer(Err(batch_error(&e)));
                }
            }
        }
    }

    /// After leading: whoever queued meanwhile may be parked, waiting for a leader.
    fn hand_over(&self) {
        let queue = self.queue.lock().expect("commit queue poisoned");
        match queue.first().map(|p| &p.waiter) {
            Some(Waiter::Thread(t)) => t.unpark(),
            Some(Waiter::Task(_)) => {
                if let Some(t) = self.commit_thread.get() {
                    t.unpark();
                }
            }
            None => {}
        }
    }

    /// Queue a commit from a task and return a future for its result: the same batches as
    /// [`Self::commit`], led by the pipeline's commit thread so that no task blocks on a
    /// batch's fsync, and one batch wakes all its tasks without a thread switch each.
    /// Dropping the future does not withdraw the request (its outcome is then unknown).
    pub fn commit_async(self: &Arc<Self>, req: CommitRequest) -> CommitFuture {
        let pending = Arc::new(Pending {
            req: Mutex::new(req),
            result: Mutex::new(None),
            done: AtomicBool::new(false),
            waiter: Waiter::Task(Mutex::new(None)),
        });
        self.queue
            .lock()
            .expect("commit queue poisoned")
            .push(pending.clone());
        // Cheap when the thread is running: it only sets its wake-up token.
        self.commit_thread().unpark();
        CommitFuture { pending }
    }

    fn commit_thread(self: &Arc<Self>) -> &std::thread::Thread {
        self.commit_thread.get_or_init(|| {
            let me = Arc::downgrade(self);
            std::thread::Builder::new()
                .name("ferrisdb-commit".into())
                .spawn(move || lead_for_tasks(me))
                .expect("cannot start the commit thread")
                .thread()
                .clone()
        })
    }

    /// The commit thread's turn: lead batches while anything is queued, unless a committing
    /// thread leads already (it hands over when done).
    fn lead_queued(self: &Arc<Self>) {
        let mut core = match self.core.try_lock() {
            Ok(c) => c,
            Err(std::sync::TryLockError::WouldBlock) => return,
            Err(std::sync::TryLockError::Poisoned(_)) => {
                // As `commit`: a panicked batch leaves the state unknown; fail what waits.
                let queued =
                    std::mem::take(&mut *self.queue.lock().expect("commit queue poisoned"));
                for p in queued {
                    *p.result.lock().expect("commit result lock poisoned") =
                        Some(Err(TxnError::CommitUnknownResult(
                            "the commit pipeline failed earlier; restart it".into(),
                        )));
                    p.finish();
                }
                return;
            }
        };
        loop {
            let batch = std::mem::take(&mut *self.queue.lock().expect("commit queue poisoned"));
            if batch.is_empty() {
                break;
            }
            self.run_batch_pipelined(&mut core, batch);
        }
        drop(core);
        self.hand_over();
    }

    /// Resolve, log and sync one batch, hand it to storage (applied here when
    /// `may_apply_here` and the apply thread is idle, else queued there), and publish its
    /// version; returns its results.
    fn commit_batch(
        &self,
        core: &mut Core,
        batch: &[Arc<Pending>],
        may_apply_here: bool,
    ) -> Result<Vec<BatchResult>, TxnError> {
        // Batches the commit thread handed to the sync thread publish first (in order).
        self.wait_for_sync_thread();
        let prepared = self.prepare_batch(core, batch)?;
        if !prepared.mutations.is_empty() {
            core.log.sync()?;
        }
        core.sequencer.set_committed(prepared.version)?;
        Ok(self.finish_batch(prepared, may_apply_here))
    }

    /// Resolve a batch and append its committed mutations to the log (not yet synced).
    fn prepare_batch(&self, core: &mut Core, batch: &[Arc<Pending>]) -> Result<Prepared, TxnError> {
        if let Some(applier) = &self.applier {
            applier.check()?;
        }
        let version = core.sequencer.next_commit_version(now_micros())?;
        let mut muts = Vec::with_capacity(batch.len());
        let requests: Vec<ResolveRequest> = batch
            .iter()
            .map(|b| {
                let req = std::mem::take(&mut *b.req.lock().expect("commit request lock poisoned"));
                muts.push(req.mutations);
                ResolveRequest {
                    read_version: req.read_version,
                    reads: req.read_ranges,
                    writes: req.write_ranges,
                }
            })
            .collect();
        let outcomes = core.resolver.resolve(version, &requests)?;
        let mut mutations: Vec<Mutation> = Vec::new();
        let mut results = Vec::with_capacity(batch.len());
        let mut touches_metadata = false;
        for ((o, ms), r) in outcomes.into_iter().zip(muts).zip(&requests) {
            results.push(match o {
                Outcome::Committed => {
                    touches_metadata |= ms.iter().any(writes_metadata_version);
                    mutations.extend(ms);
                    BatchResult::Committed(version)
                }
                Outcome::Conflict { range } => BatchResult::Conflict(range, r.read_version),
                Outcome::TooOld => BatchResult::TooOld(r.read_version),
            });
        }
        if !mutations.is_empty() {
            core.log.append(version, &mutations)?;
        }
        core.batches += 1;
        if core.batches.is_multiple_of(1024) {
            let below = match &self.applier {
                // The apply thread syncs storage every 1,024 batches; the log below a
                // synced version is redundant.
                Some(applier) => applier.durable(),
                None => self.truncate_below.load(Ordering::Acquire),
            };
            core.log.truncate_below(below.min(self.committed()))?;
        }
        Ok(Prepared {
            version,
            results,
            mutations,
            touches_metadata,
        })
    }

    /// A durable batch: hand it to storage and publish its version; returns its results.
    fn finish_batch(&self, p: Prepared, may_apply_here: bool) -> Vec<BatchResult> {
        if p.mutations.is_empty() {
            // Nothing to apply or publish (an empty batch's version is never a read
            // version: embedded storage would never see it).
            return p.results;
        }
        match &self.applier {
            // Applied before it is published: its readers never wait.
            Some(applier) if may_apply_here && applier.idle() => {
                applier.apply_here(p.version, p.mutations)
            }
            // Embedded: the apply thread applies it beside the next batch.
            Some(applier) => applier.apply(p.version, p.mutations),
            // Distributed: storage servers pull it.
            None => self.push_tail(p.version, p.mutations),
        }
        if p.touches_metadata {
            self.published
                .metadata_version
                .store(p.version, Ordering::Release);
        }
        // Durable: now the read version, and acknowledged (readers of storage wait for
        // the apply when they get there first).
        self.published.publish(p.version);
        p.results
    }

    /// The commit thread's batch: resolved and appended here, then synced, published and
    /// answered by the sync thread while this thread goes on with the next batch.
    fn run_batch_pipelined(self: &Arc<Self>, core: &mut Core, batch: Vec<Arc<Pending>>) {
        let staged = self.prepare_batch(core, &batch).and_then(|p| {
            let point = match p.mutations.is_empty() {
                true => None,
                false => core.log.flush_for_sync()?,
            };
            // Versions the sync thread has published are durable.
            core.sequencer.set_committed(self.committed())?;
            Ok((p, point))
        });
        match staged {
            Ok((p, None)) => {
                for (pending, r) in batch.iter().zip(&p.results) {
                    pending.answer(r.clone_result());
                }
            }
            Ok((prepared, Some(point))) => self.sync_thread().send(sync::Job {
                point,
                prepared,
                requests: batch,
            }),
            Err(e) => {
                for pending in &batch {
                    pending.answer(Err(batch_error(&e)));
                }
            }
        }
    }

    fn sync_thread(self: &Arc<Self>) -> &sync::SyncThread {
        self.sync_thread
            .get_or_init(|| sync::SyncThread::start(Arc::downgrade(self)))
    }

    fn wait_for_sync_thread(&self) {
        if let Some(s) = self.sync_thread.get() {
            s.wait_idle();
        }
    }

    /// Wait (bounded) until the local storage server has applied `version`; false when it
    /// has not in time (the read then fails retryably, as a blocking read would).
    pub async fn wait_applied(&self, version: Version, limit: std::time::Duration) -> bool {
        match &self.applier {
            Some(a) => a.wait_applied(version, limit).await,
            None => true,
        }
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
