//! The client side: a [`TxnBackend`] that talks to a cluster over TCP, so `Database` works the
//! same embedded or remote.
//!
//! Read versions and commits go to the server the client connected to (a single-process node
//! or the coordinator). Reads go where the shard map says: the map is fetched at connect and
//! again whenever a storage server answers `WrongShard` or cannot be reached (a shard moved, a
//! server restarted), then the read is retried a few times before the error reaches the
//! transaction's retry loop. A range read is split at shard boundaries and asks each shard in
//! key order (reverse order for a reverse read) until the limit is reached.
//!
//! Two ways to connect. [`RemoteBackend::connect`] is for threads: the backend runs its own
//! current-thread runtime and each call drives it with `block_on`. [`RemoteBackend::connect_async`]
//! is for tasks: the connections live on the caller's tokio runtime, the backend is an
//! [`AsyncTxnBackend`], and every task of a process shares a few connections per server (one
//! per core, up to four), so concurrent requests travel together (one write and one read
//! system call for many) while both cores work on them at each end.
//! Both run the same async code below; each refuses the other API with a clear error.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use ferrisdb_kv::transport::{ClientConfig, TcpTransport, Transport};
use ferrisdb_kv::{KeyRange, KvError, Version};

use super::read_versions::ReadVersions;
use super::{transport_error, unexpected, KvRequest, KvResponse};
use crate::client::{AsyncTxnBackend, CommitRequest, KeyValue, TxnBackend, TxnError};
use crate::cluster::ShardMap;

pub(super) type Conn = TcpTransport<KvRequest, KvResponse>;

/// Attempts of one read before its error goes to the transaction.
const READ_ATTEMPTS: usize = 4;

/// A [`TxnBackend`] (or, from [`RemoteBackend::connect_async`], an [`AsyncTxnBackend`])
/// over TCP.
pub struct RemoteBackend {
    /// The private runtime of a synchronous backend; `None` when connected from a runtime.
    rt: Option<tokio::runtime::Runtime>,
    coordinator: Conn,
    map: RwLock<ShardMap>,
    storage: Mutex<HashMap<SocketAddr, Conn>>,
    /// How connections to the coordinator and the storage servers are made.
    config: ClientConfig,
    /// Read-version requests of concurrent transactions, sent as one (async API only).
    read_versions: ReadVersions,
}

impl RemoteBackend {
    /// Connect to the cluster at `addr` (a single-process node or a coordinator), for
    /// synchronous callers (do not call it from inside a tokio runtime).
    pub fn connect(addr: SocketAddr) -> Result<RemoteBackend, TxnError> {
        // A current-thread runtime: the calling thread drives the connection itself inside
        // `block_on`, with no hand-off to a worker thread and back on every call.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TxnError::Unavailable(format!("cannot start the client runtime: {e}")))?;
        // One connection per server: a current-thread runtime works on one thing at a time.
        let config = ClientConfig::default();
        let coordinator = rt.block_on(connect(addr, config))?;
        let backend = RemoteBackend {
            rt: Some(rt),
            coordinator,
            map: RwLock::new(ShardMap::default()),
            storage: Mutex::new(HashMap::new()),
            config,
            read_versions: ReadVersions::default(),
        };
        backend.refresh_map()?;
        Ok(backend)
    }

