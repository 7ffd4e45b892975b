//! Commit-log tests: roundtrip, pulls, recovery, torn tails, corruption, truncation, order.

use super::*;
use std::fs;

fn set(k: &str, v: &str) -> Mutation {
    Mutation::Set {
        key: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    }
}

fn muts(v: Version) -> Vec<Mutation> {
    vec![
        set(&format!("k{v}"), &"x".repeat(v as usize % 50)),
        Mutation::Clear { key: b"c".to_vec() },
    ]
}

fn small() -> CommitLogOptions {
    CommitLogOptions {
        segment_bytes: 1024,
        preallocate: true,
    }
}

/// A synced log holding versions `10, 20, ..., 10 * n`.
fn filled(dir: &Path, n: u64) -> CommitLog {
    let mut log = CommitLog::open_with(dir, small()).unwrap();
    for i in 1..=n {
        log.append(i * 10, &muts(i * 10)).unwrap();
    }
    log.sync().unwrap();
    log
}

fn versions(entries: &[(Version, Vec<Mutation>)]) -> Vec<Version> {
    entries.iter().map(|(v, _)| *v).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

#[test]
fn roundtrip_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(dir.path(), 100);
    assert!(log.segment_count() > 3, "{} segments", log.segment_count());
    let all = log.pull(0, usize::MAX).unwrap();
    let want: Vec<_> = (1..=100).map(|i| (i * 10, muts(i * 10))).collect();
    assert_eq!(all, want);
    drop(log);
    let log = CommitLog::open_with(dir.path(), small()).unwrap();
    assert_eq!(log.last_version(), Some(1000));
    assert_eq!(log.durable_version(), Some(1000));
    assert_eq!(log.pull(0, usize::MAX).unwrap(), want);
}

#[test]
fn pull_respects_from_version_and_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(dir.path(), 100);
    assert_eq!(
        versions(&log.pull(555, usize::MAX).unwrap())[..2],
        [560, 570]
    );
    assert_eq!(versions(&log.pull(560, usize::MAX).unwrap())[0], 560);
    assert!(log.pull(1001, usize::MAX).unwrap().is_empty());
    assert_eq!(
        versions(&log.pull(0, 0).unwrap()),
        vec![10],
        "at least one entry"
    );
    // Budget spanning several segments: exactly the entries that fit.
    let got = log.pull(100, 2000).unwrap();
    let size = |v: Version| 8 + encode_entry(v, &muts(v)).len();
    let total: usize = versions(&got).iter().map(|v| size(*v)).sum();
    let next = 100 + 10 * got.len() as u64;
    assert!(total <= 2000 && total + size(next) > 2000, "{total}");
    assert_eq!(
        versions(&got),
        (0..got.len() as u64)
            .map(|i| 100 + 10 * i)
            .collect::<Vec<_>>()
    );
}

#[test]
fn pull_sees_only_synced_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = CommitLog::open_with(dir.path(), small()).unwrap();
    assert!(log.pull(0, usize::MAX).unwrap().is_empty());
    log.append(1, &muts(1)).unwrap();
    log.append(2, &muts(2)).unwrap();
    assert!(log.pull(0, usize::MAX).unwrap().is_empty());
    log.sync().unwrap();
    log.append(3, &muts(3)).unwrap();
    assert_eq!(versions(&log.pull(0, usize::MAX).unwrap()), vec![1, 2]);
    assert_eq!(log.last_version(), Some(3));
    assert_eq!(log.durable_version(), Some(2));
}

/// Entries synced through a sync point, on another thread, are durable to `pull` and
/// `durable_version` too (they were not: see the pipeline's
/// `a_pull_behind_the_tail_returns_commits_synced_by_the_sync_thread`).
#[test]
fn pull_sees_entries_synced_through_a_sync_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = CommitLog::open_with(dir.path(), small()).unwrap();
    log.append(1, &muts(1)).unwrap();
    log.sync().unwrap();
    log.append(2, &muts(2)).unwrap();
    log.append(3, &muts(3)).unwrap();
    let point = log.flush_for_sync().unwrap().expect("entries to sync");
    assert_eq!(point.version(), 3);
    log.append(4, &muts(4)).unwrap();
    assert_eq!(versions(&log.pull(0, usize::MAX).unwrap()), vec![1]);
    std::thread::spawn(move || point.sync().unwrap())
        .join()
        .unwrap();
    assert_eq!(versions(&log.pull(0, usize::MAX).unwrap()), vec![1, 2, 3]);
    assert_eq!(log.durable_version(), Some(3));
    log.sync().unwrap();
    assert_eq!(versions(&log.pull(2, usize::MAX).unwrap()), vec![2, 3, 4]);
    assert_eq!(log.durable_version(), Some(4));
}

#[test]
fn versions_must_strictly_increase() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = CommitLog::open(dir.path()).unwrap();
    log.append(5, &[]).unwrap();
    for bad in [5, 4, 0] {
        let err = log.append(bad, &muts(1)).unwrap_err();
        assert!(matches!(err, Error::VersionOrder { last: 5, .. }), "{err}");
    }
    log.append(6, &[]).unwrap();
    log.sync().unwrap();
    drop(log);
    let mut log = CommitLog::open(dir.path()).unwrap();
    assert!(matches!(
        log.append(6, &[]),
        Err(Error::VersionOrder { .. })
    ));
    assert_eq!(
        log.pull(0, usize::MAX).unwrap(),
        vec![(5, vec![]), (6, vec![])]
    );
}

