//! The client side: a [`TxnBackend`] that talks to a cluster over TCP, so `Database` works the
//! same embedded or remote.
//!
//! Read versions and commits go to the server the client connected to (a single-process node
//! or the coordinator). Reads go where the shard map says: the map is fetched at connect and
//! again whenever a storage server answers `WrongShard` or cannot be reached (a shard moved, a
//! server restarted), then the read is retried a few times before the error reaches the
//! transaction's retry loop. A range read is split at shard boundaries and asks each shard in
//! key order (reverse order for a reverse read) until the limit is reached.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use ferrisdb_kv::transport::{ClientConfig, TcpTransport, Transport};
use ferrisdb_kv::{KeyRange, KvError, Version};

use super::{transport_error, unexpected, KvRequest, KvResponse};
use crate::client::{CommitRequest, KeyValue, TxnBackend, TxnError};
use crate::cluster::ShardMap;

type Conn = TcpTransport<KvRequest, KvResponse>;

/// Attempts of one read before its error goes to the transaction.
const READ_ATTEMPTS: usize = 4;

/// A [`TxnBackend`] over TCP. For synchronous callers: it runs its own small tokio runtime
/// (do not call it from inside another runtime).
pub struct RemoteBackend {
    rt: tokio::runtime::Runtime,
    coordinator: Conn,
    map: RwLock<ShardMap>,
    storage: Mutex<HashMap<SocketAddr, Conn>>,
}

impl RemoteBackend {
    /// Connect to the cluster at `addr` (a single-process node or a coordinator).
    pub fn connect(addr: SocketAddr) -> Result<RemoteBackend, TxnError> {
        // A current-thread runtime: the calling thread drives the connection itself inside
        // `block_on`, with no hand-off to a worker thread and back on every call.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TxnError::Unavailable(format!("cannot start the client runtime: {e}")))?;
        let coordinator = rt
            .block_on(TcpTransport::connect_with(addr, ClientConfig::default()))
            .map_err(|e| TxnError::Unavailable(format!("cannot connect to {addr}: {e}")))?;
        let backend = RemoteBackend {
            rt,
            coordinator,
            map: RwLock::new(ShardMap::default()),
            storage: Mutex::new(HashMap::new()),
        };
        backend.refresh_map()?;
        Ok(backend)
    }

    fn call_on(
        &self,
        conn: &Conn,
        req: KvRequest,
        is_commit: bool,
    ) -> Result<KvResponse, TxnError> {
        match self.rt.block_on(conn.call(req)) {
            Ok(KvResponse::Error(e)) => Err(e.into()),
            Ok(r) => Ok(r),
            Err(e) if is_commit && e.is_unknown_result() => {
                Err(TxnError::CommitUnknownResult(e.to_string()))
            }
            Err(e) => Err(transport_error(e)),
        }
    }

    fn call(&self, req: KvRequest, is_commit: bool) -> Result<KvResponse, TxnError> {
        self.call_on(&self.coordinator, req, is_commit)
    }

    /// The server's status report.
    pub fn status(&self) -> Result<String, TxnError> {
        match self.call(KvRequest::Status, false)? {
            KvResponse::Status(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// The current shard map, fetched from the server.
    pub fn refresh_map(&self) -> Result<ShardMap, TxnError> {
        match self.call(KvRequest::ShardMap, false)? {
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
                .or_insert_with(|| TcpTransport::lazy(a, ClientConfig::default()))
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
    fn with_retries<T>(
        &self,
        mut read: impl FnMut() -> Result<T, TxnError>,
    ) -> Result<T, TxnError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match read() {
                Err(e) if attempt < READ_ATTEMPTS && moved_or_unreachable(&e) => {
                    tracing::debug!(error = %e, "read failed; refreshing the shard map");
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                    // An unreachable coordinator fails the refresh; the read retries anyway.
                    let _ = self.refresh_map();
                }
                r => return r,
            }
        }
    }
}

fn moved_or_unreachable(e: &TxnError) -> bool {
    matches!(
        e,
        TxnError::Kv(KvError::WrongShard { .. }) | TxnError::Unavailable(_)
    )
}

impl TxnBackend for RemoteBackend {
    fn read_version(&self) -> Result<Version, TxnError> {
        match self.call(KvRequest::ReadVersion, false)? {
            KvResponse::Version(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    fn get_with_read_version(&self, key: &[u8]) -> Result<(Version, Option<Vec<u8>>), TxnError> {
        let here = self
            .pieces(&KeyRange::single(key))
            .first()
            .is_some_and(|p| p.1.is_none());
        if !here {
            let v = self.read_version()?;
            return Ok((v, self.get(key, v)?));
        }
        match self.call(KvRequest::GetLatest { key: key.to_vec() }, false)? {
            KvResponse::VersionedValue(v, value) => Ok((v, value)),
            other => Err(unexpected(&other)),
        }
    }

    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        self.with_retries(|| {
            let addr = self.pieces(&KeyRange::single(key)).first().map(|p| p.1);
            let Some(addr) = addr else {
                return Err(TxnError::Kv(KvError::WrongShard { key: key.to_vec() }));
            };
            let req = KvRequest::Get {
                key: key.to_vec(),
                version,
            };
            match self.call_on(&self.conn(addr), req, false)? {
                KvResponse::Value(v) => Ok(v),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.with_retries(|| {
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
                match self.call_on(&self.conn(addr), req, false)? {
                    KvResponse::Range(r) => out.extend(r),
                    other => return Err(unexpected(&other)),
                }
            }
            Ok(out)
        })
    }

    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        match self.call(KvRequest::Commit(req), true)? {
            KvResponse::Version(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }
}
