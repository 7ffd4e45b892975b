//! The embedded cluster's own behaviour: durability across reopen, and read versions that
//! keep up with the clock.

use std::sync::Arc;
use std::time::Duration;

use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions, TxnError};

fn open(dir: &std::path::Path, window: u64) -> Database {
    let opts = EmbeddedOptions {
        mvcc_window: window,
        ..EmbeddedOptions::default()
    };
    Database::from_backend(Arc::new(EmbeddedCluster::open(dir, opts).unwrap()))
}

fn read_modify_write(db: &Database) -> Result<u64, TxnError> {
    let (n, _) = db.transact(|tx| {
        let n = tx
            .get(b"n")?
            .map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap()));
        tx.set(b"n", &(n + 1).to_le_bytes())?;
        Ok(n + 1)
    })?;
    Ok(n)
}

/// history.rs found: on a fresh cluster the read version was 0, far below the first
/// clock-derived commit version, so every read-write transaction was `TooOld` forever.
#[test]
fn read_write_transaction_on_a_fresh_cluster_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), 5_000_000);
    assert_eq!(read_modify_write(&db).unwrap(), 1);
}

/// The same bug after idling: the read version must keep up with the clock.
#[test]
fn read_write_transaction_after_idling_longer_than_the_window_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), 100_000);
    assert_eq!(read_modify_write(&db).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_modify_write(&db).unwrap(), 2);
}

#[test]
fn committed_data_survives_reopen_and_versions_keep_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = {
        let db = open(dir.path(), 5_000_000);
        read_modify_write(&db).unwrap();
        db.transact(|tx| tx.set(b"k", b"v")).unwrap().1
    };
    let db = open(dir.path(), 5_000_000);
    assert_eq!(read_modify_write(&db).unwrap(), 2);
    let (got, v2) = db
        .transact(|tx| {
            tx.set(b"k2", b"v2")?;
            tx.get(b"k")
        })
        .unwrap();
    assert_eq!(got, Some(b"v".to_vec()));
    assert!(
        v2 > v1,
        "commit versions never go back across a restart: {v1} then {v2}"
    );
}

/// A transaction that keeps its reads, all single keys, outlives the 5 s MVCC window: past
/// 2.5 s its next operation moves the read version forward when every value it read is
/// unchanged (kept values, since the old version may no longer be readable). pgbench -i
/// at scale 40 failed at its final COMMIT with "transaction too old": its block sat idle
/// beside a 60 s COPY. A read that changed meanwhile, or a range read, still ends it.
#[test]
fn a_long_transaction_commits_when_its_reads_are_unchanged_and_fails_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), 5_000_000);
    db.transact(|tx| {
        tx.set(b"a", b"1")?;
        tx.set(b"b", b"1")?;
        tx.set(b"c1", b"1")?;
        tx.set(b"c2", b"2")
    })
    .unwrap();
    let mut unchanged = db.begin();
    unchanged.keep_reads();
    assert_eq!(unchanged.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    // Without kept reads the refresh must read at the old version, gone after the window.
    let mut forgetful = db.begin();
    assert_eq!(forgetful.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    let mut changed = db.begin();
    changed.keep_reads();
    assert_eq!(changed.get(b"b").unwrap().as_deref(), Some(&b"1"[..]));
    let mut ranged = db.begin();
    assert_eq!(
        ranged
            .get_range(
                &ferrisdb_kv::KeyRange::new(b"c".to_vec(), b"d".to_vec()),
                0,
                false
            )
            .unwrap()
            .len(),
        2
    );
    db.transact(|tx| tx.set(b"b", b"2")).unwrap();
    // Other commits move the cluster's version on while the three wait.
    for i in 0..30u32 {
        db.transact(|tx| tx.set(b"other", &i.to_le_bytes()))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    unchanged.set(b"a", b"2").unwrap();
    unchanged
        .commit()
        .expect("reads unchanged: the read version moved forward");
    let e = forgetful
        .set(b"z", b"1")
        .and_then(|()| forgetful.commit())
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let e = changed
        .set(b"b", b"3")
        .and_then(|()| changed.commit())
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let e = ranged
        .set(b"c3", b"3")
        .and_then(|()| ranged.commit())
        .unwrap_err();
    assert!(matches!(e, TxnError::TooOld { .. }), "{e}");
    let a = db.transact(|tx| tx.get(b"a")).unwrap().0;
    let b = db.transact(|tx| tx.get(b"b")).unwrap().0;
    assert_eq!(
        (a.as_deref(), b.as_deref()),
        (Some(&b"2"[..]), Some(&b"2"[..]))
    );
}