#[test]
fn torn_tail_in_newest_segment_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    drop(filled(dir.path(), 30));
    let files = segment_files(dir.path());
    let newest = files.last().unwrap();
    let before = CommitLog::open_with(dir.path(), small())
        .unwrap()
        .pull(0, usize::MAX)
        .unwrap();
    drop(CommitLog::open_with(dir.path(), small()).unwrap());
    let len = fs::metadata(newest).unwrap().len();
    // Cut the last record in half.
    fs::OpenOptions::new()
        .write(true)
        .open(newest)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let mut log = CommitLog::open_with(dir.path(), small()).unwrap();
    let after = log.pull(0, usize::MAX).unwrap();
    assert_eq!(after, before[..before.len() - 1]);
    // The log continues after the torn record, and the new entry survives a reopen.
    log.append(300, &muts(300)).unwrap();
    log.sync().unwrap();
    drop(log);
    let log = CommitLog::open_with(dir.path(), small()).unwrap();
    assert_eq!(log.pull(291, usize::MAX).unwrap(), vec![(300, muts(300))]);
}

#[test]
fn a_newest_segment_with_nothing_in_it_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    drop(filled(dir.path(), 3));
    // A preallocated segment created just before a crash: zeros only.
    let empty = segment_path(dir.path(), 99);
    fs::write(&empty, vec![0u8; 512]).unwrap();
    let mut log = CommitLog::open_with(dir.path(), small()).unwrap();
    assert!(!empty.exists());
    assert_eq!(log.last_version(), Some(30));
    log.append(40, &[]).unwrap();
    log.sync().unwrap();
}

#[test]
fn corruption_mid_file_names_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    drop(filled(dir.path(), 30));
    for (n, path) in segment_files(dir.path()).iter().enumerate() {
        let good = fs::read(path).unwrap();
        let end = good.iter().rposition(|&b| b != 0).unwrap();
        let mut bad = good.clone();
        bad[end / 3] ^= 0x01;
        fs::write(path, &bad).unwrap();
        let err = CommitLog::open_with(dir.path(), small()).unwrap_err();
        assert!(err.is_corruption(), "segment {n}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains(path.file_name().unwrap().to_str().unwrap()),
            "{msg}"
        );
        assert!(msg.contains("offset"), "{msg}");
        fs::write(path, &good).unwrap();
    }
    CommitLog::open_with(dir.path(), small()).unwrap();
}

#[test]
fn torn_record_in_a_sealed_segment_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    drop(filled(dir.path(), 30));
    let files = segment_files(dir.path());
    let first = &files[0];
    let bytes = fs::read(first).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    fs::write(first, &bytes[..end - 3]).unwrap();
    let err = CommitLog::open_with(dir.path(), small()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("sealed segment"), "{err}");
}

#[test]
fn a_payload_that_does_not_decode_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = segment_path(dir.path(), 7);
    let mut w = RecordWriter::create(&path).unwrap();
    w.append(&7u64.to_le_bytes()).unwrap(); // version, but no mutation count
    w.sync().unwrap();
    drop(w);
    let err = CommitLog::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Corruption { offset: 0, .. }), "{err}");
}

#[test]
fn first_entry_must_match_the_segment_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = segment_path(dir.path(), 7);
    let mut w = RecordWriter::create(&path).unwrap();
    w.append(&encode_entry(8, &[])).unwrap();
    w.sync().unwrap();
    drop(w);
    let err = CommitLog::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("named for 7"), "{err}");
}

#[test]
fn truncation_deletes_whole_segments_below_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = filled(dir.path(), 100);
    let segs = log.segment_count();
    assert_eq!(log.truncate_below(0).unwrap(), 0);
    let removed = log.truncate_below(505).unwrap();
    assert!(removed > 0 && removed < segs);
    assert_eq!(segment_files(dir.path()).len(), segs - removed);
    let first = log.first_version().unwrap();
    assert!(
        first <= 500,
        "entries at or above 505 must all be kept (first {first})"
    );
    assert_eq!(versions(&log.pull(0, usize::MAX).unwrap())[0], first);
    // Never the active segment, even when everything is below v.
    log.truncate_below(u64::MAX).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.pull(0, usize::MAX).unwrap().last().unwrap().0, 1000);
    drop(log);
    let log = CommitLog::open_with(dir.path(), small()).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.last_version(), Some(1000));
}

#[test]
fn the_newest_durable_entry_survives_truncation_and_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = CommitLog::open_with(dir.path(), small()).unwrap();
    let mut v = 0;
    while log.segment_count() < 2 {
        v += 1;
        log.append(v, &muts(v)).unwrap();
    }
    // The newest segment holds only the unsynced entry `v`; everything before is durable.
    assert_eq!(log.durable_version(), Some(v - 1));
    assert_eq!(log.truncate_below(v + 1).unwrap(), 0);
    // Crash with the buffer lost: the recovered log still knows it reached `v - 1`.
    std::mem::forget(log.writer.take());
    drop(log);
    let log = CommitLog::open_with(dir.path(), small()).unwrap();
    assert_eq!(log.last_version(), Some(v - 1));
}

#[test]
fn a_second_open_of_the_same_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let _log = CommitLog::open(dir.path()).unwrap();
    assert!(CommitLog::open(dir.path()).is_err());
}
