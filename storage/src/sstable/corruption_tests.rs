//! Damaged tables: every flipped byte is detected, errors name the file and block offset,
//! truncation is caught at open, and random damage never panics nor yields unwritten data.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::format::{block_crc, Footer, FOOTER_SIZE};
use super::tests::{build, entry, scan_backward, scan_forward, sort_dedup};
use super::*;
use crate::cache::BlockCache;
use crate::iterator::InternalIterator;
use crate::types::{Entry, ValueKind};
use crate::Error;

fn sample() -> Vec<Entry> {
    let v = (0..300u32)
        .map(|i| {
            let key = format!("key{:05}", i / 2);
            entry(
                key.as_bytes(),
                u64::from(9 - i % 2),
                ValueKind::Value,
                &i.to_le_bytes(),
            )
        })
        .collect();
    sort_dedup(v)
}

fn small_blocks(compression: Compression) -> TableOptions {
    TableOptions {
        block_size: 512,
        compression,
        ..TableOptions::default()
    }
}

fn footer_of(path: &Path) -> Footer {
    let bytes = std::fs::read(path).unwrap();
    let at = bytes.len() - FOOTER_SIZE;
    let raw: [u8; FOOTER_SIZE] = bytes[at..].try_into().unwrap();
    Footer::decode(path, at as u64, &raw).unwrap()
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn try_open(path: &Path) -> crate::Result<Arc<Table>> {
    Table::open(path, 3, Arc::new(BlockCache::new(1 << 20)))
}

/// Open and read everything; the first error, or all entries.
fn read_all(path: &Path) -> crate::Result<Vec<Entry>> {
    let t = try_open(path)?;
    let fwd = scan_forward(&t)?;
    scan_backward(&t)?;
    Ok(fwd)
}

fn assert_names(e: &Error, path: &Path, offset: u64) {
    match e {
        Error::ChecksumMismatch {
            file, offset: o, ..
        }
        | Error::Corruption {
            file, offset: o, ..
        } => {
            assert_eq!(file, path, "{e}");
            assert_eq!(*o, offset, "{e}");
        }
        other => panic!("expected corruption, got {other}"),
    }
}

#[test]
fn flipped_data_block_fails_reads_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.sst");
    let entries = sample();
    build(&path, &entries, small_blocks(Compression::None));
    flip(&path, 10); // inside the first data block, which starts at 0
    let t = try_open(&path).unwrap();
    assert_names(&scan_forward(&t).unwrap_err(), &path, 0);
    assert_names(&t.get(&entries[0].key, 9).unwrap_err(), &path, 0);
    // Blocks other than the damaged one still read.
    let last = entries.last().unwrap();
    assert_eq!(t.get(&last.key, last.version).unwrap().as_ref(), Some(last));
    let mut it = t.iter();
    assert!(it.seek_to_first().is_err());
    assert!(!it.valid());
}

#[test]
fn flipped_metadata_blocks_fail_open() {
    for compression in [Compression::None, Compression::Lz4] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sst");
        build(&path, &sample(), small_blocks(compression));
        let footer = footer_of(&path);
        let original = std::fs::read(&path).unwrap();
        for h in [footer.index, footer.filter, footer.properties] {
            for at in [h.offset, h.offset + h.size / 2, h.offset + h.size] {
                std::fs::write(&path, &original).unwrap();
                flip(&path, at);
                assert_names(&try_open(&path).unwrap_err(), &path, h.offset);
            }
        }
        let footer_at = original.len() as u64 - FOOTER_SIZE as u64;
        for at in [footer_at, footer_at + 50, footer_at + 60] {
            std::fs::write(&path, &original).unwrap();
            flip(&path, at);
            assert_names(&try_open(&path).unwrap_err(), &path, footer_at);
        }
    }
}

#[test]
fn every_single_byte_flip_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.sst");
    let entries = sample();
    for compression in [Compression::None, Compression::Lz4] {
        let _ = std::fs::remove_file(&path);
        build(&path, &entries[..60], small_blocks(compression));
        let original = std::fs::read(&path).unwrap();
        for at in 0..original.len() {
            let mut bytes = original.clone();
            bytes[at] ^= 0x01;
            std::fs::write(&path, &bytes).unwrap();
            let err = read_all(&path).expect_err("a flipped byte went unnoticed");
            assert!(err.is_corruption(), "byte {at}: {err}");
        }
    }
}

