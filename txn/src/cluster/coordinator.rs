//! The coordinator process: the commit pipeline (sequencer, resolver, commit log) and the
//! cluster controller, serving clients and storage servers over one TCP protocol
//! ([`crate::remote`]).
//!
//! Clients ask it for read versions, commits and the shard map; storage servers send it
//! heartbeats (answered with their assignment) and pull the log from it (a long poll: a pull
//! with nothing new waits up to [`PULL_WAIT`] for the next commit). A background tick drives
//! the controller, persists its state and lets the log be truncated below every shard
//! holder's durable version.
//!
//! The controller's state lives in `DIR/controller`, replaced atomically:
//!
//! ```text
//!   "FCTL"  u32 format version (1)  postcard(ControllerState)  u32 crc32 of all before it
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrisdb_kv::transport::Handler;
use ferrisdb_kv::{KvError, Version};

use super::controller::{Controller, ControllerState};
use crate::client::{TxnBackend, TxnError};
use crate::pipeline::{now_micros, CommitPipeline};
use crate::remote::{KvRequest, KvResponse, WireError};

/// How long a pull with nothing new waits for the next commit.
pub const PULL_WAIT: Duration = Duration::from_millis(200);
/// Largest pull answer, whatever the storage server asks for.
const MAX_PULL_BYTES: usize = 8 << 20;
const STATE_MAGIC: &[u8; 4] = b"FCTL";
const STATE_FORMAT: u32 = 1;

/// Tuning of the coordinator.
#[derive(Clone, Debug)]
pub struct CoordinatorOptions {
    /// Versions a transaction may read behind the newest commit (about 5 s).
    pub mvcc_window: Version,
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        CoordinatorOptions {
            mvcc_window: 5_000_000,
        }
    }
}

/// The coordinator role.
pub struct Coordinator {
    pipeline: std::sync::Arc<CommitPipeline>,
    controller: Mutex<Controller>,
    state_path: PathBuf,
}

impl Coordinator {
    /// Open (or create) the coordinator's state under `dir`.
    pub fn open(dir: &Path, opts: CoordinatorOptions) -> Result<Arc<Coordinator>, TxnError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::Error::Storage(ferrisdb_storage::Error::io(dir, e)))?;
        let pipeline = Arc::new(CommitPipeline::open(dir, None, opts.mvcc_window, 4 << 20)?);
        let state_path = dir.join("controller");
        let state = load_state(&state_path)?;
        tracing::info!(dir = %dir.display(), shards = state.shards.len(), members = state.members.len(), "coordinator opened");
        Ok(Arc::new(Coordinator {
            pipeline,
            controller: Mutex::new(Controller::new(state)),
            state_path,
        }))
    }

    pub fn pipeline(&self) -> &CommitPipeline {
        &self.pipeline
    }

    /// Drive the controller: plan, persist, and pass the log truncation point on. Call every
    /// 100 ms or so.
    pub fn tick(&self) -> Result<(), TxnError> {
        let mut c = self.controller.lock().expect("controller lock poisoned");
        c.tick(now_micros());
        if let Some(floor) = c.durable_floor() {
            self.pipeline.set_truncation_point(floor);
        }
        self.persist(&mut c)
    }

    /// Run [`Coordinator::tick`] every 100 ms on the current tokio runtime (multi-threaded).
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                if let Err(e) = tokio::task::block_in_place(|| me.tick()) {
                    tracing::error!(error = %e, "controller tick failed");
                }
            }
        })
    }

    fn persist(&self, c: &mut Controller) -> Result<(), TxnError> {
        if let Some(state) = c.take_changed() {
            store_state(&self.state_path, &state)?;
        }
        Ok(())
    }

    /// Members, shards and versions, for `ferrisdb kv status`.
    pub fn status(&self) -> String {
        let c = self.controller.lock().expect("controller lock poisoned");
        format!("{}\n{}", self.pipeline.status(), c.status(now_micros()))
    }

    fn answer(&self, req: KvRequest) -> Result<KvResponse, TxnError> {
        Ok(match req {
            KvRequest::ReadVersion => KvResponse::Version(self.pipeline.read_version()?),
            KvRequest::Commit(c) => KvResponse::Version(self.pipeline.commit(c)?),
            KvRequest::Status => KvResponse::Status(self.status()),
            KvRequest::ShardMap => KvResponse::ShardMap(
                self.controller
                    .lock()
                    .expect("controller lock poisoned")
                    .shard_map(),
            ),
            KvRequest::Heartbeat(hb) => {
                let mut c = self.controller.lock().expect("controller lock poisoned");
                let a = c.heartbeat(hb, now_micros());
                self.persist(&mut c)?;
                KvResponse::Assignment(a)
            }
            KvRequest::Pull { from, max_bytes } => {
                let max = (max_bytes as usize).clamp(1, MAX_PULL_BYTES);
                let (entries, through) = self.pipeline.pull(from, max)?;
                KvResponse::Log { entries, through }
            }
            // Data lives on storage servers: the shard map sends reads there.
            KvRequest::Get { key, version } => KvResponse::Value(self.get(&key, version)?),
            KvRequest::GetLatest { key } => KvResponse::Value(self.get(&key, 0)?),
            KvRequest::GetRange {
                range,
                version,
                limit,
                reverse,
            } => KvResponse::Range(self.get_range(&range, version, limit as usize, reverse)?),
        })
    }
}

