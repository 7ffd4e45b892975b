//! Model-based test: the engine against a BTreeMap oracle under random operations, with
//! flushes, compactions, garbage-collection watermark moves, snapshots and reopen.
//!
//! proptest prints the failing seed and a minimized operation list; every bug found this way
//! gets a named regression test in `regressions.rs`.

mod common;

use std::ops::Bound;

use common::{tiny_options, Oracle};
use ferrisdb_storage::{Direction, Engine, Error, Options, Snapshot};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u64, u16),
    Delete(u8, u64),
    Batch(Vec<(u8, u64, Option<u16>)>),
    Get(u8, u64),
    Scan(Option<(u8, bool)>, Option<(u8, bool)>, u64, bool),
    Flush,
    Compact,
    Watermark(u64),
    Snapshot(u64),
    CheckSnapshots,
    Reopen,
}

fn key(k: u8) -> Vec<u8> {
    // Keys of different lengths sharing prefixes exercise prefix compression and ordering.
    format!("key{:0width$}", k, width = 1 + (k % 3) as usize).into_bytes()
}

fn value(k: u8, v: u64, salt: u16) -> Vec<u8> {
    let mut s = format!("v{k}-{v}-{salt}-").into_bytes();
    s.resize(8 + (salt as usize % 200), b'x');
    s
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..40;
    let v = 0u64..60;
    prop_oneof![
        20 => (k.clone(), v.clone(), any::<u16>()).prop_map(|(k, v, s)| Op::Put(k, v, s)),
        6 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Delete(k, v)),
        4 => prop::collection::vec((k.clone(), v.clone(), prop::option::of(any::<u16>())), 1..8).prop_map(Op::Batch),
        10 => (k.clone(), 0u64..70).prop_map(|(k, v)| Op::Get(k, v)),
        5 => (prop::option::of((k.clone(), any::<bool>())), prop::option::of((k, any::<bool>())), 0u64..70, any::<bool>())
            .prop_map(|(a, b, v, r)| Op::Scan(a, b, v, r)),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => (0u64..60).prop_map(Op::Watermark),
        1 => (0u64..70).prop_map(Op::Snapshot),
        2 => Just(Op::CheckSnapshots),
        1 => Just(Op::Reopen),
    ]
}

fn bound(b: Option<(u8, bool)>) -> Bound<Vec<u8>> {
    match b {
        None => Bound::Unbounded,
        Some((k, true)) => Bound::Included(key(k)),
        Some((k, false)) => Bound::Excluded(key(k)),
    }
}

fn check_scan(
    got: ferrisdb_storage::Scan,
    want: Vec<(Vec<u8>, Vec<u8>)>,
    what: &str,
) -> Result<(), TestCaseError> {
    let got: Vec<_> = got
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
    if got != want {
        let show = |kv: Option<&(Vec<u8>, Vec<u8>)>| {
            kv.map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(&v[..v.len().min(16)])
                )
            })
        };
        let i = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        return Err(TestCaseError::fail(format!(
            "{what}: {} entries, want {}; first difference at {i}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            show(got.get(i)),
            show(want.get(i))
        )));
    }
    Ok(())
}

struct Harness {
    opts: Options,
    dir: tempfile::TempDir,
    engine: Option<Engine>,
    oracle: Oracle,
    watermark: u64,
    snapshots: Vec<(Snapshot, Oracle)>,
}

