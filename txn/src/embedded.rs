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

use ferrisdb_kv::{KeyRange, StorageServer, StorageServerOptions, Version};

use crate::client::{CommitRequest, KeyValue, TxnBackend, TxnError};
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
    pipeline: CommitPipeline,
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
        let pipeline = CommitPipeline::open(dir, Some(storage), opts.mvcc_window, opts.pull_bytes)?;
        tracing::info!(dir = %dir.display(), version = pipeline.committed(), "embedded cluster opened");
        Ok(EmbeddedCluster { pipeline })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
            read_version: cluster.read_version().unwrap(),
            read_ranges: vec![],
            write_ranges: vec![KeyRange::single(b"k")],
            mutations: vec![ferrisdb_kv::Mutation::Set {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            }],
        };
        let e = cluster.commit(req).unwrap_err();
        assert!(matches!(e, TxnError::CommitUnknownResult(_)), "{e}");
    }
}
