//! Client tests against `MemBackend`, a deliberately simple versioned map with the commit rule
//! spelled out directly: a commit conflicts if any committed write range after its read
//! version meets one of its read ranges.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferrisdb_kv::{KeyRange, Mutation, Version};

use super::*;

#[derive(Default)]
struct MemState {
    version: Version,
    data: BTreeMap<Vec<u8>, BTreeMap<Version, Option<Vec<u8>>>>,
    writes: Vec<(Version, KeyRange)>,
}

#[derive(Default)]
pub(crate) struct MemBackend(Mutex<MemState>);

impl MemState {
    fn at(&self, key: &[u8], v: Version) -> Option<Vec<u8>> {
        self.data.get(key)?.range(..=v).next_back()?.1.clone()
    }
}

impl TxnBackend for MemBackend {
    fn read_version(&self) -> Result<Version, TxnError> {
        Ok(self.0.lock().unwrap().version)
    }
    fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, TxnError> {
        Ok(self.0.lock().unwrap().at(key, version))
    }
    fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        let st = self.0.lock().unwrap();
        let mut out: Vec<KeyValue> = st
            .data
            .keys()
            .filter(|k| range.contains(k))
            .filter_map(|k| st.at(k, version).map(|v| (k.clone(), v)))
            .collect();
        if reverse {
            out.reverse();
        }
        out.truncate(limit);
        Ok(out)
    }
    fn commit(&self, req: CommitRequest) -> Result<Version, TxnError> {
        let mut st = self.0.lock().unwrap();
        for (v, w) in &st.writes {
            if *v > req.read_version {
                if let Some(r) = req.read_ranges.iter().find(|r| r.intersects(w)) {
                    return Err(TxnError::NotCommitted {
                        range: r.clone(),
                        read_version: req.read_version,
                    });
                }
            }
        }
        st.version += 1;
        let v = st.version;
        for m in &req.mutations {
            match m {
                Mutation::Set { key, value } => {
                    st.data
                        .entry(key.clone())
                        .or_default()
                        .insert(v, Some(value.clone()));
                }
                Mutation::Clear { key } => {
                    st.data.entry(key.clone()).or_default().insert(v, None);
                }
                Mutation::ClearRange { range } => {
                    let keys: Vec<_> = st
                        .data
                        .keys()
                        .filter(|k| range.contains(k))
                        .cloned()
                        .collect();
                    for k in keys {
                        st.data.entry(k).or_default().insert(v, None);
                    }
                }
                Mutation::AtomicAdd { key, delta } => {
                    let cur = st.at(key, v);
                    let sum = Mutation::add_le(cur.as_deref(), *delta).to_vec();
                    st.data.entry(key.clone()).or_default().insert(v, Some(sum));
                }
            }
        }
        for w in req.write_ranges {
            st.writes.push((v, w));
        }
        Ok(v)
    }
}

fn db() -> Database {
    Database::from_backend(Arc::new(MemBackend::default()))
}

fn r(a: &str, b: &str) -> KeyRange {
    KeyRange::new(a, b)
}