#[test]
fn truncated_files_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    build(&path, &sample(), small_blocks(Compression::None));
    let original = std::fs::read(&path).unwrap();
    let n = original.len();
    for len in [
        0,
        1,
        FOOTER_SIZE - 1,
        FOOTER_SIZE,
        n / 2,
        n - FOOTER_SIZE,
        n - 1,
    ] {
        std::fs::write(&path, &original[..len]).unwrap();
        let err = try_open(&path).unwrap_err();
        assert!(err.is_corruption(), "len {len}: {err}");
        assert!(err.to_string().contains("t.sst"), "{err}");
    }
}

#[test]
fn missing_file_is_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = try_open(&dir.path().join("none.sst")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
}

/// Rewrite the CRC of the block at `offset..offset+size` so damage inside it passes the
/// checksum and reaches the decoders.
fn fix_crc(bytes: &mut [u8], offset: usize, size: usize) {
    let ty = bytes[offset + size];
    let crc = block_crc(&bytes[offset..offset + size], ty);
    bytes[offset + size + 1..offset + size + 5].copy_from_slice(&crc.to_le_bytes());
}

/// `(offset, size)` of the first data block, from the table's own index.
fn first_data_block(path: &Path) -> (usize, usize) {
    let t = try_open(path).unwrap();
    let mut index = t.index_iter();
    index.seek_to_first().unwrap();
    let h = t.decode_handle(index.value()).unwrap();
    (h.offset as usize, h.size as usize)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_damage_never_panics_nor_invents_data(
        lz4 in any::<bool>(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sst");
        let entries = sample();
        let compression = if lz4 { Compression::Lz4 } else { Compression::None };
        build(&path, &entries, small_blocks(compression));
        let mut bytes = std::fs::read(&path).unwrap();
        for (i, b) in &damage {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(t) = try_open(&path) {
            for r in [scan_forward(&t), scan_backward(&t)] {
                match r {
                    Ok(got) => prop_assert!(got.iter().all(|e| entries.contains(e))),
                    Err(e) => prop_assert!(e.is_corruption(), "{}", e),
                }
            }
            for e in entries.iter().step_by(13) {
                match t.get(&e.key, e.version) {
                    Ok(Some(got)) => prop_assert_eq!(&got, e),
                    Ok(None) => {}
                    Err(err) => prop_assert!(err.is_corruption(), "{}", err),
                }
            }
        }
    }

    #[test]
    fn checksum_valid_garbage_never_panics(
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        which in 0..2usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sst");
        let entries = sample();
        build(&path, &entries, small_blocks(Compression::None));
        let (offset, size) = if which == 0 {
            first_data_block(&path)
        } else {
            let f = footer_of(&path);
            (f.index.offset as usize, f.index.size as usize)
        };
        let mut bytes = std::fs::read(&path).unwrap();
        for (i, b) in &damage {
            bytes[offset + i.index(size)] = *b;
        }
        fix_crc(&mut bytes, offset, size);
        std::fs::write(&path, &bytes).unwrap();
        // The bytes passed their checksum, so changed values may legitimately come back;
        // what must hold is: no panic, and every failure is reported as corruption.
        let t = match try_open(&path) {
            Ok(t) => t,
            Err(e) => {
                prop_assert!(e.is_corruption(), "{}", e);
                return Ok(());
            }
        };
        let mut it = t.iter();
        let results = [
            scan_forward(&t).map(|_| ()),
            scan_backward(&t).map(|_| ()),
            it.seek(b"key00050", 5),
            it.seek_for_prev(b"key00100", 5),
        ];
        let gets = entries.iter().step_by(17).map(|e| t.get(&e.key, e.version).map(|_| ()));
        for r in results.into_iter().chain(gets) {
            if let Err(e) = r {
                prop_assert!(e.is_corruption(), "{}", e);
            }
        }
    }
}
