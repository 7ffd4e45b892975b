//! `interval`: PostgreSQL's three-part span, its text I/O, order and arithmetic.
//!
//! An interval is `(months: i32, days: i32, micros: i64)`, kept apart because their lengths
//! vary: a month is 28 to 31 days and a day is 23 to 25 hours across a DST change, so
//! `timestamp + '1 mon'` moves the calendar month, not 30 days. Only for *comparison*
//! (and hence sorting, grouping and index keys) does PostgreSQL flatten it, with 1 month =
//! 30 days and 1 day = 24 hours ([`span_micros`]): `'1 mon' = '30 days'` is true.
//!
//! Text output is `IntervalStyle = postgres`: `1 year 2 mons 3 days 04:05:06`, `-1 days
//! +02:00:00`, `00:00:00` for zero. Input takes `[@] quantity unit ... [ago]` with the usual
//! unit spellings and abbreviations, fractional quantities cascading down (`1.5 years` =
//! `1 year 6 mons`, `1.5 days` = `1 day 12:00:00`), a `[-]H:M[:S[.frac]]` time, and a bare
//! number meaning seconds. ISO 8601 (`P1Y2M`) and SQL-standard (`1-2`) forms are not
//! supported yet (22007).

use crate::datetime::{self, TS_INFINITY, TS_NEG_INFINITY, USECS_PER_DAY, USECS_PER_SEC};
use crate::error::SqlError;
use chrono::Months;

/// An interval value; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

const DAYS_PER_MONTH: i64 = 30;

/// The interval's length with 1 month = 30 days, 1 day = 24 hours: its sort key.
pub fn span_micros(iv: &Interval) -> i128 {
    (i128::from(iv.months) * i128::from(DAYS_PER_MONTH) + i128::from(iv.days))
        * i128::from(USECS_PER_DAY)
        + i128::from(iv.micros)
}

fn out_of_range() -> SqlError {
    SqlError::out_of_range("interval")
}

/// Appends `value unit[s]` the way PostgreSQL's `AddPostgresIntPart` does: a `+` on a positive
/// part that follows a negative one.
fn add_part(out: &mut String, value: i64, unit: &str, is_before: &mut bool) {
    if value == 0 {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    if *is_before && value > 0 {
        out.push('+');
    }
    out.push_str(&format!(
        "{value} {unit}{}",
        if value != 1 { "s" } else { "" }
    ));
    *is_before = value < 0;
}

/// PostgreSQL's `interval_out` with `IntervalStyle = postgres`.
pub fn format(iv: &Interval) -> String {
    let mut out = String::new();
    let mut is_before = false;
    let years = i64::from(iv.months / 12);
    let mons = i64::from(iv.months % 12);
    add_part(&mut out, years, "year", &mut is_before);
    add_part(&mut out, mons, "mon", &mut is_before);
    add_part(&mut out, i64::from(iv.days), "day", &mut is_before);
    if out.is_empty() || iv.micros != 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        if iv.micros < 0 {
            out.push('-');
        } else if is_before {
            out.push('+');
        }
        // unsigned_abs: i64::MIN micros still prints.
        let abs = iv.micros.unsigned_abs();
        let secs = abs / USECS_PER_SEC as u64;
        let frac = abs % USECS_PER_SEC as u64;
        let hms = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        out.push_str(&hms);
        if frac != 0 {
            out.push_str(format!(".{frac:06}").trim_end_matches('0'));
        }
    }
    out
}

/// What one unit word adds: months, days or microseconds per unit.
#[derive(Clone, Copy)]
enum Unit {
    Months(i64),
    Days(i64),
    Micros(i64),
}

fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" => Unit::Micros(1),
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => Unit::Micros(1_000),
        "second" | "seconds" | "s" | "sec" | "secs" => Unit::Micros(USECS_PER_SEC),
        "minute" | "minutes" | "m" | "min" | "mins" => Unit::Micros(60 * USECS_PER_SEC),
        "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Micros(3600 * USECS_PER_SEC),
        "day" | "days" | "d" => Unit::Days(1),
        "week" | "weeks" | "w" => Unit::Days(7),
        "month" | "months" | "mon" | "mons" => Unit::Months(1),
        "year" | "years" | "y" | "yr" | "yrs" => Unit::Months(12),
        "decade" | "decades" => Unit::Months(120),
        "century" | "centuries" => Unit::Months(1200),
        "millennium" | "millennia" => Unit::Months(12000),
        _ => return None,
    })
}

