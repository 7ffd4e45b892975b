//! Little helpers for the byte formats: LEB128 varints and fixed-width integers.
//!
//! Decoders take untrusted input: every read is bounds-checked and returns `None` on short or
//! malformed input, so callers turn that into a corruption error naming file and offset.

/// Append `v` as an unsigned LEB128 varint (1 to 10 bytes).
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Decode a varint from the front of `buf`: `(value, bytes consumed)`, or `None` if the input
/// ends early or the varint is longer than 10 bytes / overflows a u64.
#[inline]
pub fn get_varint(buf: &[u8]) -> Option<(u64, usize)> {
    // Entry headers are nearly always single bytes (lengths under 128).
    if let Some(&b) = buf.first() {
        if b < 0x80 {
            return Some((u64::from(b), 1));
        }
    }
    let mut result: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None;
        }
        result |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((result, i + 1));
        }
    }
    None
}

/// Number of bytes `put_varint` would write for `v`.
#[inline]
pub fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Read a little-endian u32 at `pos`, if in bounds.
#[inline]
pub fn get_u32_le(buf: &[u8], pos: usize) -> Option<u32> {
    let end = pos.checked_add(4)?;
    let b = buf.get(pos..end)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Read a little-endian u64 at `pos`, if in bounds.
#[inline]
pub fn get_u64_le(buf: &[u8], pos: usize) -> Option<u64> {
    let end = pos.checked_add(8)?;
    let b = buf.get(pos..end)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// A cursor over untrusted bytes; every getter returns `None` instead of reading out of bounds.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    pub fn varint(&mut self) -> Option<u64> {
        let (v, n) = get_varint(self.buf.get(self.pos..)?)?;
        self.pos += n;
        Some(v)
    }
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    pub fn u32_le(&mut self) -> Option<u32> {
        let v = get_u32_le(self.buf, self.pos)?;
        self.pos += 4;
        Some(v)
    }
    pub fn u64_le(&mut self) -> Option<u64> {
        let v = get_u64_le(self.buf, self.pos)?;
        self.pos += 8;
        Some(v)
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }
    /// A varint length followed by that many bytes.
    pub fn length_prefixed(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.bytes(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_roundtrip(v: u64) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            prop_assert_eq!(b.len(), varint_len(v));
            prop_assert_eq!(get_varint(&b), Some((v, b.len())));
        }

        #[test]
        fn varint_never_panics_on_garbage(b: Vec<u8>) {
            let _ = get_varint(&b);
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        assert_eq!(get_varint(&[0xff; 11]), None);
        assert_eq!(
            get_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            None
        );
        assert_eq!(get_varint(&[0x80]), None);
    }
}
