//! The live file set: which tables make up each level, and the edits that change it.
//!
//! A [`Version`] is an immutable snapshot of the levels. Readers clone an `Arc<Version>` and
//! keep using it while flushes and compactions install newer versions; a table file is deleted
//! only when the last `Arc<FileMeta>` naming it is dropped after the file left the live set
//! (`FileMeta::mark_obsolete`), so no reader or snapshot ever loses a file it can still see.
//!
//! Level invariants:
//! - L0 tables may overlap; they are kept newest first (highest file number first), and a newer
//!   L0 table wins over an older one for an equal (key, version).
//! - In L1 and deeper, tables are sorted by smallest key and their *user-key* ranges are
//!   disjoint (compaction never splits one user key across two output tables).
//! - For an equal (key, version), a shallower level holds the newer write.
//!
//! A [`VersionEdit`] is the unit the manifest records. Encoding (one manifest record):
//!
//! ```text
//!   a sequence of tagged fields, each `tag: u8` then its body:
//!     1  log_number        varint   WAL segments numbered below this are flushed
//!     2  next_file_number  varint   file numbers below this have been handed out
//!     3  gc_watermark      u64 LE   versions at or below may be collected
//!     4  delete file       level varint, file number varint
//!     5  add file          level varint, number varint, size varint, entries varint,
//!                          smallest key (varint len + bytes), smallest version u64 LE,
//!                          largest key (varint len + bytes), largest version u64 LE,
//!                          min version u64 LE, max version u64 LE
//! ```

use std::sync::{Arc, OnceLock};

use crate::coding::{put_varint, Reader};
use crate::types::Version as Ver;

/// What the manifest knows about one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub number: u64,
    pub size: u64,
    pub num_entries: u64,
    pub smallest_key: Vec<u8>,
    pub smallest_version: Ver,
    pub largest_key: Vec<u8>,
    pub largest_version: Ver,
    pub min_version: Ver,
    pub max_version: Ver,
}

impl FileInfo {
    /// What the manifest records for table `number`, from the properties its builder wrote.
    pub fn from_properties(number: u64, p: crate::sstable::TableProperties) -> FileInfo {
        FileInfo {
            number,
            size: p.file_size,
            num_entries: p.num_entries,
            smallest_key: p.smallest_key,
            smallest_version: p.smallest_version,
            largest_key: p.largest_key,
            largest_version: p.largest_version,
            min_version: p.min_version,
            max_version: p.max_version,
        }
    }
}

/// Deletes an obsolete table once nothing references it.
pub trait FileDeleter: Send + Sync {
    fn delete_table(&self, number: u64);
}

/// A live (or recently live) table, shared by every `Version` that lists it.
#[derive(Debug)]
pub struct FileMeta {
    pub info: FileInfo,
    obsolete: OnceLock<Arc<dyn FileDeleter>>,
}

impl std::fmt::Debug for dyn FileDeleter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileDeleter")
    }
}

impl FileMeta {
    pub fn new(info: FileInfo) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            info,
            obsolete: OnceLock::new(),
        })
    }

    /// The file has left the live set: delete it when the last reference drops.
    pub fn mark_obsolete(&self, deleter: Arc<dyn FileDeleter>) {
        let _ = self.obsolete.set(deleter);
    }

    /// Whether `key` falls inside this table's user-key range.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        key >= self.info.smallest_key.as_slice() && key <= self.info.largest_key.as_slice()
    }

    /// Whether this table's user-key range meets `[lo, hi]`.
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        self.info.smallest_key.as_slice() <= hi && self.info.largest_key.as_slice() >= lo
    }
}

impl Drop for FileMeta {
    fn drop(&mut self) {
        if let Some(d) = self.obsolete.get() {
            d.delete_table(self.info.number);
        }
    }
}

/// One immutable snapshot of every level's tables.
#[derive(Clone, Debug, Default)]
pub struct Version {
    pub levels: Vec<Vec<Arc<FileMeta>>>,
}

