//! The fixed pieces of the table format: block handles, the block trailer (compression type
//! and CRC), the footer, the properties encoding, and reading one checksummed block back.
//!
//! Byte layouts are in the `sstable` module essay. Everything decoded here comes from disk and
//! is untrusted: handles are range-checked against the file with checked arithmetic before any
//! read, checksums are verified before any byte is interpreted, and the LZ4 length prefix is
//! bounded before anything is allocated for it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::TableProperties;
use crate::coding::{get_u32_le, get_u64_le, put_varint, Reader};
use crate::error::IoResultExt;
use crate::{Error, Result};

pub const MAGIC: u64 = u64::from_le_bytes(*b"FRFSBST1");
pub const FORMAT_VERSION: u32 = 1;
pub const FOOTER_SIZE: usize = 64;
pub const TRAILER_SIZE: usize = 5;
pub const TYPE_NONE: u8 = 0;
pub const TYPE_LZ4: u8 = 1;

/// LZ4 cannot expand its input by more than about 255x; a larger claimed size is corruption,
/// and bounding it keeps a hostile length from triggering a huge allocation.
const LZ4_MAX_RATIO: usize = 256;

/// Where a block's stored bytes are in the file (the 5-byte trailer follows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    /// Append as two varints (the index-entry value form).
    pub fn encode_to(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.offset);
        put_varint(buf, self.size);
    }

    /// Decode an index-entry value; it must hold exactly two varints.
    pub fn decode(value: &[u8]) -> Option<BlockHandle> {
        let mut r = Reader::new(value);
        let h = BlockHandle {
            offset: r.varint()?,
            size: r.varint()?,
        };
        r.is_empty().then_some(h)
    }
}

/// CRC32 over the stored bytes of a block, then its compression type byte.
pub fn block_crc(stored: &[u8], ty: u8) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(stored);
    h.update(&[ty]);
    h.finalize()
}

/// The last 64 bytes of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub index: BlockHandle,
    pub filter: BlockHandle,
    pub properties: BlockHandle,
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_SIZE] {
        let mut out = [0u8; FOOTER_SIZE];
        let fields = [
            self.index.offset,
            self.index.size,
            self.filter.offset,
            self.filter.size,
            self.properties.offset,
            self.properties.size,
        ];
        for (i, v) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out[48..52].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&out[..52]);
        out[52..56].copy_from_slice(&crc.to_le_bytes());
        out[56..64].copy_from_slice(&MAGIC.to_le_bytes());
        out
    }

    /// Decode and verify the footer read from `offset` of `path`.
    pub fn decode(path: &Path, offset: u64, b: &[u8; FOOTER_SIZE]) -> Result<Footer> {
        let corrupt = |reason: &str| Error::corruption(path, offset, reason);
        let u64_at = |pos| get_u64_le(b, pos).ok_or_else(|| corrupt("short footer"));
        if u64_at(56)? != MAGIC {
            return Err(corrupt("bad magic number: not a FerrisDB table"));
        }
        let expected = get_u32_le(b, 52).ok_or_else(|| corrupt("short footer"))?;
        let actual = crc32fast::hash(&b[..52]);
        if expected != actual {
            return Err(Error::ChecksumMismatch {
                file: path.to_path_buf(),
                offset,
                expected,
                actual,
            });
        }
        let version = get_u32_le(b, 48).ok_or_else(|| corrupt("short footer"))?;
        if version != FORMAT_VERSION {
            return Err(corrupt(&format!(
                "unsupported table format version {version}"
            )));
        }
        let handle = |i: usize| -> Result<BlockHandle> {
            Ok(BlockHandle {
                offset: u64_at(i * 16)?,
                size: u64_at(i * 16 + 8)?,
            })
        };
        Ok(Footer {
            index: handle(0)?,
            filter: handle(1)?,
            properties: handle(2)?,
        })
    }
}

/// Encode the properties block contents (everything but the file size).
pub fn encode_properties(p: &TableProperties) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + p.smallest_key.len() + p.largest_key.len());
    put_varint(&mut out, p.num_entries);
    put_varint(&mut out, p.num_tombstones);
    put_varint(&mut out, p.smallest_key.len() as u64);
    out.extend_from_slice(&p.smallest_key);
    out.extend_from_slice(&p.smallest_version.to_le_bytes());
    put_varint(&mut out, p.largest_key.len() as u64);
    out.extend_from_slice(&p.largest_key);
    out.extend_from_slice(&p.largest_version.to_le_bytes());
    out.extend_from_slice(&p.min_version.to_le_bytes());
    out.extend_from_slice(&p.max_version.to_le_bytes());
    out
}

/// Decode the properties block contents; `None` if malformed or inconsistent.
pub fn decode_properties(data: &[u8], file_size: u64) -> Option<TableProperties> {
    let mut r = Reader::new(data);
    let p = TableProperties {
        file_size,
        num_entries: r.varint()?,
        num_tombstones: r.varint()?,
        smallest_key: r.length_prefixed()?.to_vec(),
        smallest_version: r.u64_le()?,
        largest_key: r.length_prefixed()?.to_vec(),
        largest_version: r.u64_le()?,
        min_version: r.u64_le()?,
        max_version: r.u64_le()?,
    };
    let consistent = p.num_tombstones <= p.num_entries
        && p.min_version <= p.max_version
        && p.smallest_key <= p.largest_key;
    consistent.then_some(p)
}

