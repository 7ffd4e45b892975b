//! Casts between types, in PostgreSQL's three contexts and with its rounding and errors.
//!
//! [`cast`] converts a value of one type into another. The [`CastContext`] decides which
//! conversions are allowed (the same rules PostgreSQL's `pg_cast.castcontext` encodes, see
//! [`crate::types`]) and how a type modifier is enforced:
//!
//! - **Implicit** (an operator or function argument): only widening casts.
//! - **Assignment** (INSERT/UPDATE into a column): also narrowing numerics, timestamptz ->
//!   timestamp, anything -> a string type. An over-long string is 22001 `value too long
//!   for type character varying(3)` unless only trailing spaces are cut.
//! - **Explicit** (`CAST(x AS t)`, `x::t`): everything that has a cast; an over-long string
//!   is silently truncated to the modifier's length.
//!
//! Rounding, as PostgreSQL 15 does it (easy to get wrong):
//!
//! - float -> integer rounds to nearest, ties to **even** (`rint`): `2.5::float8::int = 2`,
//!   `3.5::float8::int = 4`; out of range (or NaN) is 22003 `integer out of range`.
//! - numeric -> integer rounds ties **away from zero**: `2.5::numeric::int = 3`.
//! - numeric(p,s) rounds to s digits half away from zero, then 22003 `numeric field
//!   overflow` if more than p-s integer digits remain.
//! - float -> numeric keeps 15 significant digits (6 for real), as `%.15g`.
//! - `char(n)` pads with spaces to n; casting it to text or varchar drops trailing spaces.
//! - bool -> text is `true`/`false` (not the `t`/`f` of the output function).

use crate::datetime;
use crate::datum::{check_int, int_range, Datum};
use crate::error::SqlError;
use crate::types::{assignment_castable, implicit_castable, DataType};
use crate::{float, numeric};

/// Where a cast happens; decides what is allowed and how modifiers are enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastContext {
    Implicit,
    Assignment,
    Explicit,
}

/// Whether a cast from `from` to `to` exists in `ctx`.
pub fn castable(from: &DataType, to: &DataType, ctx: CastContext) -> bool {
    match ctx {
        CastContext::Implicit => implicit_castable(from, to),
        CastContext::Assignment => assignment_castable(from, to),
        CastContext::Explicit => explicit_castable(from, to),
    }
}

fn explicit_castable(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    assignment_castable(from, to)
        || from.is_string()
        || matches!(
            (from, to),
            (Int4, Bool) | (Bool, Int4) | (Date | Timestamp, TimestampTz) | (Date, Timestamp)
        )
}

