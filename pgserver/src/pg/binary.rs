//! PostgreSQL's binary wire format for every FerrisDB type (`typsend` / `typreceive`).
//!
//! Results go out in binary when the client asks for it in Bind (tokio-postgres always
//! does); parameters come in binary the same way. [`Datum`] already uses PostgreSQL's
//! representations (days and microseconds since 2000-01-01, intervals as months, days and
//! microseconds), so most types are a big-endian copy. All integers are big-endian.
//!
//! ```text
//!   bool                 1 byte, 0 or 1
//!   int2 / int4 / int8   2 / 4 / 8 bytes, two's complement
//!   float4 / float8      4 / 8 bytes, IEEE 754
//!   text varchar bpchar  the UTF-8 bytes (no NUL allowed)
//!   bytea                the bytes
//!   date                 int32 days since 2000-01-01 (i32::MIN/MAX = -infinity/infinity)
//!   timestamp[tz]        int64 µs since 2000-01-01 00:00:00 [UTC] (i64::MIN/MAX = ±infinity)
//!   interval             int64 µs | int32 days | int32 months
//!   oid, reg*            uint32 (a reg* result column already holds its name: text bytes)
//!   name, "char"         the UTF-8 bytes
//!   one-dimensional array  int32 ndim (0 if empty, else 1) | int32 has-nulls | uint32
//!                        element type | [int32 length | int32 lower bound 1] | per element
//!                        int32 byte length (-1 = NULL) and its binary form (out only)
//!   numeric              int16 ndigits | int16 weight | uint16 sign | uint16 dscale
//!                        | int16 digit * ndigits
//!       base-10000 digits, most significant first; value = Σ digit[i] * 10000^(weight - i);
//!       sign 0x0000 positive, 0x4000 negative, 0xC000 NaN (not supported: 0A000);
//!       dscale = digits shown after the decimal point. Zero is ndigits 0.
//! ```
//!
//! Decoding checks the exact length for fixed-size types, every numeric digit is 0..=9999,
//! dates and timestamps are within the range the SQL layer can represent. A violation is
//! PostgreSQL's 22P03 "incorrect binary data format in bind parameter N".

use ferrisdb_sql::datetime::{date_valid, timestamp_valid};
use ferrisdb_sql::{numeric, DataType, Datum, Interval};

use super::errors::PgError;

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;

/// Appends the binary form of the non-NULL `datum` of type `ty` to `out`.
pub fn encode(datum: &Datum, ty: &DataType, out: &mut Vec<u8>) -> Result<(), PgError> {
    let mismatch = || PgError::Encode(format!("value {datum:?} does not fit type {ty}"));
    match (datum, ty) {
        (Datum::Bool(b), _) => out.push(u8::from(*b)),
        (Datum::Int(i), DataType::Int2) => {
            out.extend_from_slice(&i16::try_from(*i).map_err(|_| mismatch())?.to_be_bytes())
        }
        (Datum::Int(i), DataType::Int4) => {
            out.extend_from_slice(&i32::try_from(*i).map_err(|_| mismatch())?.to_be_bytes())
        }
        (Datum::Int(i), DataType::Oid(_)) => {
            out.extend_from_slice(&u32::try_from(*i).map_err(|_| mismatch())?.to_be_bytes())
        }
        (Datum::Array(items), DataType::Array(elem)) => encode_array(items, elem, out)?,
        (Datum::Array(_), _) => return Err(mismatch()),
        (Datum::Int(i), _) => out.extend_from_slice(&i.to_be_bytes()),
        (Datum::Float(f), DataType::Float4) => out.extend_from_slice(&(*f as f32).to_be_bytes()),
        (Datum::Float(f), _) => out.extend_from_slice(&f.to_be_bytes()),
        (Datum::Numeric(n), _) => encode_numeric(&numeric::format(n), out).ok_or_else(mismatch)?,
        (Datum::Text(s), _) => out.extend_from_slice(s.as_bytes()),
        (Datum::Bytes(b), _) => out.extend_from_slice(b),
        (Datum::Date(d), _) => out.extend_from_slice(&d.to_be_bytes()),
        (Datum::Timestamp(t) | Datum::TimestampTz(t), _) => out.extend_from_slice(&t.to_be_bytes()),
        (Datum::Interval(iv), _) => {
            out.extend_from_slice(&iv.micros.to_be_bytes());
            out.extend_from_slice(&iv.days.to_be_bytes());
            out.extend_from_slice(&iv.months.to_be_bytes());
        }
        (Datum::Null, _) => return Err(mismatch()),
    }
    Ok(())
}

