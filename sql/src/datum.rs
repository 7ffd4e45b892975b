//! [`Datum`]: one SQL value, with PostgreSQL's text input and output for every type.
//!
//! A datum does not carry its type: the expression or column it came from does, as a
//! [`DataType`]. So `Int` holds smallint, integer and bigint alike (the type bounds it),
//! `Float` holds real and double precision (a real is an f64 exactly representable as f32),
//! `Text` holds text, varchar and char(n) (already blank-padded to n). This keeps values
//! small and lets casts between widths be range checks rather than conversions.
//!
//! ```text
//!   Datum            types                       representation
//!   Null             any                         SQL NULL
//!   Bool             boolean
//!   Int(i64)         smallint, integer, bigint   within the type's range
//!   Float(f64)       real, double precision
//!   Numeric          numeric(p,s)                BigDecimal, scale = display scale >= 0
//!   Text(String)     text, varchar(n), char(n)
//!   Bytes(Vec<u8>)   bytea
//!   Date(i32)        date                        days since 2000-01-01 (see datetime)
//!   Timestamp(i64)   timestamp                   µs since 2000-01-01 00:00:00
//!   TimestampTz(i64) timestamptz                 µs since 2000-01-01 00:00:00 UTC
//!   Interval         interval                    months, days, µs (see interval)
//! ```
//!
//! [`Datum::to_text`] is PostgreSQL's output function for the type (what psql shows and
//! what the text wire format sends); [`Datum::parse`] is its input function. For every
//! non-NULL value, `parse(to_text(v)) == v` (property-tested in `cast`). Type modifiers
//! (`varchar(3)`, `numeric(5,2)`) are not applied here but by [`crate::cast`], because
//! whether an over-long value is truncated or an error depends on the cast context.

use std::cmp::Ordering;

use bigdecimal::BigDecimal;

use crate::error::SqlError;
use crate::interval::{self, Interval};
use crate::types::DataType;
use crate::{datetime, float, numeric};

/// One SQL value; its [`DataType`] is known from context. See the module doc.
#[derive(Clone, Debug, PartialEq)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Numeric(BigDecimal),
    Text(String),
    Bytes(Vec<u8>),
    Date(i32),
    Timestamp(i64),
    TimestampTz(i64),
    Interval(Interval),
    /// A one-dimensional array's elements ([`crate::array`]).
    Array(Vec<Datum>),
}

