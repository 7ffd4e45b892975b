//! Tests of the memtable against a sorted-vector oracle, under concurrency, and at drop.

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use proptest::prelude::*;

use super::*;
use crate::iterator::VecIterator;
use crate::types::Entry;

/// One inserted entry, as the oracle keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    key: Vec<u8>,
    version: Version,
    seq: u64,
    kind: ValueKind,
    value: Vec<u8>,
}

/// The full memtable order: internal order, then seq descending.
fn full_cmp(a: (&[u8], Version, u64), b: (&[u8], Version, u64)) -> CmpOrdering {
    compare_internal(a.0, a.1, b.0, b.1).then_with(|| b.2.cmp(&a.2))
}

fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| full_cmp((&a.key, a.version, a.seq), (&b.key, b.version, b.seq)));
}

/// Keep the first of each (key, version, seq): the engine never inserts a triple twice.
fn dedup_triples(rows: Vec<Row>) -> Vec<Row> {
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .filter(|r| seen.insert((r.key.clone(), r.version, r.seq)))
        .collect()
}

fn build(rows: &[Row]) -> Arc<Memtable> {
    let mem = Arc::new(Memtable::new());
    for r in rows {
        mem.insert(&r.key, r.version, r.seq, r.kind, &r.value);
    }
    mem
}

fn row_strategy() -> impl Strategy<Value = Row> {
    let key = prop::collection::vec(prop::sample::select(vec![b'a', b'b']), 0..3);
    let value = prop::collection::vec(any::<u8>(), 0..8);
    (key, 0u64..4, 0u64..40, any::<bool>(), value).prop_map(|(key, version, seq, live, value)| {
        let (kind, value) = if live {
            (ValueKind::Value, value)
        } else {
            (ValueKind::Tombstone, Vec::new())
        };
        Row {
            key,
            version,
            seq,
            kind,
            value,
        }
    })
}

#[derive(Clone, Debug)]
enum Step {
    Seek(Vec<u8>, Version),
    SeekForPrev(Vec<u8>, Version),
    Next,
    Prev,
    First,
    Last,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let key = || prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..3);
    prop_oneof![
        (key(), 0u64..6).prop_map(|(k, v)| Step::Seek(k, v)),
        (key(), 0u64..6).prop_map(|(k, v)| Step::SeekForPrev(k, v)),
        Just(Step::Next),
        Just(Step::Next),
        Just(Step::Prev),
        Just(Step::Prev),
        Just(Step::First),
        Just(Step::Last),
    ]
}

fn apply(it: &mut dyn InternalIterator, step: &Step) {
    let r = match step {
        Step::Seek(k, v) => it.seek(k, *v),
        Step::SeekForPrev(k, v) => it.seek_for_prev(k, *v),
        Step::Next => it.next(),
        Step::Prev => it.prev(),
        Step::First => it.seek_to_first(),
        Step::Last => it.seek_to_last(),
    };
    assert!(r.is_ok(), "memtable and vector iterators never fail");
}

/// The oracle's index after `step`, mirroring `VecIterator` (len = not positioned).
fn oracle_pos(rows: &[Row], pos: usize, step: &Step) -> usize {
    let n = rows.len();
    match step {
        Step::Seek(k, v) => {
            rows.partition_point(|r| compare_internal(&r.key, r.version, k, *v).is_lt())
        }
        Step::SeekForPrev(k, v) => {
            let le = |r: &Row| compare_internal(&r.key, r.version, k, *v).is_le();
            rows.partition_point(le).checked_sub(1).unwrap_or(n)
        }
        Step::Next | Step::Prev if pos >= n => n,
        Step::Next => pos + 1,
        Step::Prev if pos == 0 => n,
        Step::Prev => pos - 1,
        Step::First => 0,
        Step::Last => n.saturating_sub(1),
    }
}