/// The binary form of a one-dimensional array (see the module doc).
fn encode_array(items: &[Datum], elem: &DataType, out: &mut Vec<u8>) -> Result<(), PgError> {
    let too_long = || PgError::Encode("array too long".into());
    let n = i32::try_from(items.len()).map_err(|_| too_long())?;
    out.extend_from_slice(&i32::from(n > 0).to_be_bytes());
    out.extend_from_slice(&i32::from(items.iter().any(Datum::is_null)).to_be_bytes());
    out.extend_from_slice(&elem.oid().to_be_bytes());
    if n > 0 {
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for d in items {
        if d.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode(d, elem, out)?;
        let len = i32::try_from(out.len() - at - 4).map_err(|_| too_long())?;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// The numeric binary form of PostgreSQL's text output of a numeric (`-12.340`).
fn encode_numeric(text: &str, out: &mut Vec<u8>) -> Option<()> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let dscale = u16::try_from(frac_part.len()).ok()?;
    let int_part = int_part.trim_start_matches('0');
    // Align the decimal point on a group boundary: pad the integer part on the left and
    // the fraction on the right to multiples of 4 digits.
    let int_groups = int_part.len().div_ceil(4);
    let mut all = "0".repeat(int_groups * 4 - int_part.len());
    all.push_str(int_part);
    all.push_str(frac_part);
    all.push_str(&"0".repeat(frac_part.len().div_ceil(4) * 4 - frac_part.len()));
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = i64::try_from(int_groups).ok()? - 1;
    let leading = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading);
    weight -= i64::try_from(leading).ok()?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    out.extend_from_slice(&i16::try_from(groups.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&i16::try_from(weight).ok()?.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Some(())
}

/// Decodes the binary form of bind parameter `index` (1-based, for the error) as `ty`.
pub fn decode(bytes: &[u8], ty: &DataType, index: usize) -> Result<Datum, PgError> {
    let bad = || PgError::BinaryFormat { index };
    let datum = match ty {
        DataType::Bool => match bytes {
            [b] => Datum::Bool(*b != 0),
            _ => return Err(bad()),
        },
        DataType::Int2 => Datum::Int(i16::from_be_bytes(fixed(bytes).ok_or_else(bad)?).into()),
        DataType::Int4 => Datum::Int(i32::from_be_bytes(fixed(bytes).ok_or_else(bad)?).into()),
        DataType::Int8 => Datum::Int(i64::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Float4 => Datum::Float(f32::from_be_bytes(fixed(bytes).ok_or_else(bad)?).into()),
        DataType::Float8 => Datum::Float(f64::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Numeric { .. } => decode_numeric(bytes, index)?,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Unknown
        | DataType::Void
        | DataType::Name
        | DataType::InternalChar => Datum::Text(utf8_text(bytes)?),
        DataType::Oid(_) => Datum::Int(u32::from_be_bytes(fixed(bytes).ok_or_else(bad)?).into()),
        DataType::Array(_) => return Err(PgError::Unsupported("binary array parameters")),
        DataType::Bytea => Datum::Bytes(bytes.to_vec()),
        DataType::Date => {
            let d = i32::from_be_bytes(fixed(bytes).ok_or_else(bad)?);
            if !date_valid(d) {
                return Err(bad());
            }
            Datum::Date(d)
        }
        DataType::Timestamp | DataType::TimestampTz => {
            let t = i64::from_be_bytes(fixed(bytes).ok_or_else(bad)?);
            if !timestamp_valid(t) {
                return Err(bad());
            }
            if *ty == DataType::Timestamp {
                Datum::Timestamp(t)
            } else {
                Datum::TimestampTz(t)
            }
        }
        DataType::Interval => {
            let raw: [u8; 16] = fixed(bytes).ok_or_else(bad)?;
            let (micros, rest) = raw.split_at(8);
            let (days, months) = rest.split_at(4);
            Datum::Interval(Interval {
                micros: i64::from_be_bytes(fixed(micros).ok_or_else(bad)?),
                days: i32::from_be_bytes(fixed(days).ok_or_else(bad)?),
                months: i32::from_be_bytes(fixed(months).ok_or_else(bad)?),
            })
        }
    };
    Ok(datum)
}

/// Text as the server encoding (UTF-8) allows it: valid, and without NUL bytes.
pub fn utf8_text(bytes: &[u8]) -> Result<String, PgError> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => Ok(s.to_string()),
        _ => Err(PgError::InvalidUtf8),
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

fn decode_numeric(bytes: &[u8], index: usize) -> Result<Datum, PgError> {
    let bad = || PgError::BinaryFormat { index };
    let header: [u8; 8] = bytes.get(..8).and_then(fixed).ok_or_else(bad)?;
    let ndigits = i16::from_be_bytes([header[0], header[1]]);
    let weight = i16::from_be_bytes([header[2], header[3]]);
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let dscale = u16::from_be_bytes([header[6], header[7]]);
    let ndigits = usize::try_from(ndigits).map_err(|_| bad())?;
    let body = &bytes[8..];
    if body.len() != ndigits * 2 || dscale > 0x3fff {
        return Err(bad());
    }
    match sign {
        NUMERIC_POS | NUMERIC_NEG => {}
        NUMERIC_NAN => return Err(PgError::Unsupported("numeric NaN")),
        _ => return Err(bad()),
    }
    let mut digits = String::with_capacity(ndigits * 4);
    for pair in body.chunks_exact(2) {
        let g = i16::from_be_bytes([pair[0], pair[1]]);
        if !(0..=9999).contains(&g) {
            return Err(bad());
        }
        digits.push_str(&format!("{g:04}"));
    }
    // value = digits (as an integer) * 10000^(weight + 1 - ndigits)
    let exponent = (i64::from(weight) + 1 - ndigits as i64) * 4;
    let mut text = if sign == NUMERIC_NEG { "-" } else { "" }.to_string();
    text.push_str(if digits.is_empty() { "0" } else { &digits });
    text.push_str(&format!("e{exponent}"));
    let value = numeric::parse(&text).map_err(|_| bad())?;
    Ok(Datum::Numeric(value.with_scale(i64::from(dscale))))
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
