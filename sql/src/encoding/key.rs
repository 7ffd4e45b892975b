//! Order-preserving keys of SQL datums, on top of `ferrisdb_kv::tuple`.
//!
//! Each datum becomes one tuple [`Value`] in its column's [`Order`]; the key is the tuple
//! encoding, so its bytewise order is the lexicographic order of the datums (see
//! `ferrisdb_kv::tuple` for the byte layout, the descending inversion and the range bounds).
//!
//! ```text
//!   Datum            tuple value
//!   Null             Null          (sorts first ascending: NULLS FIRST for ASC, NULLS LAST for DESC)
//!   Bool(b)          Bool(b)
//!   Int(i)           Int(i)        any integer width
//!   Float(f)         Float(f)      -0.0 keyed as 0.0, every NaN as one NaN above +inf
//!   Numeric(n)       Bytes(numeric_key::encode(n))
//!   Text(s)          Text(s)       bytewise = C collation; char(n) is stored padded
//!   Bytes(b)         Bytes(b)
//!   Date(d)          Int(d)
//!   Timestamp(t)     Int(t)
//!   TimestampTz(t)   Int(t)
//!   Interval(iv)     Int(span_micros(iv) / 2^63 as the high word) Int(low word)
//!   Array(items)     Bytes(per element: 01 + the element's ascending key, or 02 for NULL)
//! ```
//!
//! An interval keys as its span with 1 month = 30 days and 1 day = 24 h (PostgreSQL's
//! interval comparison), an i128 written as two Ints: the high 64 bits (signed) and the low
//! 64 bits (as an i64 with the sign bit flipped, so unsigned order survives).
//!
//! NULL ordering differs from PostgreSQL's default (`NULLS LAST` for ASC): the planner
//! must not use a key's order for an `ORDER BY` whose NULL placement disagrees.
//!
//! Decoding returns each equality class's representative: NUMERIC with its trailing zeros
//! removed, then widened to the column's declared scale when it has one (`numeric(10,2)`
//! gets back `1.50`); an interval justified into months of 30 days, days, and a time under
//! 24 h, all of one sign (`'30 days'` decodes as `1 mon`, `'25 hours'` as `1 day
//! 01:00:00`); floats as above. Everything else decodes
//! exactly.

use ferrisdb_kv::tuple::{decode_value, encode_value, Order, Value};

use super::numeric_key;
use crate::datetime::USECS_PER_DAY;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::interval::{span_micros, Interval};
use crate::types::DataType;

/// One column of a key: its type and sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyColumn {
    pub data_type: DataType,
    pub order: Order,
}

fn corrupt(offset: usize, reason: impl ToString) -> SqlError {
    SqlError::DataCorrupted {
        what: "key",
        offset,
        reason: reason.to_string(),
    }
}

/// Array element markers inside an array's key (see `encode_key_datum`).
const ARRAY_VALUE: u8 = 1;
const ARRAY_NULL: u8 = 2;

/// Appends `d` (of type `ty`) to `out` in `order`.
pub fn encode_key_datum(out: &mut Vec<u8>, d: &Datum, order: Order) {
    let v = match d {
        Datum::Null => Value::Null,
        Datum::Bool(b) => Value::Bool(*b),
        Datum::Int(i) | Datum::Timestamp(i) | Datum::TimestampTz(i) => Value::Int(*i),
        Datum::Date(days) => Value::Int(i64::from(*days)),
        Datum::Float(f) => Value::Float(*f),
        Datum::Numeric(n) => Value::Bytes(numeric_key::encode(n)),
        Datum::Text(s) => Value::Text(s.clone()),
        Datum::Bytes(b) => Value::Bytes(b.clone()),
        Datum::Interval(iv) => {
            let span = span_micros(iv);
            encode_value(out, &Value::Int((span >> 64) as i64), order);
            Value::Int(((span as u64) ^ (1 << 63)) as i64)
        }
        // Each element is a marker byte, then (unless NULL) its self-delimiting key, so the
        // concatenation orders arrays as PostgreSQL does: element by element, a NULL
        // element after every value (marker 2 > 1), a prefix first.
        Datum::Array(items) => {
            let mut b = Vec::new();
            for d in items {
                if d.is_null() {
                    b.push(ARRAY_NULL);
                } else {
                    b.push(ARRAY_VALUE);
                    encode_key_datum(&mut b, d, Order::Asc);
                }
            }
            Value::Bytes(b)
        }
    };
    encode_value(out, &v, order);
}

