//! The transactional KV API over the network: the service a cluster serves, and
//! [`RemoteBackend`], the client side, so `Database` works the same embedded or remote.
//!
//! One request per backend call (except read versions on the async API: concurrent ones share
//! one request, see `read_versions`), over `ferrisdb_kv::transport` (length-framed postcard
//! messages; see that module for the wire format):
//!
//! ```text
//!   ReadVersion                          -> Version(v)
//!   Get { key, version }                 -> Value(Option<bytes>)
//!   GetRange { range, version, limit, reverse } -> Range([(key, value)])
//!   Commit(CommitRequest)                -> Version(commit version)
//!   GetLatest { key }                    -> VersionedValue(read version, value)
//!   Status                               -> Status(text)
//!   ShardMap                             -> ShardMap(where each shard is read)
//!   Heartbeat(storage server report)     -> Assignment       (coordinator only)
//!   Pull { from, max_bytes }             -> Log { entries, through }   (coordinator only)
//!   any of them                          -> Error(WireError)
//! ```
//!
//! The same protocol is spoken by all three kinds of server: the single-process node (every
//! request; its shard map is one shard read from itself), the coordinator (no reads: its map
//! sends them to storage servers) and a storage server (reads and status only).
//!
//! Errors keep their meaning across the wire (`WireError`), so the client's retry loop makes
//! the same decisions as in process. A commit whose connection dies after it was sent comes
//! back as `CommitUnknownResult`; any other undelivered request as the retryable
//! `Unavailable`.

use std::sync::Arc;

use ferrisdb_kv::transport::{Handler, TransportError};
use ferrisdb_kv::{KeyRange, KvError, Version};
use serde::{Deserialize, Serialize};

use crate::client::{AsyncTxnBackend, CommitRequest, KeyValue, TxnBackend, TxnError};
use crate::cluster::{Assignment, Heartbeat, ShardMap};
use crate::pipeline::LogEntries;

mod backend;
mod read_versions;
use backend::Conn;
pub use backend::RemoteBackend;

/// A request to the KV service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum KvRequest {
    ReadVersion,
    Get {
        key: Vec<u8>,
        version: Version,
    },
    GetRange {
        range: KeyRange,
        version: Version,
        limit: u32,
        reverse: bool,
    },
    Commit(CommitRequest),
    Status,
    /// A fresh read version and `key`'s value at it (single-process servers only).
    GetLatest {
        key: Vec<u8>,
    },
    ShardMap,
    Heartbeat(Heartbeat),
    Pull {
        from: Version,
        max_bytes: u32,
    },
}

/// The answer to a [`KvRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum KvResponse {
    Version(Version),
    Value(Option<Vec<u8>>),
    Range(Vec<KeyValue>),
    Status(String),
    VersionedValue(Version, Option<Vec<u8>>),
    ShardMap(ShardMap),
    Assignment(Assignment),
    Log {
        entries: LogEntries,
        through: Version,
    },
    Error(WireError),
}

/// A [`TxnError`] as it crosses the network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum WireError {
    NotCommitted {
        range: KeyRange,
        read_version: Version,
    },
    TooOld {
        read_version: Version,
    },
    FutureVersion {
        requested: Version,
        applied: Version,
    },
    TransactionTooOld {
        requested: Version,
        oldest: Version,
    },
    WrongShard {
        key: Vec<u8>,
    },
    CommitUnknownResult(String),
    Other {
        message: String,
        retryable: bool,
    },
}

impl From<&TxnError> for WireError {
    fn from(e: &TxnError) -> WireError {
        match e {
            TxnError::NotCommitted {
                range,
                read_version,
            } => WireError::NotCommitted {
                range: range.clone(),
                read_version: *read_version,
            },
            TxnError::TooOld { read_version } => WireError::TooOld {
                read_version: *read_version,
            },
            TxnError::Kv(KvError::FutureVersion { requested, applied }) => {
                WireError::FutureVersion {
                    requested: *requested,
                    applied: *applied,
                }
            }
            TxnError::Kv(KvError::TransactionTooOld { requested, oldest }) => {
                WireError::TransactionTooOld {
                    requested: *requested,
                    oldest: *oldest,
                }
            }
            TxnError::Kv(KvError::WrongShard { key }) => WireError::WrongShard { key: key.clone() },
            TxnError::CommitUnknownResult(m) => WireError::CommitUnknownResult(m.clone()),
            other => WireError::Other {
                message: other.to_string(),
                retryable: other.is_retryable(),
            },
        }
    }
}

impl From<WireError> for TxnError {
    fn from(e: WireError) -> TxnError {
        match e {
            WireError::NotCommitted {
                range,
                read_version,
            } => TxnError::NotCommitted {
                range,
                read_version,
            },
            WireError::TooOld { read_version } => TxnError::TooOld { read_version },
            WireError::FutureVersion { requested, applied } => {
                TxnError::Kv(KvError::FutureVersion { requested, applied })
            }
            WireError::TransactionTooOld { requested, oldest } => {
                TxnError::Kv(KvError::TransactionTooOld { requested, oldest })
            }
            WireError::WrongShard { key } => TxnError::Kv(KvError::WrongShard { key }),
            WireError::CommitUnknownResult(m) => TxnError::CommitUnknownResult(m),
            WireError::Other { message, retryable } => TxnError::Remote { message, retryable },
        }
    }
}

