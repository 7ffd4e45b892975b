//! The bodies of the built-in functions resolved in [`crate::functions`].
//!
//! Arguments arrive already cast to the overload's parameter types and non-NULL (the
//! strictness check is in `functions::call`). String functions count characters, not
//! bytes, as PostgreSQL does in a UTF-8 database. Math follows PostgreSQL's float and
//! numeric rules, including its errors: `sqrt` of a negative is 2201F, `ln`/`log` of zero or
//! a negative is 2201E, `power(0, -1)` and a negative base with a fractional exponent are
//! 2201F.

use bigdecimal::{BigDecimal, Signed, Zero};
use chrono::{Datelike, NaiveDate, Timelike};

use crate::datetime::{self, USECS_PER_DAY, USECS_PER_SEC};
use crate::datum::{check_int, Datum};
use crate::error::SqlError;
use crate::functions::{Func, FunctionId};
use crate::types::DataType;
use crate::{float, numeric};

/// `concat` (`sep` None) / `concat_ws`: text forms of the non-NULL arguments.
pub fn concat(args: &[Datum], types: &[DataType], sep: Option<&str>) -> Datum {
    let parts: Vec<String> = args
        .iter()
        .zip(types)
        .filter_map(|(d, t)| match d {
            Datum::Bool(b) => Some(b.to_string()),
            _ => d.to_text(t),
        })
        .collect();
    Datum::Text(parts.join(sep.unwrap_or("")))
}

fn text(d: &Datum) -> Result<&str, SqlError> {
    match d {
        Datum::Text(s) => Ok(s),
        other => Err(SqlError::internal(format!("expected text, got {other:?}"))),
    }
}

