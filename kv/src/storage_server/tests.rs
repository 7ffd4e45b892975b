use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;

fn all() -> Vec<KeyRange> {
    vec![KeyRange::new(Vec::new(), vec![0xff])]
}

fn small_opts() -> StorageServerOptions {
    StorageServerOptions {
        read_wait: Duration::from_millis(50),
        mvcc_window: 1000,
        sync_apply: true,
        engine: Options {
            memtable_size: 64 << 10,
            ..Options::default()
        },
    }
}

fn set(k: &str, v: &str) -> Mutation {
    Mutation::Set {
        key: k.into(),
        value: v.into(),
    }
}

#[test]
fn reads_see_the_newest_write_at_or_below_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
    s.apply(&[
        (10, vec![set("k", "a")]),
        (20, vec![set("k", "b"), set("j", "x")]),
    ])
    .unwrap();
    assert_eq!(s.get(b"k", 9).unwrap(), None);
    assert_eq!(s.get(b"k", 15).unwrap(), Some(b"a".to_vec()));
    assert_eq!(s.get(b"k", 20).unwrap(), Some(b"b".to_vec()));
    let r = s.get_range(&KeyRange::new("a", "z"), 20, 10, true).unwrap();
    assert_eq!(
        r,
        vec![
            (b"k".to_vec(), b"b".to_vec()),
            (b"j".to_vec(), b"x".to_vec())
        ]
    );
    assert_eq!(
        s.get_range(&KeyRange::new("a", "z"), 20, 1, false)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn future_version_times_out_retryably_and_too_old_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
    s.apply(&[(5000, vec![set("k", "a")])]).unwrap();
    let e = s.get(b"k", 6000).unwrap_err();
    assert!(
        matches!(
            e,
            KvError::FutureVersion {
                requested: 6000,
                applied: 5000
            }
        ) && e.is_retryable(),
        "{e}"
    );
    let e = s.get(b"k", 3999).unwrap_err();
    assert!(
        matches!(e, KvError::TransactionTooOld { .. }) && e.is_retryable(),
        "{e}"
    );
    assert_eq!(
        s.get(b"k", 4000).unwrap(),
        None,
        "the window's oldest version is still readable"
    );
}

#[test]
fn a_waiting_reader_is_released_by_apply() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StorageServerOptions {
        read_wait: Duration::from_secs(10),
        ..small_opts()
    };
    let s = Arc::new(StorageServer::open(dir.path(), all(), opts).unwrap());
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || s.get(b"k", 7))
    };
    std::thread::sleep(Duration::from_millis(20));
    s.apply(&[(7, vec![set("k", "seven")])]).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), Some(b"seven".to_vec()));
}

#[test]
fn atomic_add_and_clear_range_see_earlier_mutations_of_the_same_batch() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
    let add = |d: i64| Mutation::AtomicAdd {
        key: b"n".to_vec(),
        delta: d,
    };
    s.apply(&[
        (1, vec![add(5), add(3)]),
        (2, vec![add(-10), set("a1", "x"), set("a2", "y")]),
    ])
    .unwrap();
    assert_eq!(s.get(b"n", 1).unwrap(), Some(8i64.to_le_bytes().to_vec()));
    assert_eq!(
        s.get(b"n", 2).unwrap(),
        Some((-2i64).to_le_bytes().to_vec())
    );
    s.apply(&[(
        3,
        vec![
            set("a3", "z"),
            Mutation::ClearRange {
                range: KeyRange::new("a", "b"),
            },
            set("a2", "again"),
        ],
    )])
    .unwrap();
    let r = s.get_range(&KeyRange::new("a", "b"), 3, 10, false).unwrap();
    assert_eq!(r, vec![(b"a2".to_vec(), b"again".to_vec())]);
    assert_eq!(
        s.get_range(&KeyRange::new("a", "b"), 2, 10, false)
            .unwrap()
            .len(),
        2,
        "history stays"
    );
}

#[test]
fn reapplying_is_idempotent_and_the_applied_version_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
        s.apply(&[(
            1,
            vec![Mutation::AtomicAdd {
                key: b"n".to_vec(),
                delta: 1,
            }],
        )])
        .unwrap();
        s.apply(&[(
            1,
            vec![Mutation::AtomicAdd {
                key: b"n".to_vec(),
                delta: 1,
            }],
        )])
        .unwrap();
        assert_eq!(s.applied_version(), 1);
    }
    let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
    assert_eq!(s.applied_version(), 1);
    s.apply(&[
        (
            1,
            vec![Mutation::AtomicAdd {
                key: b"n".to_vec(),
                delta: 1,
            }],
        ),
        (
            2,
            vec![Mutation::AtomicAdd {
                key: b"n".to_vec(),
                delta: 1,
            }],
        ),
    ])
    .unwrap();
    assert_eq!(
        s.get(b"n", 2).unwrap(),
        Some(2i64.to_le_bytes().to_vec()),
        "version 1 was not applied twice"
    );
}

#[test]
fn keys_outside_the_owned_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), vec![KeyRange::new("a", "m")], small_opts()).unwrap();
    assert!(s.get(b"b", 0).is_ok());
    let e = s.get(b"x", 0).unwrap_err();
    assert!(matches!(e, KvError::WrongShard { .. }) && e.is_retryable());
}

