//! Corruption tests: damage WAL segments, SSTables and the manifest on disk, then check the
//! engine reports the file (and offset) and never returns wrong data or panics.

mod common;

use std::path::{Path, PathBuf};

use ferrisdb_storage::{Direction, Engine, Error, Options, SyncMode};

fn files_with(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| pred(p.file_name().unwrap().to_str().unwrap()))
        .collect();
    v.sort();
    v
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

/// Where the records of a (preallocated, zero-filled) WAL segment end.
fn wal_data_end(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

fn big_memtable() -> Options {
    Options {
        sync_mode: SyncMode::None,
        memtable_size: 64 << 20,
        ..Options::default()
    }
}

fn value(i: u32) -> Vec<u8> {
    format!("value-{i:05}-{}", "z".repeat(40)).into_bytes()
}

/// Write `n` keys; with `flush`, into a table, otherwise left in the WAL only.
fn populate(dir: &Path, n: u32, flush: bool) {
    let e = Engine::open(dir, big_memtable()).unwrap();
    for i in 0..n {
        e.put(format!("key{i:05}").as_bytes(), 1, &value(i))
            .unwrap();
    }
    if flush {
        e.flush().unwrap();
    }
    // Leave the WAL as the writes left it: dropping without flush keeps data only in the log.
    e.close().unwrap();
}

fn names_file(err: &Error, file: &Path) -> bool {
    match err {
        Error::Corruption { file: f, .. } | Error::ChecksumMismatch { file: f, .. } => f == file,
        _ => false,
    }
}

#[test]
fn wal_record_flipped_in_the_middle_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 200, false);
    let wal = files_with(dir.path(), |n| n.ends_with(".log"));
    let wal = wal.iter().find(|p| wal_data_end(p) > 0).unwrap().clone();
    let len = wal_data_end(&wal);
    flip(&wal, len / 2);
    let err = Engine::open(dir.path(), big_memtable())
        .err()
        .expect("open must fail on a corrupt WAL");
    assert!(names_file(&err, &wal), "error names the WAL segment: {err}");
    match err {
        Error::Corruption { offset, .. } => assert!(
            offset > 0 && offset <= len / 2,
            "offset {offset} points at the bad record"
        ),
        other => panic!("expected corruption, got {other}"),
    }
}

#[test]
fn wal_torn_tail_drops_only_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 50, false);
    let wal = files_with(dir.path(), |n| n.ends_with(".log"));
    let wal = wal.iter().find(|p| wal_data_end(p) > 0).unwrap().clone();
    let len = wal_data_end(&wal) as usize;
    // A torn final write in a preallocated segment: its last bytes never reached the disk.
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[len - 3..len].fill(0);
    std::fs::write(&wal, bytes).unwrap();
    let e = Engine::open(dir.path(), big_memtable()).unwrap();
    for i in 0..49 {
        assert_eq!(
            e.get(format!("key{i:05}").as_bytes(), 1).unwrap(),
            Some(value(i))
        );
    }
    assert_eq!(
        e.get(b"key00049", 1).unwrap(),
        None,
        "the torn final write is dropped"
    );
}

#[test]
fn sstable_damage_is_reported_never_returned_as_data() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 2000, true);
    let sst = files_with(dir.path(), |n| n.ends_with(".sst"));
    assert_eq!(sst.len(), 1);
    let len = std::fs::metadata(&sst[0]).unwrap().len();
    // A byte early in the data blocks: the block holding the first keys.
    flip(&sst[0], 100);
    let e = Engine::open(dir.path(), big_memtable()).unwrap();
    let mut reported = false;
    for i in 0..2000u32 {
        match e.get(format!("key{i:05}").as_bytes(), 1) {
            Ok(v) => assert_eq!(
                v,
                Some(value(i)),
                "a read that succeeds returns the right data"
            ),
            Err(err) => {
                assert!(names_file(&err, &sst[0]), "error names the table: {err}");
                reported = true;
            }
        }
    }
    assert!(reported, "the damaged block was detected");
    let scanned: Result<Vec<_>, _> = e.scan(.., 1, Direction::Forward).unwrap().collect();
    let err = scanned.expect_err("a scan over the damaged block fails");
    assert!(names_file(&err, &sst[0]), "{err}");
    drop(e);
    // Damage to the footer is found at open of the table (first read).
    let dir2 = tempfile::tempdir().unwrap();
    populate(dir2.path(), 100, true);
    let sst2 = files_with(dir2.path(), |n| n.ends_with(".sst"));
    let len2 = std::fs::metadata(&sst2[0]).unwrap().len();
    flip(&sst2[0], len2 - 4);
    let e2 = Engine::open(dir2.path(), big_memtable()).unwrap();
    let err = e2
        .get(b"key00001", 1)
        .expect_err("a damaged footer is detected");
    assert!(names_file(&err, &sst2[0]), "{err}");
    let _ = len;
}

#[test]
fn manifest_damage_fails_open_with_the_manifest_named() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 100, true);
    let manifest = files_with(dir.path(), |n| n.starts_with("MANIFEST-"));
    assert_eq!(manifest.len(), 1);
    flip(&manifest[0], 10);
    let err = Engine::open(dir.path(), big_memtable())
        .err()
        .expect("open must fail");
    assert!(names_file(&err, &manifest[0]), "{err}");
}

#[test]
fn garbage_current_file_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 10, true);
    std::fs::write(dir.path().join("CURRENT"), b"\xff\xfe nonsense").unwrap();
    let err = Engine::open(dir.path(), big_memtable())
        .err()
        .expect("open must fail");
    assert!(err.is_corruption(), "{err}");
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _e = Engine::open(dir.path(), big_memtable()).unwrap();
    assert!(Engine::open(dir.path(), big_memtable()).is_err());
}

#[test]
fn oversized_key_and_value_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), big_memtable()).unwrap();
    let big_key = vec![b'k'; ferrisdb_storage::MAX_KEY_LEN + 1];
    assert!(matches!(
        e.put(&big_key, 1, b"v"),
        Err(Error::InvalidArgument(_))
    ));
    let big_value = vec![b'v'; ferrisdb_storage::MAX_VALUE_LEN + 1];
    assert!(matches!(
        e.put(b"k", 1, &big_value),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(e.get(b"k", 1).unwrap(), None);
}
