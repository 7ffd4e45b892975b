//! Tests of the merging iterator against a single sorted `VecIterator` holding the union.

use super::*;
use crate::iterator::VecIterator;
use crate::types::Entry;
use crate::Error;
use proptest::prelude::*;

fn entry(key: &[u8], version: Version, child: usize, seq: usize) -> Entry {
    Entry {
        key: key.to_vec(),
        version,
        kind: if seq % 3 == 2 {
            ValueKind::Tombstone
        } else {
            ValueKind::Value
        },
        // Identifies the entry, so a wrong tie-break shows up as a wrong value.
        value: if seq % 3 == 2 {
            Vec::new()
        } else {
            vec![child as u8, seq as u8]
        },
    }
}

/// Children (each sorted, stable) and the reference union: internal order, then child index,
/// then position inside the child.
fn build(raw: &[Vec<(Vec<u8>, Version)>]) -> (Vec<Box<dyn InternalIterator>>, VecIterator) {
    let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
    let mut union = Vec::new();
    for (c, items) in raw.iter().enumerate() {
        let mut es: Vec<Entry> = items
            .iter()
            .enumerate()
            .map(|(s, (k, v))| entry(k, *v, c, s))
            .collect();
        es.sort_by(|a, b| compare_internal(&a.key, a.version, &b.key, b.version));
        union.extend(es.iter().cloned());
        children.push(Box::new(VecIterator::new(es)));
    }
    union.sort_by(|a, b| compare_internal(&a.key, a.version, &b.key, b.version));
    (children, VecIterator::new(union))
}

fn snapshot(it: &dyn InternalIterator) -> Option<Entry> {
    it.valid().then(|| Entry {
        key: it.key().to_vec(),
        version: it.version(),
        kind: it.kind(),
        value: it.value().to_vec(),
    })
}

#[derive(Clone, Debug)]
enum Op {
    Next,
    Prev,
    Seek(Vec<u8>, Version),
    SeekForPrev(Vec<u8>, Version),
    First,
    Last,
}

fn apply(it: &mut dyn InternalIterator, op: &Op) -> Result<()> {
    match op {
        Op::Next => it.next(),
        Op::Prev => it.prev(),
        Op::Seek(k, v) => it.seek(k, *v),
        Op::SeekForPrev(k, v) => it.seek_for_prev(k, *v),
        Op::First => it.seek_to_first(),
        Op::Last => it.seek_to_last(),
    }
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
    ])
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Next),
        6 => Just(Op::Prev),
        2 => (key_strategy(), 0u64..5).prop_map(|(k, v)| Op::Seek(k, v)),
        2 => (key_strategy(), 0u64..5).prop_map(|(k, v)| Op::SeekForPrev(k, v)),
        1 => Just(Op::First),
        1 => Just(Op::Last),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn matches_sorted_union_under_random_operations(
        raw in prop::collection::vec(
            prop::collection::vec((key_strategy(), 0u64..4), 0..8), 0..20),
        ops in prop::collection::vec(op_strategy(), 1..60),
    ) {
        let (children, mut reference) = build(&raw);
        let mut merged = MergingIterator::new(children);
        for (step, op) in ops.iter().enumerate() {
            apply(&mut merged, op).unwrap();
            apply(&mut reference, op).unwrap();
            prop_assert_eq!(
                snapshot(&merged), snapshot(&reference), "step {} op {:?}", step, op
            );
        }
    }
}

/// Three sources all holding ("a", 5) and ("b", 5): values name the child that yielded them.
fn triplicate() -> MergingIterator {
    let raw: Vec<Vec<(Vec<u8>, Version)>> = (0..3)
        .map(|_| vec![(b"a".to_vec(), 5), (b"b".to_vec(), 5)])
        .collect();
    MergingIterator::new(build(&raw).0)
}

fn at(it: &MergingIterator) -> (Vec<u8>, usize) {
    assert!(it.valid());
    (it.key().to_vec(), it.value()[0] as usize)
}

#[test]
fn direction_switches_over_duplicates() {
    let mut it = triplicate();
    it.seek_to_first().unwrap();
    assert_eq!(at(&it), (b"a".to_vec(), 0));
    it.next().unwrap();
    assert_eq!(at(&it), (b"a".to_vec(), 1));
    it.prev().unwrap();
    assert_eq!(at(&it), (b"a".to_vec(), 0));
    it.next().unwrap();
    it.next().unwrap();
    it.next().unwrap();
    assert_eq!(at(&it), (b"b".to_vec(), 0));
    it.prev().unwrap();
    assert_eq!(at(&it), (b"a".to_vec(), 2));
    it.next().unwrap();
    assert_eq!(at(&it), (b"b".to_vec(), 0));
    it.prev().unwrap();
    it.prev().unwrap();
    it.prev().unwrap();
    assert_eq!(at(&it), (b"a".to_vec(), 0));
    it.prev().unwrap();
    assert!(!it.valid());
}

