//! Concurrency: several writer threads at once, and readers holding snapshots while flushes
//! and compactions run underneath them must see unchanging results.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ferrisdb_storage::{Direction, Engine, WriteBatch};

fn key(i: u64) -> Vec<u8> {
    format!("k{:06}", i % 5000).into_bytes()
}

#[test]
fn snapshots_are_stable_while_writers_flush_and_compact() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), common::tiny_options()).unwrap());
    let version = Arc::new(AtomicU64::new(1));
    // Seed some data, then take snapshots that readers keep re-checking.
    for i in 0..2000 {
        engine
            .put(
                &key(i),
                version.fetch_add(1, Ordering::SeqCst),
                format!("seed{i}").as_bytes(),
            )
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3u64)
        .map(|t| {
            let (engine, version, stop) = (engine.clone(), version.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let mut b = WriteBatch::new();
                    let v = version.fetch_add(1, Ordering::SeqCst);
                    // Each batch writes the same value to a pair of keys: readers must see
                    // both halves of every batch or neither.
                    b.put(&key(i), v, format!("pair{v}").as_bytes()).unwrap();
                    b.put(&key(i + 2500), v, format!("pair{v}").as_bytes())
                        .unwrap();
                    if i % 7 == 0 {
                        b.delete(&key(i + 1), v).unwrap();
                    }
                    engine.write(b).unwrap();
                    i += 3;
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (engine, version, stop) = (engine.clone(), version.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut checks = 0;
                while !stop.load(Ordering::Relaxed) {
                    let at = version.load(Ordering::SeqCst);
                    let snap = engine.snapshot(at);
                    let first: Vec<_> = snap
                        .scan(.., Direction::Forward)
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    for _ in 0..3 {
                        std::thread::yield_now();
                        let again: Vec<_> = snap
                            .scan(.., Direction::Forward)
                            .unwrap()
                            .map(Result::unwrap)
                            .collect();
                        assert_eq!(first.len(), again.len(), "snapshot at {at} changed size");
                        assert!(first == again, "snapshot at {at} changed content");
                        let mut rev: Vec<_> = snap
                            .scan(.., Direction::Reverse)
                            .unwrap()
                            .map(Result::unwrap)
                            .collect();
                        rev.reverse();
                        assert!(first == rev, "reverse scan disagrees with forward at {at}");
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let checks: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(checks > 0);
    let stats = engine.stats();
    assert!(
        stats.flushes > 0,
        "flushes happened under the readers: {stats}"
    );
    assert!(
        stats.compactions > 0,
        "compactions happened under the readers: {stats}"
    );
}

#[test]
fn batches_are_visible_atomically_to_concurrent_readers() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), common::tiny_options()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut v = 1u64;
            while !stop.load(Ordering::Relaxed) {
                let mut b = WriteBatch::new();
                for j in 0..10u64 {
                    b.put(format!("atom{j}").as_bytes(), v, &v.to_le_bytes())
                        .unwrap();
                }
                engine.write(b).unwrap();
                v += 1;
            }
        })
    };
    let mut observed = 0;
    while observed < 300 {
        let vals: Vec<_> = engine
            .scan(.., u64::MAX, Direction::Forward)
            .unwrap()
            .map(|r| r.unwrap().1)
            .collect();
        if !vals.is_empty() {
            assert_eq!(
                vals.len(),
                10,
                "all keys of the first batch appear together"
            );
            assert!(
                vals.windows(2).all(|w| w[0] == w[1]),
                "a scan saw a partly applied batch: {vals:?}"
            );
        }
        observed += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}

#[test]
fn concurrent_writers_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), common::tiny_options()).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 0..500u64 {
                    engine
                        .put(
                            format!("t{t}-{i:04}").as_bytes(),
                            t * 1000 + i,
                            format!("{t}/{i}").as_bytes(),
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    engine.wait_for_compactions().unwrap();
    for t in 0..8u64 {
        for i in 0..500u64 {
            assert_eq!(
                engine
                    .get(format!("t{t}-{i:04}").as_bytes(), u64::MAX)
                    .unwrap(),
                Some(format!("{t}/{i}").into_bytes())
            );
        }
    }
    let n = engine
        .scan(.., u64::MAX, Direction::Forward)
        .unwrap()
        .count();
    assert_eq!(n, 4000);
}

#[test]
fn sixteen_durable_writers_share_fsyncs_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ferrisdb_storage::Options {
        sync_mode: ferrisdb_storage::SyncMode::GroupCommit,
        ..common::tiny_options()
    };
    let engine = Arc::new(Engine::open(dir.path(), opts).unwrap());
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 0..150u64 {
                    engine
                        .put(
                            format!("d{t:02}-{i:03}").as_bytes(),
                            1 + t * 1000 + i,
                            b"durable",
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = engine.stats();
    assert_eq!(stats.writes, 16 * 150);
    assert_eq!(
        stats.wal_syncs, stats.write_groups,
        "every group is synced once"
    );
    assert!(
        stats.write_groups < stats.writes,
        "concurrent writers shared fsyncs: {stats}"
    );
    let n = engine
        .scan(.., u64::MAX, Direction::Forward)
        .unwrap()
        .count();
    assert_eq!(n, 16 * 150);
}

/// Group commit lets followers insert their own batches while the leader syncs. Each writer
/// must still see its batch the moment `write` returns, and readers must never see part of a
/// batch, across memtable rotations (the tiny options rotate every few kilobytes).
#[test]
fn group_commit_followers_insert_their_batches_atomically_and_visibly() {
    const WRITERS: u64 = 6;
    const BATCHES: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let opts = ferrisdb_storage::Options {
        sync_mode: ferrisdb_storage::SyncMode::GroupCommit,
        ..common::tiny_options()
    };
    let engine = Arc::new(Engine::open(dir.path(), opts).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut scans = 0u64;
                while !stop.load(Ordering::Relaxed) || scans == 0 {
                    for t in 0..WRITERS {
                        let lo = format!("g{t}-");
                        let hi = format!("g{t}.");
                        let vals: Vec<_> = engine
                            .scan(
                                (
                                    std::ops::Bound::Included(lo.as_bytes()),
                                    std::ops::Bound::Excluded(hi.as_bytes()),
                                ),
                                u64::MAX,
                                Direction::Forward,
                            )
                            .unwrap()
                            .map(|r| r.unwrap().1)
                            .collect();
                        assert!(
                            vals.is_empty() || vals.len() == 4,
                            "writer {t}: a scan saw {} of a batch's 4 keys",
                            vals.len()
                        );
                        assert!(
                            vals.windows(2).all(|w| w[0] == w[1]),
                            "writer {t}: a scan saw a partly applied batch: {vals:?}"
                        );
                    }
                    scans += 1;
                }
                scans
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 1..=BATCHES {
                    let version = t * 10_000 + i;
                    let mut b = WriteBatch::new();
                    for j in 0..4 {
                        b.put(format!("g{t}-{j}").as_bytes(), version, &i.to_le_bytes())
                            .unwrap();
                    }
                    engine.write(b).unwrap();
                    for j in 0..4 {
                        assert_eq!(
                            engine
                                .get(format!("g{t}-{j}").as_bytes(), u64::MAX)
                                .unwrap(),
                            Some(i.to_le_bytes().to_vec()),
                            "writer {t} batch {i} key {j} is visible once write returns"
                        );
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let stats = engine.stats();
    assert_eq!(stats.writes, WRITERS * BATCHES * 4);
    assert_eq!(stats.wal_syncs, stats.write_groups);
    drop(engine);
    // Everything acknowledged is still there after reopening (WAL replay of the groups).
    let engine = Engine::open(dir.path(), common::tiny_options()).unwrap();
    for t in 0..WRITERS {
        for j in 0..4 {
            assert_eq!(
                engine
                    .get(format!("g{t}-{j}").as_bytes(), u64::MAX)
                    .unwrap(),
                Some(BATCHES.to_le_bytes().to_vec())
            );
        }
    }
}
