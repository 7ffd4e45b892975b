//! One commit-log segment file: its name, its entry encoding, its recovery, and positional
//! reads of its entries (formats in the [`super`] module docs).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ferrisdb_kv::{decode_mutations, encode_mutations, Mutation, Version};
use ferrisdb_storage::error::IoResultExt;
use ferrisdb_storage::wal::read_log;
use ferrisdb_storage::wal::record::{record_crc, HEADER_LEN, MAX_RECORD_LEN};

use crate::error::{Error, Result};

const PREFIX: &str = "log-";
const SUFFIX: &str = ".clog";
const VERSION_LEN: usize = 8;

/// `dir/log-{first:020}.clog`
pub(crate) fn segment_path(dir: &Path, first: Version) -> PathBuf {
    dir.join(format!("{PREFIX}{first:020}{SUFFIX}"))
}

/// The first version of a segment named exactly as [`segment_path`] prints it.
pub(crate) fn parse_segment_name(name: &str) -> Option<Version> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every segment in `dir` as `(first version, path)`, oldest first.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(Version, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_path(dir)? {
        let entry = entry.with_path(dir)?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push((first, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(v, _)| *v);
    Ok(out)
}

/// The record payload of one entry: version (u64 LE), then the mutation list.
pub(crate) fn encode_entry(version: Version, mutations: &[Mutation]) -> Vec<u8> {
    let ms = encode_mutations(mutations);
    let mut b = Vec::with_capacity(VERSION_LEN + ms.len());
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&ms);
    b
}

fn decode_entry(payload: &[u8]) -> std::result::Result<(Version, Vec<Mutation>), String> {
    let (v, rest) = payload
        .split_first_chunk::<VERSION_LEN>()
        .ok_or_else(|| format!("entry of {} bytes has no version", payload.len()))?;
    Ok((u64::from_le_bytes(*v), decode_mutations(rest)?))
}

/// What the log knows about one segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    /// `(version, offset of the record header)` of every entry, in order. 16 bytes per entry
    /// keeps pulls to one positional read instead of a scan of the file.
    pub(crate) index: Vec<(Version, u64)>,
    /// Where the last entry ends (logical: may include bytes still buffered by the writer).
    pub(crate) end: u64,
}

impl Segment {
    pub(crate) fn new(path: PathBuf) -> Segment {
        Segment {
            path,
            index: Vec::new(),
            end: 0,
        }
    }

    pub(crate) fn last_version(&self) -> Option<Version> {
        self.index.last().map(|(v, _)| *v)
    }

    /// Bytes (header included) of entry `i`, which must exist.
    pub(crate) fn entry_bytes(&self, i: usize) -> u64 {
        let next = self.index.get(i + 1).map_or(self.end, |(_, o)| *o);
        next.saturating_sub(self.index[i].1)
    }

    /// Replay the file. Every entry must decode, the first must carry the version the file is
    /// named for, and each must be above `prev` (the entry before it in the whole log). A torn
    /// tail is allowed only in the newest segment; the caller truncates it by resuming there.
    pub(crate) fn recover(
        first: Version,
        path: &Path,
        mut prev: Option<Version>,
        newest: bool,
    ) -> Result<Segment> {
        let log = read_log(path)?;
        if let (Some(at), false) = (log.torn_tail_at, newest) {
            return Err(Error::corruption(
                path,
                at,
                "bad record in a sealed segment (only the newest segment may end torn)",
            ));
        }
        let mut seg = Segment::new(path.to_path_buf());
        for (offset, payload) in &log.records {
            let bad = |reason: String| Error::corruption(path, *offset, reason);
            let (v, _) = decode_entry(payload).map_err(bad)?;
            if seg.index.is_empty() && v != first {
                return Err(bad(format!(
                    "first entry has version {v}, the file is named for {first}"
                )));
            }
            if let Some(p) = prev.filter(|p| v <= *p) {
                return Err(bad(format!(
                    "version {v} is not above the previous entry's {p}"
                )));
            }
            prev = Some(v);
            seg.index.push((v, *offset));
        }
        seg.end = log.valid_len;
        Ok(seg)
    }

    /// Entries `i..j` (indices into `index`; `i < j <= index.len()`), read with one
    /// positional read and each checked against its CRC and its indexed version.
    pub(crate) fn read(&self, i: usize, j: usize) -> Result<Vec<(Version, Vec<Mutation>)>> {
        let start = self.index[i].1;
        let stop = self.index.get(j).map_or(self.end, |(_, o)| *o);
        let len = usize::try_from(stop.saturating_sub(start)).map_err(|_| {
            Error::InvalidArgument(format!("read of {start}..{stop} exceeds memory"))
        })?;
        let mut buf = vec![0u8; len];
        let file = std::fs::File::open(&self.path).with_path(&self.path)?;
        file.read_exact_at(&mut buf, start).with_path(&self.path)?;
        self.index[i..j]
            .iter()
            .map(|&(version, offset)| {
                let rel = usize::try_from(offset.saturating_sub(start)).unwrap_or(usize::MAX);
                let entry = decode_record(&buf, rel)
                    .and_then(decode_entry)
                    .map_err(|r| Error::corruption(&self.path, offset, r))?;
                if entry.0 != version {
                    let reason = format!("entry has version {}, expected {version}", entry.0);
                    return Err(Error::corruption(&self.path, offset, reason));
                }
                Ok(entry)
            })
            .collect()
    }
}

/// The payload of the record whose header starts at `pos` of `buf`, CRC checked.
fn decode_record(buf: &[u8], pos: usize) -> std::result::Result<&[u8], String> {
    let header = pos
        .checked_add(HEADER_LEN)
        .and_then(|end| buf.get(pos..end))
        .ok_or("record header past the end of the read")?;
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let len = u32::from_le_bytes(len_bytes);
    let stored = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_RECORD_LEN {
        return Err(format!("impossible record length {len}"));
    }
    let start = pos + HEADER_LEN;
    let payload = start
        .checked_add(len as usize)
        .and_then(|end| buf.get(start..end))
        .ok_or("record payload past the end of the read")?;
    let actual = record_crc(len_bytes, payload);
    if actual != stored {
        return Err(format!(
            "record checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
        ));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_roundtrip_and_reject_look_alikes() {
        let p = segment_path(Path::new("/d"), 42);
        assert_eq!(p, Path::new("/d/log-00000000000000000042.clog"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some(42));
        let max = segment_path(Path::new("/d"), u64::MAX);
        assert_eq!(
            parse_segment_name(max.file_name().unwrap().to_str().unwrap()),
            Some(u64::MAX)
        );
        for bad in [
            "log-42.clog",
            "log-0000000000000000042.clog",
            "log-+0000000000000000042.clog",
            "log-00000000000000000042.clog.tmp",
            "log-99999999999999999999.clog",
            "LOCK",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn entries_roundtrip_and_bad_entries_are_errors() {
        let ms = vec![Mutation::Clear { key: b"k".to_vec() }];
        let e = encode_entry(7, &ms);
        assert_eq!(&e[..8], &7u64.to_le_bytes());
        assert_eq!(decode_entry(&e).unwrap(), (7, ms));
        for cut in 0..e.len() {
            assert!(decode_entry(&e[..cut]).is_err(), "cut at {cut}");
        }
    }
}
