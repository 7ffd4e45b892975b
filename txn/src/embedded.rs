//! The embedded cluster: sequencer, resolver, commit log and one storage server in one
//! process, behind the [`TxnBackend`] trait: what `ferrisdb start` runs by default.
//!
//! Commits go through the [`CommitPipeline`] (whose module doc walks through the life of a
//! commit) with the storage server attached locally: each batch is applied before its version
//! becomes the read version. Reads go straight to the storage server at the transaction's
//! read version. Open replays the log past the storage server's applied version, so a crash
//! between the log fsync and the apply loses nothing.
//!
//! The log fsync is the commit's only fsync: the storage server applies unsynced
//! (`sync_apply: false`), and is synced only before the pipeline truncates the log below
//! its durable version. A crash loses at most an applied suffix, which the replay on open
//! restores from the log. (Syncing both doubled a lone client's commit latency.)

use std::path::Path;
use std::sync::Arc;

use ferrisdb_kv::{KeyRange, StorageServer, StorageServerOptions, Version};

use crate::client::{AsyncTxnBackend, CommitRequest, Database, KeyValue, TxnBackend, TxnError};
use crate::pipeline::CommitPipeline;

/// Tuning of the embedded cluster.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    pub storage: StorageServerOptions,
    /// Versions a transaction may read behind the newest commit (about 5 s).
    pub mvcc_window: Version,
    /// Bytes of log entries a storage server pulls per apply during catch-up.
    pub pull_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            storage: StorageServerOptions {
                sync_apply: false,
                ..StorageServerOptions::default()
            },
            mvcc_window: 5_000_000,
            pull_bytes: 4 << 20,
        }
    }
}

/// Every role in one process.
pub struct EmbeddedCluster {
    pipeline: std::sync::Arc<CommitPipeline>,
}

impl EmbeddedCluster {
    /// Open (or create) the cluster's state under `dir` and catch the storage server up.
    pub fn open(dir: &Path, opts: EmbeddedOptions) -> Result<EmbeddedCluster, TxnError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::Error::Storage(ferrisdb_storage::Error::io(dir, e)))?;
        let all = vec![KeyRange::new(
            Vec::new(),
            ferrisdb_kv::KEY_SPACE_END.to_vec(),
        )];
        let storage = StorageServer::open(&dir.join("storage"), all, opts.storage.clone())?;
        let pipeline = Arc::new(CommitPipeline::open(
            dir,
            Some(storage),
            opts.mvcc_window,
            opts.pull_bytes,
        )?);
        tracing::info!(dir = %dir.display(), version = pipeline.committed(), "embedded cluster opened");
        Ok(EmbeddedCluster { pipeline })
    }

    /// A database handle on this cluster with both APIs: [`Database::begin`] (threads) and
    /// [`Database::begin_async`] (tasks; commits suspend instead of blocking).
    pub fn database(self: &Arc<Self>) -> Database {
        Database::from_backends(self.clone(), self.clone())
    }

    pub fn storage(&self) -> &StorageServer {
        self.pipeline
            .local()
            .expect("an embedded cluster always has its storage server")
    }

    /// A human-readable status report (for `ferrisdb kv status`).
    pub fn status(&self) -> String {
        let s = self.storage();
        format!(
            "{}\nstorage applied version {} (oldest readable {})\n{}",
            self.pipeline.status(),
            s.applied_version(),
            s.oldest_readable_version(),
            s.engine_stats()
        )
    }
}

impl TxnBackend for EmbeddedCluster {
    fn read_version(&self) -> Result<Version, TxnError> {
        self.pipeline.read_version()
    }

    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        Ok(self.storage().get(key, version)?)
    }

    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        Ok(self.storage().get_range(range, version, limit, reverse)?)
    }

    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        self.pipeline.commit(req)
    }

    fn read_version_and_metadata(&self) -> Result<Option<(Version, Version)>, TxnError> {
        self.pipeline.read_version_and_metadata().map(Some)
    }

    fn readable_now(&self, version: Version) -> bool {
        version <= self.storage().applied_version() && !self.pipeline.read_version_is_stale()
    }
}

impl EmbeddedCluster {
    /// Before an async read at `version`: wait (as a future, bounded like a blocking read)
    /// for the apply thread to reach it, so the read itself does not block.
    async fn applied(&self, version: Version) {
        if version > self.storage().applied_version() {
            let limit = self.storage().options().read_wait;
            // On timeout the read below fails retryably (`FutureVersion`), as it would
            // blocking.
            self.pipeline.wait_applied(version, limit).await;
        }
    }
}