#[async_trait::async_trait]
impl Handler<KvRequest, KvResponse> for Arc<Coordinator> {
    async fn handle(&self, req: KvRequest) -> KvResponse {
        let req = match self.handle_now(req) {
            Ok(answer) => return answer,
            Err(req) => req,
        };
        if let KvRequest::Commit(c) = req {
            // A commit waits for its batch as a future, not by holding a thread: with a
            // thread each, 64 committing clients parked and unparked 64 threads per batch.
            return match self.pipeline.commit_async(c).await {
                Ok(v) => KvResponse::Version(v),
                Err(e) => KvResponse::Error(WireError::from(&e)),
            };
        }
        if let KvRequest::Pull { from, .. } = &req {
            // Long poll without holding a worker thread: wait for a commit at or past `from`.
            let mut rx = self.pipeline.subscribe();
            let from = *from;
            let _ = tokio::time::timeout(PULL_WAIT, rx.wait_for(|v| *v >= from)).await;
        }
        tokio::task::block_in_place(|| {
            self.answer(req)
                .unwrap_or_else(|e| KvResponse::Error(WireError::from(&e)))
        })
    }

    /// A read version that needs no empty commit first is an atomic load: answered where the
    /// request arrived instead of as blocking work.
    fn handle_now(&self, req: KvRequest) -> Result<KvResponse, KvRequest> {
        match req {
            KvRequest::ReadVersion if !self.pipeline.read_version_is_stale() => Ok(self
                .answer(req)
                .unwrap_or_else(|e| KvResponse::Error(WireError::from(&e)))),
            req => Err(req),
        }
    }
}

fn load_state(path: &Path) -> Result<ControllerState, TxnError> {
    let buf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ControllerState::default()),
        Err(e) => return Err(ferrisdb_storage::Error::io(path, e).into()),
    };
    let bad = |offset: usize, what: &str| -> TxnError {
        ferrisdb_storage::Error::corruption(path, offset as u64, what.to_string()).into()
    };
    if buf.len() < 12 || &buf[..4] != STATE_MAGIC {
        return Err(bad(0, "not a controller state file"));
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err(bad(body.len(), "controller state checksum mismatch"));
    }
    if body[4..8] != STATE_FORMAT.to_le_bytes() {
        return Err(bad(4, "unknown controller state format version"));
    }
    postcard::from_bytes(&body[8..]).map_err(|e| bad(8, &format!("bad controller state: {e}")))
}

fn store_state(path: &Path, state: &ControllerState) -> Result<(), TxnError> {
    let mut buf = STATE_MAGIC.to_vec();
    buf.extend_from_slice(&STATE_FORMAT.to_le_bytes());
    let body = postcard::to_stdvec(state).map_err(|e| TxnError::Remote {
        message: format!("cannot encode the controller state: {e}"),
        retryable: false,
    })?;
    buf.extend_from_slice(&body);
    let crc = crc32fast::hash(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    ferrisdb_storage::fs::write_file_atomic(path, &buf)?;
    Ok(())
}

/// The coordinator also implements the client API in process (for tests and tools).
impl TxnBackend for Coordinator {
    fn read_version(&self) -> Result<Version, TxnError> {
        self.pipeline.read_version()
    }
    fn get(&self, key: &[u8], _version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        Err(TxnError::Kv(KvError::WrongShard { key: key.to_vec() }))
    }
    fn get_range(
        &self,
        range: &ferrisdb_kv::KeyRange,
        _version: Version,
        _limit: usize,
        _reverse: bool,
    ) -> Result<Vec<crate::client::KeyValue>, TxnError> {
        Err(TxnError::Kv(KvError::WrongShard {
            key: range.begin.clone(),
        }))
    }
    fn commit(&self, req: crate::client::CommitRequest) -> Result<Version, TxnError> {
        self.pipeline.commit(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::controller::Shard;
    use ferrisdb_kv::KeyRange;

    #[test]
    fn controller_state_round_trips_and_damage_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("controller");
        let mut state = ControllerState::default();
        state.members.insert(3, "127.0.0.1:4600".parse().unwrap());
        state.shards.push(Shard {
            range: KeyRange::new("a", "b"),
            owner: 3,
            moving_to: Some((4, 9)),
            bootstrap: false,
        });
        store_state(&path, &state).unwrap();
        assert_eq!(load_state(&path).unwrap(), state);
        let mut buf = std::fs::read(&path).unwrap();
        let n = buf.len();
        buf[n / 2] ^= 1;
        std::fs::write(&path, &buf).unwrap();
        let e = load_state(&path).unwrap_err().to_string();
        assert!(e.contains("controller"), "{e}");
    }
}
