//! `WriteBatch`: a group of puts and deletes applied atomically.
//!
//! A batch is kept in its encoded form, which is exactly the payload of one WAL record, so a
//! write costs one encode and no copy between the caller and the log:
//!
//! ```text
//!   count: u32 LE
//!   count times:
//!     kind: u8            0 = tombstone, 1 = value
//!     key_len: varint     then key bytes
//!     version: u64 LE
//!     value_len: varint   then value bytes   (only when kind = 1)
//! ```
//!
//! Within a batch a later operation on the same (key, version) wins over an earlier one.

use crate::coding::{put_varint, Reader};
use crate::types::{check_key, check_value, ValueKind, Version};
use crate::{Error, Result};

/// An atomic group of writes.
#[derive(Clone, Debug)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
    /// Lowest version of any operation (`u64::MAX` when empty), for the GC watermark check.
    min_version: Version,
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch::new()
    }
}

/// One operation of a batch, borrowed from its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOp<'a> {
    pub kind: ValueKind,
    pub key: &'a [u8],
    pub version: Version,
    /// Empty for tombstones.
    pub value: &'a [u8],
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch {
            rep: vec![0; 4],
            count: 0,
            min_version: Version::MAX,
        }
    }

    /// An empty batch with room for about `bytes` of encoded operations.
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        let mut rep = Vec::with_capacity(bytes.saturating_add(4));
        rep.extend_from_slice(&[0; 4]);
        WriteBatch {
            rep,
            count: 0,
            min_version: Version::MAX,
        }
    }

    /// Store `value` for `key` at `version`.
    pub fn put(&mut self, key: &[u8], version: Version, value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push(ValueKind::Value, key, version, value)
    }

    /// Mark `key` deleted as of `version`.
    pub fn delete(&mut self, key: &[u8], version: Version) -> Result<()> {
        check_key(key)?;
        self.push(ValueKind::Tombstone, key, version, &[])
    }

    fn push(&mut self, kind: ValueKind, key: &[u8], version: Version, value: &[u8]) -> Result<()> {
        self.count = self.count.checked_add(1).ok_or_else(|| {
            Error::InvalidArgument("write batch holds too many operations".into())
        })?;
        self.min_version = self.min_version.min(version);
        self.rep.push(kind as u8);
        put_varint(&mut self.rep, key.len() as u64);
        self.rep.extend_from_slice(key);
        self.rep.extend_from_slice(&version.to_le_bytes());
        if kind == ValueKind::Value {
            put_varint(&mut self.rep, value.len() as u64);
            self.rep.extend_from_slice(value);
        }
        self.rep[0..4].copy_from_slice(&self.count.to_le_bytes());
        Ok(())
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Lowest version among the operations (`u64::MAX` for an empty batch).
    pub fn min_version(&self) -> Version {
        self.min_version
    }

    /// Size of the encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        self.rep.len()
    }

    /// The encoding (the WAL record payload).
    pub fn encoded(&self) -> &[u8] {
        &self.rep
    }

    /// Rebuild a batch from a WAL record payload, validating every field.
    /// On failure returns a description; the caller adds file and offset.
    pub fn decode(rep: Vec<u8>) -> std::result::Result<WriteBatch, String> {
        let mut r = Reader::new(&rep);
        let count = r.u32_le().ok_or("batch shorter than its header")?;
        let mut seen = 0u32;
        let mut min_version = Version::MAX;
        while !r.is_empty() {
            let op = decode_op(&mut r).map_err(|e| format!("operation {seen}: {e}"))?;
            min_version = min_version.min(op.version);
            seen = seen.checked_add(1).ok_or("batch count overflows")?;
        }
        if seen != count {
            return Err(format!(
                "batch header says {count} operations, found {seen}"
            ));
        }
        Ok(WriteBatch {
            rep,
            count,
            min_version,
        })
    }

    /// Iterate over the operations in the order they were added.
    pub fn iter(&self) -> BatchIter<'_> {
        let mut r = Reader::new(&self.rep);
        let _ = r.u32_le();
        BatchIter { r }
    }
}

fn decode_op<'a>(r: &mut Reader<'a>) -> std::result::Result<BatchOp<'a>, &'static str> {
    let kind = ValueKind::from_u8(r.u8().ok_or("truncated kind")?).ok_or("unknown kind byte")?;
    let key = r.length_prefixed().ok_or("truncated key")?;
    let version = r.u64_le().ok_or("truncated version")?;
    let value = match kind {
        ValueKind::Value => r.length_prefixed().ok_or("truncated value")?,
        ValueKind::Tombstone => &[],
    };
    Ok(BatchOp {
        kind,
        key,
        version,
        value,
    })
}

/// Iterator over a batch's operations.
pub struct BatchIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = BatchOp<'a>;
    fn next(&mut self) -> Option<BatchOp<'a>> {
        if self.r.is_empty() {
            return None;
        }
        // The encoding was built by `push` or validated by `decode`.
        decode_op(&mut self.r).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_through_encoding() {
        let mut b = WriteBatch::new();
        b.put(b"k1", 5, b"v1").unwrap();
        b.delete(b"k2", 7).unwrap();
        b.put(b"", 0, b"").unwrap();
        let d = WriteBatch::decode(b.encoded().to_vec()).unwrap();
        let ops: Vec<_> = d.iter().collect();
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[0],
            BatchOp {
                kind: ValueKind::Value,
                key: b"k1",
                version: 5,
                value: b"v1"
            }
        );
        assert_eq!(
            ops[1],
            BatchOp {
                kind: ValueKind::Tombstone,
                key: b"k2",
                version: 7,
                value: b""
            }
        );
        assert_eq!(ops[2].key, b"");
    }

    #[test]
    fn garbage_is_rejected_not_panicked_on() {
        assert!(WriteBatch::decode(vec![]).is_err());
        assert!(WriteBatch::decode(vec![1, 0, 0, 0]).is_err());
        assert!(WriteBatch::decode(vec![1, 0, 0, 0, 7, 0]).is_err());
        assert!(WriteBatch::decode(vec![0, 0, 0, 0, 1, 0xff, 0xff]).is_err());
    }

    #[test]
    fn oversized_key_is_invalid_argument() {
        let mut b = WriteBatch::new();
        let big = vec![0u8; crate::types::MAX_KEY_LEN + 1];
        assert!(matches!(
            b.put(&big, 1, b"x"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(b.is_empty());
    }
}
