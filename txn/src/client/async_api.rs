//! The client API for async code: [`AsyncTxnBackend`] and [`AsyncTransaction`].
//!
//! One transaction implementation serves both APIs. Its reads and its commit are written as
//! futures that call the backend; a [`super::Transaction`] polls them once with a no-op waker
//! (a synchronous backend answers within that poll), while an [`AsyncTransaction`] awaits
//! them, so a commit waiting for its batch's fsync suspends a task rather than a thread:
//!
//! ```text
//!   Transaction::get(k)        = block_on(get_io(k))   backend: TxnBackend (blocking calls)
//!   AsyncTransaction::get(k)   = get_io(k).await       backend: AsyncTxnBackend
//! ```
//!
//! Many tasks can then commit through one thread: the embedded cluster's pipeline leads
//! their batches on its own commit thread and wakes each batch's tasks with one call each,
//! where a thread per client would be parked and unparked (a context switch) per commit.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use ferrisdb_kv::{KeyRange, Version};

use super::{CommitRequest, KeyValue, Transaction, TxnError};

/// What an [`AsyncTransaction`] needs from the cluster: [`super::TxnBackend`] as futures.
#[async_trait::async_trait]
pub trait AsyncTxnBackend: Send + Sync {
    async fn read_version(&self) -> Result<Version, TxnError>;
    async fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError>;
    async fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError>;
    /// Resolve and durably commit; returns the commit version.
    async fn commit(&self, req: CommitRequest) -> Result<Version, TxnError>;
    /// A fresh read version and the value of `key` at it (the first read of a transaction).
    async fn get_with_read_version(
        &self,
        key: &[u8],
    ) -> Result<(Version, Option<Vec<u8>>), TxnError> {
        let v = self.read_version().await?;
        Ok((v, self.get(key, v).await?))
    }
}

/// A transaction for async code, from [`super::Database::begin_async`]: the same semantics
/// and limits as [`Transaction`] (whose docs each method points to), with reads and the
/// commit as futures. Writes stay local until the commit, so they are plain calls.
///
/// The lifetime holds no borrow: it bounds what a [`super::Database::transact_async`] body
/// may borrow (`&'t mut AsyncTransaction<'a>` implies `'a: 't`, so a body's future may
/// hold references that outlive the call).
pub struct AsyncTransaction<'a> {
    tx: Transaction,
    _scope: PhantomData<&'a ()>,
}

impl AsyncTransaction<'_> {
    pub(crate) fn new<'a>(tx: Transaction) -> AsyncTransaction<'a> {
        AsyncTransaction {
            tx,
            _scope: PhantomData,
        }
    }

    /// See [`Transaction::read_version`].
    pub async fn read_version(&mut self) -> Result<Version, TxnError> {
        self.tx.read_version_io().await
    }

    /// See [`Transaction::get`].
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        self.tx.get_io(key, false).await
    }

    /// See [`Transaction::snapshot_get`].
    pub async fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        self.tx.get_io(key, true).await
    }

    /// See [`Transaction::get_range`].
    pub async fn get_range(
        &mut self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.tx.get_range_io(range, limit, reverse, false).await
    }

    /// See [`Transaction::snapshot_get_range`].
    pub async fn snapshot_get_range(
        &mut self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.tx.get_range_io(range, limit, reverse, true).await
    }

    /// See [`Transaction::set`].
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), TxnError> {
        self.tx.set(key, value)
    }

    /// See [`Transaction::clear`].
    pub fn clear(&mut self, key: &[u8]) -> Result<(), TxnError> {
        self.tx.clear(key)
    }

    /// See [`Transaction::clear_range`].
    pub fn clear_range(&mut self, range: &KeyRange) -> Result<(), TxnError> {
        self.tx.clear_range(range)
    }

    /// See [`Transaction::atomic_add`].
    pub fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), TxnError> {
        self.tx.atomic_add(key, delta)
    }

    /// See [`Transaction::add_read_conflict_range`].
    pub fn add_read_conflict_range(&mut self, range: KeyRange) -> Result<(), TxnError> {
        self.tx.add_read_conflict_range(range)
    }

    /// See [`Transaction::add_write_conflict_range`].
    pub fn add_write_conflict_range(&mut self, range: KeyRange) -> Result<(), TxnError> {
        self.tx.add_write_conflict_range(range)
    }

    /// See [`Transaction::commit`]. Dropping the future once the request is sent leaves the
    /// outcome unknown, as a lost connection does.
    pub async fn commit(&mut self) -> Result<Version, TxnError> {
        self.tx.commit_io().await
    }
}

/// Run `f` to completion on this thread. The synchronous API's futures finish in their first
/// poll (a synchronous backend never suspends them), so that poll uses a no-op waker and
/// costs no allocation; anything that does suspend is waited for by parking the thread.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return v;
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}
