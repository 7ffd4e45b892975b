//! The async client API on the embedded cluster: `AsyncTransaction` keeps the synchronous
//! API's semantics, tasks and threads commit through the same pipeline at once, and an
//! acknowledged async commit is visible to every transaction that starts after it, from
//! either API, and durable across a reopen.
//!
//! Embedded, a batch led for tasks is acknowledged once its log entry is durable and applied
//! by the apply thread afterwards; these tests are what fails if a read version ever runs
//! ahead of what storage can serve or an apply is lost or reordered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferrisdb_kv::KeyRange;
use ferrisdb_txn::embedded::{EmbeddedCluster, EmbeddedOptions};
use ferrisdb_txn::{Database, TxnError};

fn open(dir: &std::path::Path) -> Database {
    Arc::new(EmbeddedCluster::open(dir, EmbeddedOptions::default()).unwrap()).database()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn num(v: Option<Vec<u8>>) -> i64 {
    v.map(|b| i64::from_le_bytes(b.try_into().expect("8-byte number")))
        .unwrap_or(0)
}

#[test]
fn async_transaction_reads_its_writes_ranges_and_conflicts_like_the_sync_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    runtime().block_on(async {
        let mut tx = db.begin_async();
        tx.set(b"a/1", b"one").unwrap();
        tx.set(b"a/2", b"two").unwrap();
        tx.atomic_add(b"n", 5).unwrap();
        assert_eq!(tx.get(b"a/1").await.unwrap(), Some(b"one".to_vec()));
        assert_eq!(num(tx.get(b"n").await.unwrap()), 5);
        let v1 = tx.commit().await.unwrap();

        let mut tx = db.begin_async();
        tx.clear(b"a/1").unwrap();
        let rows = tx
            .get_range(&KeyRange::new("a/", "a0"), 0, false)
            .await
            .unwrap();
        assert_eq!(rows, vec![(b"a/2".to_vec(), b"two".to_vec())]);
        let back = tx
            .get_range(&KeyRange::new("a/", "a0"), 1, true)
            .await
            .unwrap();
        assert_eq!(back, vec![(b"a/2".to_vec(), b"two".to_vec())]);
        // Read `n`, let another transaction change it, then write: a conflict.
        assert_eq!(num(tx.get(b"n").await.unwrap()), 5);
        let mut other = db.begin_async();
        other.set(b"n", &9i64.to_le_bytes()).unwrap();
        let v2 = other.commit().await.unwrap();
        assert!(v2 > v1);
        tx.set(b"n", &6i64.to_le_bytes()).unwrap();
        let e = tx.commit().await.unwrap_err();
        assert!(matches!(e, TxnError::NotCommitted { .. }), "{e}");
        assert!(e.is_retryable());

        // A snapshot read adds no conflict.
        let mut tx = db.begin_async();
        assert_eq!(num(tx.snapshot_get(b"n").await.unwrap()), 9);
        let mut other = db.begin_async();
        other.set(b"n", &10i64.to_le_bytes()).unwrap();
        other.commit().await.unwrap();
        tx.set(b"m", b"x").unwrap();
        tx.commit().await.unwrap();

        // Limits are the sync API's.
        let mut tx = db.begin_async();
        let e = tx.set(b"k", &vec![0u8; 100_001]).unwrap_err();
        assert!(matches!(e, TxnError::ValueTooLarge { .. }), "{e}");
    });
    // The sync API sees what the async one committed.
    let (v, _) = db.transact(|tx| tx.get(b"n")).unwrap();
    assert_eq!(num(v), 10);
}

#[test]
fn transact_async_retries_conflicts_so_concurrent_increments_all_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    const TASKS: u64 = 32;
    const EACH: u64 = 20;
    runtime().block_on(async {
        let mut handles = Vec::new();
        for _ in 0..TASKS {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..EACH {
                    // Read-modify-write on one key: conflicts are certain, and retried.
                    db.transact_async(|tx| {
                        Box::pin(async move {
                            let n = num(tx.get(b"counter").await?);
                            tx.set(b"counter", &(n + 1).to_le_bytes())
                        })
                    })
                    .await
                    .unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let (n, _) = db.transact(|tx| tx.get(b"counter")).unwrap();
    assert_eq!(num(n), (TASKS * EACH) as i64);
}

/// Tasks (commit thread, apply thread) and threads (leaders applying in place) commit at
/// once. Every acknowledged commit must be visible to the next transaction its client
/// starts, whichever API, and every one must survive closing and reopening the cluster.
#[test]
fn acknowledged_commits_from_tasks_and_threads_are_visible_at_once_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    const TASKS: u64 = 48;
    const THREADS: u64 = 4;
    const EACH: u64 = 40;
    let acked = Arc::new(AtomicU64::new(0));
    {
        let db = open(dir.path());
        let rt = runtime();
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let (db, acked) = (db.clone(), acked.clone());
            tasks.push(rt.spawn(async move {
                for i in 0..EACH {
                    let key = format!("t/{t:03}/{i:03}").into_bytes();
                    let value = (t * 1000 + i).to_le_bytes();
                    db.transact_async(|tx| Box::pin(async { tx.set(&key, &value) }))
                        .await
                        .unwrap();
                    acked.fetch_add(1, Ordering::Relaxed);
                    // Acknowledged: a new transaction (async) must see it.
                    let (seen, _) = db
                        .transact_async(|tx| Box::pin(async { tx.get(&key).await }))
                        .await
                        .unwrap();
                    assert_eq!(seen.as_deref(), Some(&value[..]), "task {t} write {i}");
                }
            }));
        }
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (db, acked) = (db.clone(), acked.clone());
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        let key = format!("s/{t:03}/{i:03}").into_bytes();
                        db.transact(|tx| tx.set(&key, b"sync")).unwrap();
                        acked.fetch_add(1, Ordering::Relaxed);
                        let (seen, _) = db.transact(|tx| tx.get(&key)).unwrap();
                        assert_eq!(seen.as_deref(), Some(&b"sync"[..]), "thread {t} write {i}");
                        // And a task's latest write, read from a thread, is there too.
                        let probe = format!("t/{:03}/000", t).into_bytes();
                        let _ = db.transact(|tx| tx.get(&probe)).unwrap();
                    }
                })
            })
            .collect();
        for h in tasks {
            rt.block_on(h).unwrap();
        }
        for h in threads {
            h.join().unwrap();
        }
    }
    assert_eq!(acked.load(Ordering::Relaxed), (TASKS + THREADS) * EACH);
    let db = open(dir.path());
    let (rows, _) = db
        .transact(|tx| {
            let t = tx.get_range(&KeyRange::new("t/", "t0"), 0, false)?;
            let s = tx.get_range(&KeyRange::new("s/", "s0"), 0, false)?;
            Ok((t, s))
        })
        .unwrap();
    assert_eq!(
        rows.0.len() as u64,
        TASKS * EACH,
        "every task commit survived"
    );
    assert_eq!(
        rows.1.len() as u64,
        THREADS * EACH,
        "every thread commit survived"
    );
    for (k, v) in rows.0 {
        let s = std::str::from_utf8(&k).unwrap();
        let t: u64 = s[2..5].parse().unwrap();
        let i: u64 = s[6..9].parse().unwrap();
        assert_eq!(v, (t * 1000 + i).to_le_bytes(), "{s}");
    }
}