#[derive(Clone, Debug)]
enum Op {
    Set(u8, u8),
    Clear(u8),
    ClearRange(u8, u8),
    Add(u8, i8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8, any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
        (0u8..8).prop_map(Op::Clear),
        (0u8..8, 0u8..9).prop_map(|(a, b)| Op::ClearRange(a, b)),
        (0u8..8, any::<i8>()).prop_map(|(k, d)| Op::Add(k, d)),
    ]
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', b'0' + k]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Applied in random chunks, the server matches a versioned BTreeMap model at every version.
    #[test]
    fn matches_a_versioned_model(txns in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..30), chunk in 1usize..6) {
        let dir = tempfile::tempdir().unwrap();
        let s = StorageServer::open(dir.path(), all(), StorageServerOptions { mvcc_window: 1_000_000, ..small_opts() }).unwrap();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut history: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![model.clone()];
        let mut entries = Vec::new();
        for (i, ops) in txns.iter().enumerate() {
            let mut ms = Vec::new();
            for o in ops {
                match *o {
                    Op::Set(k, v) => { model.insert(key(k), vec![v]); ms.push(Mutation::Set { key: key(k), value: vec![v] }); }
                    Op::Clear(k) => { model.remove(&key(k)); ms.push(Mutation::Clear { key: key(k) }); }
                    Op::ClearRange(a, b) => {
                        let r = KeyRange::new(key(a), key(b));
                        model.retain(|k, _| !r.contains(k));
                        ms.push(Mutation::ClearRange { range: r });
                    }
                    Op::Add(k, d) => {
                        let sum = Mutation::add_le(model.get(&key(k)).map(Vec::as_slice), d as i64);
                        model.insert(key(k), sum.to_vec());
                        ms.push(Mutation::AtomicAdd { key: key(k), delta: d as i64 });
                    }
                }
            }
            entries.push(((i + 1) as u64, ms));
            history.push(model.clone());
        }
        for c in entries.chunks(chunk) {
            s.apply(c).unwrap();
        }
        for (v, want) in history.iter().enumerate() {
            let got: BTreeMap<_, _> = s.get_range(&KeyRange::new("k", "l"), v as u64, 100, false).unwrap().into_iter().collect();
            prop_assert_eq!(&got, want, "at version {}", v);
        }
    }
}

fn rows(s: &StorageServer, v: Version) -> Vec<(Vec<u8>, Vec<u8>)> {
    s.get_range(&KeyRange::new("a", "z"), v, 100, false)
        .unwrap()
}

#[test]
fn mutations_outside_the_owned_shards_are_skipped_and_clear_range_is_clipped() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), vec![KeyRange::new("a", "z")], small_opts()).unwrap();
    s.apply(&[(
        5,
        vec![
            set("b", "1"),
            set("zz", "outside"),
            Mutation::ClearRange {
                range: KeyRange::new(Vec::new(), b"\xff\xff\xff".to_vec()),
            },
            set("c", "2"),
        ],
    )])
    .unwrap();
    assert_eq!(rows(&s, 5), vec![(b"c".to_vec(), b"2".to_vec())]);
    // The clear range covered the local metadata space too; the applied version survived.
    drop(s);
    let s = StorageServer::open(dir.path(), vec![KeyRange::new("a", "z")], small_opts()).unwrap();
    assert_eq!(s.applied_version(), 5);
    let e = s
        .get_range(&KeyRange::new("a", b"\xff\xff\xff".to_vec()), 5, 10, false)
        .unwrap_err();
    assert!(matches!(e, KvError::WrongShard { .. }), "{e}");
}

#[test]
fn an_installed_shard_is_readable_from_its_install_version_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), vec![KeyRange::new("a", "m")], small_opts()).unwrap();
    s.apply(&[(10, vec![set("b", "1"), set("p", "skipped")])])
        .unwrap();
    {
        let pause = s.pause_apply();
        assert_eq!(pause.version(), 10);
        let fetched = vec![(b"p".to_vec(), b"from-owner".to_vec())];
        s.install_shard(&pause, &KeyRange::new("m", "z"), &fetched)
            .unwrap();
    }
    s.apply(&[(20, vec![set("q", "new")])]).unwrap();
    let r = s
        .get_range(&KeyRange::new("m", "z"), 20, 10, false)
        .unwrap();
    assert_eq!(r.len(), 2);
    let e = s.get(b"p", 9).unwrap_err();
    assert!(matches!(e, KvError::TransactionTooOld { .. }), "{e}");
    // A range read across two adjacent shards is refused: the client splits it.
    assert!(s
        .get_range(&KeyRange::new("a", "z"), 20, 10, false)
        .is_err());
    drop(s);
    let s = StorageServer::open(dir.path(), vec![], small_opts()).unwrap();
    assert_eq!(s.shards().len(), 2);
    assert_eq!(s.get(b"q", 20).unwrap(), Some(b"new".to_vec()));
    assert_eq!(s.get(b"p", 10).unwrap(), Some(b"from-owner".to_vec()));
}

