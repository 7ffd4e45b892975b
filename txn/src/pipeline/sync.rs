//! The commit thread's sync thread: fdatasyncs the log for the batches the commit thread has
//! resolved and appended, then publishes and answers them in version order, while the commit
//! thread resolves and appends the next batches. One fdatasync covers every batch appended
//! before it starts, so batches that arrive during a sync share the next one: the commit
//! path no longer stops for the disk.
//!
//! Order: only the commit thread sends jobs, in version order, while it holds the core
//! lock. A committing thread that leads (or an empty batch that moves the read version)
//! takes the core lock and then waits for this thread to go idle before it publishes, so
//! versions are published, and batches handed to storage, in version order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrisdb_kv::Version;

use super::{CommitPipeline, Pending, Prepared};
use crate::client::TxnError;
use crate::commit_log::SyncPoint;

pub(super) struct Job {
    pub(super) point: SyncPoint,
    pub(super) prepared: Prepared,
    pub(super) requests: Vec<Arc<Pending>>,
}

pub(super) struct SyncThread {
    jobs: mpsc::Sender<Job>,
    /// Jobs sent and not yet published.
    outstanding: Arc<AtomicU64>,
}

impl SyncThread {
    pub(super) fn start(pipeline: Weak<CommitPipeline>) -> SyncThread {
        let (tx, rx) = mpsc::channel();
        let outstanding = Arc::new(AtomicU64::new(0));
        let o = outstanding.clone();
        std::thread::Builder::new()
            .name("ferrisdb-sync".into())
            .spawn(move || run(rx, &pipeline, &o))
            .expect("cannot start the sync thread");
        SyncThread {
            jobs: tx,
            outstanding,
        }
    }

    /// Queue a batch (the caller holds the core lock: jobs arrive in version order).
    pub(super) fn send(&self, job: Job) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
            fail(&job.requests, "the sync thread has stopped");
        }
    }

    /// Wait until every job sent has been published (the caller holds the core lock, so
    /// no new one arrives meanwhile). At most about one fdatasync.
    pub(super) fn wait_idle(&self) {
        let mut spins = 0u32;
        while self.outstanding.load(Ordering::Acquire) > 0 {
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }
}

fn run(jobs: mpsc::Receiver<Job>, pipeline: &Weak<CommitPipeline>, outstanding: &AtomicU64) {
    loop {
        // The next batch usually comes within microseconds of a sync: wait for it awake,
        // since waking a parked thread on an idle vCPU costs tens of microseconds here
        // (64 tasks: 149-205k commits/s with the wait, 145-207k without; the lone task's
        // commits 5.9-7.1k/s against 5.5-6.0k).
        let spin_until = std::time::Instant::now() + Duration::from_micros(30);
        let mut first = jobs.try_recv().ok();
        while first.is_none() && std::time::Instant::now() < spin_until {
            std::hint::spin_loop();
            first = jobs.try_recv().ok();
        }
        let first = match first {
            Some(j) => j,
            None => match jobs.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        let mut group = vec![first];
        group.extend(jobs.try_iter());
        let Some(p) = pipeline.upgrade() else {
            for job in &group {
                fail(&job.requests, "the commit pipeline has closed");
            }
            return;
        };
        // The newest job's sync point covers the others: they are earlier in its segment,
        // or in an older segment, synced when the log moved on from it.
        let synced = group.last().map(|j| j.point.sync()).unwrap_or(Ok(()));
        if let Err(e) = &synced {
            tracing::error!(error = %e, "commit log sync failed; the log refuses further commits");
        }
        let last: Version = group.last().map_or(0, |j| j.point.version());
        for job in group {
            match &synced {
                Ok(()) => {
                    let results = p.finish_batch(job.prepared, false);
                    for (pending, r) in job.requests.iter().zip(&results) {
                        pending.answer(r.clone_result());
                    }
                }
                // Maybe durable, maybe not.
                Err(e) => fail(&job.requests, &e.to_string()),
            }
            outstanding.fetch_sub(1, Ordering::AcqRel);
        }
        tracing::trace!(version = last, "sync thread published");
    }
}

fn fail(requests: &[Arc<Pending>], why: &str) {
    for p in requests {
        p.answer(Err(TxnError::CommitUnknownResult(why.into())));
    }
}