fn assert_same_position(mem: &MemtableIterator, vec: &VecIterator, rows: &[Row], pos: usize) {
    assert_eq!(mem.valid(), vec.valid());
    assert_eq!(mem.valid(), pos < rows.len());
    if let Some(row) = rows.get(pos) {
        let got = (mem.key(), mem.version(), mem.kind(), mem.value(), mem.seq());
        let want = (&row.key[..], row.version, row.kind, &row.value[..], row.seq);
        assert_eq!(got, want);
        assert_eq!(
            (vec.key(), vec.version(), vec.value()),
            (want.0, want.1, want.3)
        );
    }
}

/// The newest row of exactly `key` at or below `version`.
fn oracle_get(rows: &[Row], key: &[u8], version: Version) -> Option<(Version, ValueKind, Vec<u8>)> {
    rows.iter()
        .find(|r| r.key == key && r.version <= version)
        .map(|r| (r.version, r.kind, r.value.clone()))
}

fn all_keys() -> Vec<Vec<u8>> {
    let mut keys = vec![Vec::new()];
    for len in 1..=3u32 {
        for bits in 0..2u32.pow(len) {
            keys.push((0..len).map(|i| b"ab"[(bits >> i & 1) as usize]).collect());
        }
    }
    keys
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn iterator_matches_sorted_vec_oracle(
        rows in prop::collection::vec(row_strategy(), 0..60),
        steps in prop::collection::vec(step_strategy(), 0..60),
    ) {
        let mut rows = dedup_triples(rows);
        let mem = build(&rows);
        sort_rows(&mut rows);
        let entries = rows.iter().map(|r| Entry {
            key: r.key.clone(), version: r.version, kind: r.kind, value: r.value.clone(),
        });
        let mut vec = VecIterator::new(entries.collect());
        let mut it = mem.iter();
        let mut pos = rows.len();
        assert_same_position(&it, &vec, &rows, pos);
        for step in &steps {
            apply(&mut it, step);
            apply(&mut vec, step);
            pos = oracle_pos(&rows, pos, step);
            assert_same_position(&it, &vec, &rows, pos);
        }
    }

    #[test]
    fn get_and_stats_match_oracle(rows in prop::collection::vec(row_strategy(), 0..60)) {
        let mut rows = dedup_triples(rows);
        let mem = build(&rows);
        sort_rows(&mut rows);
        for key in all_keys() {
            for version in 0..6 {
                prop_assert_eq!(mem.get(&key, version), oracle_get(&rows, &key, version));
            }
        }
        prop_assert_eq!(mem.len(), rows.len());
        prop_assert_eq!(mem.is_empty(), rows.is_empty());
        let min = rows.iter().map(|r| r.version).min();
        let max = rows.iter().map(|r| r.version).max();
        prop_assert_eq!(mem.version_range(), min.zip(max));
        let payload: usize = rows.iter().map(|r| r.key.len() + r.value.len()).sum();
        prop_assert!(mem.approximate_size() >= payload + 32 * rows.len());
    }
}

/// Collect (key, version, seq) of a forward pass, asserting strict order along the way.
fn forward_pass(mem: &Arc<Memtable>) -> Vec<(Vec<u8>, Version, u64)> {
    let mut it = mem.iter();
    let mut out: Vec<(Vec<u8>, Version, u64)> = Vec::new();
    it.seek_to_first().expect("memtable iterators never fail");
    while it.valid() {
        let cur = (it.key().to_vec(), it.version(), it.seq());
        if let Some(last) = out.last() {
            let ord = full_cmp((&last.0, last.1, last.2), (&cur.0, cur.1, cur.2));
            assert_eq!(
                ord,
                CmpOrdering::Less,
                "out of order: {last:?} then {cur:?}"
            );
        }
        assert_eq!(it.value(), cur.2.to_le_bytes(), "value belongs to its seq");
        out.push(cur);
        it.next().expect("memtable iterators never fail");
    }
    out
}