/// The inclusive range of an integer type.
pub fn int_range(t: &DataType) -> (i64, i64) {
    match t {
        DataType::Int2 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int4 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}

/// Checks `v` against the integer type `t`: "smallint/integer/bigint out of range" (22003).
pub fn check_int(v: i64, t: &DataType) -> Result<Datum, SqlError> {
    let (lo, hi) = int_range(t);
    if v < lo || v > hi {
        return Err(SqlError::out_of_range(t));
    }
    Ok(Datum::Int(v))
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// PostgreSQL's text output of this value as type `ty`; `None` for NULL.
    pub fn to_text(&self, ty: &DataType) -> Option<String> {
        Some(match self {
            Datum::Null => return None,
            Datum::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Datum::Int(i) => i.to_string(),
            Datum::Float(f) if *ty == DataType::Float4 => float::format_f32(*f as f32),
            Datum::Float(f) => float::format_f64(*f),
            Datum::Numeric(n) => numeric::format(n),
            Datum::Text(s) => s.clone(),
            Datum::Bytes(b) => {
                let mut s = String::with_capacity(2 + 2 * b.len());
                s.push_str("\\x");
                for byte in b {
                    s.push_str(&format!("{byte:02x}"));
                }
                s
            }
            Datum::Date(d) => datetime::format_date(*d),
            Datum::Timestamp(t) => datetime::format_timestamp(*t, false),
            Datum::TimestampTz(t) => datetime::format_timestamp(*t, true),
            Datum::Interval(iv) => interval::format(iv),
            Datum::Array(items) => match ty {
                DataType::Array(elem) => crate::array::format(items, elem),
                _ => crate::array::format(items, &DataType::Text),
            },
        })
    }

    /// PostgreSQL's input function for `ty` (without applying its modifier; see the module
    /// doc). `Unknown` parses as text.
    pub fn parse(input: &str, ty: &DataType) -> Result<Datum, SqlError> {
        Ok(match ty {
            DataType::Bool => Datum::Bool(parse_bool(input)?),
            DataType::Int2 | DataType::Int4 | DataType::Int8 => parse_int(input, ty)?,
            DataType::Float4 => Datum::Float(f64::from(float::parse_f32(input)?)),
            DataType::Float8 => Datum::Float(float::parse_f64(input)?),
            DataType::Numeric { .. } => Datum::Numeric(numeric::parse(input)?),
            DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Unknown
            | DataType::Void
            | DataType::Name
            | DataType::InternalChar => Datum::Text(input.to_string()),
            DataType::Oid(_) => parse_oid(input, ty)?,
            DataType::Array(elem) => Datum::Array(crate::array::parse(input, elem)?),
            DataType::Bytea => Datum::Bytes(parse_bytea(input)?),
            DataType::Date => Datum::Date(datetime::parse_date(input)?),
            DataType::Timestamp => Datum::Timestamp(datetime::parse_timestamp(input, false)?),
            DataType::TimestampTz => Datum::TimestampTz(datetime::parse_timestamp(input, true)?),
            DataType::Interval => Datum::Interval(interval::parse(input)?),
        })
    }

    /// Compares two non-NULL values of the same type in PostgreSQL's order (floats: `-0 =
    /// 0`, NaN equal to NaN and above everything; intervals by their 30-day-month span; text
    /// bytewise, i.e. the C collation). `None` if either is NULL or the kinds differ: the
    /// caller casts both sides to one type first.
    pub fn compare(&self, other: &Datum) -> Option<Ordering> {
        Some(match (self, other) {
            (Datum::Bool(a), Datum::Bool(b)) => a.cmp(b),
            (Datum::Int(a), Datum::Int(b)) => a.cmp(b),
            (Datum::Float(a), Datum::Float(b)) => float_cmp(*a, *b),
            (Datum::Numeric(a), Datum::Numeric(b)) => a.cmp(b),
            (Datum::Text(a), Datum::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Datum::Bytes(a), Datum::Bytes(b)) => a.cmp(b),
            (Datum::Date(a), Datum::Date(b)) => a.cmp(b),
            (Datum::Timestamp(a), Datum::Timestamp(b))
            | (Datum::TimestampTz(a), Datum::TimestampTz(b)) => a.cmp(b),
            (Datum::Interval(a), Datum::Interval(b)) => {
                interval::span_micros(a).cmp(&interval::span_micros(b))
            }
            (Datum::Array(a), Datum::Array(b)) => crate::array::compare(a, b)?,
            _ => return None,
        })
    }
}

/// PostgreSQL's float order: NaN greatest and equal to itself, `-0 = 0`.
pub fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// PostgreSQL's `boolin`: any unambiguous prefix of true/false/yes/no, on/off, 1/0,
/// case-insensitive, surrounded by whitespace.
pub fn parse_bool(input: &str) -> Result<bool, SqlError> {
    let s = input.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| s.len() >= min && word.starts_with(s.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || s == "on" || s == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0" {
        Ok(false)
    } else {
        Err(SqlError::invalid_text("boolean", input))
    }
}

/// PostgreSQL's `int2in`/`int4in`/`int8in`: optional whitespace and sign, decimal digits.
pub fn parse_int(input: &str, ty: &DataType) -> Result<Datum, SqlError> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SqlError::invalid_text(ty, input));
    }
    let out_of_range = || SqlError::InputOutOfRange {
        input: input.to_string(),
        type_name: ty.to_string(),
    };
    let v: i64 = s.parse().map_err(|_| out_of_range())?;
    let (lo, hi) = int_range(ty);
    if v < lo || v > hi {
        return Err(out_of_range());
    }
    Ok(Datum::Int(v))
}

/// PostgreSQL's `oidin` (an unsigned 32-bit number; a negative one wraps, as there). The
/// `reg*` types take only the numeric form here: names resolve in
/// [`crate::pg_catalog`], which needs the catalog.
pub fn parse_oid(input: &str, ty: &DataType) -> Result<Datum, SqlError> {
    let s = input.trim();
    let v: i64 = s.parse().map_err(|_| SqlError::invalid_text(ty, input))?;
    if v < -(1 << 31) || v > u32::MAX as i64 {
        return Err(SqlError::InputOutOfRange {
            input: input.to_string(),
            type_name: ty.to_string(),
        });
    }
    Ok(Datum::Int(if v < 0 { v + (1 << 32) } else { v }))
}

