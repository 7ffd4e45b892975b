//! Bank workload on the embedded cluster: concurrent transfers between accounts while auditors
//! read every balance in one transaction. Serializability means every audit sees the same
//! total, and the total survives closing and reopening the cluster.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ferrisdb_kv::KeyRange;
use ferrisdb_txn::embedded::{EmbeddedCluster, EmbeddedOptions};
use ferrisdb_txn::{Database, TxnError};

const ACCOUNTS: u64 = 20;
const START: i64 = 1000;

fn account(i: u64) -> Vec<u8> {
    format!("acct/{i:04}").into_bytes()
}

fn balance(v: Option<Vec<u8>>) -> i64 {
    v.map(|b| i64::from_le_bytes(b.try_into().expect("8-byte balance")))
        .unwrap_or(0)
}

fn open(dir: &std::path::Path) -> Database {
    Database::from_backend(Arc::new(
        EmbeddedCluster::open(dir, EmbeddedOptions::default()).unwrap(),
    ))
}

fn total(db: &Database) -> i64 {
    let (sum, _) = db
        .transact(|tx| {
            let all = tx.get_range(&KeyRange::new("acct/", "acct0"), 0, false)?;
            assert_eq!(all.len() as u64, ACCOUNTS, "every account is visible");
            Ok(all.into_iter().map(|(_, v)| balance(Some(v))).sum::<i64>())
        })
        .unwrap();
    sum
}

fn transfers(db: &Database, seed: u64, n: u64, done: &AtomicU64) {
    let mut x = seed | 1;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b, amount) = (x % ACCOUNTS, (x >> 8) % ACCOUNTS, ((x >> 16) % 50) as i64);
        if a == b {
            continue;
        }
        db.transact(|tx| {
            let from = balance(tx.get(&account(a))?);
            if from < amount {
                return Ok(());
            }
            let to = balance(tx.get(&account(b))?);
            tx.set(&account(a), &(from - amount).to_le_bytes())?;
            tx.set(&account(b), &(to + amount).to_le_bytes())?;
            Ok::<_, TxnError>(())
        })
        .unwrap();
        done.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn concurrent_transfers_keep_the_total_through_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let db = open(dir.path());
        if round == 0 {
            db.transact(|tx| {
                for i in 0..ACCOUNTS {
                    tx.set(&account(i), &START.to_le_bytes())?;
                }
                Ok(())
            })
            .unwrap();
        }
        let expected = START * ACCOUNTS as i64;
        assert_eq!(
            total(&db),
            expected,
            "round {round} starts with the full total"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let auditor = {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut audits = 0;
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(
                        total(&db),
                        expected,
                        "an audit saw money created or destroyed"
                    );
                    audits += 1;
                }
                audits
            })
        };
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let (db, done) = (db.clone(), done.clone());
                std::thread::spawn(move || {
                    transfers(&db, 0x9e37_79b9 * (t + 1) + round, 150, &done)
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(auditor.join().unwrap() > 0);
        assert_eq!(total(&db), expected);
        assert!(
            done.load(Ordering::Relaxed) > 400,
            "most transfers committed"
        );
    }
}
