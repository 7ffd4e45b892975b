//! On-demand WAL sync for engines opened with `SyncMode::None`.

use ferrisdb_storage::{Engine, Options, SyncMode};

/// `SyncMode::None` writes without fsync; `sync_wal` is the caller's fsync (the KV storage
/// server applies the commit log unsynced and syncs before the log may be truncated).
#[test]
fn sync_wal_fsyncs_unsynced_writes_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        sync_mode: SyncMode::None,
        ..Options::default()
    };
    let e = Engine::open(dir.path(), opts.clone()).unwrap();
    e.put(b"k", 1, b"v").unwrap();
    assert_eq!(e.stats().wal_syncs, 0);
    e.sync_wal().unwrap();
    assert_eq!(e.stats().wal_syncs, 1);
    e.close().unwrap();
    let e = Engine::open(dir.path(), opts).unwrap();
    assert_eq!(e.get(b"k", 1).unwrap(), Some(b"v".to_vec()));
}
