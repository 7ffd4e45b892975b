//! Build/read roundtrips, iterator equivalence against `VecIterator`, point reads against an
//! oracle, and the bloom filter's false-positive rate measured through a real table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::cache::BlockCache;
use crate::iterator::{InternalIterator, VecIterator};
use crate::types::{compare_internal, Entry, ValueKind};
use crate::Error;

pub(super) fn entry(key: &[u8], version: u64, kind: ValueKind, value: &[u8]) -> Entry {
    Entry {
        key: key.to_vec(),
        version,
        kind,
        value: if kind == ValueKind::Value {
            value.to_vec()
        } else {
            Vec::new()
        },
    }
}

pub(super) fn sort_dedup(mut v: Vec<Entry>) -> Vec<Entry> {
    v.sort_by(|a, b| compare_internal(&a.key, a.version, &b.key, b.version));
    v.dedup_by(|a, b| a.key == b.key && a.version == b.version);
    v
}

pub(super) fn build(path: &Path, entries: &[Entry], opts: TableOptions) -> TableProperties {
    let mut b = TableBuilder::create(path, opts).unwrap();
    for e in entries {
        b.add(&e.key, e.version, e.kind, &e.value).unwrap();
    }
    assert_eq!(b.num_entries(), entries.len() as u64);
    b.finish().unwrap()
}

pub(super) fn open(path: &Path) -> Arc<Table> {
    Table::open(path, 1, Arc::new(BlockCache::new(1 << 20))).unwrap()
}

fn current(it: &dyn InternalIterator) -> Entry {
    entry(it.key(), it.version(), it.kind(), it.value())
}

pub(super) fn scan_forward(t: &Arc<Table>) -> crate::Result<Vec<Entry>> {
    let mut it = t.iter();
    let mut out = Vec::new();
    it.seek_to_first()?;
    while it.valid() {
        out.push(current(&it));
        it.next()?;
    }
    Ok(out)
}

pub(super) fn scan_backward(t: &Arc<Table>) -> crate::Result<Vec<Entry>> {
    let mut it = t.iter();
    let mut out = Vec::new();
    it.seek_to_last()?;
    while it.valid() {
        out.push(current(&it));
        it.prev()?;
    }
    out.reverse();
    Ok(out)
}

fn sample_entries(n: u32, value_len: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let key = format!("user{:06}", i / 4);
            let kind = if i % 7 == 3 {
                ValueKind::Tombstone
            } else {
                ValueKind::Value
            };
            let value = format!("value-{i}-").repeat(value_len / 8 + 1);
            entry(
                key.as_bytes(),
                u64::from(100 - i % 4),
                kind,
                value.as_bytes(),
            )
        })
        .collect()
}

fn path_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn roundtrip_across_block_sizes_restarts_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let entries = sample_entries(2000, 24);
    let mut n = 0;
    for block_size in [1, 64, 4096, 1 << 20] {
        for restart_interval in [1, 16] {
            for compression in [Compression::None, Compression::Lz4] {
                n += 1;
                let path = path_in(&dir, &format!("{n}.sst"));
                let opts = TableOptions {
                    block_size,
                    restart_interval,
                    compression,
                    ..TableOptions::default()
                };
                let props = build(&path, &entries, opts);
                let t = open(&path);
                assert_eq!(t.properties(), &props);
                assert_eq!(props.file_size, std::fs::metadata(&path).unwrap().len());
                assert_eq!(
                    scan_forward(&t).unwrap(),
                    entries,
                    "{block_size} {compression:?}"
                );
                assert_eq!(scan_backward(&t).unwrap(), entries);
                for e in entries.iter().step_by(37) {
                    assert_eq!(t.get(&e.key, e.version).unwrap().as_ref(), Some(e));
                }
            }
        }
    }
}

#[test]
fn properties_describe_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "p.sst");
    let entries = sample_entries(100, 8);
    let props = build(&path, &entries, TableOptions::default());
    let tombstones = entries
        .iter()
        .filter(|e| e.kind == ValueKind::Tombstone)
        .count();
    assert_eq!(props.num_entries, 100);
    assert_eq!(props.num_tombstones, tombstones as u64);
    assert_eq!(props.smallest_key, entries[0].key);
    assert_eq!(props.smallest_version, entries[0].version);
    assert_eq!(props.largest_key, entries[99].key);
    assert_eq!(props.largest_version, entries[99].version);
    assert_eq!((props.min_version, props.max_version), (97, 100));
    assert_eq!(open(&path).file_number(), 1);
    assert_eq!(open(&path).path(), path.as_path());
}

#[test]
fn lz4_shrinks_compressible_tables() {
    let dir = tempfile::tempdir().unwrap();
    let entries = sample_entries(3000, 200);
    let plain = build(&path_in(&dir, "a.sst"), &entries, TableOptions::default());
    let lz4 = build(
        &path_in(&dir, "b.sst"),
        &entries,
        TableOptions {
            compression: Compression::Lz4,
            ..TableOptions::default()
        },
    );
    assert!(
        lz4.file_size * 2 < plain.file_size,
        "{} vs {}",
        lz4.file_size,
        plain.file_size
    );
}