/// PostgreSQL's `byteain`: `\x` then hex digit pairs (whitespace between pairs allowed), or
/// the escape format (`\\` for a backslash, `\ooo` octal, other bytes as they are).
pub fn parse_bytea(input: &str) -> Result<Vec<u8>, SqlError> {
    if let Some(hex) = input
        .strip_prefix("\\x")
        .or_else(|| input.strip_prefix("\\X"))
    {
        return parse_hex(hex);
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = bytes.get(i + 1..i + 4).filter(|o| {
                (b'0'..=b'3').contains(&o[0]) && o[1..].iter().all(|b| (b'0'..=b'7').contains(b))
            });
            let Some(o) = oct else {
                return Err(SqlError::invalid_text("bytea", input));
            };
            out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, SqlError> {
    let digit = |c: char| {
        c.to_digit(16)
            .ok_or_else(|| SqlError::InvalidParameterValue {
                message: format!("invalid hexadecimal digit: \"{c}\""),
            })
    };
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
    while let Some(hi) = chars.next() {
        let hi = digit(hi)?;
        let Some(lo) = chars.next() else {
            return Err(SqlError::InvalidParameterValue {
                message: "invalid hexadecimal data: odd number of digits".into(),
            });
        };
        out.push((hi * 16 + digit(lo)?) as u8);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &str, ty: DataType) -> String {
        Datum::parse(input, &ty)
            .unwrap_or_else(|e| panic!("{input}::{ty}: {e}"))
            .to_text(&ty)
            .unwrap_or_default()
    }

    #[test]
    fn text_io_matches_postgres() {
        // Expected values from PostgreSQL 15.
        assert_eq!(roundtrip("  12 ", DataType::Int4), "12");
        assert_eq!(roundtrip("-32768", DataType::Int2), "-32768");
        assert_eq!(roundtrip("1e3", DataType::Float8), "1000");
        assert_eq!(roundtrip("0.1", DataType::Float4), "0.1");
        for t in ["t", "yes", "on", "1", " TRUE ", "y", "tr"] {
            assert_eq!(roundtrip(t, DataType::Bool), "t", "{t}");
        }
        for f in ["f", "no", "off", "0", "n", "of"] {
            assert_eq!(roundtrip(f, DataType::Bool), "f", "{f}");
        }
        assert_eq!(roundtrip("\\x0102ff", DataType::Bytea), "\\x0102ff");
        assert_eq!(roundtrip("\\x01 02", DataType::Bytea), "\\x0102");
        assert_eq!(roundtrip("ab\\\\c\\001", DataType::Bytea), "\\x61625c6301");
        assert_eq!(roundtrip("1.50", DataType::NUMERIC), "1.50");
        assert_eq!(roundtrip("2024-01-31", DataType::Date), "2024-01-31");
        assert_eq!(
            roundtrip("1 day 2 hours", DataType::Interval),
            "1 day 02:00:00"
        );
    }

    #[test]
    fn input_errors_match_postgres() {
        let err = |input: &str, ty: DataType| Datum::parse(input, &ty).unwrap_err();
        let e = err("abc", DataType::Int4);
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type integer: \"abc\""
        );
        assert_eq!(e.sqlstate(), "22P02");
        assert_eq!(err("12.5", DataType::Int4).sqlstate(), "22P02");
        let e = err("2147483648", DataType::Int4);
        assert_eq!(
            e.to_string(),
            "value \"2147483648\" is out of range for type integer"
        );
        assert_eq!(e.sqlstate(), "22003");
        assert_eq!(
            err("32768", DataType::Int2).to_string(),
            "value \"32768\" is out of range for type smallint"
        );
        assert_eq!(
            err("99999999999999999999", DataType::Int8).sqlstate(),
            "22003"
        );
        assert_eq!(
            err("o", DataType::Bool).to_string(),
            "invalid input syntax for type boolean: \"o\""
        );
        assert_eq!(
            err("\\xzz", DataType::Bytea).to_string(),
            "invalid hexadecimal digit: \"z\""
        );
        assert_eq!(err("\\x012", DataType::Bytea).sqlstate(), "22023");
    }

    #[test]
    fn compare_follows_postgres_order() {
        use Ordering::*;
        assert_eq!(
            Datum::Float(f64::NAN).compare(&Datum::Float(f64::INFINITY)),
            Some(Greater)
        );
        assert_eq!(Datum::Float(-0.0).compare(&Datum::Float(0.0)), Some(Equal));
        assert_eq!(
            Datum::Text("B".into()).compare(&Datum::Text("a".into())),
            Some(Less)
        );
        assert_eq!(Datum::Null.compare(&Datum::Int(1)), None);
        let mon = Datum::parse("1 mon", &DataType::Interval).unwrap();
        let days = Datum::parse("30 days", &DataType::Interval).unwrap();
        assert_eq!(mon.compare(&days), Some(Equal));
    }
}