fn int(d: &Datum) -> Result<i64, SqlError> {
    match d {
        Datum::Int(i) => Ok(*i),
        other => Err(SqlError::internal(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

fn f64_arg(d: &Datum) -> Result<f64, SqlError> {
    match d {
        Datum::Float(f) => Ok(*f),
        other => Err(SqlError::internal(format!(
            "expected a float, got {other:?}"
        ))),
    }
}

/// Evaluates a strict function on non-NULL arguments of its parameter types.
pub fn eval(id: &FunctionId, a: &[Datum]) -> Result<Datum, SqlError> {
    use Func::*;
    let t = |i: usize| text(&a[i]);
    Ok(match id.func {
        Length => match &a[0] {
            Datum::Bytes(b) => Datum::Int(b.len() as i64),
            d => Datum::Int(text(d)?.chars().count() as i64),
        },
        Lower => Datum::Text(t(0)?.to_lowercase()),
        Upper => Datum::Text(t(0)?.to_uppercase()),
        Substr => substr(t(0)?, int(&a[1])?, a.get(2).map(int).transpose()?)?,
        Btrim | Ltrim | Rtrim => {
            let chars: Vec<char> = if a.len() > 1 {
                t(1)?.chars().collect()
            } else {
                vec![' ']
            };
            let s = t(0)?;
            let is_trim = |c: char| chars.contains(&c);
            Datum::Text(
                match id.func {
                    Btrim => s.trim_matches(is_trim),
                    Ltrim => s.trim_start_matches(is_trim),
                    _ => s.trim_end_matches(is_trim),
                }
                .to_string(),
            )
        }
        Strpos => {
            let (s, sub) = (t(0)?, t(1)?);
            Datum::Int(s.find(sub).map_or(0, |i| s[..i].chars().count() as i64 + 1))
        }
        Replace => {
            let from = t(1)?;
            Datum::Text(if from.is_empty() {
                t(0)?.to_string()
            } else {
                t(0)?.replace(from, t(2)?)
            })
        }
        Left | Right => left_right(t(0)?, int(&a[1])?, id.func == Left),
        Repeat => {
            let n = int(&a[1])?.max(0) as usize;
            let s = t(0)?;
            if s.len().checked_mul(n).is_none_or(|l| l > 1 << 30) {
                return Err(SqlError::unsupported("requested length too large"));
            }
            Datum::Text(s.repeat(n))
        }
        Reverse => Datum::Text(t(0)?.chars().rev().collect()),
        Lpad | Rpad => {
            let fill = if a.len() > 2 { t(2)? } else { " " };
            pad(t(0)?, int(&a[1])?, fill, id.func == Lpad)?
        }
        Initcap => Datum::Text(initcap(t(0)?)),
        OctetLength => Datum::Int(match &a[0] {
            Datum::Bytes(b) => b.len(),
            d => text(d)?.len(),
        } as i64),
        Md5 => {
            use md5::Digest;
            let digest = match &a[0] {
                Datum::Bytes(b) => md5::Md5::digest(b),
                d => md5::Md5::digest(text(d)?.as_bytes()),
            };
            Datum::Text(digest.iter().map(|b| format!("{b:02x}")).collect())
        }
        SplitPart => split_part(t(0)?, t(1)?, int(&a[2])?)?,
        ToTimestamp => to_timestamp(&a[0])?,
        Chr => chr(int(&a[0])?)?,
        Ascii => Datum::Int(t(0)?.chars().next().map_or(0, |c| i64::from(u32::from(c)))),
        StartsWith => Datum::Bool(t(0)?.starts_with(t(1)?)),
        Abs | Round | Trunc | Floor | Ceil | Sign | Sqrt | Exp | Ln | Log | Mod | Power | Pi => {
            math(id, a)?
        }
        DateTrunc => date_trunc(t(0)?, &a[1], &id.params[1])?,
        DatePart | Extract => date_part(t(0)?, &a[1], &id.params[1], id.func == Extract)?,
        Concat | ConcatWs | Now | CurrentDate | LocalTimestamp | System(_) => {
            return Err(SqlError::internal("non-strict function in eval"))
        }
    })
}

fn substr(s: &str, start: i64, len: Option<i64>) -> Result<Datum, SqlError> {
    if len.is_some_and(|l| l < 0) {
        return Err(SqlError::SubstringError {
            message: "negative substring length not allowed".into(),
        });
    }
    // PostgreSQL: characters start..start+len (1-based, may start before 1).
    let end = len.map(|l| start.saturating_add(l));
    let from = start.max(1) as usize - 1;
    let chars = s.chars().skip(from);
    Ok(Datum::Text(match end {
        Some(e) => chars
            .take((e.max(1) as usize).saturating_sub(from + 1))
            .collect(),
        None => chars.collect(),
    }))
}

fn left_right(s: &str, n: i64, left: bool) -> Datum {
    let count = s.chars().count() as i64;
    let keep = if n >= 0 {
        n.min(count)
    } else {
        (count + n).max(0)
    } as usize;
    Datum::Text(if left {
        s.chars().take(keep).collect()
    } else {
        s.chars().skip(count as usize - keep).collect()
    })
}

fn pad(s: &str, len: i64, fill: &str, left: bool) -> Result<Datum, SqlError> {
    let len = len.max(0) as usize;
    if len > 1 << 28 {
        return Err(SqlError::unsupported("requested length too large"));
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len || fill.is_empty() {
        return Ok(Datum::Text(chars.iter().take(len).collect()));
    }
    let filler: String = fill.chars().cycle().take(len - chars.len()).collect();
    Ok(Datum::Text(if left {
        filler + s
    } else {
        s.to_string() + &filler
    }))
}

/// PostgreSQL's `initcap`: upper-case after any non-alphanumeric, lower-case elsewhere.
fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word_start = true;
    for c in s.chars() {
        if word_start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        word_start = !c.is_alphanumeric();
    }
    out
}

fn math(id: &FunctionId, a: &[Datum]) -> Result<Datum, SqlError> {
    use Func::*;
    let ty = id.params.first().copied().unwrap_or(DataType::Float8);
    match a.first() {
        Some(Datum::Int(i)) => return int_math(id.func, *i, a.get(1), &ty),
        Some(Datum::Numeric(n)) => return numeric_math(id.func, n, a.get(1)),
        _ => {}
    }
    let x = if id.func == Pi { 0.0 } else { f64_arg(&a[0])? };
    let r = match id.func {
        Abs => x.abs(),
        Round => x.round_ties_even().copysign(x),
        Trunc => x.trunc(),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        Sqrt if x < 0.0 => {
            return Err(SqlError::InvalidPowerArgument(
                "cannot take square root of a negative number",
            ))
        }
        Sqrt => x.sqrt(),
        Exp => float::check(x.exp(), x.is_finite(), x.exp() == 0.0 && x.is_finite())?,
        Ln | Log if x == 0.0 => {
            return Err(SqlError::InvalidLogArgument(
                "cannot take logarithm of zero",
            ))
        }
        Ln | Log if x < 0.0 => {
            return Err(SqlError::InvalidLogArgument(
                "cannot take logarithm of a negative number",
            ))
        }
        Ln => x.ln(),
        Log => x.log10(),
        Power => power(x, f64_arg(&a[1])?)?,
        Pi => std::f64::consts::PI,
        _ => return Err(SqlError::internal(format!("{:?} on float", id.func))),
    };
    Ok(Datum::Float(if ty == DataType::Float4 {
        f64::from(float::to_f32(r)?)
    } else {
        r
    }))
}

fn power(x: f64, y: f64) -> Result<f64, SqlError> {
    if x == 0.0 && y < 0.0 {
        return Err(SqlError::InvalidPowerArgument(
            "zero raised to a negative power is undefined",
        ));
    }
    if x < 0.0 && y.fract() != 0.0 {
        return Err(SqlError::InvalidPowerArgument(
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let r = x.powf(y);
    float::check(r, x.is_finite() && y.is_finite(), r == 0.0 && x != 0.0)
}

fn int_math(f: Func, i: i64, b: Option<&Datum>, ty: &DataType) -> Result<Datum, SqlError> {
    match (f, b) {
        (Func::Abs, _) => check_int(
            i.checked_abs().ok_or_else(|| SqlError::out_of_range(ty))?,
            ty,
        ),
        (Func::Mod, Some(Datum::Int(d))) => {
            if *d == 0 {
                return Err(SqlError::DivisionByZero);
            }
            Ok(Datum::Int(i.checked_rem(*d).unwrap_or(0)))
        }
        _ => Err(SqlError::internal(format!("{f:?} on integer"))),
    }
}

fn numeric_math(f: Func, n: &BigDecimal, b: Option<&Datum>) -> Result<Datum, SqlError> {
    let digits = match b {
        Some(Datum::Int(d)) => Some(*d),
        _ => None,
    };
    Ok(Datum::Numeric(match (f, b) {
        (Func::Abs, _) => n.abs(),
        (Func::Round, _) => numeric::round(n, digits.unwrap_or(0)),
        (Func::Trunc, _) => numeric::trunc(n, digits.unwrap_or(0)),
        (Func::Floor, _) => numeric::floor_ceil(n, false),
        (Func::Ceil, _) => numeric::floor_ceil(n, true),
        (Func::Sign, _) => BigDecimal::from(if n.is_zero() {
            0
        } else if n.is_positive() {
            1
        } else {
            -1
        }),
        (Func::Sqrt, _) => numeric::sqrt(n)?,
        (Func::Mod, Some(Datum::Numeric(d))) => numeric::rem(n, d)?,
        _ => return Err(SqlError::internal(format!("{f:?} on numeric"))),
    }))
}

fn unit_error(unit: &str, ty: &DataType) -> SqlError {
    SqlError::InvalidParameterValue {
        message: format!("unit \"{unit}\" not recognized for type {ty}"),
    }
}

/// `date_trunc(unit, ts)` for timestamp and timestamptz (UTC session zone).
fn date_trunc(unit: &str, d: &Datum, ty: &DataType) -> Result<Datum, SqlError> {
    let (Datum::Timestamp(ts) | Datum::TimestampTz(ts)) = d else {
        return Err(SqlError::internal("date_trunc on a non-timestamp"));
    };
    if *ts == datetime::TS_INFINITY || *ts == datetime::TS_NEG_INFINITY {
        return Ok(d.clone());
    }
    let (date, tod) =
        datetime::split_timestamp(*ts).ok_or_else(datetime::timestamp_out_of_range)?;
    let unit_l = unit.to_ascii_lowercase();
    let ymd = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    let whole_day =
        |nd: Option<NaiveDate>| nd.map(|nd| i64::from(datetime::from_naive(nd)) * USECS_PER_DAY);
    let day_start = ts - tod;
    let floor_to = |unit_us: i64| day_start + tod / unit_us * unit_us;
    let y = date.year();
    let out = match unit_l.as_str() {
        "microseconds" => Some(*ts),
        "milliseconds" => Some(floor_to(1000)),
        "second" => Some(floor_to(USECS_PER_SEC)),
        "minute" => Some(floor_to(60 * USECS_PER_SEC)),
        "hour" => Some(floor_to(3600 * USECS_PER_SEC)),
        "day" => Some(day_start),
        "week" => {
            Some(day_start - i64::from(date.weekday().num_days_from_monday()) * USECS_PER_DAY)
        }
        "month" => whole_day(ymd(y, date.month())),
        "quarter" => whole_day(ymd(y, (date.month() - 1) / 3 * 3 + 1)),
        "year" => whole_day(ymd(y, 1)),
        "decade" => whole_day(ymd(y.div_euclid(10) * 10, 1)),
        "century" => whole_day(ymd(
            if y > 0 {
                (y - 1) / 100 * 100 + 1
            } else {
                -((99 - y) / 100 * 100) + 1
            },
            1,
        )),
        "millennium" => whole_day(ymd(
            if y > 0 {
                (y - 1) / 1000 * 1000 + 1
            } else {
                -((999 - y) / 1000 * 1000) + 1
            },
            1,
        )),
        _ => return Err(unit_error(unit, ty)),
    };
    let v = out.ok_or_else(datetime::timestamp_out_of_range)?;
    Ok(if matches!(d, Datum::Timestamp(_)) {
        Datum::Timestamp(v)
    } else {
        Datum::TimestampTz(v)
    })
}

/// `date_part(unit, x)` (float8) and `EXTRACT(unit FROM x)` (numeric, `as_numeric`).
fn date_part(unit: &str, d: &Datum, ty: &DataType, as_numeric: bool) -> Result<Datum, SqlError> {
    let ts = match d {
        Datum::Date(days) => datetime::date_to_timestamp(*days),
        Datum::Timestamp(t) | Datum::TimestampTz(t) => *t,
        _ => return Err(SqlError::internal("date_part on a non-datetime")),
    };
    let (date, tod) = datetime::split_timestamp(ts).ok_or_else(datetime::timestamp_out_of_range)?;
    let is_date = matches!(d, Datum::Date(_));
    let unit_l = unit.to_ascii_lowercase();
    let time_of_day =
        || chrono::NaiveTime::from_num_seconds_from_midnight_opt((tod / USECS_PER_SEC) as u32, 0);
    // (value as micro-units numerator, scale): value = n / 10^scale.
    let (n, scale): (i64, i64) = match unit_l.as_str() {
        "year" => (
            i64::from(if date.year() > 0 {
                date.year()
            } else {
                date.year() - 1
            }),
            0,
        ),
        "month" => (date.month().into(), 0),
        "day" => (date.day().into(), 0),
        "quarter" => (((date.month() - 1) / 3 + 1).into(), 0),
        "dow" => (date.weekday().num_days_from_sunday().into(), 0),
        "isodow" => (date.weekday().number_from_monday().into(), 0),
        "doy" => (date.ordinal().into(), 0),
        "week" => (date.iso_week().week().into(), 0),
        "decade" => (i64::from(date.year().div_euclid(10)), 0),
        "century" => (
            i64::from(if date.year() > 0 {
                (date.year() + 99) / 100
            } else {
                -((99 - date.year()) / 100)
            }),
            0,
        ),
        "epoch" if is_date => (
            ts / USECS_PER_SEC - i64::from(datetime::UNIX_EPOCH_DAYS) * 86_400,
            0,
        ),
        "epoch" => (ts - i64::from(datetime::UNIX_EPOCH_DAYS) * USECS_PER_DAY, 6),
        "hour" | "minute" | "second" | "microseconds" | "milliseconds" if is_date => {
            return Err(SqlError::unsupported(format!(
                "unit \"{unit}\" not supported for type date"
            )))
        }
        "hour" => (time_of_day().map_or(0, |t| t.hour()).into(), 0),
        "minute" => (time_of_day().map_or(0, |t| t.minute()).into(), 0),
        "second" => (tod % (60 * USECS_PER_SEC), 6),
        "milliseconds" => (tod % (60 * USECS_PER_SEC), 3),
        "microseconds" => (tod % (60 * USECS_PER_SEC), 0),
        _ => return Err(unit_error(unit, ty)),
    };
    let value = BigDecimal::new(n.into(), scale);
    Ok(if as_numeric {
        Datum::Numeric(value)
    } else {
        Datum::Float(numeric::to_f64(&value))
    })
}

/// `split_part(s, delimiter, n)`: the n-th field (from the end when negative); PostgreSQL
/// treats an empty delimiter as "no delimiter": the whole string is field 1 (and -1).
fn split_part(s: &str, delim: &str, n: i64) -> Result<Datum, SqlError> {
    if n == 0 {
        return Err(SqlError::InvalidParameterValue {
            message: "field position must not be zero".into(),
        });
    }
    let fields: Vec<&str> = if delim.is_empty() {
        vec![s]
    } else {
        s.split(delim).collect()
    };
    let i = if n > 0 {
        usize::try_from(n - 1).ok()
    } else {
        usize::try_from(n.unsigned_abs())
            .ok()
            .and_then(|k| fields.len().checked_sub(k))
    };
    Ok(Datum::Text(
        i.and_then(|i| fields.get(i))
            .copied()
            .unwrap_or("")
            .to_string(),
    ))
}

/// `to_timestamp(unix seconds)`.
fn to_timestamp(d: &Datum) -> Result<Datum, SqlError> {
    let Datum::Float(secs) = d else {
        return Err(SqlError::internal("to_timestamp of a non-float"));
    };
    if secs.is_nan() {
        return Err(SqlError::DatetimeOutOfRange {
            type_name: "timestamp".into(),
        });
    }
    if secs.is_infinite() {
        return Ok(Datum::TimestampTz(if *secs > 0.0 {
            crate::datetime::TS_INFINITY
        } else {
            crate::datetime::TS_NEG_INFINITY
        }));
    }
    let epoch = i64::from(crate::datetime::UNIX_EPOCH_DAYS) * crate::datetime::USECS_PER_DAY;
    let micros = (secs * 1e6).round();
    if !(-9.2e18..9.2e18).contains(&micros) {
        return Err(crate::datetime::timestamp_out_of_range());
    }
    let v = (micros as i64)
        .checked_add(epoch)
        .filter(|v| crate::datetime::timestamp_valid(*v))
        .ok_or_else(crate::datetime::timestamp_out_of_range)?;
    Ok(Datum::TimestampTz(v))
}

/// `chr(code)`: the character with that code point (0 is refused, as in PostgreSQL).
fn chr(code: i64) -> Result<Datum, SqlError> {
    match u32::try_from(code)
        .ok()
        .filter(|c| *c != 0)
        .and_then(char::from_u32)
    {
        Some(c) => Ok(Datum::Text(c.to_string())),
        None if code == 0 => Err(SqlError::InvalidParameterValue {
            message: "null character not permitted".into(),
        }),
        None => Err(SqlError::InvalidParameterValue {
            message: "requested character too large for encoding: ".to_string() + &code.to_string(),
        }),
    }
}