#[test]
fn reconcile_splits_drops_and_reports_missing_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), vec![KeyRange::new("a", "z")], small_opts()).unwrap();
    s.apply(&[(3, vec![set("b", "1"), set("x", "2")])]).unwrap();
    let r = s
        .reconcile(&[KeyRange::new("a", "k"), KeyRange::new("0", "a")])
        .unwrap();
    assert_eq!(r.missing, vec![KeyRange::new("0", "a")]);
    assert_eq!(r.dropped, vec![KeyRange::new("k", "z")]);
    assert!(matches!(
        s.get(b"x", 3).unwrap_err(),
        KvError::WrongShard { .. }
    ));
    // Dropped keys are no longer applied.
    s.apply(&[(4, vec![set("x", "3"), set("c", "4")])]).unwrap();
    assert_eq!(s.get(b"c", 4).unwrap(), Some(b"4".to_vec()));
    // Once the log has moved past the drop, the range can come back; its stale data goes.
    let pause = s.pause_apply();
    assert!(s
        .install_shard(&pause, &KeyRange::new("k", "z"), &[])
        .is_ok());
    drop(pause);
    assert_eq!(
        s.get(b"x", 4).unwrap(),
        None,
        "stale data deleted by the install"
    );
}

#[test]
fn shard_stats_count_keys_and_find_a_middle_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), vec![KeyRange::new("a", "z")], small_opts()).unwrap();
    let ms = (0..10).map(|i| set(&format!("k{i}"), "v")).collect();
    s.apply(&[(1, ms)]).unwrap();
    let st = s.shard_stats(1000).unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].keys, 10);
    assert_eq!(st[0].split_key.as_deref(), Some(&b"k5"[..]));
    let s = s.shard_stats(4).unwrap();
    assert_eq!(s[0].keys, 4);
}

#[test]
fn apply_through_advances_the_version_without_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
    s.apply_through(&[(3, vec![set("k", "v")])], 9).unwrap();
    assert_eq!(s.applied_version(), 9);
    assert_eq!(s.get(b"k", 9).unwrap(), Some(b"v".to_vec()));
}

#[test]
fn without_sync_apply_the_durable_version_is_what_the_last_sync_covered() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StorageServerOptions {
        sync_apply: false,
        ..small_opts()
    };
    let s = StorageServer::open(dir.path(), all(), opts.clone()).unwrap();
    s.apply(&[(10, vec![set("k", "a")])]).unwrap();
    assert_eq!(s.applied_version(), 10);
    assert_eq!(s.durable_version(), 0);
    assert_eq!(s.sync().unwrap(), 10);
    s.apply(&[(20, vec![set("k", "b")])]).unwrap();
    assert_eq!(s.durable_version(), 10);
    assert_eq!(s.get(b"k", 20).unwrap(), Some(b"b".to_vec()));
    drop(s);
    // Reopened, the recovered applied version is the durable floor again.
    let s = StorageServer::open(dir.path(), all(), opts).unwrap();
    assert_eq!(s.durable_version(), s.applied_version());
    assert_eq!(s.get(b"k", 20).unwrap(), Some(b"b".to_vec()));
}

#[test]
fn with_sync_apply_every_applied_version_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageServer::open(dir.path(), all(), small_opts()).unwrap();
    s.apply(&[(10, vec![set("k", "a")])]).unwrap();
    assert_eq!(s.durable_version(), 10);
    assert_eq!(s.sync().unwrap(), 10);
}

/// Found by the cluster bank test (a total 7 short, once in many CI runs): a read waiting for
/// its version on the shard's old owner was answered after the shard moved away, from data
/// missing every write applied after the drop. Ownership is now checked again once the
/// version is applied.
#[test]
fn a_read_waiting_while_its_shard_is_dropped_is_refused_not_answered_stale() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StorageServerOptions {
        read_wait: Duration::from_secs(10),
        ..small_opts()
    };
    let s = Arc::new(StorageServer::open(dir.path(), vec![KeyRange::new("a", "z")], opts).unwrap());
    s.apply(&[(5, vec![set("k", "old")])]).unwrap();
    let (point, range) = {
        let (s1, s2) = (s.clone(), s.clone());
        (
            std::thread::spawn(move || s1.get(b"k", 10)),
            std::thread::spawn(move || s2.get_range(&KeyRange::new("j", "l"), 10, 10, false)),
        )
    };
    // Let both readers reach the wait (either order of events must give the same answer).
    std::thread::sleep(Duration::from_millis(50));
    let r = s.reconcile(&[]).unwrap();
    assert_eq!(r.dropped, vec![KeyRange::new("a", "z")]);
    // The new owner has the write at 8; this server no longer applies it.
    s.apply_through(&[(8, vec![set("k", "new")])], 10).unwrap();
    let point = point.join().unwrap();
    assert!(
        matches!(point, Err(KvError::WrongShard { .. })),
        "point read answered from a dropped shard: {point:?}"
    );
    let range = range.join().unwrap();
    assert!(
        matches!(range, Err(KvError::WrongShard { .. })),
        "range read answered from a dropped shard: {range:?}"
    );
}