/// Read the block at `handle`, verify its CRC and return its decompressed contents.
/// `data_end` is where the footer starts; every block must end before it.
pub fn read_block(file: &File, path: &Path, handle: BlockHandle, data_end: u64) -> Result<Vec<u8>> {
    let corrupt = |reason: &str| Error::corruption(path, handle.offset, reason);
    let end = handle
        .offset
        .checked_add(handle.size)
        .and_then(|e| e.checked_add(TRAILER_SIZE as u64))
        .filter(|&e| e <= data_end)
        .ok_or_else(|| corrupt("block handle points outside the table"))?;
    let size = usize::try_from(handle.size).map_err(|_| corrupt("block too large"))?;
    let total = usize::try_from(end - handle.offset).map_err(|_| corrupt("block too large"))?;
    let mut buf = vec![0u8; total];
    file.read_exact_at(&mut buf, handle.offset)
        .with_path(path)?;
    let ty = buf
        .get(size)
        .copied()
        .ok_or_else(|| corrupt("short block"))?;
    let expected = get_u32_le(&buf, size + 1).ok_or_else(|| corrupt("short block"))?;
    let actual = block_crc(buf.get(..size).unwrap_or(&[]), ty);
    if expected != actual {
        return Err(Error::ChecksumMismatch {
            file: path.to_path_buf(),
            offset: handle.offset,
            expected,
            actual,
        });
    }
    buf.truncate(size);
    match ty {
        TYPE_NONE => Ok(buf),
        TYPE_LZ4 => decompress_lz4(&buf).map_err(corrupt),
        _ => Err(corrupt(&format!("unknown block compression type {ty}"))),
    }
}

fn decompress_lz4(stored: &[u8]) -> std::result::Result<Vec<u8>, &'static str> {
    let mut r = Reader::new(stored);
    let len = r.varint().ok_or("truncated LZ4 length")?;
    let body = stored.get(r.position()..).unwrap_or(&[]);
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= body.len().saturating_mul(LZ4_MAX_RATIO).saturating_add(64))
        .ok_or("implausible LZ4 decompressed length")?;
    let mut out = vec![0u8; len];
    match lz4_flex::block::decompress_into(body, &mut out) {
        Ok(n) if n == len => Ok(out),
        Ok(_) => Err("LZ4 block decompressed to the wrong length"),
        Err(_) => Err("LZ4 block does not decompress"),
    }
}

/// Compress `raw` into `scratch` as LZ4 stored bytes if that saves at least 12.5%.
/// Returns whether `scratch` now holds the stored form.
pub fn compress_lz4(raw: &[u8], scratch: &mut Vec<u8>) -> bool {
    scratch.clear();
    put_varint(scratch, raw.len() as u64);
    let header = scratch.len();
    scratch.resize(
        header + lz4_flex::block::get_maximum_output_size(raw.len()),
        0,
    );
    let Ok(n) = lz4_flex::block::compress_into(raw, &mut scratch[header..]) else {
        return false;
    };
    scratch.truncate(header + n);
    scratch.len() <= raw.len() - raw.len() / 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_matches_the_documented_value() {
        assert_eq!(MAGIC, 0x3154_5342_5346_5246);
    }

    #[test]
    fn footer_roundtrip_and_damage() {
        let f = Footer {
            index: BlockHandle { offset: 1, size: 2 },
            filter: BlockHandle { offset: 3, size: 4 },
            properties: BlockHandle { offset: 5, size: 6 },
        };
        let bytes = f.encode();
        let p = Path::new("t.sst");
        assert_eq!(Footer::decode(p, 0, &bytes).unwrap(), f);
        for i in 0..FOOTER_SIZE {
            let mut b = bytes;
            b[i] ^= 0x10;
            assert!(
                Footer::decode(p, 0, &b).unwrap_err().is_corruption(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn handle_decode_requires_exact_value() {
        let mut v = Vec::new();
        BlockHandle {
            offset: 300,
            size: 7,
        }
        .encode_to(&mut v);
        assert_eq!(
            BlockHandle::decode(&v),
            Some(BlockHandle {
                offset: 300,
                size: 7
            })
        );
        v.push(0);
        assert_eq!(BlockHandle::decode(&v), None);
        assert_eq!(BlockHandle::decode(&[0x80]), None);
    }

    #[test]
    fn lz4_only_when_it_pays_and_roundtrips() {
        let mut scratch = Vec::new();
        let compressible = vec![b'a'; 4096];
        assert!(compress_lz4(&compressible, &mut scratch));
        assert_eq!(decompress_lz4(&scratch).unwrap(), compressible);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert!(!compress_lz4(&random, &mut scratch));
        assert!(decompress_lz4(&[0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]).is_err());
    }
}
