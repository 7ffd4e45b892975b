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