/// A short backward walk from the end, asserting strictly descending order.
fn backward_walk(mem: &Arc<Memtable>, steps: usize) {
    let mut it = mem.iter();
    it.seek_to_last().expect("memtable iterators never fail");
    let mut last: Option<(Vec<u8>, Version, u64)> = None;
    for _ in 0..steps {
        if !it.valid() {
            break;
        }
        let cur = (it.key().to_vec(), it.version(), it.seq());
        if let Some(l) = &last {
            let ord = full_cmp((&l.0, l.1, l.2), (&cur.0, cur.1, cur.2));
            assert_eq!(
                ord,
                CmpOrdering::Greater,
                "prev out of order: {l:?} then {cur:?}"
            );
        }
        last = Some(cur);
        it.prev().expect("memtable iterators never fail");
    }
}

/// What writer `t` inserts: even i on keys of its own, odd i on keys shared by all writers.
fn writer_entries(t: u64, per: u64) -> impl Iterator<Item = (Vec<u8>, Version, u64)> {
    (0..per).map(move |i| {
        let seq = t * per + i;
        if i % 2 == 0 {
            (format!("own-{t}-{i:05}").into_bytes(), i, seq)
        } else {
            (format!("shared-{:03}", i % 97).into_bytes(), i % 7, seq)
        }
    })
}

