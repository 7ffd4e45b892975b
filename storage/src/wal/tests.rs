//! Tests of the record writer, recovery, and segment listing.

use super::*;
use crate::Error;
use proptest::prelude::*;
use std::fs;

/// Payloads whose bytes never form a record header of their own (no embedded frames).
fn payloads() -> Vec<Vec<u8>> {
    vec![
        b"first".to_vec(),
        vec![7u8; 1000],
        b"third record".to_vec(),
        (0..=255u8).collect(),
        b"last one".to_vec(),
    ]
}

/// Write `payloads` to a fresh log; returns the record offsets and the file length.
fn write_log(path: &Path, payloads: &[Vec<u8>]) -> (Vec<u64>, u64) {
    let mut w = RecordWriter::create(path).unwrap();
    let mut offsets = Vec::new();
    for p in payloads {
        offsets.push(w.len());
        w.append(p).unwrap();
    }
    w.sync().unwrap();
    (offsets, w.len())
}

fn payloads_of(log: &RecoveredLog) -> Vec<Vec<u8>> {
    log.records.iter().map(|(_, p)| p.clone()).collect()
}

#[test]
fn roundtrip_preserves_payloads_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let path = wal_file_name(dir.path(), 1);
    let ps = payloads();
    let (offsets, len) = write_log(&path, &ps);
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
    let log = read_log(&path).unwrap();
    assert_eq!(payloads_of(&log), ps);
    let got: Vec<u64> = log.records.iter().map(|(o, _)| *o).collect();
    assert_eq!(got, offsets);
    assert_eq!(log.valid_len, len);
    assert_eq!(log.torn_tail_at, None);
}

#[test]
fn record_bytes_match_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    write_log(&path, &[b"abc".to_vec()]);
    let bytes = fs::read(&path).unwrap();
    let mut h = crc32fast::Hasher::new();
    h.update(&[3, 0, 0, 0]);
    h.update(b"abc");
    let mut want = vec![3, 0, 0, 0];
    want.extend_from_slice(&h.finalize().to_le_bytes());
    want.extend_from_slice(b"abc");
    assert_eq!(bytes, want);
}

#[test]
fn large_payloads_bypass_the_buffer_and_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let ps = vec![b"small".to_vec(), big, b"after".to_vec()];
    let (_, len) = write_log(&path, &ps);
    let log = read_log(&path).unwrap();
    assert_eq!(payloads_of(&log), ps);
    assert_eq!(log.valid_len, len);
}

#[test]
fn empty_payload_is_rejected_and_create_refuses_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.log");
    let mut w = RecordWriter::create(&path).unwrap();
    assert!(matches!(w.append(b""), Err(Error::InvalidArgument(_))));
    assert_eq!(w.len(), 0);
    assert!(RecordWriter::create(&path).is_err());
}

#[test]
fn flush_makes_records_visible_without_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.log");
    let mut w = RecordWriter::create(&path).unwrap();
    w.append(b"buffered").unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        0,
        "append must only buffer"
    );
    assert_eq!(w.len(), 16);
    w.flush().unwrap();
    assert_eq!(
        read_log(&path).unwrap().records,
        vec![(0, b"buffered".to_vec())]
    );
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads();
    let full = dir.path().join("full.log");
    let (offsets, len) = write_log(&full, &ps);
    let bytes = fs::read(&full).unwrap();
    let last = *offsets.last().unwrap();
    for cut in last + 1..len {
        let path = dir.path().join(format!("cut{cut}.log"));
        fs::write(&path, &bytes[..cut as usize]).unwrap();
        let log = read_log(&path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(payloads_of(&log), ps[..ps.len() - 1], "cut at {cut}");
        assert_eq!(log.torn_tail_at, Some(last), "cut at {cut}");
        assert_eq!(log.valid_len, last, "cut at {cut}");
    }
    // Cut exactly at a record boundary: clean, no torn tail.
    let path = dir.path().join("boundary.log");
    fs::write(&path, &bytes[..last as usize]).unwrap();
    let log = read_log(&path).unwrap();
    assert_eq!(log.records.len(), ps.len() - 1);
    assert_eq!(log.torn_tail_at, None);
}

