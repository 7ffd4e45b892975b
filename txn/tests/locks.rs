//! Advisory write locks with read refresh (`Transaction::lock_for_update`): a writer of a
//! hot key waits for the holder, then continues at a read version that includes the
//! holder's commit, so neither conflicts; a refresh never hides a changed read.

use std::sync::Arc;
use std::time::Duration;

use ferrisdb_kv::KeyRange;
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions, TxnError};

/// A database in a fresh directory (kept alive by the returned guard).
fn open() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    (dir, Database::from_backend(Arc::new(cluster)))
}

fn num(v: Option<Vec<u8>>) -> u64 {
    v.map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap()))
}

fn put(db: &Database, key: &[u8], n: u64) {
    db.transact(|tx| tx.set(key, &n.to_le_bytes())).unwrap();
}

#[test]
fn a_lock_after_reads_moves_the_read_version_past_a_newer_commit() {
    let (_dir, db) = open();
    put(&db, b"a", 1);
    put(&db, b"k", 10);
    let mut t = db.begin();
    assert_eq!(num(t.get(b"a").unwrap()), 1);
    put(&db, b"k", 20); // committed after t's read version
    assert!(t.lock_for_update(b"k").unwrap());
    assert_eq!(
        num(t.get(b"k").unwrap()),
        20,
        "refreshed past the newer commit"
    );
    t.set(b"k", &21u64.to_le_bytes()).unwrap();
    t.commit().unwrap();
    assert_eq!(
        db.transact(|tx| tx.get(b"k")).map(|r| num(r.0)).unwrap(),
        21
    );
}

#[test]
fn a_changed_read_refuses_the_refresh_and_the_commit_conflicts() {
    let (_dir, db) = open();
    put(&db, b"a", 1);
    put(&db, b"k", 10);
    let mut t = db.begin();
    assert_eq!(num(t.get(b"a").unwrap()), 1);
    db.transact(|tx| {
        tx.set(b"a", &2u64.to_le_bytes())?;
        tx.set(b"k", &20u64.to_le_bytes())
    })
    .unwrap();
    assert!(t.lock_for_update(b"k").unwrap());
    assert_eq!(
        num(t.get(b"k").unwrap()),
        10,
        "still at the old read version"
    );
    t.set(b"k", &11u64.to_le_bytes()).unwrap();
    assert!(matches!(t.commit(), Err(TxnError::NotCommitted { .. })));
}

#[test]
fn a_range_read_is_never_refreshed() {
    let (_dir, db) = open();
    put(&db, b"k", 10);
    let mut t = db.begin();
    t.get_range(&KeyRange::new(b"a".to_vec(), b"b".to_vec()), 0, false)
        .unwrap();
    put(&db, b"a1", 5); // inside the range t read
    assert!(t.lock_for_update(b"k").unwrap());
    t.set(b"k", &11u64.to_le_bytes()).unwrap();
    assert!(matches!(t.commit(), Err(TxnError::NotCommitted { .. })));
}

#[test]
fn a_second_writer_waits_for_the_holder_and_then_commits_on_its_first_attempt() {
    let (_dir, db) = open();
    put(&db, b"k", 0);
    let mut first = db.begin();
    assert!(first.lock_for_update(b"k").unwrap());
    let n = num(first.get(b"k").unwrap());
    let second = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut t = db.begin();
            assert!(t.lock_for_update(b"k").unwrap());
            let n = num(t.get(b"k").unwrap());
            t.set(b"k", &(n + 1).to_le_bytes()).unwrap();
            t.commit().map(|_| n)
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    first.set(b"k", &(n + 1).to_le_bytes()).unwrap();
    first.commit().unwrap();
    assert_eq!(
        second.join().unwrap().unwrap(),
        1,
        "saw the first writer's commit"
    );
    assert_eq!(db.transact(|tx| tx.get(b"k")).map(|r| num(r.0)).unwrap(), 2);
    assert!(db.lock_table().is_empty());
}

#[test]
fn an_abandoned_transaction_releases_its_locks() {
    let (_dir, db) = open();
    let mut t = db.begin();
    assert!(t.lock_for_update(b"k").unwrap());
    assert!(t.lock_for_update(b"k").unwrap(), "taking it twice is fine");
    assert_eq!(t.locked_keys().len(), 1);
    assert_eq!(db.lock_table().len(), 1);
    drop(t);
    assert!(db.lock_table().is_empty());
}

/// Many writers on one counter: every increment lands exactly once.
#[test]
fn concurrent_locked_increments_of_one_key_all_land() {
    let (_dir, db) = open();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    db.transact(|tx| {
                        tx.lock_for_update(b"hot")?;
                        let n = num(tx.get(b"hot")?);
                        tx.set(b"hot", &(n + 1).to_le_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        db.transact(|tx| tx.get(b"hot")).map(|r| num(r.0)).unwrap(),
        400
    );
    assert!(db.lock_table().is_empty());
}