#[test]
fn reads_see_own_writes_through_points_ranges_clears_and_adds() {
    let db = db();
    db.transact(|tx| {
        for k in ["a", "b", "c", "d"] {
            tx.set(k.as_bytes(), k.as_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    let mut tx = db.begin();
    tx.set(b"bb", b"new").unwrap();
    tx.clear(b"c").unwrap();
    tx.clear_range(&r("d", "z")).unwrap();
    tx.set(b"e", b"after-clear").unwrap();
    tx.atomic_add(b"n", 5).unwrap();
    tx.atomic_add(b"n", 2).unwrap();
    assert_eq!(tx.get(b"bb").unwrap(), Some(b"new".to_vec()));
    assert_eq!(tx.get(b"c").unwrap(), None);
    assert_eq!(tx.get(b"d").unwrap(), None);
    assert_eq!(tx.get(b"n").unwrap(), Some(7i64.to_le_bytes().to_vec()));
    let keys = |kvs: Vec<KeyValue>| {
        kvs.into_iter()
            .map(|kv| String::from_utf8(kv.0).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(tx.get_range(&r("a", "z"), 0, false).unwrap()),
        vec!["a", "b", "bb", "e", "n"]
    );
    assert_eq!(
        keys(tx.get_range(&r("a", "z"), 3, true).unwrap()),
        vec!["n", "e", "bb"]
    );
    tx.commit().unwrap();
    let mut check = db.begin();
    assert_eq!(
        keys(check.get_range(&r("a", "z"), 0, false).unwrap()),
        vec!["a", "b", "bb", "e", "n"]
    );
}

#[test]
fn write_skew_is_rejected() {
    // Two transactions each read both keys and write one: serializable execution allows only one.
    let db = db();
    db.transact(|tx| {
        tx.set(b"x", b"1")?;
        tx.set(b"y", b"1")
    })
    .unwrap();
    let mut t1 = db.begin();
    let mut t2 = db.begin();
    for t in [&mut t1, &mut t2] {
        t.get(b"x").unwrap();
        t.get(b"y").unwrap();
    }
    t1.set(b"x", b"0").unwrap();
    t2.set(b"y", b"0").unwrap();
    t1.commit().unwrap();
    let e = t2.commit().unwrap_err();
    assert!(
        matches!(e, TxnError::NotCommitted { .. }) && e.is_retryable(),
        "{e}"
    );
}

#[test]
fn snapshot_reads_and_atomic_adds_do_not_conflict() {
    let db = db();
    let mut t1 = db.begin();
    let mut t2 = db.begin();
    t1.snapshot_get(b"k").unwrap();
    t1.atomic_add(b"counter", 1).unwrap();
    t2.get(b"other").unwrap();
    t2.atomic_add(b"counter", 1).unwrap();
    t2.set(b"k", b"v").unwrap();
    t2.commit().unwrap();
    t1.commit().unwrap();
    let mut t = db.begin();
    assert_eq!(
        t.get(b"counter").unwrap(),
        Some(2i64.to_le_bytes().to_vec())
    );
}

#[test]
fn a_limited_range_read_conflicts_only_on_what_it_observed() {
    let db = db();
    db.transact(|tx| {
        for k in ["a", "b", "c", "x"] {
            tx.set(k.as_bytes(), b"v")?;
        }
        Ok(())
    })
    .unwrap();
    let mut t1 = db.begin();
    assert_eq!(t1.get_range(&r("a", "z"), 2, false).unwrap().len(), 2);
    db.transact(|tx| tx.set(b"y", b"late")).unwrap();
    t1.set(b"out", b"1").unwrap();
    t1.commit()
        .expect("a write beyond the observed part of the range does not conflict");
    let mut t2 = db.begin();
    t2.get_range(&r("a", "z"), 0, false).unwrap();
    db.transact(|tx| tx.set(b"y", b"later")).unwrap();
    t2.set(b"out", b"2").unwrap();
    assert!(matches!(t2.commit(), Err(TxnError::NotCommitted { .. })));
}

#[test]
fn limits_are_clear_errors() {
    let db = db();
    let mut tx = db.begin();
    assert!(matches!(
        tx.set(&[b'k'; MAX_KEY_SIZE + 1], b"v"),
        Err(TxnError::KeyTooLarge { .. })
    ));
    assert!(matches!(
        tx.set(b"k", &vec![0; MAX_VALUE_SIZE + 1]),
        Err(TxnError::ValueTooLarge { .. })
    ));
    assert!(matches!(
        tx.set(b"\xff/sys", b"v"),
        Err(TxnError::SystemKey { .. })
    ));
    let big = vec![0u8; MAX_VALUE_SIZE];
    let mut n = 0u32;
    let err = loop {
        match tx.set(&n.to_be_bytes(), &big) {
            Ok(()) => n += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, TxnError::TransactionTooLarge { .. }), "{err}");
    assert!(n >= 90, "about 10 MB fit before the limit: {n}");
    tx.commit().unwrap();
    assert!(matches!(tx.commit(), Err(TxnError::Used)));
}

#[test]
fn transact_retries_conflicts_until_they_commit() {
    let db = db();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    db.transact(|tx| {
                        let n = tx
                            .get(b"n")?
                            .map(|v| u64::from_le_bytes(v.try_into().unwrap()))
                            .unwrap_or(0);
                        tx.set(b"n", &(n + 1).to_le_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut tx = db.begin();
    assert_eq!(
        tx.get(b"n").unwrap(),
        Some(100u64.to_le_bytes().to_vec()),
        "no lost update"
    );
}
