//! Read versions for concurrent transactions, fetched with one request (FoundationDB's client
//! batches its GetReadVersion requests the same way).
//!
//! A transaction that needs a read version joins the *open* batch: one whose request has not
//! been sent yet. The first to find none opens one and spawns its request, which yields once
//! to the scheduler (so the transactions already runnable can join), closes the batch, asks
//! the coordinator, and hands the answer to everyone in it.
//!
//! Why joining is safe (strict serializability): a read version must be at least the commit
//! version of every transaction acknowledged before this one began. A transaction joins only
//! while the batch is open, so the request is sent, and answered by the coordinator, after
//! the transaction began: the version it returns covers every commit acknowledged before
//! then. A batch already sent is never joined.
//!
//! The request runs as its own task, so a transaction that gives up waiting (its future
//! dropped) strands no one else in its batch.

use std::sync::{Arc, Mutex, OnceLock};

use ferrisdb_kv::transport::Transport;
use ferrisdb_kv::Version;
use tokio::sync::Notify;

use super::{transport_error, unexpected, Conn, KvRequest, KvResponse, WireError};
use crate::client::TxnError;

/// The batch open to joiners, if any (shared with the request task that closes it).
#[derive(Default)]
pub(super) struct ReadVersions {
    open: Arc<Mutex<Option<Arc<Batch>>>>,
}

#[derive(Default)]
struct Batch {
    /// The answer, set once; errors as they cross the wire, so every member gets its own copy.
    answer: OnceLock<Result<Version, WireError>>,
    done: Notify,
}

impl ReadVersions {
    /// A read version from `coordinator`, shared with the transactions that ask at the same
    /// time. Call from inside a tokio runtime.
    pub(super) async fn get(&self, coordinator: &Conn) -> Result<Version, TxnError> {
        let batch = {
            let mut open = lock(&self.open);
            match &*open {
                Some(batch) => Arc::clone(batch),
                None => {
                    let batch = Arc::new(Batch::default());
                    *open = Some(Arc::clone(&batch));
                    tokio::spawn(fetch(
                        Arc::clone(&self.open),
                        coordinator.clone(),
                        Arc::clone(&batch),
                    ));
                    batch
                }
            }
        };
        loop {
            let done = batch.done.notified();
            tokio::pin!(done);
            // Registered before the check, so an answer stored after it still wakes us.
            done.as_mut().enable();
            if let Some(answer) = batch.answer.get() {
                return answer.clone().map_err(TxnError::from);
            }
            done.await;
        }
    }
}

fn lock(open: &Mutex<Option<Arc<Batch>>>) -> std::sync::MutexGuard<'_, Option<Arc<Batch>>> {
    // Every update is one assignment: a panic elsewhere cannot leave it half done.
    open.lock().unwrap_or_else(|p| p.into_inner())
}

/// The request of one batch: let the runnable transactions join, close the batch, ask, answer.
async fn fetch(open: Arc<Mutex<Option<Arc<Batch>>>>, coordinator: Conn, batch: Arc<Batch>) {
    tokio::task::yield_now().await;
    {
        let mut open = lock(&open);
        if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, &batch)) {
            *open = None;
        }
    }
    let answer = match coordinator.call(KvRequest::ReadVersion).await {
        Ok(KvResponse::Version(v)) => Ok(v),
        Ok(KvResponse::Error(e)) => Err(e),
        Ok(other) => Err(WireError::from(&unexpected(&other))),
        Err(e) => Err(WireError::from(&transport_error(e))),
    };
    let _ = batch.answer.set(answer);
    batch.done.notify_waiters();
}
