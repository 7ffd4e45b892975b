//! Resolver tests: hand-written cases, and a property test against a brute-force oracle that
//! remembers every committed write range forever.

use super::*;
use proptest::prelude::*;

fn r(b: &str, e: &str) -> KeyRange {
    KeyRange::new(b, e)
}

fn txn(read_version: Version, reads: Vec<KeyRange>, writes: Vec<KeyRange>) -> ResolveRequest {
    ResolveRequest {
        read_version,
        reads,
        writes,
    }
}

#[test]
fn read_overwritten_after_read_version_conflicts() {
    let mut res = Resolver::new(0);
    let out = res
        .resolve(10, &[txn(5, vec![], vec![r("b", "d")])])
        .unwrap();
    assert_eq!(out, vec![Outcome::Committed]);
    let out = res
        .resolve(
            20,
            &[
                txn(9, vec![r("a", "b"), r("c", "c\0")], vec![]),
                txn(10, vec![r("c", "c\0")], vec![]),
                txn(9, vec![r("d", "z")], vec![]),
            ],
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Outcome::Conflict {
                range: r("c", "c\0")
            },
            Outcome::Committed,
            Outcome::Committed,
        ],
        "half-open: [b, d) does not hold d; reading at 10 sees the write at 10"
    );
}

#[test]
fn same_batch_earlier_writer_wins_and_rejected_writes_are_not_recorded() {
    let mut res = Resolver::new(0);
    let out = res
        .resolve(
            10,
            &[
                txn(5, vec![], vec![r("k", "l")]),
                txn(5, vec![r("k", "k\0")], vec![r("x", "y")]),
                txn(5, vec![r("x", "x\0")], vec![]),
            ],
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Outcome::Committed,
            Outcome::Conflict {
                range: r("k", "k\0")
            },
            Outcome::Committed,
        ]
    );
}

#[test]
fn old_read_versions_are_too_old_but_blind_writes_commit() {
    let mut res = Resolver::with_max_window(0, 100);
    res.resolve(50, &[txn(1, vec![], vec![r("a", "b")])])
        .unwrap();
    let out = res
        .resolve(
            500,
            &[
                txn(399, vec![r("q", "r")], vec![]),
                txn(400, vec![r("a", "b")], vec![]),
                txn(1, vec![], vec![r("a", "b")]),
            ],
        )
        .unwrap();
    assert_eq!(
        out,
        vec![Outcome::TooOld, Outcome::Committed, Outcome::Committed]
    );
    assert_eq!(res.oldest(), 400);
    res.set_oldest(10);
    assert_eq!(res.oldest(), 400, "the window start never moves back");
}

#[test]
fn pruning_discards_history_below_the_window() {
    let mut res = Resolver::with_max_window(0, 1_000_000);
    for i in 1..=100u64 {
        let key = format!("k{i:03}");
        let w = KeyRange::single(key.as_bytes());
        res.resolve(i, &[txn(i - 1, vec![], vec![w])]).unwrap();
    }
    assert_eq!(res.span_count(), 100);
    res.set_oldest(60);
    // 100 writes since the last sweep (none kept): this one swept.
    assert_eq!(res.span_count(), 40);
    res.check_invariants();
    res.set_oldest(100);
    // Too few writes since: the expired spans wait for a later sweep...
    assert_eq!(res.span_count(), 40);
    // ...which forget_expired runs now.
    res.forget_expired();
    assert_eq!(res.span_count(), 0);
}

#[test]
fn bad_batches_are_rejected_without_changing_state() {
    let mut res = Resolver::new(0);
    res.resolve(10, &[txn(1, vec![], vec![r("a", "b")])])
        .unwrap();
    let err = res.resolve(10, &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionOrder {
                version: 10,
                last: 10
            }
        ),
        "{err}"
    );
    let err = res
        .resolve(
            20,
            &[txn(1, vec![], vec![r("c", "d")]), txn(20, vec![], vec![])],
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(res.last_version(), 10);
    let out = res
        .resolve(20, &[txn(10, vec![r("c", "d")], vec![])])
        .unwrap();
    assert_eq!(
        out,
        vec![Outcome::Committed],
        "the rejected batch recorded nothing"
    );
}