#[test]
fn concurrent_writers_and_readers_stay_sorted_and_complete() {
    const WRITERS: u64 = 4;
    const PER: u64 = 10_000;
    let mem = Arc::new(Memtable::new());
    let done = Arc::new(AtomicBool::new(false));
    // Readers count their passes; writers hold back their second half until every reader has
    // finished one, so reads and inserts always overlap however the threads are scheduled.
    let passes_done = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(WRITERS as usize + 2));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (mem, done, start) = (Arc::clone(&mem), Arc::clone(&done), Arc::clone(&start));
            let passes_done = Arc::clone(&passes_done);
            thread::spawn(move || {
                start.wait();
                let mut passes = 0;
                loop {
                    let seen = forward_pass(&mem).len();
                    assert!(
                        seen <= mem.len() + WRITERS as usize,
                        "more entries than inserted"
                    );
                    backward_walk(&mem, 200);
                    passes += 1;
                    if passes == 1 {
                        passes_done.fetch_add(1, Ordering::AcqRel);
                    }
                    if done.load(Ordering::Acquire) {
                        break;
                    }
                }
                passes
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (mem, start) = (Arc::clone(&mem), Arc::clone(&start));
            let passes_done = Arc::clone(&passes_done);
            thread::spawn(move || {
                start.wait();
                for (i, (key, version, seq)) in writer_entries(t, PER).enumerate() {
                    if i as u64 == PER / 2 {
                        while passes_done.load(Ordering::Acquire) < 2 {
                            thread::yield_now();
                        }
                    }
                    mem.insert(&key, version, seq, ValueKind::Value, &seq.to_le_bytes());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread panicked");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        let passes = r.join().expect("reader thread panicked");
        assert!(passes >= 1);
    }
    let mut want: Vec<_> = (0..WRITERS).flat_map(|t| writer_entries(t, PER)).collect();
    want.sort_by(|a, b| full_cmp((&a.0, a.1, a.2), (&b.0, b.1, b.2)));
    assert_eq!(forward_pass(&mem), want);
    assert_eq!(mem.len(), want.len());
    backward_walk(&mem, usize::MAX);
}

#[test]
fn iterator_keeps_memtable_alive_after_last_other_owner_drops() {
    let mem = Arc::new(Memtable::new());
    let n = 50_000u64;
    for i in 0..n {
        let key = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes();
        mem.insert(
            &key,
            i % 3,
            i,
            ValueKind::Value,
            &vec![7u8; (i % 300) as usize],
        );
    }
    let mut it = mem.iter();
    drop(mem);
    it.seek_to_first().expect("memtable iterators never fail");
    let mut count = 0u64;
    let mut bytes = 0usize;
    while it.valid() {
        count += 1;
        bytes += it.value().len();
        it.next().expect("memtable iterators never fail");
    }
    assert_eq!(count, n);
    assert_eq!(bytes, (0..n).map(|i| (i % 300) as usize).sum::<usize>());
    // Dropping the iterator now frees the whole list (checked for leaks in
    // tests/memtable_alloc.rs with a counting allocator).
}

#[test]
fn get_sees_newest_seq_among_equal_versions_and_ignores_other_keys() {
    let mem = Memtable::new();
    assert_eq!(mem.version_range(), None);
    mem.insert(b"k", 5, 1, ValueKind::Value, b"old");
    mem.insert(b"k", 5, 9, ValueKind::Tombstone, b"");
    mem.insert(b"k", 5, 4, ValueKind::Value, b"mid");
    mem.insert(b"ka", 1, 2, ValueKind::Value, b"other");
    assert_eq!(
        mem.get(b"k", 7),
        Some((5, ValueKind::Tombstone, Vec::new()))
    );
    assert_eq!(mem.get(b"k", 4), None);
    assert_eq!(mem.get(b"", u64::MAX), None);
    assert_eq!(
        mem.get(b"ka", u64::MAX),
        Some((1, ValueKind::Value, b"other".to_vec()))
    );
    assert_eq!(mem.version_range(), Some((1, 5)));
    assert_eq!(mem.len(), 4);
}

#[test]
fn key_filter_never_misses_an_inserted_key_and_rejects_most_others() {
    let m = Memtable::new();
    for i in 0..100_000u32 {
        m.insert(
            format!("key{i}").as_bytes(),
            1,
            u64::from(i),
            ValueKind::Value,
            b"v",
        );
    }
    assert!((0..100_000u32).all(|i| m.may_contain(format!("key{i}").as_bytes())));
    let false_positives = (0..100_000u32)
        .filter(|i| m.may_contain(format!("other{i}").as_bytes()))
        .count();
    // About 0.05% expected at this load; a broken filter says yes to nearly everything.
    assert!(false_positives < 2_000, "{false_positives} false positives");
}

/// Keys that share long zero-padded prefixes: a run of `fill` bytes (zero, so padding and real
/// bytes look alike) then a short tail, so lengths straddle the node's 16-byte prefix.
fn long_key_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![0u8, b'k']),
        0usize..24,
        prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xff]), 0..4),
    )
        .prop_map(|(fill, n, tail)| {
            let mut key = vec![fill; n];
            key.extend(tail);
            key
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The header-prefix shortcut in node comparisons orders exactly as the full comparison,
    /// for keys shorter than, equal to and longer than the prefix.
    #[test]
    fn node_comparison_matches_the_full_order_around_the_prefix_length(
        keys in prop::collection::vec((long_key_strategy(), 0u64..3, 0u64..3), 1..40),
    ) {
        let list = skiplist::SkipList::new();
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<_> = keys.into_iter().filter(|k| seen.insert(k.clone())).collect();
        for (key, version, seq) in &keys {
            list.insert(key, *version, *seq, ValueKind::Value, b"");
        }
        let mut node = list.first();
        let mut walked = Vec::new();
        while let Some(n) = node {
            for (key, version, seq) in &keys {
                prop_assert_eq!(
                    n.cmp_to(key, *version, *seq),
                    full_cmp((n.key(), n.version(), n.seq()), (key, *version, *seq)),
                    "node {:?}/{}/{} vs {:?}/{}/{}", n.key(), n.version(), n.seq(), key, version, seq
                );
            }
            walked.push((n.key().to_vec(), n.version(), n.seq()));
            node = n.next(0);
        }
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| full_cmp((&a.0, a.1, a.2), (&b.0, b.1, b.2)));
        prop_assert_eq!(walked, sorted);
    }
}