/// The key of several datums, each with its column's order.
pub fn encode_key(datums: &[Datum], columns: &[KeyColumn]) -> Result<Vec<u8>, SqlError> {
    if datums.len() != columns.len() {
        return Err(SqlError::internal(format!(
            "key of {} datums for {} columns",
            datums.len(),
            columns.len()
        )));
    }
    let mut out = Vec::new();
    for (d, c) in datums.iter().zip(columns) {
        encode_key_datum(&mut out, d, c.order);
    }
    Ok(out)
}

/// Decodes a key of `columns` (all of `buf`); see the module doc for what comes back.
pub fn decode_key(buf: &[u8], columns: &[KeyColumn]) -> Result<Vec<Datum>, SqlError> {
    let mut pos = 0;
    let mut out = Vec::with_capacity(columns.len());
    for c in columns {
        out.push(decode_one(buf, &mut pos, c)?);
    }
    if pos != buf.len() {
        return Err(corrupt(pos, "trailing bytes"));
    }
    Ok(out)
}

/// Decodes the first value of a key (the rest may be anything).
pub fn decode_key_prefix(buf: &[u8], column: KeyColumn) -> Result<Datum, SqlError> {
    decode_one(buf, &mut 0, &column)
}

fn decode_one(buf: &[u8], pos: &mut usize, c: &KeyColumn) -> Result<Datum, SqlError> {
    let at = *pos;
    let v = decode_value(buf, pos, c.order).map_err(|e| corrupt(at, e))?;
    if matches!(v, Value::Null) {
        return Ok(Datum::Null);
    }
    let wrong = || corrupt(at, format!("value {v:?} is not a {}", c.data_type));
    Ok(match (&c.data_type, &v) {
        (DataType::Bool, Value::Bool(b)) => Datum::Bool(*b),
        (t, Value::Int(i)) if t.is_integer() => {
            crate::datum::check_int(*i, t).map_err(|_| wrong())?
        }
        (DataType::Float4 | DataType::Float8, Value::Float(f)) => Datum::Float(*f),
        (DataType::Numeric { scale, .. }, Value::Bytes(b)) => {
            let n = numeric_key::decode(b).ok_or_else(|| corrupt(at, "bad numeric key"))?;
            Datum::Numeric(match scale {
                Some(s) => n.with_scale(i64::from(*s)),
                None => n,
            })
        }
        (t, Value::Text(s)) if t.is_string() => Datum::Text(s.clone()),
        (DataType::Bytea, Value::Bytes(b)) => Datum::Bytes(b.clone()),
        (DataType::Date, Value::Int(i)) => Datum::Date(i32::try_from(*i).map_err(|_| wrong())?),
        (DataType::Timestamp, Value::Int(i)) => Datum::Timestamp(*i),
        (DataType::TimestampTz, Value::Int(i)) => Datum::TimestampTz(*i),
        (DataType::Interval, Value::Int(hi)) => {
            let lo_at = *pos;
            let lo = match decode_value(buf, pos, c.order).map_err(|e| corrupt(lo_at, e))? {
                Value::Int(lo) => (lo as u64) ^ (1 << 63),
                other => return Err(corrupt(lo_at, format!("interval low word {other:?}"))),
            };
            let span = (i128::from(*hi) << 64) | i128::from(lo);
            Datum::Interval(
                interval_of_span(span).ok_or_else(|| corrupt(at, "interval span out of range"))?,
            )
        }
        (DataType::Array(elem), Value::Bytes(b)) => {
            let element = KeyColumn {
                data_type: **elem,
                order: Order::Asc,
            };
            let mut p = 0;
            let mut items = Vec::new();
            while p < b.len() {
                p += 1;
                match b[p - 1] {
                    ARRAY_NULL => items.push(Datum::Null),
                    ARRAY_VALUE => {
                        let item = decode_one(b, &mut p, &element)
                            .map_err(|e| corrupt(at, format!("array element at {p}: {e}")))?;
                        items.push(item);
                    }
                    m => return Err(corrupt(at, format!("array element marker {m} at {p}"))),
                }
            }
            Datum::Array(items)
        }
        _ => return Err(wrong()),
    })
}

/// The representative interval of a span, as `justify_interval` would print it: months of
/// 30 days, then days, then time, all with the span's sign. Each part is clamped to its
/// width and the rest carried down, so every span an interval can have decodes.
fn interval_of_span(span: i128) -> Option<Interval> {
    let day = i128::from(USECS_PER_DAY);
    let clamp32 = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    let months = clamp32(span / (30 * day));
    let rest = span - months * 30 * day;
    let days = clamp32(rest / day);
    Some(Interval {
        months: months as i32,
        days: days as i32,
        micros: i64::try_from(rest - days * day).ok()?,
    })
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
