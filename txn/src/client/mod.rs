//! The client library: [`Database`] and [`Transaction`], the raw transactional KV API.
//!
//! ```text
//!   db.transact(|tx| { let v = tx.get(b"k")?; tx.set(b"k", ...)?; Ok(()) })
//!      │ attempt: Transaction::new ── first read fetches the read version (backend)
//!      │          reads go to storage at that version, merged with the local writes
//!      │          writes stay local (read-your-writes buffer), with conflict ranges
//!      │ commit:  backend.commit(read version, read ranges, write ranges, mutations)
//!      │          -> commit version, or NotCommitted (a conflict): retried with backoff
//!      └ non-retryable errors return at once; retryable ones retry up to a limit
//! ```
//!
//! The backend is a small trait ([`TxnBackend`]): the embedded cluster implements it in
//! process; a network client implements it over the transport.

mod async_api;
mod error;
pub mod locks;
mod metadata;
#[cfg(test)]
pub(crate) mod tests;
mod transaction;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use async_api::block_on;
pub use async_api::{AsyncTransaction, AsyncTxnBackend};
pub use error::TxnError;
pub use metadata::MetadataCache;
pub use transaction::{Transaction, MAX_KEY_SIZE, MAX_TRANSACTION_SIZE, MAX_VALUE_SIZE};

use ferrisdb_kv::{KeyRange, Mutation, Version};

/// The future a [`Database::transact_async`] body returns.
pub type TxnFuture<'t, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, TxnError>> + Send + 't>>;

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Everything a commit sends to the coordinator.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitRequest {
    pub read_version: Version,
    pub read_ranges: Vec<KeyRange>,
    pub write_ranges: Vec<KeyRange>,
    pub mutations: Vec<Mutation>,
}

/// What a transaction needs from the cluster.
pub trait TxnBackend: Send + Sync {
    /// A version at which every commit acknowledged so far is visible.
    fn read_version(&self) -> Result<Version, TxnError>;
    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError>;
    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError>;
    /// Resolve and durably commit; returns the commit version.
    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError>;
    /// A fresh read version and the value of `key` at it (one round trip where the backend
    /// can; the transaction's first read uses it).
    fn get_with_read_version(&self, key: &[u8]) -> Result<(Version, Option<Vec<u8>>), TxnError> {
        let v = self.read_version()?;
        Ok((v, self.get(key, v)?))
    }
    /// A fresh read version and the metadata version as of it (see [`MetadataCache`]), or
    /// `None` where the backend does not track metadata versions.
    fn read_version_and_metadata(&self) -> Result<Option<(Version, Version)>, TxnError> {
        Ok(None)
    }
    /// Whether a read at `version` would be answered without waiting (a server uses this to
    /// run it inline rather than as blocking work). Conservative by default.
    fn readable_now(&self, _version: Version) -> bool {
        false
    }
}

/// A handle on a FerrisDB database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
    max_attempts: u32,
}

/// What every transaction of one [`Database`] handle uses.
pub(crate) struct Shared {
    backend: Arc<dyn TxnBackend>,
    /// What [`AsyncTransaction`]s await, when the backend has an asynchronous side.
    async_backend: Option<Arc<dyn AsyncTxnBackend>>,
    metadata: MetadataCache,
    locks: locks::LockTable,
    /// Lock-table ids, handed out at a transaction's first lock.
    next_id: std::sync::atomic::AtomicU64,
}

impl Database {
    pub fn from_backend(backend: Arc<dyn TxnBackend>) -> Database {
        Self::build(backend, None)
    }

    /// A database whose [`AsyncTransaction`]s await `async_backend` (the same cluster as
    /// `backend`), so that waiting for a commit suspends a task instead of a thread.
    pub fn from_backends(
        backend: Arc<dyn TxnBackend>,
        async_backend: Arc<dyn AsyncTxnBackend>,
    ) -> Database {
        Self::build(backend, Some(async_backend))
    }

    fn build(
        backend: Arc<dyn TxnBackend>,
        async_backend: Option<Arc<dyn AsyncTxnBackend>>,
    ) -> Database {
        Database {
            shared: Arc::new(Shared {
                backend,
                async_backend,
                metadata: MetadataCache::default(),
                locks: locks::LockTable::default(),
                next_id: std::sync::atomic::AtomicU64::new(1),
            }),
            max_attempts: 100,
        }
    }

