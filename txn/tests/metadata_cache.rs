//! The metadata cache (`Transaction::get_cached`) on the embedded cluster: it saves storage
//! reads while no metadata change commits, never serves a value older than the read
//! version's, and keeps the read conflict a storage read would have taken.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use ferrisdb_kv::{KeyRange, Version};
use ferrisdb_txn::{
    CommitRequest, Database, EmbeddedCluster, EmbeddedOptions, KeyValue, TxnBackend, TxnError,
};

/// The embedded cluster, counting point reads that reach storage.
struct Counting {
    inner: EmbeddedCluster,
    gets: AtomicUsize,
}

impl TxnBackend for Counting {
    fn read_version(&self) -> Result<Version, TxnError> {
        self.inner.read_version()
    }
    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key, version)
    }
    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.inner.get_range(range, version, limit, reverse)
    }
    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        self.inner.commit(req)
    }
    fn read_version_and_metadata(&self) -> Result<Option<(Version, Version)>, TxnError> {
        self.inner.read_version_and_metadata()
    }
}

fn open(dir: &std::path::Path) -> (Database, Arc<Counting>) {
    let backend = Arc::new(Counting {
        inner: EmbeddedCluster::open(dir, EmbeddedOptions::default()).unwrap(),
        gets: AtomicUsize::new(0),
    });
    (Database::from_backend(backend.clone()), backend)
}

/// Set `key` as a metadata change (with the metadata version).
fn change(db: &Database, key: &[u8], value: &[u8]) {
    db.transact(|tx| {
        tx.touch_metadata_version()?;
        tx.set(key, value)
    })
    .unwrap();
}

fn cached(db: &Database, key: &[u8]) -> Option<Vec<u8>> {
    db.transact(|tx| tx.get_cached(key)).unwrap().0
}

#[test]
fn cached_reads_skip_storage_until_a_metadata_change_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (db, counting) = open(dir.path());
    change(&db, b"desc", b"v1");
    let before = counting.gets.load(Ordering::SeqCst);
    assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"v1"[..]));
    assert_eq!(counting.gets.load(Ordering::SeqCst), before + 1);
    for _ in 0..10 {
        assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"v1"[..]));
    }
    assert_eq!(
        counting.gets.load(Ordering::SeqCst),
        before + 1,
        "served from cache"
    );
    // Absence is cached too, and ordinary data commits do not end the epoch.
    assert_eq!(cached(&db, b"none"), None);
    db.transact(|tx| tx.set(b"row", b"r")).unwrap();
    assert_eq!(cached(&db, b"none"), None);
    assert_eq!(counting.gets.load(Ordering::SeqCst), before + 2);

    change(&db, b"desc", b"v2");
    assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"v2"[..]));
    change(&db, b"none", b"now");
    assert_eq!(cached(&db, b"none").as_deref(), Some(&b"now"[..]));
}

#[test]
fn a_cache_hit_still_conflicts_with_a_metadata_change_committed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path());
    change(&db, b"desc", b"v1");
    assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"v1"[..]));

    let mut stale = db.begin();
    assert_eq!(
        stale.get_cached(b"desc").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    stale.set(b"row", b"written under v1").unwrap();
    change(&db, b"desc", b"v2");
    match stale.commit() {
        Err(TxnError::NotCommitted { range, .. }) => assert!(range.contains(b"desc")),
        other => panic!("expected a conflict on the descriptor, got {other:?}"),
    }
}

#[test]
fn a_transaction_that_changes_metadata_reads_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path());
    change(&db, b"desc", b"v1");
    assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"v1"[..]));
    let mut ddl = db.begin();
    ddl.touch_metadata_version().unwrap();
    ddl.set(b"desc", b"mine").unwrap();
    ddl.set(b"other", b"new").unwrap();
    assert_eq!(
        ddl.get_cached(b"desc").unwrap().as_deref(),
        Some(&b"mine"[..])
    );
    assert_eq!(
        ddl.get_cached(b"other").unwrap().as_deref(),
        Some(&b"new"[..])
    );
    // Everyone else still sees the committed state, from the cache.
    assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"v1"[..]));
    ddl.commit().unwrap();
    assert_eq!(cached(&db, b"desc").as_deref(), Some(&b"mine"[..]));
}

/// Readers compare each cached read with a storage read at the same read version while
/// writers keep changing the key: a cache entry from another epoch would show up as a
/// mismatch.
#[test]
fn cached_reads_equal_storage_reads_under_concurrent_metadata_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path());
    change(&db, b"desc", b"0");
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, committed) = (db.clone(), stop.clone(), committed.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                change(&db, b"desc", n.to_string().as_bytes());
                committed.store(n, Ordering::SeqCst);
            }
            n
        })
    };
    // Each reader goes on until the writer has committed a few changes during its run (on
    // a loaded machine 2000 reads could all finish before the first commit: CI once saw
    // zero changes).
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (db, committed) = (db.clone(), committed.clone());
            std::thread::spawn(move || {
                let start = committed.load(Ordering::SeqCst);
                let mut reads = 0;
                while reads < 2000 || committed.load(Ordering::SeqCst) < start + 5 {
                    let mut tx = db.begin();
                    let from_cache = tx.get_cached(b"desc").unwrap();
                    let from_storage = tx.snapshot_get(b"desc").unwrap();
                    assert_eq!(from_cache, from_storage);
                    reads += 1;
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let changes = writer.join().unwrap();
    assert!(changes > 0);
}