#[test]
fn backward_order_is_the_reverse_of_forward_order() {
    let mut it = triplicate();
    let mut forward = Vec::new();
    it.seek_to_first().unwrap();
    while it.valid() {
        forward.push(at(&it));
        it.next().unwrap();
    }
    let mut backward = Vec::new();
    it.seek_to_last().unwrap();
    while it.valid() {
        backward.push(at(&it));
        it.prev().unwrap();
    }
    backward.reverse();
    assert_eq!(forward.len(), 6);
    assert_eq!(forward, backward);
    it.seek_for_prev(b"a", 5).unwrap();
    assert_eq!(
        at(&it),
        (b"a".to_vec(), 2),
        "newest source comes last going backward"
    );
    it.seek(b"b", 9).unwrap();
    assert_eq!(
        at(&it),
        (b"b".to_vec(), 0),
        "newest source comes first going forward"
    );
}

#[test]
fn no_children_and_empty_children_are_never_valid() {
    let mut none = MergingIterator::new(Vec::new());
    none.seek_to_first().unwrap();
    assert!(!none.valid());
    none.seek_to_last().unwrap();
    assert!(!none.valid());
    let mut empty = MergingIterator::new(build(&[vec![], vec![]]).0);
    empty.seek(b"a", 1).unwrap();
    assert!(!empty.valid());
    empty.next().unwrap();
    empty.prev().unwrap();
    assert!(!empty.valid());
}

/// Fails every call once `budget` calls have succeeded.
struct Failing {
    inner: VecIterator,
    budget: usize,
}

impl Failing {
    fn tick(&mut self) -> Result<()> {
        if self.budget == 0 {
            return Err(Error::corruption("failing.sst", 42, "injected"));
        }
        self.budget -= 1;
        Ok(())
    }
}

impl InternalIterator for Failing {
    fn valid(&self) -> bool {
        self.inner.valid()
    }
    fn key(&self) -> &[u8] {
        self.inner.key()
    }
    fn version(&self) -> Version {
        self.inner.version()
    }
    fn kind(&self) -> ValueKind {
        self.inner.kind()
    }
    fn value(&self) -> &[u8] {
        self.inner.value()
    }
    fn next(&mut self) -> Result<()> {
        self.tick()?;
        self.inner.next()
    }
    fn prev(&mut self) -> Result<()> {
        self.tick()?;
        self.inner.prev()
    }
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.tick()?;
        self.inner.seek(key, version)
    }
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.tick()?;
        self.inner.seek_for_prev(key, version)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.tick()?;
        self.inner.seek_to_first()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.tick()?;
        self.inner.seek_to_last()
    }
}

fn with_failing_child(budget: usize) -> MergingIterator {
    let raw = vec![
        vec![(b"a".to_vec(), 1), (b"c".to_vec(), 1)],
        vec![(b"b".to_vec(), 1), (b"d".to_vec(), 1)],
    ];
    let mut children = build(&raw).0;
    let failing_entries = vec![entry(b"a", 2, 2, 0), entry(b"b", 2, 2, 1)];
    children.push(Box::new(Failing {
        inner: VecIterator::new(failing_entries),
        budget,
    }));
    MergingIterator::new(children)
}

#[test]
fn child_errors_are_returned_and_invalidate_the_iterator() {
    // Fails on the first positioning call.
    let mut it = with_failing_child(0);
    let err = it.seek_to_first().unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(!it.valid());

    // Fails when the failing child is stepped by `next`.
    let mut it = with_failing_child(1);
    it.seek_to_first().unwrap();
    assert_eq!((it.key(), it.version()), (&b"a"[..], 2));
    assert!(it.next().is_err());
    assert!(!it.valid());

    // Fails while re-seeking the other children on a direction switch.
    let mut it = with_failing_child(1);
    it.seek_to_first().unwrap();
    it.seek_to_last().unwrap_err();
    assert!(!it.valid());
    let mut it = with_failing_child(1);
    it.seek_to_last().unwrap();
    assert!(it.next().is_err());
    assert!(!it.valid());
}
