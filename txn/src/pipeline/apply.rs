//! The embedded pipeline's apply thread: committed batches reach the local storage server
//! here, in version order, while the commit path resolves, logs and fsyncs the next batch.
//!
//! As in the distributed cluster (and FoundationDB), a commit is acknowledged once its log
//! entry is durable, and its version becomes the read version at the same moment; the
//! storage server applies it a moment later. A read at a version not yet applied waits for
//! it ([`ferrisdb_kv::StorageServer::get`] spins briefly, then blocks, bounded; async readers
//! await [`Applier::wait_applied`]). A crash between the two loses nothing: opening the
//! cluster replays the log past the storage server's applied version.
//!
//! Who applies: batches led for tasks (the pipeline's commit thread) go to the apply thread,
//! so the apply, about half of a batch's CPU time, runs on the other core beside the next
//! batch while the batch's tasks are already answered. A committing thread that leads
//! applies its batch itself, before publishing it, when the apply thread is idle (which
//! keeps the version order): threads are woken one by one anyway, and their next reads
//! then never wait (publishing first made 64 reader threads wait on the leader: the 90/10
//! mix fell from about 300k to 165k operations/s).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ferrisdb_kv::{Mutation, StorageServer, Version};

use crate::client::TxnError;

/// Batches applied between two storage syncs (the log is truncated below a synced one).
const SYNC_EVERY: u64 = 1024;

enum Job {
    /// A committed batch's mutations.
    Apply(Version, Vec<Mutation>),
    /// Nothing was logged up to this version (an empty batch moved the read version).
    Through(Version),
}

pub(super) struct Applier {
    jobs: Option<mpsc::Sender<Job>>,
    state: Arc<State>,
    /// The storage server's applied version, for async readers to wait on.
    applied: tokio::sync::watch::Receiver<Version>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    storage: Arc<StorageServer>,
    /// The newest version the storage server has synced (the log below it is redundant).
    durable: AtomicU64,
    /// Batches applied (storage is synced every [`SYNC_EVERY`]).
    batches: AtomicU64,
    /// Jobs queued and not yet done.
    in_flight: AtomicU64,
    applied: tokio::sync::watch::Sender<Version>,
    /// An apply failed: nothing more is applied (a later batch would move the applied
    /// version past the failed one, which replay would then skip), and the pipeline
    /// refuses commits until a restart replays the log into storage.
    failed: std::sync::atomic::AtomicBool,
    /// Held by a test to stop the thread before its next job.
    #[cfg(test)]
    gate: std::sync::Mutex<()>,
    /// Set by a test: the next apply fails as a storage error would.
    #[cfg(test)]
    fail_next: std::sync::atomic::AtomicBool,
}

impl Applier {
    pub(super) fn start(storage: Arc<StorageServer>) -> Applier {
        let (tx, rx) = mpsc::channel();
        let (applied_tx, applied) = tokio::sync::watch::channel(storage.applied_version());
        let state = Arc::new(State {
            storage,
            durable: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            applied: applied_tx,
            failed: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            gate: std::sync::Mutex::new(()),
            #[cfg(test)]
            fail_next: std::sync::atomic::AtomicBool::new(false),
        });
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("ferrisdb-apply".into())
            .spawn(move || {
                for job in rx {
                    #[cfg(test)]
                    let _gate = st.gate.lock();
                    st.run(job);
                    st.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
            })
            .expect("cannot start the apply thread");
        Applier {
            jobs: Some(tx),
            state,
            applied,
            thread: Some(thread),
        }
    }

    /// Queue a committed batch (the caller holds the pipeline's core lock, so batches
    /// arrive in version order).
    pub(super) fn apply(&self, version: Version, mutations: Vec<Mutation>) {
        self.send(Job::Apply(version, mutations));
    }

    /// Queue "nothing else up to `version`".
    pub(super) fn through(&self, version: Version) {
        self.send(Job::Through(version));
    }

    /// Whether nothing is queued or being applied. Only the core lock's holder queues
    /// jobs, so for it an idle thread stays idle until it queues again.
    pub(super) fn idle(&self) -> bool {
        self.state.in_flight.load(Ordering::Acquire) == 0
    }

    /// Apply a committed batch on this thread (only when [`Self::idle`], which keeps the
    /// version order).
    pub(super) fn apply_here(&self, version: Version, mutations: Vec<Mutation>) {
        self.state.run(Job::Apply(version, mutations));
    }

    /// The error for a commit after an apply failed, if one did.
    pub(super) fn check(&self) -> Result<(), TxnError> {
        match self.state.failed.load(Ordering::Acquire) {
            false => Ok(()),
            true => Err(TxnError::Remote {
                message: "the storage server failed to apply a committed batch; restart the \
                          node (the commit log replays it)"
                    .into(),
                retryable: false,
            }),
        }
    }

    /// Make the next apply fail (tests).
    #[cfg(test)]
    pub(super) fn fail_next_apply(&self) {
        self.state.fail_next.store(true, Ordering::Release);
    }

    fn send(&self, job: Job) {
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        let sent = self.jobs.as_ref().map(|j| j.send(job));
        if !matches!(sent, Some(Ok(()))) {
            self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
            tracing::error!("the apply thread has stopped; storage falls behind the log");
        }
    }

    /// Stop the apply thread before its next job until the guard is dropped.
    #[cfg(test)]
    pub(super) fn hold(&self) -> std::sync::MutexGuard<'_, ()> {
        self.state.gate.lock().expect("apply gate poisoned")
    }

    pub(super) fn durable(&self) -> Version {
        self.state.durable.load(Ordering::Acquire)
    }

    /// Wait until the storage server has applied `version`, at most `limit`; false if it
    /// has not by then.
    pub(super) async fn wait_applied(&self, version: Version, limit: Duration) -> bool {
        let mut rx = self.applied.clone();
        let done = tokio::time::timeout(limit, rx.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|r| r.is_ok());
        done
    }
}

impl Drop for Applier {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has applied what was sent.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl State {
    fn run(&self, job: Job) {
        let storage = &self.storage;
        if self.failed.load(Ordering::Acquire) {
            return;
        }
        #[cfg(test)]
        if self.fail_next.swap(false, Ordering::AcqRel) {
            self.failed.store(true, Ordering::Release);
            tracing::error!("test: an apply fails");
            return;
        }
        let (version, r) = match job {
            Job::Apply(version, mutations) => {
                let n = self.batches.fetch_add(1, Ordering::AcqRel) + 1;
                let r = storage.apply(&[(version, mutations)]).and_then(|()| {
                    if n.is_multiple_of(SYNC_EVERY) {
                        self.durable.store(storage.sync()?, Ordering::Release);
                    }
                    Ok(())
                });
                (version, r)
            }
            Job::Through(version) => (version, storage.apply_through(&[], version)),
        };
        match r {
            Ok(()) => {
                self.applied.send_replace(version);
            }
            // The batch is durable in the log and acknowledged: stop here (see `failed`).
            // Readers of this version wait, then fail retryably, until a restart replays
            // the log into storage from the last version applied.
            Err(e) => {
                self.failed.store(true, Ordering::Release);
                tracing::error!(version, error = %e, "the storage server could not apply a committed batch; no further commits until a restart");
            }
        }
    }
}
