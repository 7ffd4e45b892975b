//! One coordinator and three storage servers as separate `ferrisdb` processes on loopback:
//! a bank workload runs while shards spread over the storage servers, a storage server and
//! then the coordinator are killed with SIGKILL and restarted, and afterwards the total is
//! unchanged and every acknowledged write is there.

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrisdb_txn::{Database, RemoteBackend};

mod common;

use common::start;

const ACCOUNTS: u32 = 300;

fn kill(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The cluster's processes, killed however the test ends: a failed assertion must not leave
/// them running (holding the test's output pipe open, they hang whatever reads it).
struct Processes {
    coord: Child,
    storage: Vec<Child>,
}

impl Drop for Processes {
    fn drop(&mut self) {
        for c in std::iter::once(&mut self.coord).chain(self.storage.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn account(i: u32) -> Vec<u8> {
    format!("acct/{i:05}").into_bytes()
}

fn total(db: &Database) -> i64 {
    db.transact(|tx| {
        let rows = tx.get_range(
            &ferrisdb_kv::KeyRange::prefix(b"acct/").unwrap(),
            10_000,
            false,
        )?;
        assert_eq!(rows.len(), ACCOUNTS as usize, "every account is there");
        Ok(rows
            .iter()
            .map(|(_, v)| i64::from_le_bytes(v[..8].try_into().unwrap()))
            .sum())
    })
    .unwrap()
    .0
}

fn distinct_owners(remote: &RemoteBackend) -> usize {
    let map = remote.refresh_map().unwrap();
    let mut owners: Vec<_> = map.shards.iter().filter_map(|s| s.1).collect();
    owners.sort();
    owners.dedup();
    owners.len()
}

#[test]
fn bank_across_four_processes_survives_sigkill_of_storage_and_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed port for the coordinator, so it comes back where the others look for it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let coord_addr = format!("127.0.0.1:{port}");
    let coord_dir = dir.path().join("coord");
    let coord_args = ["--roles", "coordinator", "--addr", coord_addr.as_str()];
    let (coord, _) = start(&coord_dir, &coord_args);
    let storage_args = [
        "--roles",
        "storage",
        "--addr",
        "127.0.0.1:0",
        "--join",
        coord_addr.as_str(),
    ];
    let storage: Vec<Child> = (0..3)
        .map(|i| start(&dir.path().join(format!("s{i}")), &storage_args).0)
        .collect();
    let mut procs = Processes { coord, storage };

    let remote = Arc::new(RemoteBackend::connect(coord_addr.parse().unwrap()).unwrap());
    let db = Database::from_backend(remote.clone());
    db.transact(|tx| {
        for i in 0..ACCOUNTS {
            tx.set(&account(i), &100i64.to_le_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    let expected = 100 * i64::from(ACCOUNTS);

    // Transfers, plus a writer whose every acknowledged key must survive the kills.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<u32>::new()));
    let mut workers = Vec::new();
    for w in 0..3u32 {
        let db = Database::from_backend(Arc::new(
            RemoteBackend::connect(coord_addr.parse().unwrap()).unwrap(),
        ));
        let stop = stop.clone();
        workers.push(std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (a, b) = ((n * 7 + w * 31) % ACCOUNTS, (n * 13 + w) % ACCOUNTS);
                if a == b {
                    continue;
                }
                db.transact(|tx| {
                    for (k, d) in [(account(a), -3i64), (account(b), 3)] {
                        let v = tx.get(&k)?.expect("account exists");
                        let x = i64::from_le_bytes(v[..8].try_into().unwrap()) + d;
                        tx.set(&k, &x.to_le_bytes())?;
                    }
                    Ok(())
                })
                .expect("transfer");
            }
        }));
    }
    {
        let db = Database::from_backend(Arc::new(
            RemoteBackend::connect(coord_addr.parse().unwrap()).unwrap(),
        ));
        let (stop, acked) = (stop.clone(), acked.clone());
        workers.push(std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let key = format!("ack/{n:08}").into_bytes();
                if db.transact(|tx| tx.set(&key, b"x")).is_ok() {
                    acked.lock().unwrap().push(n);
                }
            }
        }));
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    while distinct_owners(&remote) < 3 {
        assert!(
            Instant::now() < deadline,
            "shards did not spread: {}",
            remote.status().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // SIGKILL a storage server mid-run and restart it on the same data.
    kill(&mut procs.storage[1]);
    std::thread::sleep(Duration::from_millis(500));
    procs.storage[1] = start(&dir.path().join("s1"), &storage_args).0;
    std::thread::sleep(Duration::from_secs(2));

    // SIGKILL the coordinator mid-run and restart it on the same port and data.
    kill(&mut procs.coord);
    std::thread::sleep(Duration::from_millis(500));
    procs.coord = start(&coord_dir, &coord_args).0;
    std::thread::sleep(Duration::from_secs(3));

    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(total(&db), expected, "the bank total never changes");
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    let found = db
        .transact(|tx| {
            tx.get_range(
                &ferrisdb_kv::KeyRange::prefix(b"ack/").unwrap(),
                1_000_000,
                false,
            )
        })
        .unwrap()
        .0;
    let found: std::collections::HashSet<Vec<u8>> = found.into_iter().map(|(k, _)| k).collect();
    for n in &acked {
        assert!(
            found.contains(format!("ack/{n:08}").as_bytes()),
            "acknowledged write {n} lost"
        );
    }
    let status = remote.status().unwrap();
    assert_eq!(status.matches(" alive").count(), 3, "{status}");
}
