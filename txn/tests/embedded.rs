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
