//! The CRC-framed record format and its append-only writer.
//!
//! Both the write-ahead log and the manifest are sequences of *records*: opaque payloads the
//! caller hands over whole and gets back whole after a crash, or not at all.
//!
//! ## On-disk format
//!
//! A log file is records laid end to end, no file header, no padding, no blocks:
//!
//! ```text
//!   offset  size  field
//!   0       4     len: u32 LE      payload length in bytes, 1 ..= MAX_RECORD_LEN (1 GiB)
//!   4       4     crc: u32 LE      CRC-32 (IEEE, crc32fast) over bytes 0..4 (the len field)
//!                                  followed by the payload, i.e. crc(len_le_bytes ++ payload)
//!   8       len   payload
//! ```
//!
//! The next record starts at `8 + len`. The CRC covers the length so that a damaged length is
//! caught instead of sending the reader to a wrong offset.
//!
//! ## Why empty payloads are forbidden
//!
//! A file can end in zeros that were never written as records: a crash after the file size was
//! extended but before the data reached the disk, or preallocation. With `len = 0` allowed, the
//! eight bytes `00 00 00 00 | crc` would be a record as soon as `crc == crc32(00 00 00 00)`,
//! and a zero-filled region could then never be told apart from data. So `len == 0` is an
//! *impossible length*, just like `len > MAX_RECORD_LEN`: the writer refuses empty payloads
//! (no caller writes them: a WAL record holds a batch of at least one operation, a manifest
//! record at least one edit), and the reader treats such a header as bad. An all-zero region
//! therefore never contains a valid record.
//!
//! ## Writing
//!
//! [`RecordWriter`] appends to one file and buffers small records in user space;
//! [`RecordWriter::flush`] hands the buffer to the OS (survives a process crash) and
//! [`RecordWriter::sync`] also fdatasyncs it (survives power loss). After any failed write or
//! sync the writer refuses further use: after a failed fsync the kernel may already have
//! dropped the dirty pages, so "retry and succeed" would claim durability that does not exist.
//! The caller must recover from the file instead. Reading back is [`super::reader`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::IoResultExt;
use crate::fs::{parent_dir, sync_dir};
use crate::{Error, Result};

/// Bytes of the record header (`len` + `crc`).
pub const HEADER_LEN: usize = 8;
/// Longest payload a record may hold.
pub const MAX_RECORD_LEN: u32 = 1 << 30;
/// Buffered bytes above which `append` hands the buffer to the OS on its own; payloads at least
/// this large bypass the buffer instead of being copied into it.
const BUFFER_LIMIT: usize = 256 * 1024;

/// The CRC stored in a record header: over the four little-endian length bytes, then the payload.
pub fn record_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    h.finalize()
}