/// Reads are in-memory or block-cache lookups, answered in place once their version is
/// applied; the commit waits for its batch as a future.
#[async_trait::async_trait]
impl AsyncTxnBackend for EmbeddedCluster {
    async fn read_version(&self) -> Result<Version, TxnError> {
        TxnBackend::read_version(self)
    }

    async fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        self.applied(version).await;
        TxnBackend::get(self, key, version)
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.applied(version).await;
        TxnBackend::get_range(self, range, version, limit, reverse)
    }

    async fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        self.pipeline.commit_async(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found on review: a batch that panicked poisoned the pipeline lock, and every later
    /// commit parked forever waiting for a leader instead of failing.
    #[test]
    fn commit_after_a_panicked_batch_fails_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let cluster =
            Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
        let c = cluster.clone();
        let _ = std::thread::spawn(move || {
            let _guard = c.pipeline.poison_for_test();
            panic!("simulated failure inside a commit batch");
        })
        .join();
        let req = CommitRequest {
            read_version: TxnBackend::read_version(&*cluster).unwrap(),
            read_ranges: vec![],
            write_ranges: vec![KeyRange::single(b"k")],
            mutations: vec![ferrisdb_kv::Mutation::Set {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            }],
        };
        let e = TxnBackend::commit(&*cluster, req).unwrap_err();
        assert!(matches!(e, TxnError::CommitUnknownResult(_)), "{e}");
    }

    fn set(key: &[u8]) -> CommitRequest {
        CommitRequest {
            read_version: 0,
            read_ranges: vec![],
            write_ranges: vec![KeyRange::single(key)],
            mutations: vec![ferrisdb_kv::Mutation::Set {
                key: key.to_vec(),
                value: b"v".to_vec(),
            }],
        }
    }

    /// Found on review: after a failed apply, the next batch's apply moved the storage
    /// server's applied version past the failed one, so the replay on open (from the
    /// applied version on) skipped it: an acknowledged commit lost for good. A failed
    /// apply now stops applying and refuses commits until a restart, which replays it.
    #[test]
    fn a_failed_apply_stops_commits_and_the_reopen_replays_it() {
        let dir = tempfile::tempdir().unwrap();
        let (v1, v0) = {
            let cluster =
                Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
            let v0 = TxnBackend::commit(&*cluster, set(b"before")).unwrap();
            cluster.pipeline.fail_next_apply_for_test();
            // Durable, so acknowledged; its apply then fails.
            let v1 = crate::client::block_on(cluster.pipeline.commit_async(set(b"acked"))).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            let e = loop {
                match TxnBackend::commit(&*cluster, set(b"after")) {
                    Err(e) => break e,
                    // The failure may not have happened yet.
                    Ok(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    }
                    Ok(v) => panic!("commit {v} accepted after a failed apply"),
                }
            };
            assert!(e.to_string().contains("restart"), "{e}");
            assert!(!e.is_retryable());
            (v1, v0)
        };
        let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let rv = TxnBackend::read_version(&cluster).unwrap();
        assert!(rv > v1 && v1 > v0);
        for key in [&b"before"[..], b"acked"] {
            let got = TxnBackend::get(&cluster, key, rv).unwrap();
            assert_eq!(got.as_deref(), Some(&b"v"[..]), "{key:?}");
        }
    }

    /// A committing thread applies its batch itself only when the apply thread is idle.
    /// Were it to apply while a task's batch waits there, storage would move past that
    /// batch's version and then skip it as already applied: an acknowledged commit lost.
    #[test]
    fn a_leading_thread_never_applies_ahead_of_a_queued_batch() {
        let dir = tempfile::tempdir().unwrap();
        let cluster =
            Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
        let hold = cluster.pipeline.hold_apply_for_test();
        // Acknowledged once durable; its apply waits behind the held thread.
        let v1 = crate::client::block_on(cluster.pipeline.commit_async(set(b"task"))).unwrap();
        let v2 = TxnBackend::commit(&*cluster, set(b"thread")).unwrap();
        assert!(v2 > v1);
        assert!(cluster.storage().applied_version() < v1);
        drop(hold);
        for key in [&b"task"[..], b"thread"] {
            let got = TxnBackend::get(&*cluster, key, v2).unwrap();
            assert_eq!(got.as_deref(), Some(&b"v"[..]), "{key:?}");
        }
    }
}
