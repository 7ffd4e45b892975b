//! The row-value encoding: a row's non-key columns as one compact, self-describing value.
//!
//! Keys must sort; row values need only be small, exact and safe to decode. So a row
//! value stores each datum exactly (NUMERIC keeps its display scale, intervals their three
//! parts, `-0.0` its sign) and tags each one with its kind, which lets a decoder check the
//! bytes without the schema and lets a later schema change (ADD COLUMN) read old rows.
//!
//! # Layout, byte by byte
//!
//! ```text
//!   version   u8        ROW_FORMAT_VERSION (1)
//!   count     varint    number of columns n
//!   nulls     ceil(n/8) bytes; bit i (byte i/8, bit i%8, LSB first) set = column i is NULL;
//!                       unused high bits of the last byte are 0
//!   then, for each non-NULL column in order, a tag byte and its payload:
//!     01 false          (no payload)
//!     02 true           (no payload)
//!     03 int            zigzag varint
//!     04 float          8 bytes, IEEE-754 bits little-endian (exact: -0.0 and NaN payloads kept)
//!     05 numeric        zigzag varint scale, varint length L, L bytes: the mantissa as a
//!                       signed big-endian two's-complement integer
//!     06 text           varint length L, L bytes of UTF-8
//!     07 bytes          varint length L, L bytes
//!     08 date           zigzag varint days since 2000-01-01
//!     09 timestamp      zigzag varint µs since 2000-01-01
//!     0a timestamptz    zigzag varint µs since 2000-01-01 UTC
//!     0b interval       zigzag varint months, zigzag varint days, zigzag varint µs
//!     0c array          varint length L, L bytes: the elements encoded as a row value
//!                       (this same layout), which may not itself hold an array
//!
//!   varint   unsigned LEB128, at most 10 bytes, no overlong last byte beyond 64 bits
//!   zigzag   (v << 1) ^ (v >> 63), so small negative numbers stay short
//! ```
//!
//! Example: `(42, NULL, 'hi')` is `01 03 02 03 54 06 02 68 69`.
//!
//! Decoding trusts nothing: every length is checked against the bytes left, every varint
//! against overflow, text against UTF-8, values against their Rust range, and the buffer
//! must end exactly after the last column. Bad input is [`SqlError::DataCorrupted`] (XX001),
//! never a panic (fuzzed by a property test).

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;

use crate::datum::Datum;
use crate::error::SqlError;
use crate::interval::Interval;

/// The format version written as the first byte.
pub const ROW_FORMAT_VERSION: u8 = 1;

const T_FALSE: u8 = 0x01;
const T_TRUE: u8 = 0x02;
const T_INT: u8 = 0x03;
const T_FLOAT: u8 = 0x04;
const T_NUMERIC: u8 = 0x05;
const T_TEXT: u8 = 0x06;
const T_BYTES: u8 = 0x07;
const T_DATE: u8 = 0x08;
const T_TIMESTAMP: u8 = 0x09;
const T_TIMESTAMPTZ: u8 = 0x0a;
const T_ARRAY: u8 = 0x0c;
const T_INTERVAL: u8 = 0x0b;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Encodes a row's datums (see the module doc).
pub fn encode_row(datums: &[Datum]) -> Vec<u8> {
    let mut out = vec![ROW_FORMAT_VERSION];
    put_varint(&mut out, datums.len() as u64);
    let bitmap_at = out.len();
    out.resize(bitmap_at + datums.len().div_ceil(8), 0);
    for (i, d) in datums.iter().enumerate() {
        match d {
            Datum::Null => out[bitmap_at + i / 8] |= 1 << (i % 8),
            Datum::Bool(false) => out.push(T_FALSE),
            Datum::Bool(true) => out.push(T_TRUE),
            Datum::Int(v) => {
                out.push(T_INT);
                put_zigzag(&mut out, *v);
            }
            Datum::Float(f) => {
                out.push(T_FLOAT);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Datum::Numeric(n) => {
                let (m, scale) = n.as_bigint_and_exponent();
                out.push(T_NUMERIC);
                put_zigzag(&mut out, scale);
                put_bytes(&mut out, &m.to_signed_bytes_be());
            }
            Datum::Text(s) => {
                out.push(T_TEXT);
                put_bytes(&mut out, s.as_bytes());
            }
            Datum::Bytes(b) => {
                out.push(T_BYTES);
                put_bytes(&mut out, b);
            }
            Datum::Date(v) => {
                out.push(T_DATE);
                put_zigzag(&mut out, i64::from(*v));
            }
            Datum::Timestamp(v) => {
                out.push(T_TIMESTAMP);
                put_zigzag(&mut out, *v);
            }
            Datum::TimestampTz(v) => {
                out.push(T_TIMESTAMPTZ);
                put_zigzag(&mut out, *v);
            }
            Datum::Interval(iv) => {
                out.push(T_INTERVAL);
                put_zigzag(&mut out, i64::from(iv.months));
                put_zigzag(&mut out, i64::from(iv.days));
                put_zigzag(&mut out, iv.micros);
            }
            Datum::Array(items) => {
                out.push(T_ARRAY);
                put_bytes(&mut out, &encode_row(items));
            }
        }
    }
    out
}

/// Reads untrusted row bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// 1 inside an array's elements (which may not nest further).
    depth: u8,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: &str) -> SqlError {
        SqlError::DataCorrupted {
            what: "row",
            offset: self.pos,
            reason: reason.to_string(),
        }
    }

    fn byte(&mut self) -> Result<u8, SqlError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SqlError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| self.err("length past the end"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, SqlError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> Result<i64, SqlError> {
        let u = self.varint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn zigzag_i32(&mut self) -> Result<i32, SqlError> {
        let v = self.zigzag()?;
        i32::try_from(v).map_err(|_| self.err("value exceeds 32 bits"))
    }

    fn len_bytes(&mut self) -> Result<&'a [u8], SqlError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.err("length too large"))?;
        self.take(n)
    }

    fn datum(&mut self) -> Result<Datum, SqlError> {
        Ok(match self.byte()? {
            T_FALSE => Datum::Bool(false),
            T_TRUE => Datum::Bool(true),
            T_INT => Datum::Int(self.zigzag()?),
            T_FLOAT => {
                let raw: [u8; 8] = self
                    .take(8)?
                    .try_into()
                    .map_err(|_| self.err("short float"))?;
                Datum::Float(f64::from_bits(u64::from_le_bytes(raw)))
            }
            T_NUMERIC => {
                let scale = self.zigzag()?;
                if scale < 0 {
                    return Err(self.err("negative numeric scale"));
                }
                let m = BigInt::from_signed_bytes_be(self.len_bytes()?);
                Datum::Numeric(BigDecimal::new(m, scale))
            }
            T_TEXT => {
                let b = self.len_bytes()?;
                let s = std::str::from_utf8(b).map_err(|_| self.err("text is not UTF-8"))?;
                Datum::Text(s.to_string())
            }
            T_BYTES => Datum::Bytes(self.len_bytes()?.to_vec()),
            T_DATE => Datum::Date(self.zigzag_i32()?),
            T_TIMESTAMP => Datum::Timestamp(self.zigzag()?),
            T_TIMESTAMPTZ => Datum::TimestampTz(self.zigzag()?),
            T_INTERVAL => Datum::Interval(Interval {
                months: self.zigzag_i32()?,
                days: self.zigzag_i32()?,
                micros: self.zigzag()?,
            }),
            T_ARRAY if self.depth == 0 => {
                let b = self.len_bytes()?;
                Datum::Array(decode_at(b, 1)?)
            }
            _ => {
                self.pos -= 1;
                return Err(self.err("unknown value tag"));
            }
        })
    }
}

