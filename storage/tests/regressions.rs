//! Named regression tests: each one is a case a randomized test once found.

mod common;

use ferrisdb_storage::{Direction, Engine};

fn scan_all(e: &Engine, at: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    e.scan(.., at, Direction::Forward)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// model.rs found: with the GC watermark at 26, a bottommost compaction dropped the tombstone
/// `k@11` (correctly: it shadowed nothing), and then a write at the *older* version 10
/// resurrected `k` for readers at 26. Writes below the watermark are now refused.
#[test]
fn write_below_gc_watermark_is_refused_so_dropped_tombstones_cannot_resurrect() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), common::tiny_options()).unwrap();
    e.put(b"a", 0, b"a0").unwrap();
    e.flush().unwrap();
    e.delete(b"k", 11).unwrap();
    e.set_gc_watermark(26);
    e.compact_all().unwrap();
    let err = e
        .put(b"k", 10, b"k10")
        .expect_err("a write below the watermark is refused");
    assert!(
        matches!(err, ferrisdb_storage::Error::InvalidArgument(_)),
        "{err}"
    );
    e.put(b"k", 26, b"k26").unwrap();
    assert_eq!(e.get(b"k", 26).unwrap(), Some(b"k26".to_vec()));
    assert_eq!(scan_all(&e, 30).len(), 2);
}

/// The same case as model.rs first shrank it, through a reopen (recovered WAL flushed to L0):
/// a batch with one operation below the watermark is refused whole.
#[test]
fn batch_with_one_write_below_watermark_is_refused_whole_after_reopen() {
    let key = |k: u8| format!("key{:0width$}", k, width = 1 + (k % 3) as usize).into_bytes();
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), common::tiny_options()).unwrap();
    e.put(&key(0), 0, b"v0").unwrap();
    e.delete(&key(19), 11).unwrap();
    e.set_gc_watermark(26);
    e.flush().unwrap();
    e.close().unwrap();
    let e = Engine::open(dir.path(), common::tiny_options()).unwrap();
    let mut b = ferrisdb_storage::WriteBatch::new();
    b.put(&key(19), 10, b"x19").unwrap();
    b.put(&key(10), 47, b"x10").unwrap();
    b.delete(&key(35), 40).unwrap();
    b.put(&key(6), 40, b"x6").unwrap();
    b.delete(&key(31), 46).unwrap();
    e.set_gc_watermark(26);
    let err = e.write(b).expect_err("version 10 is below the watermark");
    assert!(
        matches!(err, ferrisdb_storage::Error::InvalidArgument(_)),
        "{err}"
    );
    assert_eq!(
        e.get(&key(10), 47).unwrap(),
        None,
        "no part of the refused batch is applied"
    );
    assert_eq!(e.get(&key(19), 26).unwrap(), None);
    assert_eq!(scan_all(&e, 26), vec![(key(0), b"v0".to_vec())]);
}

/// model.rs found: `k@40` (tombstone) reached the bottom level; `k@24` was written later (an
/// older version, legal then) and sat in a higher level; the watermark moved to 48. A
/// bottommost compaction dropped the tombstone as "shadowing nothing below", resurrecting
/// `k@24` for readers at 48. Bottom tombstones are now dropped only at or below the lowest
/// version any higher source holds.
#[test]
fn bottom_tombstone_kept_while_a_higher_level_holds_an_older_version() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), common::tiny_options()).unwrap();
    e.delete(b"k", 40).unwrap();
    e.put(b"other", 1, b"o").unwrap();
    e.compact_all().unwrap();
    e.put(b"k", 24, b"k24").unwrap();
    e.flush().unwrap();
    e.set_gc_watermark(48);
    // Rewrites the deepest level in place (bottommost) while k@24 sits in L0.
    let v = e.stats();
    assert!(v.levels[0].files >= 1, "k@24 is in L0: {v}");
    e.compact_all().unwrap();
    assert_eq!(
        e.get(b"k", 48).unwrap(),
        None,
        "the tombstone at 40 still hides k@24"
    );
    assert_eq!(scan_all(&e, 48), vec![(b"other".to_vec(), b"o".to_vec())]);
    // Once both are in one compaction, k@24 is collected with the tombstone.
    e.compact_all().unwrap();
    assert_eq!(e.get(b"k", 48).unwrap(), None);
}

/// concurrency.rs found: a table moved to the next level without rewrite got a second
/// FileMeta; when the moved copy was compacted away it deleted the file while a snapshot of an
/// older version still read it through the first ("No such file or directory").
#[test]
fn snapshot_survives_trivial_move_then_compaction_of_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ferrisdb_storage::Options {
        l1_target_size: 4096,
        ..common::tiny_options()
    };
    let e = Engine::open(dir.path(), opts).unwrap();
    let mut v = 1;
    let mut snapshots = Vec::new();
    for round in 0..40u32 {
        for i in 0..60u32 {
            e.put(
                format!("k{:05}", (i * 7919 + round * 13) % 3000).as_bytes(),
                v,
                &[b'x'; 40],
            )
            .unwrap();
            v += 1;
        }
        e.flush().unwrap();
        snapshots.push((e.snapshot(v), scan_all(&e, v)));
        e.wait_for_compactions().unwrap();
    }
    assert!(e.stats().compactions > 0);
    for (snap, want) in &snapshots {
        let got: Vec<_> = snap
            .scan(.., Direction::Forward)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            &got == want,
            "snapshot at {} changed or lost a table",
            snap.version()
        );
    }
}