#[test]
fn empty_values_tombstones_and_empty_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "e.sst");
    let entries = vec![
        entry(b"", 5, ValueKind::Value, b""),
        entry(b"", 1, ValueKind::Tombstone, b""),
        entry(b"a", 9, ValueKind::Value, b""),
        entry(b"a", 8, ValueKind::Tombstone, b""),
    ];
    build(&path, &entries, TableOptions::default());
    let t = open(&path);
    assert_eq!(scan_forward(&t).unwrap(), entries);
    assert_eq!(t.get(b"", 3).unwrap(), Some(entries[1].clone()));
    assert_eq!(t.get(b"a", 8).unwrap(), Some(entries[3].clone()));
    assert_eq!(t.get(b"a", 7).unwrap(), None);
}

#[test]
fn huge_values_span_many_block_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for compression in [Compression::None, Compression::Lz4] {
        let path = path_in(&dir, &format!("{compression:?}.sst"));
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let entries = vec![
            entry(b"a", 1, ValueKind::Value, b"small"),
            entry(b"b", 1, ValueKind::Value, &big),
            entry(b"c", 1, ValueKind::Value, b"after"),
        ];
        let opts = TableOptions {
            compression,
            ..TableOptions::default()
        };
        build(&path, &entries, opts);
        let t = open(&path);
        assert_eq!(scan_backward(&t).unwrap(), entries);
        assert_eq!(t.get(b"b", 1).unwrap().unwrap().value, big);
    }
}

#[test]
fn many_versions_of_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "v.sst");
    let entries: Vec<Entry> = (1..=3000u64)
        .rev()
        .map(|v| entry(b"k", v * 2, ValueKind::Value, &v.to_le_bytes()))
        .collect();
    build(
        &path,
        &entries,
        TableOptions {
            block_size: 256,
            ..TableOptions::default()
        },
    );
    let t = open(&path);
    for v in [0u64, 1, 2, 3, 1001, 4000, 5999, 6000, 6001, u64::MAX] {
        let got = t.get(b"k", v).unwrap().map(|e| e.version);
        let want = (v >= 2).then(|| v.min(6000) & !1);
        assert_eq!(got, want, "read at {v}");
    }
    assert_eq!(t.get(b"j", u64::MAX).unwrap(), None);
    assert_eq!(t.get(b"kk", u64::MAX).unwrap(), None);
}

#[test]
fn empty_table_roundtrips() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "empty.sst");
    let props = build(&path, &[], TableOptions::default());
    assert_eq!(props.num_entries, 0);
    let t = open(&path);
    assert!(scan_forward(&t).unwrap().is_empty());
    assert!(scan_backward(&t).unwrap().is_empty());
    assert_eq!(t.get(b"", 0).unwrap(), None);
    let mut it = t.iter();
    it.seek_for_prev(b"z", 0).unwrap();
    assert!(!it.valid());
}

#[test]
fn misordered_entries_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "o.sst");
    let mut b = TableBuilder::create(&path, TableOptions::default()).unwrap();
    b.add(b"b", 5, ValueKind::Value, b"x").unwrap();
    let dup = b.add(b"b", 5, ValueKind::Value, b"y");
    assert!(matches!(dup, Err(Error::InvalidArgument(_))));
    let newer = b.add(b"b", 6, ValueKind::Value, b"y");
    assert!(matches!(newer, Err(Error::InvalidArgument(_))));
    let smaller = b.add(b"a", 1, ValueKind::Value, b"y");
    assert!(matches!(smaller, Err(Error::InvalidArgument(_))));
    b.add(b"b", 4, ValueKind::Value, b"z").unwrap();
    assert_eq!(b.num_entries(), 2);
    assert!(b.estimated_size() > 0);
    b.finish().unwrap();
    assert_eq!(scan_forward(&open(&path)).unwrap().len(), 2);
}

#[test]
fn create_refuses_existing_file_and_abandon_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "x.sst");
    let mut b = TableBuilder::create(&path, TableOptions::default()).unwrap();
    assert!(matches!(
        TableBuilder::create(&path, TableOptions::default()),
        Err(Error::Io { .. })
    ));
    b.add(b"a", 1, ValueKind::Value, b"v").unwrap();
    b.abandon().unwrap();
    assert!(!path.exists());
}

#[test]
fn point_reads_go_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "c.sst");
    build(&path, &sample_entries(500, 8), TableOptions::default());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let t = Table::open(&path, 42, Arc::clone(&cache)).unwrap();
    t.get(b"user000010", 100).unwrap().unwrap();
    let misses = cache.misses();
    t.get(b"user000010", 100).unwrap().unwrap();
    assert_eq!(cache.misses(), misses);
    assert!(cache.hits() >= 1);
    let before = cache.usage();
    let mut it = t.iter_without_cache_fill();
    it.seek_to_first().unwrap();
    while it.valid() {
        it.next().unwrap();
    }
    assert_eq!(cache.usage(), before);
    cache.erase_file(42);
    assert_eq!(cache.usage(), 0);
}

