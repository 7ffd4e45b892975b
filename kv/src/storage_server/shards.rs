//! The shards a storage server owns, and the `SHARDS` file that makes the set durable.
//!
//! A shard is owned *since* a version: the version at which the server received its data
//! (0 for a shard owned from the beginning of the log). Reads of the shard below that version
//! are refused (`TransactionTooOld`): the server only holds the shard's history from then on.
//!
//! The set changes in three ways, all under the server's apply lock so no log entry is
//! applied halfway through a change:
//!
//! - **install** (a shard moved here): the data is written to the engine first (durable),
//!   then the file records the ownership. A crash in between leaves data nobody reads; the
//!   move is simply redone.
//! - **drop** (a shard moved away): the file is written first, then the server stops
//!   applying and serving it. A crash in between cannot bring back a shard whose later
//!   mutations were skipped.
//! - **split**: one range becomes two with the same `since` (metadata only).
//!
//! # The `SHARDS` file
//!
//! Replaced atomically (temp file, fsync, rename, directory fsync):
//!
//! ```text
//!   "FSHD"  u32 format version (1)  u32 count
//!   count x { u32 len, begin bytes, u32 len, end bytes, u64 since }
//!   u32 crc32 of everything before it
//! ```
//!
//! Integers are little-endian.

use std::path::{Path, PathBuf};

use crate::error::KvError;
use crate::types::{KeyRange, Version};

const MAGIC: &[u8; 4] = b"FSHD";
const FORMAT: u32 = 1;
/// Name of the file in the storage server's directory.
pub const SHARDS_FILE: &str = "SHARDS";

/// One owned key range and the version from which this server holds its full history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedShard {
    pub range: KeyRange,
    pub since: Version,
}

/// Path of the shard file for a server in `dir`.
pub fn shards_path(dir: &Path) -> PathBuf {
    dir.join(SHARDS_FILE)
}

/// Serialize `shards` in the file format above.
pub fn encode(shards: &[OwnedShard]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&FORMAT.to_le_bytes());
    b.extend_from_slice(&(shards.len() as u32).to_le_bytes());
    for s in shards {
        for part in [&s.range.begin, &s.range.end] {
            b.extend_from_slice(&(part.len() as u32).to_le_bytes());
            b.extend_from_slice(part);
        }
        b.extend_from_slice(&s.since.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Parse a shard file; any damage is a corruption error naming the file and offset.
pub fn decode(path: &Path, buf: &[u8]) -> Result<Vec<OwnedShard>, KvError> {
    let bad = |offset: usize, what: &str| {
        KvError::Storage(ferrisdb_storage::Error::corruption(
            path,
            offset as u64,
            what.to_string(),
        ))
    };
    if buf.len() < 16 {
        return Err(bad(0, "shard file too short"));
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().map_err(|_| bad(body.len(), "no crc"))?);
    if crc32fast::hash(body) != stored {
        return Err(bad(body.len(), "shard file checksum mismatch"));
    }
    let mut r = Reader { buf: body, pos: 0 };
    if r.take(4).ok_or_else(|| bad(0, "truncated"))? != MAGIC {
        return Err(bad(0, "not a shard file (bad magic)"));
    }
    if r.u32().ok_or_else(|| bad(4, "truncated"))? != FORMAT {
        return Err(bad(4, "unknown shard file format version"));
    }
    let count = r.u32().ok_or_else(|| bad(8, "truncated"))?;
    let mut out = Vec::new();
    for _ in 0..count {
        let at = r.pos;
        let mut part = || -> Option<Vec<u8>> {
            let n = r.u32()? as usize;
            Some(r.take(n)?.to_vec())
        };
        let (begin, end) = match (part(), part()) {
            (Some(b), Some(e)) => (b, e),
            _ => return Err(bad(at, "truncated shard entry")),
        };
        let since = r.u64().ok_or_else(|| bad(at, "truncated shard entry"))?;
        out.push(OwnedShard {
            range: KeyRange { begin, end },
            since,
        });
    }
    if r.pos != body.len() {
        return Err(bad(r.pos, "trailing bytes in shard file"));
    }
    Ok(out)
}

/// Load the shard file in `dir`, or `None` when there is none yet.
pub fn load(dir: &Path) -> Result<Option<Vec<OwnedShard>>, KvError> {
    let path = shards_path(dir);
    match std::fs::read(&path) {
        Ok(buf) => decode(&path, &buf).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KvError::Storage(ferrisdb_storage::Error::io(&path, e))),
    }
}

/// Durably replace the shard file in `dir`.
pub fn store(dir: &Path, shards: &[OwnedShard]) -> Result<(), KvError> {
    ferrisdb_storage::fs::write_file_atomic(&shards_path(dir), &encode(shards))?;
    Ok(())
}

/// `owned` minus `range`: the pieces of each owned shard outside `range`, in order.
pub fn subtract(owned: &[OwnedShard], range: &KeyRange) -> Vec<OwnedShard> {
    let mut out = Vec::new();
    for s in owned {
        if !s.range.intersects(range) {
            out.push(s.clone());
            continue;
        }
        if s.range.begin < range.begin {
            out.push(OwnedShard {
                range: KeyRange::new(s.range.begin.clone(), range.begin.clone()),
                since: s.since,
            });
        }
        if range.end < s.range.end {
            out.push(OwnedShard {
                range: KeyRange::new(range.end.clone(), s.range.end.clone()),
                since: s.since,
            });
        }
    }
    out
}

/// The owned shard wholly containing `range` (a non-empty range inside one shard), if any.
pub fn covering<'a>(owned: &'a [OwnedShard], range: &KeyRange) -> Option<&'a OwnedShard> {
    owned
        .iter()
        .find(|s| s.range.begin <= range.begin && range.end <= s.range.end)
}

