//! The storage-server process: a [`StorageServer`] that serves reads over TCP, pulls the
//! commit log from the coordinator and follows the controller's assignment.
//!
//! ```text
//!   heartbeat thread, every 200 ms:
//!       Heartbeat{id, addr, applied, owned, stats (every 5th), moved_in} ──► coordinator
//!       ◄── Assignment: reconcile (keep / re-split / drop), bootstrap, fetch moved-in shards:
//!           pause applying at version v, read the shard at v from its owner page by page,
//!           install it at v (see StorageServer::install_shard), resume
//!   pull thread, once the cluster has a shard map:
//!       Pull{from: applied + 1} ──► coordinator (long poll) ◄── entries, through
//!       StorageServer::apply_through(entries, through)    durable before the next pull
//!   read service: Get / GetRange at a version, from the owned shards only
//! ```
//!
//! The node's identity is a random 64-bit id kept in `DIR/node-id`, so a restarted server
//! is the same member with the same shards. A killed server restarts from its engine (every
//! applied version is durable) and catches up from the log, which the coordinator keeps until
//! every shard holder has applied it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrisdb_kv::transport::{ClientConfig, Handler, TcpTransport};
use ferrisdb_kv::{key_after, KeyRange, StorageServer, StorageServerOptions};

use super::controller::{Assignment, Fetch, Heartbeat};
use crate::client::TxnError;
use crate::remote::{not_served, transport_error, unexpected, KvRequest, KvResponse, WireError};

const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);
const STATS_EVERY_BEATS: u64 = 5;
const STATS_MAX_KEYS: u64 = 1_000_000;
const PULL_BYTES: u32 = 4 << 20;
const FETCH_PAGE: u32 = 10_000;

