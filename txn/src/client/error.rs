//! Errors a transaction can end with, and which of them the retry loop retries.

use ferrisdb_kv::{KeyRange, KvError, Version};

/// Why a transaction operation or commit failed.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// A key this transaction read was written by a transaction that committed after this one's
    /// read version. Retryable: run the transaction again.
    #[error("transaction not committed: a conflicting write committed in {range:?} after read version {read_version}")]
    NotCommitted {
        range: KeyRange,
        read_version: Version,
    },
    /// The transaction ran longer than the MVCC window (about 5 s). Retryable.
    #[error("transaction too old (read version {read_version})")]
    TooOld { read_version: Version },
    /// The commit was sent but its outcome is unknown (the connection or the coordinator
    /// failed before answering). It may or may not have committed.
    #[error("commit result unknown: {0}")]
    CommitUnknownResult(String),
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge { len: usize, max: usize },
    #[error("value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge { len: usize, max: usize },
    #[error("transaction of {size} bytes exceeds the limit of {max} bytes")]
    TransactionTooLarge { size: usize, max: usize },
    /// Keys starting with 0xff are the system keyspace.
    #[error("key {key:?} is in the system keyspace (0xff...)")]
    SystemKey { key: Vec<u8> },
    #[error("transaction already committed or cancelled")]
    Used,
    /// The cluster could not be reached (the request was not delivered). Retryable.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// An error the server reported, carried over the network as text.
    #[error("{message}")]
    Remote { message: String, retryable: bool },
    /// The retry loop gave up after this many attempts; the last error is kept.
    #[error("gave up after {attempts} attempts: {last}")]
    RetryLimit { attempts: u32, last: Box<TxnError> },
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A coordinator-side failure (log, sequencer, resolver).
    #[error("coordinator error: {0}")]
    Coordinator(#[from] crate::error::Error),
}

impl TxnError {
    /// Whether the retry loop should run the transaction again.
    pub fn is_retryable(&self) -> bool {
        match self {
            TxnError::NotCommitted { .. }
            | TxnError::TooOld { .. }
            | TxnError::CommitUnknownResult(_)
            | TxnError::Unavailable(_) => true,
            TxnError::Remote { retryable, .. } => *retryable,
            TxnError::Kv(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl From<ferrisdb_storage::Error> for TxnError {
    fn from(e: ferrisdb_storage::Error) -> TxnError {
        TxnError::Kv(KvError::Storage(e))
    }
}
