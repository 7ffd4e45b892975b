//! File-system helpers: file naming, directory fsync, atomic file replacement, the directory
//! lock.
//!
//! ## Why these exist
//!
//! Crash safety on POSIX needs more than `write` + `fsync` of a file: creating, renaming or
//! removing a file changes its *directory*, and that change is only durable once the directory
//! itself is fsynced. Every place that creates a file the engine relies on after a crash goes
//! through [`sync_dir`]; small files that must be replaced all-or-nothing (`CURRENT`) go through
//! [`write_file_atomic`].
//!
//! ## The engine directory
//!
//! ```text
//!   000007.log         write-ahead log segment 7          (FileKind::Wal)
//!   000012.sst         SSTable 12                         (FileKind::Table)
//!   MANIFEST-000003    manifest (version-edit log) 3      (FileKind::Manifest)
//!   CURRENT            names the live manifest            (FileKind::Current)
//!   LOCK               flock(2)-held while the engine is open (FileKind::Lock)
//!   <anything>.tmp     half-written file, deleted at open (FileKind::Temp)
//! ```
//!
//! Numbers are printed with at least six digits (`{number:06}`); a name only parses back if it
//! is *exactly* the string we would print for its number, so `0000007.log` or `+00007.log` are
//! not engine files and two different names never map to the same number.
//!
//! ## The lock
//!
//! [`lock_dir`] takes an exclusive advisory lock (`flock(2)` on Unix, via
//! `std::fs::File::try_lock`) on `LOCK`. The lock belongs to the open file description, so a
//! second open of the same directory (from another process, or from this one) fails at once
//! with a clear error instead of two engines corrupting each other's files. The lock is
//! released when the [`DirLock`] is dropped (closing the file releases it, also on a crash).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::IoResultExt;
use crate::{Error, Result};

/// Name of the lock file inside the engine directory.
pub const LOCK_FILE: &str = "LOCK";
/// Name of the file naming the live manifest.
pub const CURRENT_FILE: &str = "CURRENT";
/// Suffix of half-written files (safe to delete at open).
pub const TEMP_SUFFIX: &str = ".tmp";

/// What an engine file is, judged by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    Wal,
    Table,
    Manifest,
    Current,
    Temp,
    Lock,
    /// Not an engine file; returned only by [`file_kind`] ([`parse_file_name`] gives `None`).
    Other,
}

/// Fsync a directory so that entries created, renamed or removed in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).with_path(dir)?;
        d.sync_all().with_path(dir)?;
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened as files elsewhere; their metadata is journaled.
        let _ = dir;
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replace `path` with `contents` all-or-nothing: after a crash the file holds either the old
/// or the new contents, never a mix. Writes `<path>.tmp`, fsyncs it, renames it over `path`,
/// then fsyncs the directory so the rename itself is durable.
pub fn write_file_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    {
        // A stale temp file from an earlier crash is simply overwritten.
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .with_path(&tmp)?;
        f.write_all(contents).with_path(&tmp)?;
        f.sync_all().with_path(&tmp)?;
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(parent_dir(path))
}

/// `<path>.tmp`, next to `path` (the rename must not cross file systems).
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TEMP_SUFFIX);
    path.with_file_name(name)
}

/// `dir/{number:06}.sst`
pub fn table_file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.sst"))
}

/// `dir/{number:06}.log`
pub fn wal_file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

/// `dir/MANIFEST-{number:06}`
pub fn manifest_file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("MANIFEST-{number:06}"))
}

/// `dir/CURRENT`
pub fn current_file_name(dir: &Path) -> PathBuf {
    dir.join(CURRENT_FILE)
}

/// `dir/LOCK`
pub fn lock_file_name(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE)
}

/// Classify an engine file name (a bare name, not a path). The number is the file number for
/// WAL segments, tables and manifests; 0 for `CURRENT` and `LOCK`; for temp files it is the
/// number of the name the `.tmp` was appended to, or 0. `None` for names that are not ours.
pub fn parse_file_name(name: &str) -> Option<(FileKind, u64)> {
    match name {
        CURRENT_FILE => return Some((FileKind::Current, 0)),
        LOCK_FILE => return Some((FileKind::Lock, 0)),
        _ => {}
    }
    if let Some(stem) = name.strip_suffix(TEMP_SUFFIX) {
        let number = parse_file_name(stem).map_or(0, |(_, n)| n);
        return Some((FileKind::Temp, number));
    }
    if let Some(digits) = name.strip_suffix(".log") {
        return parse_number(digits).map(|n| (FileKind::Wal, n));
    }
    if let Some(digits) = name.strip_suffix(".sst") {
        return parse_number(digits).map(|n| (FileKind::Table, n));
    }
    if let Some(digits) = name.strip_prefix("MANIFEST-") {
        return parse_number(digits).map(|n| (FileKind::Manifest, n));
    }
    None
}