impl Version {
    pub fn new(num_levels: usize) -> Version {
        Version {
            levels: vec![Vec::new(); num_levels],
        }
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|f| f.info.size).sum()
    }

    /// Tables of `level` whose user-key range meets `[lo, hi]`.
    pub fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<FileMeta>> {
        self.levels[level]
            .iter()
            .filter(|f| f.overlaps(lo, hi))
            .cloned()
            .collect()
    }

    /// For L1+: the one table that may hold `key`, found by binary search.
    pub fn find_in_level(&self, level: usize, key: &[u8]) -> Option<&Arc<FileMeta>> {
        let files = &self.levels[level];
        let i = files.partition_point(|f| f.info.largest_key.as_slice() < key);
        files
            .get(i)
            .filter(|f| f.info.smallest_key.as_slice() <= key)
    }

    /// A new version with `edit`'s file changes applied. Returns the tables the edit removed
    /// (a table the edit deletes and re-adds, i.e. moves, is not among them).
    pub fn apply(&self, edit: &VersionEdit) -> (Version, Vec<Arc<FileMeta>>) {
        let mut next = self.clone();
        let mut removed = Vec::new();
        for &(level, number) in &edit.deleted {
            if let Some(files) = next.levels.get_mut(level) {
                if let Some(pos) = files.iter().position(|f| f.info.number == number) {
                    removed.push(files.remove(pos));
                }
            }
        }
        for (level, info) in &edit.added {
            if let Some(files) = next.levels.get_mut(*level) {
                // A table moved between levels keeps its one FileMeta: a second object for the
                // same file would delete it while readers of older versions still use it.
                let moved = removed.iter().position(|f| f.info.number == info.number);
                files.push(match moved {
                    Some(i) => removed.swap_remove(i),
                    None => FileMeta::new(info.clone()),
                });
            }
        }
        for (level, files) in next.levels.iter_mut().enumerate() {
            if level == 0 {
                files.sort_by_key(|f| std::cmp::Reverse(f.info.number));
            } else {
                files.sort_by(|a, b| a.info.smallest_key.cmp(&b.info.smallest_key));
            }
        }
        (next, removed)
    }

    /// Every live table number.
    pub fn live_files(&self) -> impl Iterator<Item = u64> + '_ {
        self.levels.iter().flatten().map(|f| f.info.number)
    }

    /// Check the level invariants; a manifest that breaks them is corrupt.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (level, files) in self.levels.iter().enumerate().skip(1) {
            for w in files.windows(2) {
                if w[0].info.largest_key >= w[1].info.smallest_key {
                    return Err(format!(
                        "level {level}: tables {} and {} overlap",
                        w[0].info.number, w[1].info.number
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A change to the live file set and engine metadata; one manifest record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionEdit {
    pub log_number: Option<u64>,
    pub next_file_number: Option<u64>,
    pub gc_watermark: Option<Ver>,
    pub deleted: Vec<(usize, u64)>,
    pub added: Vec<(usize, FileInfo)>,
}

impl VersionEdit {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        if let Some(n) = self.log_number {
            b.push(1);
            put_varint(&mut b, n);
        }
        if let Some(n) = self.next_file_number {
            b.push(2);
            put_varint(&mut b, n);
        }
        if let Some(w) = self.gc_watermark {
            b.push(3);
            b.extend_from_slice(&w.to_le_bytes());
        }
        for &(level, number) in &self.deleted {
            b.push(4);
            put_varint(&mut b, level as u64);
            put_varint(&mut b, number);
        }
        for (level, f) in &self.added {
            b.push(5);
            put_varint(&mut b, *level as u64);
            encode_file(&mut b, f);
        }
        b
    }

    /// Decode a manifest record; `num_levels` bounds the level numbers accepted.
    pub fn decode(buf: &[u8], num_levels: usize) -> Result<VersionEdit, String> {
        let mut r = Reader::new(buf);
        let mut e = VersionEdit::default();
        let level = |r: &mut Reader| -> Result<usize, String> {
            let l = r.varint().ok_or("truncated level")?;
            usize::try_from(l)
                .ok()
                .filter(|l| *l < num_levels)
                .ok_or_else(|| format!("level {l} out of range"))
        };
        while !r.is_empty() {
            match r.u8().ok_or("truncated tag")? {
                1 => e.log_number = Some(r.varint().ok_or("truncated log number")?),
                2 => e.next_file_number = Some(r.varint().ok_or("truncated next file")?),
                3 => e.gc_watermark = Some(r.u64_le().ok_or("truncated watermark")?),
                4 => {
                    let l = level(&mut r)?;
                    e.deleted
                        .push((l, r.varint().ok_or("truncated file number")?));
                }
                5 => {
                    let l = level(&mut r)?;
                    e.added
                        .push((l, decode_file(&mut r).ok_or("truncated file entry")?));
                }
                t => return Err(format!("unknown version edit tag {t}")),
            }
        }
        Ok(e)
    }
}

fn encode_file(b: &mut Vec<u8>, f: &FileInfo) {
    put_varint(b, f.number);
    put_varint(b, f.size);
    put_varint(b, f.num_entries);
    put_varint(b, f.smallest_key.len() as u64);
    b.extend_from_slice(&f.smallest_key);
    b.extend_from_slice(&f.smallest_version.to_le_bytes());
    put_varint(b, f.largest_key.len() as u64);
    b.extend_from_slice(&f.largest_key);
    b.extend_from_slice(&f.largest_version.to_le_bytes());
    b.extend_from_slice(&f.min_version.to_le_bytes());
    b.extend_from_slice(&f.max_version.to_le_bytes());
}

fn decode_file(r: &mut Reader) -> Option<FileInfo> {
    Some(FileInfo {
        number: r.varint()?,
        size: r.varint()?,
        num_entries: r.varint()?,
        smallest_key: r.length_prefixed()?.to_vec(),
        smallest_version: r.u64_le()?,
        largest_key: r.length_prefixed()?.to_vec(),
        largest_version: r.u64_le()?,
        min_version: r.u64_le()?,
        max_version: r.u64_le()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn info(number: u64, lo: &str, hi: &str) -> FileInfo {
        FileInfo {
            number,
            size: 100,
            num_entries: 2,
            smallest_key: lo.as_bytes().to_vec(),
            smallest_version: 9,
            largest_key: hi.as_bytes().to_vec(),
            largest_version: 1,
            min_version: 1,
            max_version: 9,
        }
    }

    #[test]
    fn edit_roundtrip() {
        let e = VersionEdit {
            log_number: Some(7),
            next_file_number: Some(12),
            gc_watermark: Some(u64::MAX - 3),
            deleted: vec![(0, 3), (2, 5)],
            added: vec![(1, info(9, "a", "m")), (0, info(11, "", "zz"))],
        };
        assert_eq!(VersionEdit::decode(&e.encode(), 7).unwrap(), e);
    }

    #[test]
    fn edit_decode_rejects_garbage() {
        assert!(VersionEdit::decode(&[9], 7).is_err());
        assert!(
            VersionEdit::decode(&[4, 8, 1], 7).is_err(),
            "level out of range"
        );
        assert!(
            VersionEdit::decode(&[5, 1, 1], 7).is_err(),
            "truncated file"
        );
        let full = VersionEdit {
            added: vec![(1, info(1, "a", "b"))],
            ..Default::default()
        }
        .encode();
        for cut in 1..full.len() {
            assert!(
                VersionEdit::decode(&full[..cut], 7).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn apply_keeps_l0_newest_first_and_levels_sorted() {
        let v = Version::new(3);
        let e = VersionEdit {
            added: vec![
                (0, info(1, "a", "c")),
                (0, info(4, "b", "d")),
                (1, info(3, "m", "p")),
                (1, info(2, "a", "f")),
            ],
            ..Default::default()
        };
        let (v, removed) = v.apply(&e);
        assert!(removed.is_empty());
        let l0: Vec<u64> = v.levels[0].iter().map(|f| f.info.number).collect();
        let l1: Vec<u64> = v.levels[1].iter().map(|f| f.info.number).collect();
        assert_eq!(l0, vec![4, 1]);
        assert_eq!(l1, vec![2, 3]);
        assert!(v.check_invariants().is_ok());
        assert_eq!(v.find_in_level(1, b"g").map(|f| f.info.number), None);
        assert_eq!(v.find_in_level(1, b"n").map(|f| f.info.number), Some(3));
        let (v2, removed) = v.apply(&VersionEdit {
            deleted: vec![(1, 2)],
            ..Default::default()
        });
        assert_eq!(removed.len(), 1);
        assert_eq!(v2.levels[1].len(), 1);
    }

    #[test]
    fn moved_file_keeps_its_file_meta() {
        let (v, _) = Version::new(3).apply(&VersionEdit {
            added: vec![(1, info(7, "a", "b"))],
            ..Default::default()
        });
        let before = v.levels[1][0].clone();
        let mv = VersionEdit {
            deleted: vec![(1, 7)],
            added: vec![(2, info(7, "a", "b"))],
            ..Default::default()
        };
        let (v2, removed) = v.apply(&mv);
        assert!(removed.is_empty(), "a move removes nothing");
        assert!(
            Arc::ptr_eq(&before, &v2.levels[2][0]),
            "the same FileMeta owns the file"
        );
    }

    #[test]
    fn obsolete_file_is_deleted_when_last_reference_drops() {
        use std::sync::Mutex;
        struct Rec(Mutex<Vec<u64>>);
        impl FileDeleter for Rec {
            fn delete_table(&self, n: u64) {
                self.0.lock().unwrap().push(n);
            }
        }
        let rec = Arc::new(Rec(Mutex::new(vec![])));
        let f = FileMeta::new(info(5, "a", "b"));
        let reader_copy = f.clone();
        f.mark_obsolete(rec.clone());
        drop(f);
        assert!(
            rec.0.lock().unwrap().is_empty(),
            "a reader still holds the file"
        );
        drop(reader_copy);
        assert_eq!(*rec.0.lock().unwrap(), vec![5]);
    }
}