/// The brute-force model: every committed write range with its version, never forgotten.
struct Oracle {
    writes: Vec<(KeyRange, Version)>,
    oldest: Version,
    max_window: u64,
}

impl Oracle {
    fn resolve(&mut self, cv: Version, txns: &[ResolveRequest]) -> Vec<Outcome> {
        self.oldest = self.oldest.max(cv.saturating_sub(self.max_window));
        let mut out = Vec::new();
        for t in txns {
            let reads: Vec<&KeyRange> = t.reads.iter().filter(|r| !r.is_empty()).collect();
            let o = if t.read_version < self.oldest && !reads.is_empty() {
                Outcome::TooOld
            } else if let Some(r) = reads.iter().find(|r| {
                self.writes
                    .iter()
                    .any(|(w, v)| *v > t.read_version && w.intersects(r))
            }) {
                Outcome::Conflict {
                    range: (*r).clone(),
                }
            } else {
                for w in &t.writes {
                    self.writes.push((w.clone(), cv));
                }
                Outcome::Committed
            };
            out.push(o);
        }
        out
    }
}

/// Keys over a 4-letter alphabet, 0..=2 long: ranges overlap, touch and nest often.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"abcd".to_vec()), 0..=2)
}

fn range() -> impl Strategy<Value = KeyRange> {
    // Some empty or inverted ranges too: they must be ignored.
    (key(), key()).prop_map(|(a, b)| KeyRange::new(a, b))
}

/// (read version lag behind the commit version, reads, writes)
fn request() -> impl Strategy<Value = (u64, Vec<KeyRange>, Vec<KeyRange>)> {
    (
        1u64..40,
        prop::collection::vec(range(), 0..3),
        prop::collection::vec(range(), 0..3),
    )
}

#[derive(Clone, Debug)]
enum Step {
    Batch {
        advance: u64,
        txns: Vec<(u64, Vec<KeyRange>, Vec<KeyRange>)>,
    },
    SetOldest {
        behind: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (1u64..8, prop::collection::vec(request(), 0..5))
            .prop_map(|(advance, txns)| Step::Batch { advance, txns }),
        1 => (0u64..30).prop_map(|behind| Step::SetOldest { behind }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn resolver_matches_the_brute_force_oracle(
        window in 5u64..60,
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let mut res = Resolver::with_max_window(0, window);
        let mut oracle = Oracle { writes: Vec::new(), oldest: 0, max_window: window };
        let mut cv = 0u64;
        for s in steps {
            match s {
                Step::Batch { advance, txns } => {
                    cv += advance;
                    let reqs: Vec<ResolveRequest> = txns
                        .into_iter()
                        .map(|(lag, reads, writes)| txn(cv.saturating_sub(lag), reads, writes))
                        .collect();
                    let got = res.resolve(cv, &reqs).unwrap();
                    let want = oracle.resolve(cv, &reqs);
                    prop_assert_eq!(got, want, "batch at {}", cv);
                }
                Step::SetOldest { behind } => {
                    let v = cv.saturating_sub(behind);
                    res.set_oldest(v);
                    oracle.oldest = oracle.oldest.max(v);
                }
            }
            prop_assert_eq!(res.oldest(), oracle.oldest);
            res.check_invariants();
            // Pruning really forgets: once swept, every span left is a piece of a write
            // inside the window, and each write adds at most two spans (itself and the
            // cut-off tail of another). Between sweeps, expired spans stay a while.
            let live = oracle.writes.iter().filter(|(w, v)| *v > oracle.oldest && !w.is_empty()).count();
            let recorded = oracle.writes.iter().filter(|(w, _)| !w.is_empty()).count();
            prop_assert!(res.span_count() <= 2 * recorded + 1);
            if cv.is_multiple_of(3) {
                res.forget_expired();
                prop_assert!(res.span_count() <= 2 * live + 1, "{} spans for {} live writes", res.span_count(), live);
            }
        }
    }
}
