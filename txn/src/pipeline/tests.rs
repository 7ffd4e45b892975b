//! Commit-pipeline regressions.

use super::*;

fn set(key: &[u8]) -> CommitRequest {
    CommitRequest {
        read_version: 0,
        read_ranges: vec![],
        write_ranges: vec![KeyRange::single(key)],
        mutations: vec![Mutation::Set {
            key: key.to_vec(),
            value: b"v".to_vec(),
        }],
    }
}

const WINDOW: Version = 5_000_000;

/// Every key a storage server catching up from `from` is handed, pulling until it has seen
/// everything through `until`.
fn pull_keys(p: &CommitPipeline, mut from: Version, until: Version) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    loop {
        let (entries, through) = p.pull(from, 1 << 20).unwrap();
        for (_, muts) in entries {
            for m in muts {
                if let Mutation::Set { key, .. } = m {
                    keys.push(key);
                }
            }
        }
        if through >= until {
            return keys;
        }
        from = through + 1;
    }
}

/// Found by the multi-process bank test once the coordinator committed through the commit
/// thread: that thread's batches are synced through sync points, which the log did not
/// count as durable, so a storage server pulling from the log file (behind the in-memory
/// tail, as after a coordinator restart) got nothing, was told it had seen everything
/// through the committed version, and skipped acknowledged commits.
#[test]
fn a_pull_behind_the_tail_returns_commits_synced_by_the_sync_thread() {
    let dir = tempfile::tempdir().unwrap();
    {
        let p = CommitPipeline::open(dir.path(), None, WINDOW, 1 << 20).unwrap();
        p.commit(set(b"before restart")).unwrap();
    }
    // Reopened: the in-memory tail starts after everything recovered.
    let p = Arc::new(CommitPipeline::open(dir.path(), None, WINDOW, 1 << 20).unwrap());
    let v = crate::client::block_on(p.commit_async(set(b"after restart"))).unwrap();
    assert!(p.committed() >= v);
    let keys = pull_keys(&p, 1, v);
    assert_eq!(
        keys,
        vec![b"before restart".to_vec(), b"after restart".to_vec()]
    );
}