#[test]
fn bloom_false_positive_rate_through_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "bloom.sst");
    let entries: Vec<Entry> = (0..10_000u32)
        .map(|i| {
            entry(
                format!("present{i:08}").as_bytes(),
                1,
                ValueKind::Value,
                b"",
            )
        })
        .collect();
    build(&path, &entries, TableOptions::default());
    let t = open(&path);
    assert!(entries.iter().all(|e| t.may_contain(&e.key)));
    let fp = (0..10_000u32)
        .filter(|i| t.may_contain(format!("absent{i:08}").as_bytes()))
        .count();
    assert!(fp < 200, "{fp} false positives in 10000 (>= 2%)");
}

#[test]
fn no_bloom_means_may_contain_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "nobloom.sst");
    let opts = TableOptions {
        bloom_bits_per_key: 0,
        ..TableOptions::default()
    };
    build(&path, &sample_entries(10, 4), opts);
    let t = open(&path);
    assert!(t.may_contain(b"anything"));
    assert_eq!(
        t.get(b"user000001", 100).unwrap().unwrap().key,
        b"user000001"
    );
}

#[test]
fn handles_are_send_sync_static() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send_static<T: Send + 'static>() {}
    assert_send_sync::<Table>();
    assert_send_sync::<BlockCache>();
    assert_send_static::<TableIterator>();
}

#[derive(Clone, Debug)]
enum Op {
    Seek(Vec<u8>, u64),
    SeekForPrev(Vec<u8>, u64),
    Next,
    Prev,
    First,
    Last,
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..5)
}

fn entries_strategy() -> impl Strategy<Value = Vec<Entry>> {
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        (any::<u8>(), 0..300usize).prop_map(|(b, n)| vec![b; n]),
    ];
    prop::collection::vec((key_strategy(), 0..8u64, any::<bool>(), value), 0..200).prop_map(|raw| {
        let v = raw
            .into_iter()
            .map(|(k, ver, live, val)| {
                let kind = if live {
                    ValueKind::Value
                } else {
                    ValueKind::Tombstone
                };
                entry(&k, ver, kind, &val)
            })
            .collect();
        sort_dedup(v)
    })
}

fn options_strategy() -> impl Strategy<Value = TableOptions> {
    (
        prop::sample::select(vec![1usize, 48, 256, 4096]),
        prop::sample::select(vec![1usize, 2, 16]),
        prop::sample::select(vec![0usize, 10]),
        any::<bool>(),
    )
        .prop_map(|(block_size, restart_interval, bloom, lz4)| TableOptions {
            block_size,
            restart_interval,
            bloom_bits_per_key: bloom,
            compression: if lz4 {
                Compression::Lz4
            } else {
                Compression::None
            },
        })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (key_strategy(), 0..9u64).prop_map(|(k, v)| Op::Seek(k, v)),
        (key_strategy(), 0..9u64).prop_map(|(k, v)| Op::SeekForPrev(k, v)),
        Just(Op::Next),
        Just(Op::Next),
        Just(Op::Prev),
        Just(Op::Prev),
        Just(Op::First),
        Just(Op::Last),
    ]
}

fn apply(it: &mut dyn InternalIterator, op: &Op) -> crate::Result<()> {
    match op {
        Op::Seek(k, v) => it.seek(k, *v),
        Op::SeekForPrev(k, v) => it.seek_for_prev(k, *v),
        Op::Next => it.next(),
        Op::Prev => it.prev(),
        Op::First => it.seek_to_first(),
        Op::Last => it.seek_to_last(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn table_iterator_matches_vec_iterator(
        entries in entries_strategy(),
        opts in options_strategy(),
        ops in prop::collection::vec(op_strategy(), 1..60),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sst");
        build(&path, &entries, opts);
        let t = open(&path);
        let mut got = t.iter();
        let mut want = VecIterator::new(entries.clone());
        for op in &ops {
            apply(&mut got, op).unwrap();
            apply(&mut want, op).unwrap();
            prop_assert_eq!(got.valid(), want.valid(), "after {:?}", op);
            if want.valid() {
                prop_assert_eq!(current(&got), current(&want), "after {:?}", op);
            }
        }
    }

    #[test]
    fn get_matches_oracle(
        entries in entries_strategy(),
        opts in options_strategy(),
        queries in prop::collection::vec((key_strategy(), 0..9u64), 1..50),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sst");
        build(&path, &entries, opts);
        let t = open(&path);
        for (k, v) in &queries {
            let want = entries.iter().find(|e| &e.key == k && e.version <= *v);
            let got = t.get(k, *v).unwrap();
            prop_assert_eq!(got.as_ref(), want, "get {:?}@{}", k, v);
        }
        for e in &entries {
            prop_assert!(t.may_contain(&e.key));
        }
    }
}
