//! `date`, `timestamp` and `timestamptz`: representation, text I/O and calendar helpers.
//!
//! # Representation (PostgreSQL's own)
//!
//! ```text
//!   date         i32  days since 2000-01-01          i32::MIN = -infinity, i32::MAX = infinity
//!   timestamp    i64  microseconds since 2000-01-01 00:00:00 (no zone)
//!   timestamptz  i64  microseconds since 2000-01-01 00:00:00 UTC
//!                     i64::MIN = -infinity, i64::MAX = infinity
//! ```
//!
//! The epoch is PostgreSQL's (`POSTGRES_EPOCH_JDATE`), so values equal PostgreSQL's binary
//! wire format and plain integer order is time order. Calendar math (proleptic Gregorian,
//! year 0 = 1 BC) is chrono's `NaiveDate`; its range (about ±262,000 years) bounds ours,
//! which is narrower than PostgreSQL's 4713 BC .. 5874897 AD for dates (a documented gap).
//!
//! # Text
//!
//! The session time zone is UTC (FerrisDB has no `SET TimeZone` yet), so `timestamptz`
//! prints with `+00` and an input offset is subtracted to get UTC; `timestamp` input ignores
//! an offset, as PostgreSQL does. Output is ISO (`DateStyle = ISO, MDY`): `2024-01-31`,
//! `2024-01-31 12:00:00.5`, `2024-01-31 12:00:00+00`, years before 1 AD as `0044-03-15 BC`.
//! Input takes ISO dates `Y-M-D` (optional ` BC`), a time `HH:MM[:SS[.frac]]` after a space
//! or `T`, a zone `Z`/`UTC`/`GMT`/`±HH[[:]MM]`, and `epoch`, `infinity`, `-infinity`.
//! Other PostgreSQL input styles (`Jan 8 1999`, `now`, `today`) are not supported yet and
//! are 22007 like any other bad input.

use chrono::{Datelike, NaiveDate};

use crate::error::SqlError;

pub const USECS_PER_SEC: i64 = 1_000_000;
pub const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// `NaiveDate::num_days_from_ce` of 2000-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 730_120;
/// 1970-01-01 as a date.
pub const UNIX_EPOCH_DAYS: i32 = -10_957;

pub const DATE_NEG_INFINITY: i32 = i32::MIN;
pub const DATE_INFINITY: i32 = i32::MAX;
pub const TS_NEG_INFINITY: i64 = i64::MIN;
pub const TS_INFINITY: i64 = i64::MAX;

/// The chrono date of a finite `date` value.
pub fn to_naive(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

/// The `date` value of a chrono date.
pub fn from_naive(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// Whether `days` is a date this build can represent (infinities included).
pub fn date_valid(days: i32) -> bool {
    days == DATE_INFINITY || days == DATE_NEG_INFINITY || to_naive(days).is_some()
}

/// Whether `micros` is a timestamp this build can represent (infinities included).
pub fn timestamp_valid(micros: i64) -> bool {
    micros == TS_INFINITY
        || micros == TS_NEG_INFINITY
        || i32::try_from(micros.div_euclid(USECS_PER_DAY)).is_ok_and(|d| to_naive(d).is_some())
}

/// `date` out of range (22008), for arithmetic leaving the range.
pub fn date_out_of_range() -> SqlError {
    SqlError::DatetimeOutOfRange {
        type_name: "date".into(),
    }
}

/// `timestamp` out of range (22008).
pub fn timestamp_out_of_range() -> SqlError {
    SqlError::DatetimeOutOfRange {
        type_name: "timestamp".into(),
    }
}

fn format_ymd(d: NaiveDate) -> (String, bool) {
    let y = d.year();
    let bc = y <= 0;
    let shown = if bc { 1 - y } else { y };
    (format!("{shown:04}-{:02}-{:02}", d.month(), d.day()), bc)
}

/// PostgreSQL's `date_out` (ISO).
pub fn format_date(days: i32) -> String {
    match days {
        DATE_INFINITY => "infinity".into(),
        DATE_NEG_INFINITY => "-infinity".into(),
        _ => match to_naive(days) {
            Some(d) => {
                let (ymd, bc) = format_ymd(d);
                if bc {
                    format!("{ymd} BC")
                } else {
                    ymd
                }
            }
            None => "invalid date".into(),
        },
    }
}

/// `HH:MM:SS[.ffffff]` with trailing fraction zeros trimmed; `micros` in `0..USECS_PER_DAY`
/// unless printing an interval, where hours may exceed 23.
pub fn format_time(micros: i64) -> String {
    let secs = micros / USECS_PER_SEC;
    let frac = micros % USECS_PER_SEC;
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// PostgreSQL's `timestamp_out` / `timestamptz_out` (ISO, session zone UTC).
pub fn format_timestamp(micros: i64, with_tz: bool) -> String {
    match micros {
        TS_INFINITY => return "infinity".into(),
        TS_NEG_INFINITY => return "-infinity".into(),
        _ => {}
    }
    let days = micros.div_euclid(USECS_PER_DAY);
    let tod = micros.rem_euclid(USECS_PER_DAY);
    let Some(d) = i32::try_from(days).ok().and_then(to_naive) else {
        return "invalid timestamp".into();
    };
    let (ymd, bc) = format_ymd(d);
    let zone = if with_tz { "+00" } else { "" };
    let era = if bc { " BC" } else { "" };
    format!("{ymd} {}{zone}{era}", format_time(tod))
}

/// A datetime literal split into its parts.
struct Parsed {
    days: i32,
    time: i64,
    offset_secs: Option<i64>,
}

fn bad_format(type_name: &str, input: &str) -> SqlError {
    SqlError::InvalidDatetimeFormat {
        type_name: type_name.into(),
        input: input.into(),
    }
}

fn field_overflow(input: &str) -> SqlError {
    SqlError::DatetimeFieldOverflow {
        input: input.into(),
    }
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `Y-M-D [BC]` plus an optional time and zone.
fn parse_datetime(input: &str, type_name: &str) -> Result<Parsed, SqlError> {
    let bad = || bad_format(type_name, input);
    let mut s = input.trim().to_ascii_lowercase();
    let mut bc = false;
    for (suffix, is_bc) in [(" bc", true), (" ad", false)] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest.trim_end().to_string();
            bc = is_bc;
        }
    }
    let (date_part, rest) = match s.find([' ', 't']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s.as_str(), ""),
    };
    let mut ymd = date_part.split('-');
    let (Some(y), Some(m), Some(d), None) = (ymd.next(), ymd.next(), ymd.next(), ymd.next()) else {
        return Err(bad());
    };
    let (y, m, d) = (
        digits(y).ok_or_else(bad)?,
        digits(m).ok_or_else(bad)?,
        digits(d).ok_or_else(bad)?,
    );
    if y == 0 {
        return Err(field_overflow(input));
    }
    let year = if bc { 1 - y } else { y };
    let date = i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, m as u32, d as u32))
        .ok_or_else(|| field_overflow(input))?;
    let (time, offset_secs) = if rest.is_empty() {
        (0, None)
    } else {
        parse_time_zone(rest).ok_or_else(bad)?
    };
    if time > USECS_PER_DAY {
        return Err(field_overflow(input));
    }
    Ok(Parsed {
        days: from_naive(date),
        time,
        offset_secs,
    })
}