impl Harness {
    fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("engine is open")
    }

    /// Reads below the watermark are not guaranteed; the test reads at or above it.
    fn at(&self, v: u64) -> u64 {
        v.max(self.watermark)
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Put(k, v, _) | Op::Delete(k, v) if v < self.watermark => {
                let r = self.engine().delete(&key(k), v);
                prop_assert!(
                    matches!(r, Err(Error::InvalidArgument(_))),
                    "write below the watermark: {:?}",
                    r
                );
            }
            Op::Batch(ops) if ops.iter().any(|o| o.1 < self.watermark) => {
                let mut b = ferrisdb_storage::WriteBatch::new();
                for (k, v, _) in ops {
                    b.delete(&key(k), v).unwrap();
                }
                let r = self.engine().write(b);
                prop_assert!(
                    matches!(r, Err(Error::InvalidArgument(_))),
                    "batch below the watermark: {:?}",
                    r
                );
            }
            Op::Put(k, v, s) => {
                self.engine().put(&key(k), v, &value(k, v, s)).unwrap();
                self.oracle.put(&key(k), v, &value(k, v, s));
            }
            Op::Delete(k, v) => {
                self.engine().delete(&key(k), v).unwrap();
                self.oracle.delete(&key(k), v);
            }
            Op::Batch(ops) => {
                let mut b = ferrisdb_storage::WriteBatch::new();
                for (k, v, s) in ops {
                    match s {
                        Some(s) => {
                            b.put(&key(k), v, &value(k, v, s)).unwrap();
                            self.oracle.put(&key(k), v, &value(k, v, s));
                        }
                        None => {
                            b.delete(&key(k), v).unwrap();
                            self.oracle.delete(&key(k), v);
                        }
                    }
                }
                self.engine().write(b).unwrap();
            }
            Op::Get(k, v) => {
                let at = self.at(v);
                let got = self.engine().get(&key(k), at).unwrap();
                prop_assert_eq!(got, self.oracle.get(&key(k), at), "get key{} at {}", k, at);
            }
            Op::Scan(lo, hi, v, rev) => {
                let at = self.at(v);
                let d = if rev {
                    Direction::Reverse
                } else {
                    Direction::Forward
                };
                let range = (bound(lo), bound(hi));
                let want = self.oracle.scan(range.0.clone(), range.1.clone(), at, d);
                let r = (
                    range.0.as_ref().map(|k| k.as_slice()),
                    range.1.as_ref().map(|k| k.as_slice()),
                );
                check_scan(
                    self.engine().scan(r, at, d).unwrap(),
                    want,
                    &format!("scan {lo:?}..{hi:?} at {at} {d:?}"),
                )?;
            }
            Op::Flush => self.engine().flush().unwrap(),
            Op::Compact => self.engine().compact_all().unwrap(),
            Op::Watermark(w) => {
                self.watermark = self.watermark.max(w);
                self.engine().set_gc_watermark(w);
            }
            Op::Snapshot(v) => {
                let at = self.at(v);
                self.snapshots
                    .push((self.engine().snapshot(at), self.oracle.clone()));
            }
            Op::CheckSnapshots => {
                for (snap, oracle) in &self.snapshots {
                    let at = snap.version();
                    for d in [Direction::Forward, Direction::Reverse] {
                        let want = oracle.scan(Bound::Unbounded, Bound::Unbounded, at, d);
                        check_scan(
                            snap.scan((Bound::<&[u8]>::Unbounded, Bound::<&[u8]>::Unbounded), d)
                                .unwrap(),
                            want,
                            &format!("snapshot at {at}"),
                        )?;
                    }
                }
            }
            Op::Reopen => {
                self.snapshots.clear();
                self.engine.take().expect("engine is open").close().unwrap();
                let e = Engine::open(self.dir.path(), self.opts.clone()).unwrap();
                // The watermark persists only with a flush or compaction; like a storage server
                // after restart, set it again.
                e.set_gc_watermark(self.watermark);
                self.engine = Some(e);
            }
        }
        Ok(())
    }

    fn final_check(&mut self) -> Result<(), TestCaseError> {
        for v in [self.watermark, self.watermark + 7, u64::MAX] {
            for d in [Direction::Forward, Direction::Reverse] {
                let want = self.oracle.scan(Bound::Unbounded, Bound::Unbounded, v, d);
                check_scan(
                    self.engine().scan(.., v, d).unwrap(),
                    want,
                    &format!("final scan at {v}"),
                )?;
            }
        }
        Ok(())
    }
}

fn run(ops: Vec<Op>, opts: Options) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), opts.clone()).unwrap();
    let mut h = Harness {
        opts,
        dir,
        engine: Some(engine),
        oracle: Oracle::default(),
        watermark: 0,
        snapshots: Vec::new(),
    };
    for op in ops {
        h.step(op)?;
    }
    h.final_check()?;
    h.step(Op::Reopen)?;
    h.final_check()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FERRISDB_MODEL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_oracle(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, tiny_options())?;
    }

    /// The same, with point reads served through a (small, so also evicting) row cache.
    #[test]
    fn engine_with_row_cache_matches_oracle(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, Options { row_cache_size: 8 << 10, ..tiny_options() })?;
    }
}