#[test]
fn flipped_byte_in_a_middle_record_is_corruption_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads();
    let full = dir.path().join("full.log");
    let (offsets, _) = write_log(&full, &ps);
    let bytes = fs::read(&full).unwrap();
    let victim = 2;
    let (start, end) = (offsets[victim] as usize, offsets[victim + 1] as usize);
    for i in start..end {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x40;
        let path = dir.path().join("damaged.log");
        fs::write(&path, &damaged).unwrap();
        match read_log(&path) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, path, "byte {i}");
                assert_eq!(offset, offsets[victim], "byte {i}");
            }
            other => panic!("byte {i}: expected corruption, got {other:?}"),
        }
    }
}

#[test]
fn huge_length_in_a_middle_record_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads();
    let path = dir.path().join("len.log");
    let (offsets, _) = write_log(&path, &ps);
    let mut bytes = fs::read(&path).unwrap();
    // A length that fits the 1 GiB limit but runs past end of file.
    let o = offsets[1] as usize;
    bytes[o..o + 4].copy_from_slice(&(1u32 << 20).to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let err = read_log(&path).unwrap_err();
    assert!(
        matches!(err, Error::Corruption { offset, .. } if offset == offsets[1]),
        "{err}"
    );
}

#[test]
fn trailing_zeros_are_the_clean_end_of_a_preallocated_log() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads();
    let path = dir.path().join("z.log");
    let (_, len) = write_log(&path, &ps);
    for zeros in [1usize, 7, 8, 9, 4096, 100_000] {
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(len as usize);
        bytes.resize(len as usize + zeros, 0);
        fs::write(&path, &bytes).unwrap();
        let log = read_log(&path).unwrap();
        assert_eq!(payloads_of(&log), ps, "{zeros} zeros");
        assert_eq!(
            log.torn_tail_at, None,
            "{zeros} zeros: zero fill is not a tear"
        );
        assert_eq!(log.valid_len, len);
    }
}

#[test]
fn partial_record_before_zero_fill_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads();
    let path = dir.path().join("p.log");
    let (_, len) = write_log(&path, &ps);
    let mut bytes = fs::read(&path).unwrap();
    // A final record whose header landed but whose payload did not: zeros follow.
    bytes.extend_from_slice(&40u32.to_le_bytes());
    bytes.extend_from_slice(&[0xab, 0xcd, 0xef, 0x01]);
    bytes.resize(bytes.len() + 4096, 0);
    fs::write(&path, &bytes).unwrap();
    let log = read_log(&path).unwrap();
    assert_eq!(payloads_of(&log), ps);
    assert_eq!(log.torn_tail_at, Some(len));
}

#[test]
fn preallocated_log_roundtrips_and_keeps_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pre.log");
    let mut w = RecordWriter::create_preallocated(&path, 1 << 20).unwrap();
    for p in payloads() {
        w.append(&p).unwrap();
    }
    w.sync().unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        1 << 20,
        "appends stay inside the file"
    );
    let log = read_log(&path).unwrap();
    assert_eq!(payloads_of(&log), payloads());
    assert_eq!(log.torn_tail_at, None);
}

#[test]
fn preallocated_log_writes_zeros_ahead_of_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ahead.log");
    let size = 1_500_000u64;
    let mut w = RecordWriter::create_preallocated(&path, size).unwrap();
    let first = w.zeroed_until();
    assert!(first > 0, "the first chunk is zeroed at creation");
    // Small records across several chunks, then one payload big enough to bypass the buffer.
    let mut ps: Vec<Vec<u8>> = (0..700u32)
        .map(|i| vec![(i % 251) as u8 + 1; 1000 + (i as usize % 7)])
        .collect();
    ps.push(vec![9u8; 300_000]);
    for p in &ps {
        w.append(p).unwrap();
        w.flush().unwrap();
        assert!(
            w.zeroed_until() >= (w.len() + (128 << 10)).min(size),
            "zeros end at {}, records at {}",
            w.zeroed_until(),
            w.len()
        );
        assert!(w.zeroed_until() <= size, "never past the preallocation");
    }
    assert!(w.zeroed_until() > first);
    w.sync().unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), size);
    let log = read_log(&path).unwrap();
    assert_eq!(payloads_of(&log), ps);
    assert_eq!(log.torn_tail_at, None);
}