/// The server side: answers [`KvRequest`]s from a backend (the embedded cluster). Serve it
/// from a multi-threaded tokio runtime: requests that may block run with `block_in_place`,
/// except commits and reads when the service has the backend's async side
/// ([`KvService::with_async`]), which it awaits.
pub struct KvService {
    backend: Arc<dyn TxnBackend>,
    async_backend: Option<Arc<dyn AsyncTxnBackend>>,
    status: Arc<dyn Fn() -> String + Send + Sync>,
}

impl KvService {
    pub fn new(
        backend: Arc<dyn TxnBackend>,
        status: Arc<dyn Fn() -> String + Send + Sync>,
    ) -> KvService {
        KvService {
            backend,
            async_backend: None,
            status,
        }
    }

    /// Await commits and reads through `async_backend` (the same cluster as the backend):
    /// a commit then waits for its batch without holding a runtime thread.
    pub fn with_async(mut self, async_backend: Arc<dyn AsyncTxnBackend>) -> KvService {
        self.async_backend = Some(async_backend);
        self
    }

    /// The answer from the async backend, for the requests it serves.
    async fn answer_async(&self, b: &dyn AsyncTxnBackend, req: KvRequest) -> KvResponse {
        let r = match req {
            KvRequest::Commit(c) => b.commit(c).await.map(KvResponse::Version),
            KvRequest::Get { key, version } => b.get(&key, version).await.map(KvResponse::Value),
            KvRequest::GetRange {
                range,
                version,
                limit,
                reverse,
            } => b
                .get_range(&range, version, limit as usize, reverse)
                .await
                .map(KvResponse::Range),
            other => return self.answer(other),
        };
        r.unwrap_or_else(|e| KvResponse::Error(WireError::from(&e)))
    }

    fn answer(&self, req: KvRequest) -> KvResponse {
        let b = &self.backend;
        let r = match req {
            KvRequest::ReadVersion => b.read_version().map(KvResponse::Version),
            KvRequest::Get { key, version } => b.get(&key, version).map(KvResponse::Value),
            KvRequest::GetRange {
                range,
                version,
                limit,
                reverse,
            } => b
                .get_range(&range, version, limit as usize, reverse)
                .map(KvResponse::Range),
            KvRequest::Commit(c) => b.commit(c).map(KvResponse::Version),
            KvRequest::Status => Ok(KvResponse::Status((self.status)())),
            KvRequest::GetLatest { key } => b
                .get_with_read_version(&key)
                .map(|(v, value)| KvResponse::VersionedValue(v, value)),
            // Every shard is read here: the client's "this server" entry.
            KvRequest::ShardMap => Ok(KvResponse::ShardMap(ShardMap {
                shards: vec![(
                    KeyRange::new(Vec::new(), ferrisdb_kv::KEY_SPACE_END.to_vec()),
                    None,
                )],
            })),
            KvRequest::Heartbeat(_) | KvRequest::Pull { .. } => Err(not_served("coordinator")),
        };
        r.unwrap_or_else(|e| KvResponse::Error(WireError::from(&e)))
    }
}

#[async_trait::async_trait]
impl Handler<KvRequest, KvResponse> for Arc<KvService> {
    async fn handle(&self, req: KvRequest) -> KvResponse {
        let req = match self.handle_now(req) {
            Ok(answer) => return answer,
            Err(req) => req,
        };
        if let (
            Some(b),
            KvRequest::Commit(_) | KvRequest::Get { .. } | KvRequest::GetRange { .. },
        ) = (&self.async_backend, &req)
        {
            return self.answer_async(b.as_ref(), req).await;
        }
        // Anything that may block (fsync, waiting for a version) runs with `block_in_place`,
        // which moves the runtime's other tasks elsewhere: cheaper than a trip through the
        // blocking pool, far dearer than a lookup.
        tokio::task::block_in_place(|| self.answer(req))
    }

    /// A read at an applied version, and a read version that needs no empty commit first,
    /// are memory or cache lookups: answered where the request arrived.
    fn handle_now(&self, req: KvRequest) -> Result<KvResponse, KvRequest> {
        let quick = match &req {
            KvRequest::Get { version, .. } | KvRequest::GetRange { version, .. } => {
                self.backend.readable_now(*version)
            }
            KvRequest::GetLatest { .. } | KvRequest::ReadVersion => self.backend.readable_now(0),
            _ => false,
        };
        if quick {
            Ok(self.answer(req))
        } else {
            Err(req)
        }
    }
}

/// The error for a request this kind of server does not answer.
pub(crate) fn not_served(what: &str) -> TxnError {
    TxnError::Remote {
        message: format!("this server is not a {what}"),
        retryable: false,
    }
}

pub(crate) fn transport_error(e: TransportError) -> TxnError {
    if e.is_retryable() {
        TxnError::Unavailable(e.to_string())
    } else {
        TxnError::Remote {
            message: e.to_string(),
            retryable: false,
        }
    }
}

pub(crate) fn unexpected(r: &KvResponse) -> TxnError {
    TxnError::Remote {
        message: format!("unexpected response from the server: {r:?}"),
        retryable: false,
    }
}