/// Whether `range` is wholly covered by the union of `owned` (adjacent shards may share it).
pub fn covered(owned: &[OwnedShard], range: &KeyRange) -> Option<Version> {
    let mut sorted: Vec<&OwnedShard> = owned.iter().filter(|s| s.range.intersects(range)).collect();
    sorted.sort_by(|a, b| a.range.begin.cmp(&b.range.begin));
    let mut at = range.begin.clone();
    let mut since = 0;
    for s in sorted {
        if s.range.begin > at {
            return None;
        }
        since = since.max(s.since);
        if s.range.end > at {
            at = s.range.end.clone();
        }
        if at >= range.end {
            return Some(since);
        }
    }
    (at >= range.end).then_some(since)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(b: &str, e: &str, since: Version) -> OwnedShard {
        OwnedShard {
            range: KeyRange::new(b, e),
            since,
        }
    }

    #[test]
    fn the_file_round_trips_and_every_damaged_byte_is_reported() {
        let shards = vec![shard("", "m", 0), shard("m", "\u{7f}", 42)];
        let buf = encode(&shards);
        let p = Path::new("SHARDS");
        assert_eq!(decode(p, &buf).unwrap(), shards);
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(decode(p, &bad).is_err(), "flipped byte {i} went unnoticed");
        }
        for n in 0..buf.len() {
            assert!(
                decode(p, &buf[..n]).is_err(),
                "truncation to {n} went unnoticed"
            );
        }
    }

    #[test]
    fn subtract_keeps_the_pieces_outside_the_range() {
        let owned = vec![shard("a", "z", 5)];
        let left = subtract(&owned, &KeyRange::new("f", "k"));
        assert_eq!(left, vec![shard("a", "f", 5), shard("k", "z", 5)]);
        assert_eq!(subtract(&owned, &KeyRange::new("a", "z")), vec![]);
    }

    #[test]
    fn covered_needs_adjacent_shards_without_gaps() {
        let owned = vec![shard("a", "f", 3), shard("f", "k", 9)];
        assert_eq!(covered(&owned, &KeyRange::new("b", "j")), Some(9));
        assert_eq!(covered(&owned, &KeyRange::new("a", "f")), Some(3));
        assert_eq!(covered(&owned, &KeyRange::new("b", "m")), None);
        let gap = vec![shard("a", "c", 0), shard("d", "k", 0)];
        assert_eq!(covered(&gap, &KeyRange::new("a", "k")), None);
    }
}