#[test]
fn open_append_after_recovery_continues_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = wal_file_name(dir.path(), 3);
    let ps = payloads();
    write_log(&path, &ps[..3]);
    // Simulate a torn write: half a record.
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[20, 0, 0, 0, 1, 2, 3, 4, b'p', b'a']);
    fs::write(&path, &bytes).unwrap();

    let log = read_log(&path).unwrap();
    assert!(log.torn_tail_at.is_some());
    let mut w = RecordWriter::open_append(&path, log.valid_len).unwrap();
    assert_eq!(w.len(), log.valid_len);
    assert_eq!(fs::metadata(&path).unwrap().len(), log.valid_len);
    w.append(&ps[3]).unwrap();
    w.append(&ps[4]).unwrap();
    w.sync().unwrap();

    let again = read_log(&path).unwrap();
    assert_eq!(payloads_of(&again), ps);
    assert_eq!(again.torn_tail_at, None);
    assert_eq!(again.valid_len, w.len());
    assert!(RecordWriter::open_append(&path, w.len() + 1).is_err());
}

#[test]
fn empty_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.log");
    RecordWriter::create(&path).unwrap();
    assert_eq!(read_log(&path).unwrap(), RecoveredLog::default());
    assert!(matches!(
        read_log(&dir.path().join("missing.log")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn segments_are_listed_in_number_order() {
    let dir = tempfile::tempdir().unwrap();
    for n in [12u64, 3, 1_000_000, 7] {
        RecordWriter::create(&wal_file_name(dir.path(), n)).unwrap();
    }
    for other in [
        "000005.sst",
        "MANIFEST-000002",
        "CURRENT",
        "0003.log",
        "notes.log",
    ] {
        fs::write(dir.path().join(other), b"x").unwrap();
    }
    let got = list_wal_segments(dir.path()).unwrap();
    let numbers: Vec<u64> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, vec![3, 7, 12, 1_000_000]);
    for (n, p) in got {
        assert_eq!(p, wal_file_name(dir.path(), n));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Garbage after good records never panics and never loses or alters the good records:
    /// either they all come back (torn tail or a lucky valid frame) or the garbage is reported
    /// as corruption at or after where it starts.
    #[test]
    fn appended_garbage_never_panics_or_loses_records(
        recs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 0..8),
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.log");
        let (_, len) = write_log(&path, &recs);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&garbage);
        fs::write(&path, &bytes).unwrap();
        match read_log(&path) {
            Ok(log) => {
                let got = payloads_of(&log);
                prop_assert!(got.len() >= recs.len());
                prop_assert_eq!(&got[..recs.len()], &recs[..]);
                prop_assert!(log.valid_len >= len && log.valid_len <= bytes.len() as u64);
            }
            Err(Error::Corruption { offset, .. }) => prop_assert!(offset >= len),
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    /// Overwriting any bytes never panics; what comes back is a prefix of what was written.
    #[test]
    fn overwritten_bytes_never_panic(
        recs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..8),
        at in any::<prop::sample::Index>(),
        patch in proptest::collection::vec(any::<u8>(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.log");
        write_log(&path, &recs);
        let mut bytes = fs::read(&path).unwrap();
        let start = at.index(bytes.len());
        for (i, b) in patch.iter().enumerate() {
            if let Some(slot) = bytes.get_mut(start + i) {
                *slot = *b;
            }
        }
        fs::write(&path, &bytes).unwrap();
        match read_log(&path) {
            Ok(log) => {
                let got = payloads_of(&log);
                prop_assert!(got.len() <= recs.len());
                prop_assert_eq!(&got[..], &recs[..got.len()]);
            }
            Err(e) => prop_assert!(e.is_corruption(), "unexpected error {}", e),
        }
    }
}