/// Decodes a row value written by [`encode_row`]; XX001 on anything else.
pub fn decode_row(buf: &[u8]) -> Result<Vec<Datum>, SqlError> {
    decode_at(buf, 0)
}

fn decode_at(buf: &[u8], depth: u8) -> Result<Vec<Datum>, SqlError> {
    let mut r = Reader { buf, pos: 0, depth };
    let version = r.byte()?;
    if version != ROW_FORMAT_VERSION {
        r.pos = 0;
        return Err(r.err("unknown row format version"));
    }
    let count = r.varint()?;
    // Each column costs at least one bitmap bit, so a count beyond the bytes is garbage.
    let count = usize::try_from(count)
        .ok()
        .filter(|c| c.div_ceil(8) <= buf.len() - r.pos)
        .ok_or_else(|| r.err("column count exceeds the row"))?;
    let bitmap = r.take(count.div_ceil(8))?;
    if count % 8 != 0 && bitmap.last().is_some_and(|b| b >> (count % 8) != 0) {
        return Err(r.err("NULL bitmap has bits past the last column"));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            out.push(Datum::Null);
        } else {
            out.push(r.datum()?);
        }
    }
    if r.pos != buf.len() {
        return Err(r.err("trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cast::tests::{arb_typed_datum, same_value};
    use proptest::prelude::*;

    #[test]
    fn known_layout() {
        let row = [Datum::Int(42), Datum::Null, Datum::Text("hi".into())];
        let bytes = encode_row(&row);
        assert_eq!(
            bytes,
            vec![0x01, 0x03, 0x02, 0x03, 0x54, 0x06, 0x02, 0x68, 0x69]
        );
        assert_eq!(decode_row(&bytes).unwrap(), row.to_vec());
        assert_eq!(encode_row(&[]), vec![0x01, 0x00]);
    }

    #[test]
    fn corruption_is_reported_not_panicked() {
        let bytes = encode_row(&[Datum::Text("hello".into())]);
        for cut in 0..bytes.len() {
            let e = decode_row(&bytes[..cut]).unwrap_err();
            assert_eq!(e.sqlstate(), "XX001", "cut at {cut}");
        }
        let mut bad_version = bytes.clone();
        bad_version[0] = 2;
        assert!(decode_row(&bad_version).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_row(&trailing).is_err());
        // A huge column count with no bytes behind it.
        assert!(decode_row(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        // A NULL bit past the last column.
        assert!(decode_row(&[1, 1, 0b10]).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip_is_exact(
            row in proptest::collection::vec(
                prop_oneof![1 => Just(Datum::Null), 4 => arb_typed_datum().prop_map(|(_, d)| d)],
                0..20,
            )
        ) {
            let back = decode_row(&encode_row(&row)).unwrap();
            prop_assert_eq!(back.len(), row.len());
            for (a, b) in back.iter().zip(&row) {
                prop_assert!(same_value(a, b), "{:?} vs {:?}", a, b);
            }
        }

        #[test]
        fn decode_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_row(&bytes);
            let mut versioned = vec![ROW_FORMAT_VERSION];
            versioned.extend_from_slice(&bytes);
            if let Ok(row) = decode_row(&versioned) {
                prop_assert_eq!(decode_row(&encode_row(&row)).map(|r| r.len()), Ok(row.len()));
            }
        }
    }
}
