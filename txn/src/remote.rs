//! The transactional KV API over the network: the service a cluster serves, and
//! [`RemoteBackend`], the client side, so `Database` works the same embedded or remote.
//!
//! One request per backend call, over `ferrisdb_kv::transport` (length-framed postcard
//! messages; see that module for the wire format):
//!
//! ```text
//!   ReadVersion                          -> Version(v)
//!   Get { key, version }                 -> Value(Option<bytes>)
//!   GetRange { range, version, limit, reverse } -> Range([(key, value)])
//!   Commit(CommitRequest)                -> Version(commit version)
//!   Status                               -> Status(text)
//!   any of them                          -> Error(WireError)
//! ```
//!
//! Errors keep their meaning across the wire (`WireError`), so the client's retry loop makes
//! the same decisions as in process. A commit whose connection dies after it was sent comes
//! back as `CommitUnknownResult`; any other undelivered request as the retryable
//! `Unavailable`.

use std::net::SocketAddr;
use std::sync::Arc;

use ferrisdb_kv::transport::{ClientConfig, Handler, TcpTransport, Transport, TransportError};
use ferrisdb_kv::{KeyRange, KvError, Version};
use serde::{Deserialize, Serialize};

use crate::client::{CommitRequest, KeyValue, TxnBackend, TxnError};

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
}

/// The answer to a [`KvRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum KvResponse {
    Version(Version),
    Value(Option<Vec<u8>>),
    Range(Vec<KeyValue>),
    Status(String),
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
/// from a multi-threaded tokio runtime: requests run with `block_in_place`.
pub struct KvService {
    backend: Arc<dyn TxnBackend>,
    status: Arc<dyn Fn() -> String + Send + Sync>,
}

impl KvService {
    pub fn new(
        backend: Arc<dyn TxnBackend>,
        status: Arc<dyn Fn() -> String + Send + Sync>,
    ) -> KvService {
        KvService { backend, status }
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
        };
        r.unwrap_or_else(|e| KvResponse::Error(WireError::from(&e)))
    }
}

#[async_trait::async_trait]
impl Handler<KvRequest, KvResponse> for Arc<KvService> {
    async fn handle(&self, req: KvRequest) -> KvResponse {
        // Backend calls may block (fsync, waiting for a version). `block_in_place` runs them on
        // this worker while the runtime moves its other tasks elsewhere: cheaper than handing
        // every request to the blocking pool and back.
        tokio::task::block_in_place(|| self.answer(req))
    }
}

/// The client side: a [`TxnBackend`] that talks to a cluster over TCP. For synchronous callers;
/// it runs its own small tokio runtime (do not call it from inside another runtime).
pub struct RemoteBackend {
    rt: tokio::runtime::Runtime,
    transport: TcpTransport<KvRequest, KvResponse>,
}

impl RemoteBackend {
    /// Connect to the KV service at `addr`.
    pub fn connect(addr: SocketAddr) -> Result<RemoteBackend, TxnError> {
        // A current-thread runtime: the calling thread drives the connection itself inside
        // `block_on`, with no hand-off to a worker thread and back on every call.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TxnError::Unavailable(format!("cannot start the client runtime: {e}")))?;
        let transport = rt
            .block_on(TcpTransport::connect_with(addr, ClientConfig::default()))
            .map_err(|e| TxnError::Unavailable(format!("cannot connect to {addr}: {e}")))?;
        Ok(RemoteBackend { rt, transport })
    }

    fn call(&self, req: KvRequest, is_commit: bool) -> Result<KvResponse, TxnError> {
        match self.rt.block_on(self.transport.call(req)) {
            Ok(KvResponse::Error(e)) => Err(e.into()),
            Ok(r) => Ok(r),
            Err(e) if is_commit && e.is_unknown_result() => {
                Err(TxnError::CommitUnknownResult(e.to_string()))
            }
            Err(e) => Err(transport_error(e)),
        }
    }

    /// The server's status report.
    pub fn status(&self) -> Result<String, TxnError> {
        match self.call(KvRequest::Status, false)? {
            KvResponse::Status(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }
}

fn transport_error(e: TransportError) -> TxnError {
    if e.is_retryable() {
        TxnError::Unavailable(e.to_string())
    } else {
        TxnError::Remote {
            message: e.to_string(),
            retryable: false,
        }
    }
}

fn unexpected(r: &KvResponse) -> TxnError {
    TxnError::Remote {
        message: format!("unexpected response from the server: {r:?}"),
        retryable: false,
    }
}

impl TxnBackend for RemoteBackend {
    fn read_version(&self) -> Result<Version, TxnError> {
        match self.call(KvRequest::ReadVersion, false)? {
            KvResponse::Version(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        match self.call(
            KvRequest::Get {
                key: key.to_vec(),
                version,
            },
            false,
        )? {
            KvResponse::Value(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        match self.call(
            KvRequest::GetRange {
                range: range.clone(),
                version,
                limit,
                reverse,
            },
            false,
        )? {
            KvResponse::Range(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        match self.call(KvRequest::Commit(req), true)? {
            KvResponse::Version(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }
}