/// Converts `d` of type `from` to type `to` (see the module doc). NULL casts to NULL.
pub fn cast(d: Datum, from: &DataType, to: &DataType, ctx: CastContext) -> Result<Datum, SqlError> {
    if d.is_null() {
        return Ok(Datum::Null);
    }
    if !castable(from, to, ctx) {
        return Err(SqlError::CannotCoerce {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    let converted = convert(d, from, to)?;
    apply_typmod(converted, to, ctx == CastContext::Explicit)
}

/// The value converted to `to`'s base type, before its modifier is applied.
fn convert(d: Datum, from: &DataType, to: &DataType) -> Result<Datum, SqlError> {
    use DataType as T;
    if from.base() == to.base() && !matches!(from, T::Char(_)) {
        return Ok(d);
    }
    if to.is_string() {
        return Ok(Datum::Text(to_string_value(&d, from)));
    }
    if from.is_string() || *from == T::Unknown {
        let Datum::Text(s) = &d else {
            return Err(mismatch(&d, from));
        };
        return Datum::parse(s, to);
    }
    Ok(match (d, to) {
        (Datum::Int(i), T::Oid(_)) => oid_of(i, from)?,
        (Datum::Int(i), T::Int4) if matches!(from, T::Oid(_)) => {
            Datum::Int(i64::from(i as u32 as i32))
        }
        (Datum::Array(items), T::Array(elem)) => {
            let T::Array(from_elem) = from else {
                return Err(mismatch(&Datum::Array(items), from));
            };
            let ctx = CastContext::Explicit;
            let v = items
                .into_iter()
                .map(|d| cast(d, from_elem, elem, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            Datum::Array(v)
        }
        (Datum::Int(i), T::Int2 | T::Int4 | T::Int8) => check_int(i, to)?,
        (Datum::Int(i), T::Float4) => Datum::Float(f64::from(i as f32)),
        (Datum::Int(i), T::Float8) => Datum::Float(i as f64),
        (Datum::Int(i), T::Numeric { .. }) => Datum::Numeric(i.into()),
        (Datum::Int(i), T::Bool) => Datum::Bool(i != 0),
        (Datum::Bool(b), T::Int4) => Datum::Int(i64::from(b)),
        (Datum::Float(f), T::Int2 | T::Int4 | T::Int8) => float_to_int(f, to)?,
        (Datum::Float(f), T::Float4) => Datum::Float(f64::from(float::to_f32(f)?)),
        (Datum::Float(f), T::Float8) => Datum::Float(f),
        (Datum::Float(f), T::Numeric { .. }) => {
            let digits = if *from == T::Float4 { 6 } else { 15 };
            Datum::Numeric(numeric::from_float(f, digits)?)
        }
        (Datum::Numeric(n), T::Int2 | T::Int4 | T::Int8) => match numeric::to_i64_rounded(&n) {
            Some(i) => check_int(i, to)?,
            None => return Err(SqlError::out_of_range(to)),
        },
        (Datum::Numeric(n), T::Float8) => Datum::Float(numeric::to_f64(&n)),
        (Datum::Numeric(n), T::Float4) => {
            Datum::Float(f64::from(float::parse_f32(&numeric::format(&n))?))
        }
        (Datum::Date(d), T::Timestamp) => Datum::Timestamp(datetime::date_to_timestamp(d)),
        (Datum::Date(d), T::TimestampTz) => Datum::TimestampTz(datetime::date_to_timestamp(d)),
        (Datum::Timestamp(t), T::TimestampTz) => Datum::TimestampTz(t),
        (Datum::TimestampTz(t), T::Timestamp) => Datum::Timestamp(t),
        (Datum::Timestamp(t) | Datum::TimestampTz(t), T::Date) => {
            Datum::Date(datetime::timestamp_to_date(t))
        }
        (d, _) => return Err(mismatch(&d, from)),
    })
}

/// An integer as an OID: negative int4 values wrap as PostgreSQL's `int4 -> oid` does.
fn oid_of(i: i64, from: &DataType) -> Result<Datum, SqlError> {
    let v = if (-(1 << 31)..0).contains(&i) {
        i + (1 << 32)
    } else {
        i
    };
    if !(0..=i64::from(u32::MAX)).contains(&v) {
        return Err(SqlError::out_of_range(if *from == DataType::Int8 {
            "OID"
        } else {
            "oid"
        }));
    }
    Ok(Datum::Int(v))
}

fn mismatch(d: &Datum, from: &DataType) -> SqlError {
    SqlError::internal(format!("value {d:?} does not belong to type {from}"))
}

/// The text a value becomes when cast to a string type.
fn to_string_value(d: &Datum, from: &DataType) -> String {
    match (d, from) {
        (Datum::Bool(b), _) => if *b { "true" } else { "false" }.into(),
        (Datum::Text(s), DataType::Char(_)) => s.trim_end_matches(' ').to_string(),
        _ => d.to_text(from).unwrap_or_default(),
    }
}

/// float -> integer: round half to even, then PostgreSQL's `FLOAT8_FITS_IN_INTx` check.
fn float_to_int(f: f64, to: &DataType) -> Result<Datum, SqlError> {
    let r = f.round_ties_even();
    let (lo, _) = int_range(to);
    // lo is -2^(bits-1), exactly representable; the type holds [lo, -lo).
    if r.is_nan() || r < lo as f64 || r >= -(lo as f64) {
        return Err(SqlError::out_of_range(to));
    }
    check_int(r as i64, to)
}

/// Enforces `to`'s modifier on a value already of its base type. `explicit` truncates an
/// over-long string instead of failing.
pub fn apply_typmod(d: Datum, to: &DataType, explicit: bool) -> Result<Datum, SqlError> {
    match (d, to) {
        (Datum::Text(s), DataType::Varchar(Some(n))) => {
            Ok(Datum::Text(fit_length(s, *n, to, explicit)?))
        }
        (Datum::Text(s), DataType::Char(n)) => {
            let mut s = fit_length(s, *n, to, explicit)?;
            let len = s.chars().count();
            s.extend(std::iter::repeat_n(' ', (*n as usize).saturating_sub(len)));
            Ok(Datum::Text(s))
        }
        (
            Datum::Numeric(v),
            DataType::Numeric {
                precision: Some(p),
                scale,
            },
        ) => Ok(Datum::Numeric(numeric::apply_typmod(
            &v,
            *p,
            scale.unwrap_or(0),
        )?)),
        (Datum::Text(s), DataType::Name) => {
            let mut cut = s.len().min(63);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            Ok(Datum::Text(s[..cut].to_string()))
        }
        (Datum::Text(s), DataType::InternalChar) => Ok(Datum::Text(
            s.chars().next().map(String::from).unwrap_or_default(),
        )),
        (d, _) => Ok(d),
    }
}

/// `s` cut to `n` characters: always when `explicit`, otherwise only if the cut part is
/// all spaces (else 22001).
fn fit_length(s: String, n: u32, to: &DataType, explicit: bool) -> Result<String, SqlError> {
    let Some((cut, _)) = s.char_indices().nth(n as usize) else {
        return Ok(s);
    };
    if !explicit && s[cut..].bytes().any(|b| b != b' ') {
        return Err(SqlError::StringTruncation {
            type_name: to.to_string(),
        });
    }
    Ok(s[..cut].to_string())
}

#[cfg(test)]
#[path = "cast_tests.rs"]
pub(crate) mod tests;
