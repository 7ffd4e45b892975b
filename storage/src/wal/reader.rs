//! Reading a record log back after a restart or a crash.
//!
//! [`read_log`] walks the records (format in [`super::record`]) from offset 0 and returns every
//! good one. The interesting part is what happens at the first *bad* record, one that
//!
//! - has fewer than 8 header bytes left in the file, or
//! - has an impossible length (`0` or above `MAX_RECORD_LEN`), or
//! - claims a payload running past the end of the file, or
//! - has a CRC that does not match.
//!
//! The question is whether the bad bytes are a **torn tail** (the last write was cut short by a
//! crash: expected, and the writes in it were never acknowledged as durable) or **corruption**
//! (damage to data that was acknowledged). We answer it by looking for *any* valid record after
//! the bad one, trying every later byte offset as a header ([`super::scan`]):
//!
//! - the rest of the file is all zero bytes: the clean end of a preallocated log (see
//!   `RecordWriter::create_preallocated`); no torn tail is reported.
//! - none found: torn tail. Reading stops; `torn_tail_at` and `valid_len` give the offset of
//!   the bad record, so the caller can truncate there ([`super::RecordWriter::open_append`]).
//! - one found: corruption. We return `Error::Corruption` naming the file and the offset of the
//!   bad record and never skip it, because the records after it may depend on it.
//!
//! A record running past end-of-file is treated the same way: when a valid record lies inside
//! the span it claims, its length field must be damaged, and calling that a torn tail would
//! silently drop every record after it.
//!
//! Zero-filled tails (file size extended before the data reached the disk) are torn tails: a
//! `len` of 0 is never valid, so zeros contain no valid record.
//!
//! Known limit: a payload may itself contain the bytes of a well-formed record (a value that is
//! a copy of a log record, say). If a torn write cuts such a payload, the embedded frame is
//! found and the tail is reported as corruption. That errs on the loud side; it cannot lose
//! acknowledged data. Also, if the OS persisted the pages of an *unsynced* write out of order,
//! a hole followed by good records is indistinguishable from corruption and is reported so.
//!
//! The file is read into memory whole; WAL segments and manifests are bounded in size.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use super::record::{record_crc, HEADER_LEN, MAX_RECORD_LEN};
use super::scan::find_valid_record;
use crate::coding::get_u32_le;
use crate::error::IoResultExt;
use crate::{Error, Result};

/// Everything recovered from one log file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveredLog {
    /// `(offset of the record header, payload)` for every good record, in file order.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Where the good records end: the length the file should be truncated to.
    pub valid_len: u64,
    /// Some(offset) when a torn tail starting at offset was found (not yet truncated).
    pub torn_tail_at: Option<u64>,
}

/// Why a record failed to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BadRecord {
    ShortHeader { available: usize },
    ImpossibleLength { len: u32 },
    PastEof { len: u32, available: usize },
    CrcMismatch { stored: u32, actual: u32 },
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadRecord::ShortHeader { available } => {
                write!(
                    f,
                    "only {available} bytes left for an {HEADER_LEN}-byte record header"
                )
            }
            BadRecord::ImpossibleLength { len } => {
                write!(
                    f,
                    "impossible record length {len} (allowed 1..={MAX_RECORD_LEN})"
                )
            }
            BadRecord::PastEof { len, available } => write!(
                f,
                "record of {len} payload bytes runs past end of file ({available} bytes left)"
            ),
            BadRecord::CrcMismatch { stored, actual } => write!(
                f,
                "record checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
            ),
        }
    }
}

/// Reads every good record; see the module docs for the torn-tail / corruption rules.
pub fn read_log(path: &Path) -> Result<RecoveredLog> {
    let data = std::fs::read(path).with_path(path)?;
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        match decode_at(&data, pos) {
            Ok(payload) => {
                records.push((pos as u64, data[payload.clone()].to_vec()));
                pos = payload.end;
            }
            // The zero fill of a preallocated log: the clean end of its records, not a tear.
            Err(_) if data[pos..].iter().all(|&b| b == 0) => break,
            Err(bad) => return classify_bad_record(path, &data, pos, bad, records),
        }
    }
    Ok(RecoveredLog {
        records,
        valid_len: pos as u64,
        torn_tail_at: None,
    })
}

/// Decide torn tail versus corruption for the bad record at `pos`.
fn classify_bad_record(
    path: &Path,
    data: &[u8],
    pos: usize,
    bad: BadRecord,
    records: Vec<(u64, Vec<u8>)>,
) -> Result<RecoveredLog> {
    if let Some(next_good) = pos.checked_add(1).and_then(|f| find_valid_record(data, f)) {
        return Err(Error::corruption(
            path,
            pos as u64,
            format!("{bad}, yet a valid record follows at offset {next_good}"),
        ));
    }
    tracing::warn!(
        path = %path.display(),
        offset = pos,
        dropped_bytes = data.len() - pos,
        reason = %bad,
        "torn tail in log file"
    );
    Ok(RecoveredLog {
        records,
        valid_len: pos as u64,
        torn_tail_at: Some(pos as u64),
    })
}

/// The payload range of the record starting at `pos`, or why there is no good record there.
fn decode_at(data: &[u8], pos: usize) -> std::result::Result<Range<usize>, BadRecord> {
    let available = data.len().saturating_sub(pos);
    let (Some(len), Some(stored)) = (get_u32_le(data, pos), get_u32_le(data, pos + 4)) else {
        return Err(BadRecord::ShortHeader { available });
    };
    if len == 0 || len > MAX_RECORD_LEN {
        return Err(BadRecord::ImpossibleLength { len });
    }
    let start = pos + HEADER_LEN;
    let payload = start
        .checked_add(len as usize)
        .and_then(|end| data.get(start..end))
        .ok_or(BadRecord::PastEof { len, available })?;
    let actual = record_crc(len.to_le_bytes(), payload);
    if actual != stored {
        return Err(BadRecord::CrcMismatch { stored, actual });
    }
    Ok(start..start + payload.len())
}