/// Like [`parse_file_name`], with foreign names reported as `(FileKind::Other, 0)`.
pub fn file_kind(name: &str) -> (FileKind, u64) {
    parse_file_name(name).unwrap_or((FileKind::Other, 0))
}

/// Digits that are exactly `format!("{n:06}")` for some `n`.
fn parse_number(digits: &str) -> Option<u64> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    (format!("{n:06}") == digits).then_some(n)
}

/// Exclusive ownership of an engine directory for as long as it lives.
#[derive(Debug)]
pub struct DirLock {
    /// Held open: closing the file is what releases the lock.
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Lock `dir` (which must exist) for this process. Fails at once, without waiting, if another
/// `DirLock` on the same directory is alive in any process.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    let path = lock_file_name(dir);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_path(&path)?;
    // `File::try_lock` (Rust 1.89+) takes an advisory lock released when the file closes.
    let locked = file.try_lock();
    match locked {
        Ok(()) => Ok(DirLock { _file: file, path }),
        Err(fs::TryLockError::WouldBlock) => Err(Error::io(
            &path,
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "database directory {} is already in use by another engine instance",
                    dir.display()
                ),
            ),
        )),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_through_parse() {
        let d = Path::new("/db");
        let cases = [
            (wal_file_name(d, 7), FileKind::Wal, 7),
            (table_file_name(d, 123_456), FileKind::Table, 123_456),
            (table_file_name(d, 12_345_678), FileKind::Table, 12_345_678),
            (manifest_file_name(d, 3), FileKind::Manifest, 3),
            (current_file_name(d), FileKind::Current, 0),
            (lock_file_name(d), FileKind::Lock, 0),
        ];
        for (path, kind, n) in cases {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(parse_file_name(name), Some((kind, n)), "{name}");
        }
        assert_eq!(wal_file_name(d, 7), Path::new("/db/000007.log"));
        assert_eq!(table_file_name(d, 42), Path::new("/db/000042.sst"));
        assert_eq!(manifest_file_name(d, 1), Path::new("/db/MANIFEST-000001"));
        assert_eq!(current_file_name(d), Path::new("/db/CURRENT"));
    }

    #[test]
    fn foreign_and_malformed_names_are_rejected() {
        for name in [
            "",
            "7.log",
            "0000007.log",
            "+00007.log",
            "00007a.sst",
            "000007.LOG",
            "MANIFEST-",
            "MANIFEST-1",
            "MANIFEST-0000001",
            "current",
            "LOCKED",
            "000007.log.bak",
            "99999999999999999999999.sst",
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
            assert_eq!(file_kind(name), (FileKind::Other, 0), "{name}");
        }
    }

    #[test]
    fn temp_names_carry_their_number() {
        assert_eq!(parse_file_name("000009.sst.tmp"), Some((FileKind::Temp, 9)));
        assert_eq!(parse_file_name("CURRENT.tmp"), Some((FileKind::Temp, 0)));
        assert_eq!(parse_file_name("junk.tmp"), Some((FileKind::Temp, 0)));
    }

    #[test]
    fn write_file_atomic_replaces_contents_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = current_file_name(dir.path());
        write_file_atomic(&p, b"MANIFEST-000001\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"MANIFEST-000001\n");
        write_file_atomic(&p, b"MANIFEST-000002\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"MANIFEST-000002\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("CURRENT")]);
    }

    #[test]
    fn write_file_atomic_overwrites_a_stale_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = current_file_name(dir.path());
        fs::write(
            dir.path().join("CURRENT.tmp"),
            b"a much longer stale half-write",
        )
        .unwrap();
        write_file_atomic(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert!(!dir.path().join("CURRENT.tmp").exists());
    }

    #[test]
    fn sync_dir_fails_on_missing_dir() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        let err = sync_dir(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn second_lock_fails_until_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_dir(dir.path()).unwrap();
        assert_eq!(first.path(), lock_file_name(dir.path()));
        let err = lock_dir(dir.path()).unwrap_err();
        match &err {
            Error::Io { source, .. } => assert_eq!(source.kind(), io::ErrorKind::WouldBlock),
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().contains("already in use"), "{err}");
        drop(first);
        let _again = lock_dir(dir.path()).unwrap();
    }
}