/// `HH:MM[:SS[.frac]]` then an optional zone; `None` on bad syntax. 24:00:00 is allowed.
fn parse_time_zone(s: &str) -> Option<(i64, Option<i64>)> {
    let zone_at = s.find(['+', '-', 'z', 'u', 'g', ' ']).unwrap_or(s.len());
    let (time, zone) = (s[..zone_at].trim(), s[zone_at..].trim());
    let mut parts = time.split(':');
    let h = digits(parts.next()?)?;
    let m = digits(parts.next()?)?;
    let (sec, frac) = match parts.next() {
        Some(sec) => match sec.split_once('.') {
            Some((whole, frac)) => (digits(whole)?, frac),
            None => (digits(sec)?, ""),
        },
        None => (0, ""),
    };
    if parts.next().is_some() {
        return None;
    }
    let micros = parse_fraction(frac)?;
    let mut total = ((h * 60 + m) * 60 + sec) * USECS_PER_SEC + micros;
    if m > 59 || sec > 59 {
        // Past any valid time of day: the caller reports a field overflow (22008).
        total = USECS_PER_DAY + 1;
    }
    Some((total, parse_zone(zone)?))
}

/// Digits after a decimal point as microseconds, rounded half up at the seventh digit.
fn parse_fraction(frac: &str) -> Option<i64> {
    if frac.is_empty() {
        return Some(0);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 30 {
        return None;
    }
    let mut padded = format!("{frac:0<7}");
    padded.truncate(7);
    let seven: i64 = padded.parse().ok()?;
    Some((seven + 5) / 10)
}

/// A zone suffix as an offset east of UTC in seconds; `Some(None)` when there is none.
fn parse_zone(zone: &str) -> Option<Option<i64>> {
    match zone {
        "" => return Some(None),
        "z" | "utc" | "gmt" => return Some(Some(0)),
        _ => {}
    }
    let (sign, rest) = match zone.as_bytes()[0] {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (digits(h)?, digits(m)?),
        None if rest.len() == 4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        None => (digits(rest)?, 0),
    };
    if h > 15 || m > 59 {
        return None;
    }
    Some(Some(sign * (h * 3600 + m * 60)))
}

/// PostgreSQL's `date_in` (the forms of the module doc).
pub fn parse_date(input: &str) -> Result<i32, SqlError> {
    match input.trim().to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" => return Ok(DATE_INFINITY),
        "-infinity" => return Ok(DATE_NEG_INFINITY),
        "epoch" => return Ok(UNIX_EPOCH_DAYS),
        _ => {}
    }
    Ok(parse_datetime(input, "date")?.days)
}