/// A storage-server process.
pub struct StorageNode {
    server: Arc<StorageServer>,
    id: u64,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

type Coord = TcpTransport<KvRequest, KvResponse>;

impl StorageNode {
    /// Open the server in `dir` and start following the coordinator at `join`; `addr` is where
    /// this node's read service listens (the caller serves [`StorageNode::service`] there).
    pub fn start(
        dir: &Path,
        addr: SocketAddr,
        join: SocketAddr,
        opts: StorageServerOptions,
    ) -> Result<StorageNode, TxnError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::Error::Storage(ferrisdb_storage::Error::io(dir, e)))?;
        let id = node_id(&dir.join("node-id"))?;
        let server = Arc::new(StorageServer::open(&dir.join("storage"), Vec::new(), opts)?);
        let stop = Arc::new(AtomicBool::new(false));
        let initialized = Arc::new(AtomicBool::new(!server.shards().is_empty()));
        let follower = Follower {
            server: server.clone(),
            id,
            addr,
            coordinator: TcpTransport::lazy(join, ClientConfig::default()),
            stop: stop.clone(),
            initialized: initialized.clone(),
        };
        let f2 = follower.clone_handle();
        let threads = vec![
            spawn("ferrisdb-heartbeat", move || f2.heartbeat_loop()),
            spawn("ferrisdb-pull", move || follower.pull_loop()),
        ];
        tracing::info!(id = format!("{id:016x}"), %addr, %join, "storage server started");
        Ok(StorageNode {
            server,
            id,
            stop,
            threads,
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn server(&self) -> &Arc<StorageServer> {
        &self.server
    }

    /// The read service to serve on this node's address.
    pub fn service(&self) -> Arc<ReadService> {
        Arc::new(ReadService {
            server: self.server.clone(),
            id: self.id,
        })
    }

    /// Stop following the coordinator (the data stays durable).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for StorageNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("cannot spawn a storage node thread")
}

/// This node's id: read from `path`, or made up and stored there on first start.
fn node_id(path: &Path) -> Result<u64, TxnError> {
    let io = |e| TxnError::from(ferrisdb_storage::Error::io(path, e));
    match std::fs::read_to_string(path) {
        Ok(s) => u64::from_str_radix(s.trim(), 16).map_err(|_| {
            ferrisdb_storage::Error::corruption(path, 0, "node-id is not a hex number").into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            h.write_u32(std::process::id());
            let id = h.finish();
            ferrisdb_storage::fs::write_file_atomic(path, format!("{id:016x}\n").as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(io(e)),
    }
}

/// The background side of a node: heartbeats and log pulls.
struct Follower {
    server: Arc<StorageServer>,
    id: u64,
    addr: SocketAddr,
    coordinator: Coord,
    stop: Arc<AtomicBool>,
    /// Set once the cluster has a shard map; pulling before that could skip log entries the
    /// first (bootstrapping) server must apply.
    initialized: Arc<AtomicBool>,
}

impl Follower {
    fn clone_handle(&self) -> Follower {
        Follower {
            server: self.server.clone(),
            id: self.id,
            addr: self.addr,
            // Its own connection: a connection's reader task runs on the runtime of the thread
            // that opened it, so a shared one would answer this thread's calls only while the
            // other thread happens to be inside a call of its own.
            coordinator: TcpTransport::lazy(self.coordinator.addr(), ClientConfig::default()),
            stop: self.stop.clone(),
            initialized: self.initialized.clone(),
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot start a storage node runtime")
    }

    fn call(
        rt: &tokio::runtime::Runtime,
        c: &Coord,
        req: KvRequest,
    ) -> Result<KvResponse, TxnError> {
        match rt.block_on(c.call_timeout(req, Duration::from_secs(5))) {
            Ok(KvResponse::Error(e)) => Err(e.into()),
            Ok(r) => Ok(r),
            Err(e) => Err(transport_error(e)),
        }
    }

    fn pull_loop(self) {
        let rt = Self::runtime();
        while !self.stop.load(Ordering::Acquire) {
            if !self.initialized.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let req = KvRequest::Pull {
                from: self.server.applied_version() + 1,
                max_bytes: PULL_BYTES,
            };
            let r = Self::call(&rt, &self.coordinator, req).and_then(|resp| match resp {
                KvResponse::Log { entries, through } => {
                    Ok(self.server.apply_through(&entries, through)?)
                }
                other => Err(unexpected(&other)),
            });
            if let Err(e) = r {
                tracing::debug!(error = %e, "log pull failed; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    fn heartbeat_loop(self) {
        let rt = Self::runtime();
        let mut beats = 0u64;
        let mut moved_in: Vec<u64> = Vec::new();
        while !self.stop.load(Ordering::Acquire) {
            let stats = beats
                .is_multiple_of(STATS_EVERY_BEATS)
                .then(|| self.server.shard_stats(STATS_MAX_KEYS).unwrap_or_default());
            beats += 1;
            let hb = Heartbeat {
                id: self.id,
                addr: self.addr,
                applied: self.server.applied_version(),
                owned: self.server.shards().into_iter().map(|s| s.range).collect(),
                stats,
                moved_in: moved_in.clone(),
            };
            match Self::call(&rt, &self.coordinator, KvRequest::Heartbeat(hb)) {
                Ok(KvResponse::Assignment(a)) => {
                    if let Err(e) = self.follow(&rt, &a, &mut moved_in) {
                        tracing::warn!(error = %e, "following the assignment failed; will retry");
                    }
                }
                Ok(other) => tracing::warn!(error = %unexpected(&other), "bad heartbeat answer"),
                Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
            }
            std::thread::sleep(HEARTBEAT_EVERY);
        }
    }

    fn follow(
        &self,
        rt: &tokio::runtime::Runtime,
        a: &Assignment,
        moved_in: &mut Vec<u64>,
    ) -> Result<(), TxnError> {
        let mut keep = a.owned.clone();
        keep.extend(a.fetch.iter().map(|f| f.range.clone()));
        let r = self.server.reconcile(&keep)?;
        for range in r.missing.iter().filter(|m| a.bootstrap.contains(m)) {
            self.server.bootstrap_shard(range)?;
            tracing::info!(?range, "took the first shard from the start of the log");
        }
        if a.initialized {
            self.initialized.store(true, Ordering::Release);
        }
        moved_in.retain(|id| a.fetch.iter().any(|f| f.move_id == *id));
        for f in &a.fetch {
            if !moved_in.contains(&f.move_id) {
                self.fetch(rt, f)?;
                moved_in.push(f.move_id);
            }
        }
        Ok(())
    }

    /// Copy a shard from its owner at this server's applied version and install it.
    fn fetch(&self, rt: &tokio::runtime::Runtime, f: &Fetch) -> Result<(), TxnError> {
        let pause = self.server.pause_apply();
        let version = pause.version();
        let source: Coord = TcpTransport::lazy(f.from, ClientConfig::default());
        let mut rows = Vec::new();
        let mut begin = f.range.begin.clone();
        loop {
            let req = KvRequest::GetRange {
                range: KeyRange::new(begin.clone(), f.range.end.clone()),
                version,
                limit: FETCH_PAGE,
                reverse: false,
            };
            let page = match Self::call(rt, &source, req)? {
                KvResponse::Range(r) => r,
                other => return Err(unexpected(&other)),
            };
            let full = page.len() >= FETCH_PAGE as usize;
            if let Some((k, _)) = page.last() {
                begin = key_after(k);
            }
            rows.extend(page);
            if !full {
                break;
            }
        }
        self.server.install_shard(&pause, &f.range, &rows)?;
        Ok(())
    }
}

/// A storage node's request handler: reads at a version, status.
pub struct ReadService {
    server: Arc<StorageServer>,
    id: u64,
}

impl ReadService {
    fn answer(&self, req: KvRequest) -> Result<KvResponse, TxnError> {
        let s = &self.server;
        Ok(match req {
            KvRequest::Get { key, version } => KvResponse::Value(s.get(&key, version)?),
            KvRequest::GetRange {
                range,
                version,
                limit,
                reverse,
            } => KvResponse::Range(s.get_range(&range, version, limit as usize, reverse)?),
            KvRequest::Status => KvResponse::Status(format!(
                "storage server {:016x}: applied version {}, {} shards\n{}",
                self.id,
                s.applied_version(),
                s.shards().len(),
                s.engine_stats()
            )),
            _ => return Err(not_served("coordinator")),
        })
    }
}

#[async_trait::async_trait]
impl Handler<KvRequest, KvResponse> for Arc<ReadService> {
    async fn handle(&self, req: KvRequest) -> KvResponse {
        let req = match self.handle_now(req) {
            Ok(answer) => return answer,
            Err(req) => req,
        };
        tokio::task::block_in_place(|| {
            self.answer(req)
                .unwrap_or_else(|e| KvResponse::Error(WireError::from(&e)))
        })
    }

    /// Reads at an applied version do not wait: answered where they arrived (see KvService).
    fn handle_now(&self, req: KvRequest) -> Result<KvResponse, KvRequest> {
        match &req {
            KvRequest::Get { version, .. } | KvRequest::GetRange { version, .. }
                if *version <= self.server.applied_version() =>
            {
                Ok(self
                    .answer(req)
                    .unwrap_or_else(|e| KvResponse::Error(WireError::from(&e))))
            }
            _ => Err(req),
        }
    }
}

/// Where a storage node keeps its files.
pub fn storage_dir(dir: &Path) -> PathBuf {
    dir.join("storage")
}
