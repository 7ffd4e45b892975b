//! A coordinator and three storage servers over loopback TCP, in one test process: the
//! shards spread over the servers as data arrives, a bank workload keeps its total while
//! shards move, and a restarted storage server catches up from the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrisdb_kv::transport::{serve, FrameLimits};
use ferrisdb_kv::StorageServerOptions;
use ferrisdb_txn::cluster::StorageNode;
use ferrisdb_txn::{Database, RemoteBackend, TxnBackend};

mod common;
use common::{runtime, start_coordinator, start_node};

const ACCOUNTS: u32 = 400;

fn account(i: u32) -> Vec<u8> {
    format!("acct/{i:05}").into_bytes()
}

fn owners(db: &RemoteBackend) -> usize {
    let map = db.refresh_map().unwrap();
    let mut addrs: Vec<_> = map.shards.iter().filter_map(|s| s.1).collect();
    addrs.sort();
    addrs.dedup();
    addrs.len()
}

fn total(db: &Database) -> i64 {
    db.transact(|tx| {
        let mut sum = 0i64;
        for i in 0..ACCOUNTS {
            let v = tx.get(&account(i))?.expect("every account exists");
            sum += i64::from_le_bytes(v[..8].try_into().unwrap());
        }
        Ok(sum)
    })
    .unwrap()
    .0
}

#[test]
fn bank_total_holds_while_shards_spread_over_three_storage_servers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (coord_addr, _coordinator) = start_coordinator(&rt, &dir.path().join("coord"));
    let mut nodes: Vec<_> = (0..3)
        .map(|i| {
            Some(start_node(
                &rt,
                &dir.path().join(format!("s{i}")),
                coord_addr,
            ))
        })
        .collect();

    let remote = Arc::new(RemoteBackend::connect(coord_addr).unwrap());
    let db = Database::from_backend(remote.clone());
    db.transact(|tx| {
        for i in 0..ACCOUNTS {
            tx.set(&account(i), &100i64.to_le_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(total(&db), 100 * i64::from(ACCOUNTS));

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4u32)
        .map(|w| {
            let db = Database::from_backend(Arc::new(RemoteBackend::connect(coord_addr).unwrap()));
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let (a, b) = ((n * 7 + w * 13) % ACCOUNTS, (n * 11 + w * 5 + 1) % ACCOUNTS);
                    if a == b {
                        continue;
                    }
                    db.transact(|tx| {
                        let amount = i64::from(n % 10);
                        for (k, d) in [(account(a), -amount), (account(b), amount)] {
                            let v = tx.get(&k)?.expect("account exists");
                            let x = i64::from_le_bytes(v[..8].try_into().unwrap()) + d;
                            tx.set(&k, &x.to_le_bytes())?;
                        }
                        Ok(())
                    })
                    .unwrap();
                }
                n
            })
        })
        .collect();

    // The shards spread over all three servers while transfers run.
    let deadline = Instant::now() + Duration::from_secs(90);
    while owners(&remote) < 3 {
        assert!(
            Instant::now() < deadline,
            "shards did not spread: {}",
            remote.status().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(total(&db), 100 * i64::from(ACCOUNTS));

    // Restart one storage server: it catches up from the log and serves its shards again.
    let (node, handle) = nodes[1].take().unwrap();
    rt.block_on(handle.shutdown());
    node.stop();
    std::thread::sleep(Duration::from_millis(300));
    nodes[1] = Some(start_node(&rt, &dir.path().join("s1"), coord_addr));
    std::thread::sleep(Duration::from_millis(500));

    stop.store(true, Ordering::Relaxed);
    let done: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(done > 0);
    assert_eq!(total(&db), 100 * i64::from(ACCOUNTS));
    let status = remote.status().unwrap();
    assert!(status.contains("alive"), "{status}");
}

/// Found by `ferrisdb bench kv`: the storage node's heartbeat and pull threads shared one
/// connection whose reader task ran on the heartbeat thread's runtime, so a pulled entry was
/// only read when the next heartbeat went out (every 200 ms): each read right after a commit
/// waited for it. With reads allowed to wait only 100 ms, that bug fails nearly every read.
#[test]
fn a_read_right_after_a_commit_does_not_wait_for_a_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (coord_addr, _coordinator) = start_coordinator(&rt, &dir.path().join("coord"));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let opts = StorageServerOptions {
        read_wait: Duration::from_millis(100),
        ..StorageServerOptions::default()
    };
    let node = StorageNode::start(&dir.path().join("s"), addr, coord_addr, opts).unwrap();
    let _reads = rt
        .block_on(serve(
            listener,
            Arc::new(node.service()),
            FrameLimits::default(),
        ))
        .unwrap();
    let remote = Arc::new(RemoteBackend::connect(coord_addr).unwrap());
    let db = Database::from_backend(remote.clone());
    // Wait for the node to take the first shard.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.transact(|tx| tx.get(b"k")).is_err() {
        assert!(
            Instant::now() < deadline,
            "the storage server never took its shard"
        );
    }
    for i in 0..10u8 {
        db.transact(|tx| tx.set(b"k", &[i])).unwrap();
        let v = remote.read_version().unwrap();
        assert_eq!(remote.get(b"k", v).unwrap(), Some(vec![i]), "read {i}");
    }
}