/// PostgreSQL's `timestamp_in` (`with_tz` false) and `timestamptz_in` (true).
pub fn parse_timestamp(input: &str, with_tz: bool) -> Result<i64, SqlError> {
    let type_name = if with_tz {
        "timestamp with time zone"
    } else {
        "timestamp without time zone"
    };
    match input.trim().to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" => return Ok(TS_INFINITY),
        "-infinity" => return Ok(TS_NEG_INFINITY),
        "epoch" => return Ok(i64::from(UNIX_EPOCH_DAYS) * USECS_PER_DAY),
        _ => {}
    }
    let p = parse_datetime(input, type_name)?;
    let offset = if with_tz {
        p.offset_secs.unwrap_or(0)
    } else {
        0
    };
    let micros = i64::from(p.days) * USECS_PER_DAY + p.time - offset * USECS_PER_SEC;
    if !timestamp_valid(micros) || micros == TS_INFINITY || micros == TS_NEG_INFINITY {
        return Err(SqlError::DatetimeOutOfRange {
            type_name: "timestamp".into(),
        });
    }
    Ok(micros)
}

/// The (year, month, day, micros-of-day) of a finite timestamp.
pub fn split_timestamp(micros: i64) -> Option<(NaiveDate, i64)> {
    let days = i32::try_from(micros.div_euclid(USECS_PER_DAY)).ok()?;
    Some((to_naive(days)?, micros.rem_euclid(USECS_PER_DAY)))
}

/// The timestamp of a date at midnight.
pub fn date_to_timestamp(days: i32) -> i64 {
    match days {
        DATE_INFINITY => TS_INFINITY,
        DATE_NEG_INFINITY => TS_NEG_INFINITY,
        d => i64::from(d) * USECS_PER_DAY,
    }
}

/// The date a timestamp falls on.
pub fn timestamp_to_date(micros: i64) -> i32 {
    match micros {
        TS_INFINITY => DATE_INFINITY,
        TS_NEG_INFINITY => DATE_NEG_INFINITY,
        m => m.div_euclid(USECS_PER_DAY) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> i32 {
        parse_date(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn dates_roundtrip_postgres_forms() {
        assert_eq!(date("2000-01-01"), 0);
        assert_eq!(date("1970-01-01"), UNIX_EPOCH_DAYS);
        assert_eq!(date("epoch"), UNIX_EPOCH_DAYS);
        assert_eq!(format_date(date(" 2024-01-31 ")), "2024-01-31");
        assert_eq!(format_date(date("2024-02-29 13:00")), "2024-02-29");
        assert_eq!(format_date(date("0044-03-15 BC")), "0044-03-15 BC");
        assert_eq!(format_date(date("infinity")), "infinity");
        assert_eq!(format_date(date("-infinity")), "-infinity");
        assert_eq!(
            parse_date("2023-02-29").unwrap_err().to_string(),
            "date/time field value out of range: \"2023-02-29\""
        );
        assert_eq!(parse_date("2023-13-01").unwrap_err().sqlstate(), "22008");
        let e = parse_date("hello").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type date: \"hello\""
        );
        assert_eq!(e.sqlstate(), "22007");
    }

    #[test]
    fn timestamps_roundtrip_postgres_forms() {
        let ts = |s: &str| format_timestamp(parse_timestamp(s, false).unwrap(), false);
        let tstz = |s: &str| format_timestamp(parse_timestamp(s, true).unwrap(), true);
        assert_eq!(ts("2024-01-31 12:00"), "2024-01-31 12:00:00");
        assert_eq!(ts("2024-01-31T12:00:00.500"), "2024-01-31 12:00:00.5");
        assert_eq!(
            ts("2024-01-31 12:00:00.1234567"),
            "2024-01-31 12:00:00.123457"
        );
        assert_eq!(ts("2024-01-31 12:00:00+05"), "2024-01-31 12:00:00");
        assert_eq!(ts("2024-01-31"), "2024-01-31 00:00:00");
        assert_eq!(ts("2024-01-31 24:00:00"), "2024-02-01 00:00:00");
        assert_eq!(tstz("2024-01-31 12:00:00+05"), "2024-01-31 07:00:00+00");
        assert_eq!(tstz("2024-01-31 12:00:00-08:30"), "2024-01-31 20:30:00+00");
        assert_eq!(tstz("2024-01-31 12:00:00Z"), "2024-01-31 12:00:00+00");
        assert_eq!(tstz("2024-01-31 12:00:00 UTC"), "2024-01-31 12:00:00+00");
        assert_eq!(
            ts("1999-12-31 23:59:59.999999"),
            "1999-12-31 23:59:59.999999"
        );
        assert_eq!(ts("0001-01-01 00:00:00 BC"), "0001-01-01 00:00:00 BC");
        assert_eq!(
            parse_timestamp("2024-01-31 25:00", false)
                .unwrap_err()
                .sqlstate(),
            "22008"
        );
        assert_eq!(
            parse_timestamp("2024-01-31 12:0x", false)
                .unwrap_err()
                .sqlstate(),
            "22007"
        );
        assert_eq!(
            parse_timestamp("x", true).unwrap_err().to_string(),
            "invalid input syntax for type timestamp with time zone: \"x\""
        );
    }
}