    /// How many times `transact` runs a transaction before giving up (default 100).
    pub fn set_max_attempts(&mut self, n: u32) {
        self.max_attempts = n.max(1);
    }

    /// A new transaction; its read version is fetched by its first read.
    pub fn begin(&self) -> Transaction {
        Transaction::new(self.shared.clone())
    }

    /// A new transaction for async code: its reads and commit are futures. Without an
    /// asynchronous backend ([`Database::from_backends`]) they complete without suspending,
    /// and a commit blocks the calling thread for its fsync.
    pub fn begin_async<'a>(&self) -> AsyncTransaction<'a> {
        AsyncTransaction::new(Transaction::new_async(self.shared.clone()))
    }

    /// The advisory write locks behind [`Transaction::lock_for_update`].
    pub fn lock_table(&self) -> &locks::LockTable {
        &self.shared.locks
    }

    /// The cache behind [`Transaction::get_cached`].
    pub fn metadata_cache(&self) -> &MetadataCache {
        &self.shared.metadata
    }

    /// Run `body` in a transaction and commit it, retrying retryable failures with
    /// exponential backoff. Returns the body's result and the commit version.
    pub fn transact<T>(
        &self,
        mut body: impl FnMut(&mut Transaction) -> Result<T, TxnError>,
    ) -> Result<(T, Version), TxnError> {
        let mut retry = Retry::new(self.max_attempts);
        loop {
            let mut tx = self.begin();
            let result = body(&mut tx).and_then(|t| tx.commit().map(|v| (t, v)));
            match retry.after(result) {
                ControlFlow::Break(r) => return r,
                ControlFlow::Continue(wait) => std::thread::sleep(wait),
            }
        }
    }

    /// `transact` for async code: runs `body` in an [`AsyncTransaction`] and commits it,
    /// retrying retryable failures with the same backoff (a tokio sleep; call it on a tokio
    /// runtime). The body returns its future boxed, which keeps the whole future `Send`; it
    /// may borrow anything that outlives the call (`'a`):
    ///
    /// ```ignore
    /// let key = b"k".to_vec();
    /// db.transact_async(|tx| Box::pin(async { tx.set(&key, b"v") })).await?;
    /// ```
    pub async fn transact_async<'a, T>(
        &self,
        mut body: impl for<'t> FnMut(&'t mut AsyncTransaction<'a>) -> TxnFuture<'t, T>,
    ) -> Result<(T, Version), TxnError> {
        let mut retry = Retry::new(self.max_attempts);
        loop {
            let mut tx = self.begin_async();
            let result = match body(&mut tx).await {
                Ok(t) => tx.commit().await.map(|v| (t, v)),
                Err(e) => Err(e),
            };
            match retry.after(result) {
                ControlFlow::Break(r) => return r,
                ControlFlow::Continue(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

/// The retry policy of `transact`: retryable errors are retried with exponential backoff
/// (1 ms doubling to 500 ms, jittered) up to the attempt limit.
struct Retry {
    attempt: u32,
    max_attempts: u32,
    backoff: Duration,
}

impl Retry {
    fn new(max_attempts: u32) -> Retry {
        Retry {
            attempt: 0,
            max_attempts,
            backoff: Duration::from_millis(1),
        }
    }

    /// After an attempt: its final result, or how long to wait before the next attempt.
    fn after<T>(
        &mut self,
        result: Result<T, TxnError>,
    ) -> ControlFlow<Result<T, TxnError>, Duration> {
        self.attempt += 1;
        match result {
            Err(e) if e.is_retryable() && self.attempt < self.max_attempts => {
                tracing::debug!(attempt = self.attempt, error = %e, "retrying transaction");
                let wait = jitter(self.backoff);
                self.backoff = (self.backoff * 2).min(Duration::from_millis(500));
                ControlFlow::Continue(wait)
            }
            Err(e) if e.is_retryable() => ControlFlow::Break(Err(TxnError::RetryLimit {
                attempts: self.attempt,
                last: Box::new(e),
            })),
            r => ControlFlow::Break(r),
        }
    }
}

/// Between half and all of `d`, so colliding transactions spread out.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}
