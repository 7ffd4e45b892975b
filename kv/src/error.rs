//! Errors of the key-value layer, with the retryable ones marked.

use crate::types::Version;

/// Everything a storage server or KV client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The storage engine failed (I/O, corruption, closed).
    #[error(transparent)]
    Storage(#[from] ferrisdb_storage::Error),
    /// A read asked for a version this server has not applied yet, and waiting for it timed
    /// out. Retryable: the server is behind, or the read version came from the future.
    #[error("version {requested} is not yet readable here (applied up to {applied})")]
    FutureVersion {
        requested: Version,
        applied: Version,
    },
    /// A read asked for a version older than this server still keeps (MVCC window passed).
    /// Retryable: the transaction restarts with a fresh read version.
    #[error(
        "transaction too old: version {requested} is below the oldest readable version {oldest}"
    )]
    TransactionTooOld { requested: Version, oldest: Version },
    /// The key is not in a shard this server owns. Retryable after refreshing the shard map.
    #[error("this storage server does not own key {key:?}")]
    WrongShard { key: Vec<u8> },
    /// A log entry arrived out of order (a gap or a version below the applied one).
    #[error("log entry at version {got} does not follow applied version {applied}")]
    OutOfOrder { got: Version, applied: Version },
    /// The caller broke a documented limit or rule.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl KvError {
    /// Whether retrying the operation (typically the whole transaction) can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            KvError::FutureVersion { .. }
                | KvError::TransactionTooOld { .. }
                | KvError::WrongShard { .. }
        )
    }
}