/// Encode the header of a record holding `payload` (whose length must already be checked).
fn encode_header(payload: &[u8], len: u32) -> [u8; HEADER_LEN] {
    let len_bytes = len.to_le_bytes();
    let crc = record_crc(len_bytes, payload);
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&len_bytes);
    header[4..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Appends records to one log file.
#[derive(Debug)]
pub struct RecordWriter {
    file: File,
    path: PathBuf,
    /// Records not yet handed to the OS.
    buf: Vec<u8>,
    /// Bytes already handed to the OS (the file's length, as far as we know).
    written: u64,
    /// Set after a failed write or sync; every later call fails.
    failed: bool,
    /// Preallocated files only: bytes `..zeroed` hold written zeros (or records), and the
    /// preallocation ends at `prealloc_end`. See `zero_ahead`.
    zeroed: u64,
    prealloc_end: u64,
}

/// Zeros written ahead of the records at a time, and how far ahead (see `zero_ahead`).
const ZERO_CHUNK: usize = 256 << 10;
const ZERO_HEADROOM: u64 = 128 << 10;
static ZEROS: [u8; ZERO_CHUNK] = [0; ZERO_CHUNK];

impl RecordWriter {
    /// Creates the file (create_new), fsyncs its parent directory.
    pub fn create(path: &Path) -> Result<RecordWriter> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_path(path)?;
        sync_dir(parent_dir(path))?;
        Ok(RecordWriter::from_file(file, path, 0))
    }

    /// Like `create`, but the file is first extended (sparsely) to `bytes`, and that size made
    /// durable. Appends then write inside the file's size, so `fdatasync` has no file-size
    /// change to commit and costs one data write instead of a data write plus a file-system
    /// journal commit. Readers stop at the zero fill (a zero length is never a record).
    pub fn create_preallocated(path: &Path, bytes: u64) -> Result<RecordWriter> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_path(path)?;
        preallocate(&file, bytes).with_path(path)?;
        let mut w = RecordWriter::from_file(file, path, 0);
        w.prealloc_end = bytes;
        w.zero_ahead(0)?;
        w.file.sync_all().with_path(path)?;
        sync_dir(parent_dir(path))?;
        Ok(w)
    }

    /// Reopen an existing file for appending after recovery; `valid_len` is where good records
    /// end (file truncated to it first, then fsynced).
    pub fn open_append(path: &Path, valid_len: u64) -> Result<RecordWriter> {
        let file = OpenOptions::new().append(true).open(path).with_path(path)?;
        let actual = file.metadata().with_path(path)?.len();
        if valid_len > actual {
            return Err(Error::InvalidArgument(format!(
                "cannot resume {} at {valid_len}: the file has only {actual} bytes",
                path.display()
            )));
        }
        if valid_len < actual {
            tracing::info!(path = %path.display(), valid_len, actual, "truncating log tail");
            file.set_len(valid_len).with_path(path)?;
        }
        file.sync_all().with_path(path)?;
        Ok(RecordWriter::from_file(file, path, valid_len))
    }

    fn from_file(file: File, path: &Path, written: u64) -> RecordWriter {
        RecordWriter {
            file,
            path: path.to_path_buf(),
            buf: Vec::with_capacity(BUFFER_LIMIT),
            written,
            failed: false,
            zeroed: 0,
            prealloc_end: 0,
        }
    }

    /// Keep real zeros written at least `ZERO_HEADROOM` beyond `end` inside the preallocated
    /// size. `fallocate` leaves *unwritten* extents: the first write into each block changes
    /// the extent map, so an `fdatasync` covering it must also commit the file-system journal
    /// (on ext4 a 2 KiB group sync took 112 us instead of 88 us, every other group). Writing
    /// zeros a chunk ahead moves that conversion to one earlier sync per chunk.
    fn zero_ahead(&mut self, end: u64) -> Result<()> {
        while self.zeroed < self.prealloc_end && end + ZERO_HEADROOM > self.zeroed {
            let n = (self.prealloc_end - self.zeroed).min(ZERO_CHUNK as u64);
            let r = self.file.write_all_at(&ZEROS[..n as usize], self.zeroed);
            if let Err(e) = r {
                self.failed = true;
                return Err(Error::io(&self.path, e));
            }
            self.zeroed += n;
        }
        Ok(())
    }

    /// Buffered in user space; payloads up to 1 GiB.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        self.check_usable()?;
        let len = match u32::try_from(payload.len()) {
            Ok(n) if n > 0 && n <= MAX_RECORD_LEN => n,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "log record payload of {} bytes is outside 1..={MAX_RECORD_LEN}",
                    payload.len()
                )))
            }
        };
        let header = encode_header(payload, len);
        if payload.len() >= BUFFER_LIMIT {
            // Big payloads go straight to the OS rather than being copied into the buffer.
            self.flush()?;
            self.zero_ahead(self.written + (HEADER_LEN + payload.len()) as u64)?;
            let r = write_all_vectored(&mut self.file, &header, payload);
            return self.record_write(r, HEADER_LEN + payload.len());
        }
        self.buf.extend_from_slice(&header);
        self.buf.extend_from_slice(payload);
        if self.buf.len() >= BUFFER_LIMIT {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the buffer to the OS.
    pub fn flush(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        self.zero_ahead(self.written + self.buf.len() as u64)?;
        let r = self.file.write_all(&self.buf);
        let n = self.buf.len();
        self.buf.clear();
        self.record_write(r, n)
    }

    /// A second handle on the file, for a thread that fdatasyncs what was flushed while
    /// this writer goes on appending (the caller keeps the order: flush, then sync).
    pub fn sync_handle(&self) -> Result<File> {
        self.file.try_clone().map_err(|e| Error::io(&self.path, e))
    }

    /// Flush + fdatasync.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        if let Err(e) = self.file.sync_data() {
            self.failed = true;
            return Err(Error::io(&self.path, e));
        }
        Ok(())
    }

    /// Bytes of the file known to hold written zeros or records (tests).
    #[cfg(test)]
    pub(crate) fn zeroed_until(&self) -> u64 {
        self.zeroed
    }

    /// Logical bytes including buffered.
    pub fn len(&self) -> u64 {
        self.written.saturating_add(self.buf.len() as u64)
    }

    /// True when no record was ever written to this file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::io(
                &self.path,
                io::Error::other("log writer is unusable after an earlier write or sync failure"),
            ));
        }
        Ok(())
    }

    fn record_write(&mut self, r: io::Result<()>, n: usize) -> Result<()> {
        match r {
            Ok(()) => {
                self.written = self.written.saturating_add(n as u64);
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(Error::io(&self.path, e))
            }
        }
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        // Best effort, like `BufWriter`: records appended but never flushed still reach the OS.
        if !self.failed && !self.buf.is_empty() {
            if let Err(e) = self.flush() {
                tracing::warn!(error = %e, "failed to flush log records on drop");
            }
        }
    }
}

/// Write `a` then `b` with as few system calls as the OS allows.
/// Reserve `bytes` of real disk blocks (fallocate) and set the file size to cover them, so
/// later writes need no block allocation either; file systems without fallocate get a sparse
/// `set_len`, which still keeps the file size constant.
fn preallocate(file: &File, bytes: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let len = libc::off_t::try_from(bytes)
        .map_err(|_| io::Error::other("preallocation size overflows off_t"))?;
    // SAFETY: a plain syscall on a file descriptor we own for the duration of the call.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if r == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if matches!(
        err.raw_os_error(),
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS)
    ) {
        return file.set_len(bytes);
    }
    Err(err)
}

fn write_all_vectored(file: &mut File, a: &[u8], b: &[u8]) -> io::Result<()> {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() {
        let n = match file.write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len());
        a = &a[from_a..];
        b = &b[n - from_a..];
    }
    file.write_all(b)
}