    /// Connect from inside a tokio runtime, for the async API: use it with
    /// [`crate::Database::from_backends`] (its synchronous calls fail with an error).
    pub async fn connect_async(addr: SocketAddr) -> Result<RemoteBackend, TxnError> {
        // A connection per core (up to 4) to each server: each connection's reading and
        // answering is one task at either end, so one connection keeps one core busy.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let config = ClientConfig {
            connections: cores.clamp(1, 4),
            ..ClientConfig::default()
        };
        let backend = RemoteBackend {
            rt: None,
            coordinator: connect(addr, config).await?,
            map: RwLock::new(ShardMap::default()),
            storage: Mutex::new(HashMap::new()),
            config,
            read_versions: ReadVersions::default(),
        };
        backend.refresh_map_io().await?;
        Ok(backend)
    }

    /// Run `f` on the private runtime (synchronous API).
    fn run<T>(&self, f: impl Future<Output = Result<T, TxnError>>) -> Result<T, TxnError> {
        match &self.rt {
            Some(rt) => rt.block_on(f),
            None => Err(TxnError::Remote {
                message: "this backend was connected with connect_async: use the async API".into(),
                retryable: false,
            }),
        }
    }

    /// Check that this backend serves the async API.
    fn check_async(&self) -> Result<(), TxnError> {
        match self.rt {
            None => Ok(()),
            Some(_) => Err(TxnError::Remote {
                message:
                    "this backend was connected with connect: use connect_async for the async API"
                        .into(),
                retryable: false,
            }),
        }
    }

    async fn call_on(
        &self,
        conn: &Conn,
        req: KvRequest,
        is_commit: bool,
    ) -> Result<KvResponse, TxnError> {
        match conn.call(req).await {
            Ok(KvResponse::Error(e)) => Err(e.into()),
            Ok(r) => Ok(r),
            Err(e) if is_commit && e.is_unknown_result() => {
                Err(TxnError::CommitUnknownResult(e.to_string()))
            }
            Err(e) => Err(transport_error(e)),
        }
    }

    async fn call(&self, req: KvRequest, is_commit: bool) -> Result<KvResponse, TxnError> {
        self.call_on(&self.coordinator, req, is_commit).await
    }

    /// The server's status report.
    pub fn status(&self) -> Result<String, TxnError> {
        self.run(async {
            match self.call(KvRequest::Status, false).await? {
                KvResponse::Status(s) => Ok(s),
                other => Err(unexpected(&other)),
            }
        })
    }

    /// The current shard map, fetched from the server.
    pub fn refresh_map(&self) -> Result<ShardMap, TxnError> {
        self.run(self.refresh_map_io())
    }

    async fn refresh_map_io(&self) -> Result<ShardMap, TxnError> {
        match self.call(KvRequest::ShardMap, false).await? {
            KvResponse::ShardMap(m) => {
                *self.map.write().expect("shard map lock poisoned") = m.clone();
                Ok(m)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The connection serving `addr` (`None`: the server we connected to).
    fn conn(&self, addr: Option<SocketAddr>) -> Conn {
        match addr {
            None => self.coordinator.clone(),
            Some(a) => self
                .storage
                .lock()
                .expect("connection table poisoned")
                .entry(a)
                .or_insert_with(|| TcpTransport::lazy(a, self.config))
                .clone(),
        }
    }

    /// The pieces of `range` by shard, in key order, each with where to read it.
    fn pieces(&self, range: &KeyRange) -> Vec<(KeyRange, Option<SocketAddr>)> {
        let map = self.map.read().expect("shard map lock poisoned");
        map.shards
            .iter()
            .filter(|(r, _)| r.intersects(range))
            .map(|(r, a)| (r.intersection(range), *a))
            .collect()
    }

    /// Run a read, refreshing the shard map and retrying when the shard is elsewhere or its
    /// server is unreachable.
    async fn with_retries<T, F: Future<Output = Result<T, TxnError>>>(
        &self,
        mut read: impl FnMut() -> F,
    ) -> Result<T, TxnError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match read().await {
                Err(e) if attempt < READ_ATTEMPTS && moved_or_unreachable(&e) => {
                    tracing::debug!(error = %e, "read failed; refreshing the shard map");
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                    // An unreachable coordinator fails the refresh; the read retries anyway.
                    let _ = self.refresh_map_io().await;
                }
                r => return r,
            }
        }
    }

    async fn read_version_io(&self) -> Result<Version, TxnError> {
        if self.rt.is_none() {
            // Tasks on the caller's runtime: batch with the others asking now.
            return self.read_versions.get(&self.coordinator).await;
        }
        match self.call(KvRequest::ReadVersion, false).await? {
            KvResponse::Version(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    async fn get_with_read_version_io(
        &self,
        key: &[u8],
    ) -> Result<(Version, Option<Vec<u8>>), TxnError> {
        let here = self
            .pieces(&KeyRange::single(key))
            .first()
            .is_some_and(|p| p.1.is_none());
        if !here {
            let v = self.read_version_io().await?;
            return Ok((v, self.get_io(key, v).await?));
        }
        match self
            .call(KvRequest::GetLatest { key: key.to_vec() }, false)
            .await?
        {
            KvResponse::VersionedValue(v, value) => Ok((v, value)),
            other => Err(unexpected(&other)),
        }
    }

    async fn get_io(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        self.with_retries(|| async move {
            let addr = self.pieces(&KeyRange::single(key)).first().map(|p| p.1);
            let Some(addr) = addr else {
                return Err(TxnError::Kv(KvError::WrongShard { key: key.to_vec() }));
            };
            let req = KvRequest::Get {
                key: key.to_vec(),
                version,
            };
            match self.call_on(&self.conn(addr), req, false).await? {
                KvResponse::Value(v) => Ok(v),
                other => Err(unexpected(&other)),
            }
        })
        .await
    }

    async fn get_range_io(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.with_retries(|| async move {
            let mut pieces = self.pieces(range);
            if reverse {
                pieces.reverse();
            }
            let mut out = Vec::new();
            for (piece, addr) in pieces {
                if out.len() >= limit {
                    break;
                }
                let req = KvRequest::GetRange {
                    range: piece,
                    version,
                    limit: u32::try_from(limit - out.len()).unwrap_or(u32::MAX),
                    reverse,
                };
                match self.call_on(&self.conn(addr), req, false).await? {
                    KvResponse::Range(r) => out.extend(r),
                    other => return Err(unexpected(&other)),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn commit_io(&self, req: CommitRequest) -> Result<Version, TxnError> {
        match self.call(KvRequest::Commit(req), true).await? {
            KvResponse::Version(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }
}

async fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Conn, TxnError> {
    TcpTransport::connect_with(addr, config)
        .await
        .map_err(|e| TxnError::Unavailable(format!("cannot connect to {addr}: {e}")))
}

fn moved_or_unreachable(e: &TxnError) -> bool {
    matches!(
        e,
        TxnError::Kv(KvError::WrongShard { .. }) | TxnError::Unavailable(_)
    )
}

impl TxnBackend for RemoteBackend {
    fn read_version(&self) -> Result<Version, TxnError> {
        self.run(self.read_version_io())
    }

    fn get_with_read_version(&self, key: &[u8]) -> Result<(Version, Option<Vec<u8>>), TxnError> {
        self.run(self.get_with_read_version_io(key))
    }

    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        self.run(self.get_io(key, version))
    }

    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.run(self.get_range_io(range, version, limit, reverse))
    }

    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        self.run(self.commit_io(req))
    }
}

#[async_trait::async_trait]
impl AsyncTxnBackend for RemoteBackend {
    async fn read_version(&self) -> Result<Version, TxnError> {
        self.check_async()?;
        self.read_version_io().await
    }

    async fn get_with_read_version(
        &self,
        key: &[u8],
    ) -> Result<(Version, Option<Vec<u8>>), TxnError> {
        self.check_async()?;
        self.get_with_read_version_io(key).await
    }

    async fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        self.check_async()?;
        self.get_io(key, version).await
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.check_async()?;
        self.get_range_io(range, version, limit, reverse).await
    }

    async fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        self.check_async()?;
        self.commit_io(req).await
    }
}
