//! Randomized history checker, on the embedded cluster and on a coordinator with storage
//! servers over TCP: many threads run random read-write transactions; every committed transaction records what it read and wrote and its commit
//! version; replaying the history serially in commit-version order must reproduce every read.
//!
//! Each transaction writes only keys it read first, so two transactions committed in the same
//! batch (same version) never write the same key: order within a version cannot matter.
//! Snapshot reads are recorded apart and not checked (they may legally see older states).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferrisdb_txn::embedded::{EmbeddedCluster, EmbeddedOptions};
use ferrisdb_txn::{Database, RemoteBackend};

mod common;

#[derive(Debug, Clone)]
struct Committed {
    version: u64,
    reads: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn key(i: u64) -> Vec<u8> {
    format!("h/{:02}", i % 12).into_bytes()
}

fn seed() -> u64 {
    let seed = std::env::var("FERRISDB_HISTORY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("history checker seed {seed} (FERRISDB_HISTORY_SEED to replay)");
    seed
}

#[test]
fn committed_history_equals_serial_execution_in_version_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::from_backend(Arc::new(
        EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap(),
    ));
    check_history(seed(), &|| db.clone());
}

#[test]
fn committed_history_equals_serial_execution_on_separate_storage_servers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = common::runtime();
    let (coord, _coordinator) = common::start_coordinator(&rt, &dir.path().join("coord"));
    let _nodes: Vec<_> = (0..2)
        .map(|i| common::start_node(&rt, &dir.path().join(format!("s{i}")), coord))
        .collect();
    let connect = || Database::from_backend(Arc::new(RemoteBackend::connect(coord).unwrap()));
    // Wait until a storage server has taken the first shard.
    let db = connect();
    while db.transact(|tx| tx.get(b"h/00")).is_err() {}
    check_history(seed(), &connect);
}

/// Run the random transactions on databases from `connect` (one per thread) and check the
/// committed history against serial execution in commit-version order.
fn check_history(seed: u64, connect: &dyn Fn() -> Database) {
    let db = connect();
    let history = Arc::new(Mutex::new(Vec::<Committed>::new()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (db, history) = (connect(), history.clone());
            std::thread::spawn(move || {
                let mut x = (seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                for n in 0..120u64 {
                    let picks: Vec<u64> = (0..1 + next() % 4).map(|_| next()).collect();
                    let clear_mask = next();
                    let record = db.transact(|tx| {
                        let mut reads = Vec::new();
                        let mut writes = Vec::new();
                        for (i, p) in picks.iter().enumerate() {
                            let k = key(*p);
                            let v = tx.get(&k)?;
                            if !reads.iter().any(|(rk, _)| rk == &k)
                                && !writes.iter().any(|(wk, _): &(Vec<u8>, _)| wk == &k)
                            {
                                reads.push((k.clone(), v));
                            }
                            if p % 2 == 0 {
                                let w = if clear_mask >> i & 1 == 1 {
                                    None
                                } else {
                                    Some(format!("t{t}n{n}i{i}").into_bytes())
                                };
                                match &w {
                                    Some(val) => tx.set(&k, val)?,
                                    None => tx.clear(&k)?,
                                }
                                writes.retain(|(wk, _)| wk != &k);
                                writes.push((k, w));
                            }
                        }
                        Ok((reads, writes))
                    });
                    let ((reads, writes), version) = record.unwrap();
                    history.lock().unwrap().push(Committed {
                        version,
                        reads,
                        writes,
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut h = history.lock().unwrap().clone();
    h.sort_by_key(|c| c.version);
    let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut i = 0;
    while i < h.len() {
        // All transactions of one version read the state before that version.
        let j = h[i..]
            .iter()
            .position(|c| c.version != h[i].version)
            .map_or(h.len(), |p| i + p);
        for c in &h[i..j] {
            for (k, v) in &c.reads {
                assert_eq!(
                    state.get(k),
                    v.as_ref(),
                    "transaction at version {} read {k:?} out of serial order",
                    c.version
                );
            }
        }
        for c in &h[i..j] {
            for (k, w) in &c.writes {
                match w {
                    Some(v) => state.insert(k.clone(), v.clone()),
                    None => state.remove(k),
                };
            }
        }
        i = j;
    }
    // The final state equals the database.
    let (all, _) = db
        .transact(|tx| tx.get_range(&ferrisdb_kv::KeyRange::new("h/", "h0"), 0, false))
        .unwrap();
    let db_state: BTreeMap<Vec<u8>, Vec<u8>> = all.into_iter().collect();
    assert_eq!(db_state, state);
    assert!(h.len() >= 400, "{} transactions committed", h.len());
}