/// Running totals while parsing. Whole quantities add exactly; fractions cascade downwards
/// as PostgreSQL's `AdjustFractDays` / `AdjustFractSeconds` do (in floating point).
#[derive(Default)]
struct Acc {
    months: i128,
    days: i128,
    micros: i128,
}

impl Acc {
    /// Adds `whole + frac` units (`frac` has the sign of the quantity).
    fn add(&mut self, whole: i64, frac: f64, unit: Unit) {
        match unit {
            Unit::Months(per) => {
                self.months += i128::from(whole) * i128::from(per);
                let m = frac * per as f64;
                // A year's fraction becomes whole months (rounded), as in PostgreSQL.
                if per >= 12 {
                    self.months += m.round() as i128;
                } else {
                    self.add_frac_days(m * DAYS_PER_MONTH as f64);
                }
            }
            Unit::Days(per) => {
                self.days += i128::from(whole) * i128::from(per);
                self.add_frac_days(frac * per as f64);
            }
            Unit::Micros(per) => {
                self.micros += i128::from(whole) * i128::from(per);
                self.micros += (frac * per as f64).round() as i128;
            }
        }
    }

    fn add_frac_days(&mut self, d: f64) {
        self.days += d.trunc() as i128;
        self.micros += (d.fract() * USECS_PER_DAY as f64).round() as i128;
    }
}

/// Digits after a point as microseconds, rounded half up at the seventh digit.
fn fraction_micros(frac: &str) -> Option<i128> {
    if frac.is_empty() {
        return Some(0);
    }
    if frac.len() > 30 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut padded = format!("{frac:0<7}");
    padded.truncate(7);
    Some((padded.parse::<i128>().ok()? + 5) / 10)
}

fn whole(digits: &str) -> Option<i128> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `[-]H:M[:S[.frac]]` as signed microseconds, exactly.
fn parse_clock(tok: &str) -> Option<i128> {
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let h = whole(parts[0])?;
    let m = whole(parts.get(1)?)?;
    let (s, frac) = match parts.get(2) {
        Some(s) => {
            let (w, f) = s.split_once('.').unwrap_or((s, ""));
            (whole(w)?, fraction_micros(f)?)
        }
        None => (0, 0),
    };
    if m >= 60 || s >= 60 {
        return None;
    }
    let v = ((h * 60 + m) * 60 + s) * i128::from(USECS_PER_SEC) + frac;
    Some(if neg { -v } else { v })
}

/// A signed decimal quantity split into its whole part and signed fraction.
fn parse_quantity(tok: &str) -> Option<(i64, f64)> {
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let (w, f) = body.split_once('.').unwrap_or((body, ""));
    if (w.is_empty() && f.is_empty()) || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: i64 = if w.is_empty() {
        0
    } else {
        i64::try_from(whole(w)?).ok()?
    };
    let f: f64 = if f.is_empty() {
        0.0
    } else {
        format!("0.{f}").parse().ok()?
    };
    Some(if neg { (-w, -f) } else { (w, f) })
}

/// Splits `1day` / `2 hours` / `-3` into tokens: numbers, clock times and words.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_alpha = false;
    for c in s.chars() {
        let alpha = c.is_ascii_alphabetic();
        let sep = c.is_whitespace() || c == ',';
        if (sep || (!cur.is_empty() && alpha != cur_alpha)) && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if !sep {
            cur_alpha = alpha;
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// PostgreSQL's `interval_in` for the forms in the module doc.
pub fn parse(input: &str) -> Result<Interval, SqlError> {
    let bad = || SqlError::InvalidDatetimeFormat {
        type_name: "interval".into(),
        input: input.into(),
    };
    let lower = input.trim().to_ascii_lowercase();
    let mut toks = tokens(lower.strip_prefix('@').unwrap_or(&lower));
    let ago = toks.last().is_some_and(|t| t == "ago");
    if ago {
        toks.pop();
    }
    if toks.is_empty() {
        return Err(bad());
    }
    let mut acc = Acc::default();
    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        if tok.contains(':') {
            acc.micros += parse_clock(tok).ok_or_else(bad)?;
            i += 1;
            continue;
        }
        let (w, f) = parse_quantity(tok).ok_or_else(bad)?;
        let u = match toks.get(i + 1).map(|w| unit(w)) {
            Some(Some(u)) => {
                i += 2;
                u
            }
            Some(None) => return Err(bad()),
            None => {
                i += 1;
                Unit::Micros(USECS_PER_SEC)
            }
        };
        acc.add(w, f, u);
    }
    let sign = if ago { -1 } else { 1 };
    let overflow = || SqlError::DatetimeFieldOverflow {
        input: input.into(),
    };
    Ok(Interval {
        months: i32::try_from(acc.months * sign).map_err(|_| overflow())?,
        days: i32::try_from(acc.days * sign).map_err(|_| overflow())?,
        micros: i64::try_from(acc.micros * sign).map_err(|_| overflow())?,
    })
}

/// `a + b` (or `a - b` when `negate_b`), 22008 "interval out of range" on overflow.
pub fn add(a: &Interval, b: &Interval, negate_b: bool) -> Result<Interval, SqlError> {
    let (bm, bd, bu) = if negate_b {
        (
            b.months.checked_neg(),
            b.days.checked_neg(),
            b.micros.checked_neg(),
        )
    } else {
        (Some(b.months), Some(b.days), Some(b.micros))
    };
    Ok(Interval {
        months: bm
            .and_then(|m| a.months.checked_add(m))
            .ok_or_else(out_of_range)?,
        days: bd
            .and_then(|d| a.days.checked_add(d))
            .ok_or_else(out_of_range)?,
        micros: bu
            .and_then(|u| a.micros.checked_add(u))
            .ok_or_else(out_of_range)?,
    })
}

/// `-a`.
pub fn negate(a: &Interval) -> Result<Interval, SqlError> {
    add(&Interval::default(), a, true)
}

/// PostgreSQL's `interval_mul`: each part scaled, fractions of months and days cascading
/// into days and microseconds. `interval / f` is `interval * (1 / f)` after a zero check.
pub fn mul(a: &Interval, factor: f64) -> Result<Interval, SqlError> {
    let fits = |v: f64| v.is_finite() && v.abs() <= f64::from(i32::MAX);
    let month_f = f64::from(a.months) * factor;
    let day_f = f64::from(a.days) * factor;
    if !fits(month_f) || !fits(day_f) {
        return Err(out_of_range());
    }
    let months = month_f as i32;
    let mut days = day_f as i32;
    let tsround = |x: f64| (x * 1e6).round() / 1e6;
    let month_rem_days = tsround((month_f - f64::from(months)) * DAYS_PER_MONTH as f64);
    let mut sec_rem = tsround((day_f - f64::from(days) + month_rem_days.fract()) * 86_400.0);
    if sec_rem.abs() >= 86_400.0 {
        let whole = (sec_rem / 86_400.0).trunc();
        days = days.saturating_add(whole as i32);
        sec_rem -= whole * 86_400.0;
    }
    days = days
        .checked_add(month_rem_days.trunc() as i32)
        .ok_or_else(out_of_range)?;
    let micros = (a.micros as f64 * factor + sec_rem * 1e6).round();
    if !micros.is_finite() || micros.abs() >= 9.2e18 {
        return Err(out_of_range());
    }
    Ok(Interval {
        months,
        days,
        micros: micros as i64,
    })
}

/// PostgreSQL's `interval_justify_hours`: whole days out of the time part, signs aligned.
pub fn justify_hours(mut iv: Interval) -> Interval {
    let extra = iv.micros / USECS_PER_DAY;
    iv.micros -= extra * USECS_PER_DAY;
    iv.days = iv.days.saturating_add(extra as i32);
    if iv.days > 0 && iv.micros < 0 {
        iv.micros += USECS_PER_DAY;
        iv.days -= 1;
    } else if iv.days < 0 && iv.micros > 0 {
        iv.micros -= USECS_PER_DAY;
        iv.days += 1;
    }
    iv
}

/// `ts + iv` as PostgreSQL's `timestamp_pl_interval`: months move the calendar month
/// (clamping the day to the month's end), then days, then microseconds. Infinite
/// timestamps stay infinite.
pub fn add_to_timestamp(ts: i64, iv: &Interval) -> Result<i64, SqlError> {
    if ts == TS_INFINITY || ts == TS_NEG_INFINITY {
        return Ok(ts);
    }
    let (mut date, tod) =
        datetime::split_timestamp(ts).ok_or_else(datetime::timestamp_out_of_range)?;
    if iv.months != 0 {
        let m = Months::new(iv.months.unsigned_abs());
        date = if iv.months > 0 {
            date.checked_add_months(m)
        } else {
            date.checked_sub_months(m)
        }
        .ok_or_else(datetime::timestamp_out_of_range)?;
    }
    let days = i64::from(datetime::from_naive(date)) + i64::from(iv.days);
    let result = days
        .checked_mul(USECS_PER_DAY)
        .and_then(|v| v.checked_add(tod))
        .and_then(|v| v.checked_add(iv.micros))
        .filter(|v| datetime::timestamp_valid(*v) && *v != TS_INFINITY && *v != TS_NEG_INFINITY)
        .ok_or_else(datetime::timestamp_out_of_range)?;
    Ok(result)
}

/// `a - b` for timestamps: an interval of days and time (`justify_hours`), no months.
pub fn timestamp_diff(a: i64, b: i64) -> Result<Interval, SqlError> {
    if [a, b]
        .iter()
        .any(|t| *t == TS_INFINITY || *t == TS_NEG_INFINITY)
    {
        return Err(SqlError::out_of_range("interval"));
    }
    let micros = a.checked_sub(b).ok_or_else(out_of_range)?;
    Ok(justify_hours(Interval {
        months: 0,
        days: 0,
        micros,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(s: &str) -> String {
        format(&parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn text_matches_postgres() {
        // Expected values from PostgreSQL 15.
        for (input, out) in [
            (
                "1 year 2 mons 3 days 04:05:06",
                "1 year 2 mons 3 days 04:05:06",
            ),
            ("1 day 2 hours", "1 day 02:00:00"),
            ("3 mons", "3 mons"),
            ("01:02:03", "01:02:03"),
            ("-1 day 2 hours", "-1 days +02:00:00"),
            ("1.5 years", "1 year 6 mons"),
            ("1.5 days", "1 day 12:00:00"),
            ("1.5 months", "1 mon 15 days"),
            ("0", "00:00:00"),
            ("5", "00:00:05"),
            ("@ 2 days ago", "-2 days"),
            ("1 week", "7 days"),
            ("25 hours", "25:00:00"),
            ("-01:00:00", "-01:00:00"),
            ("1 day -01:00:00", "1 day -01:00:00"),
            ("10 secs 500 ms", "00:00:10.5"),
            ("2 years 1day", "2 years 1 day"),
            ("-1 mons 2 days", "-1 mons +2 days"),
        ] {
            assert_eq!(iv(input), out, "{input}");
        }
        let e = parse("1 fortnight").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type interval: \"1 fortnight\""
        );
        assert_eq!(e.sqlstate(), "22007");
    }

    #[test]
    fn arithmetic_matches_postgres() {
        let p = |s: &str| parse(s).unwrap();
        assert_eq!(format(&mul(&p("1 mon"), 1.5).unwrap()), "1 mon 15 days");
        assert_eq!(format(&mul(&p("1 day"), 0.5).unwrap()), "12:00:00");
        assert_eq!(format(&mul(&p("1 hour"), 3.0).unwrap()), "03:00:00");
        assert_eq!(span_micros(&p("1 mon")), span_micros(&p("30 days")));
        assert!(span_micros(&p("1 day")) == span_micros(&p("24 hours")));
        let ts = datetime::parse_timestamp("2024-01-31 12:00", false).unwrap();
        let plus = add_to_timestamp(ts, &p("1 mon")).unwrap();
        assert_eq!(
            datetime::format_timestamp(plus, false),
            "2024-02-29 12:00:00"
        );
        let t2 = datetime::parse_timestamp("2024-01-30 11:00", false).unwrap();
        assert_eq!(format(&timestamp_diff(ts, t2).unwrap()), "1 day 01:00:00");
        assert_eq!(
            format(&timestamp_diff(t2, ts).unwrap()),
            "-1 days -01:00:00"
        );
    }
}
