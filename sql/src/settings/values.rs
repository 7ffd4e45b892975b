//! How a value written in SET is checked against its parameter's [`Kind`] and normalized
//! into the form SHOW prints ([`normalize`]), with PostgreSQL's messages: a bad value is 22023 `invalid
//! value for parameter "x": "v"`, a number outside the range is 22023 `v is outside the
//! valid range for parameter "x" (lo .. hi)`, a preset parameter is 55P02 `parameter "x"
//! cannot be changed`. Values FerrisDB cannot honour (a time zone other than UTC, a client
//! encoding other than UTF8, a date style other than ISO) are 0A000 rather than accepted
//! and ignored, because the engine would then print or parse values differently from what
//! the client asked for.
//!
//! Time parameters (`statement_timeout`, `lock_timeout`, ...) hold milliseconds; SHOW prints
//! them with the largest unit that divides them exactly (`1500ms`, `5s`, `1min`, `1h`,
//! `1d`), as PostgreSQL does, and `pg_settings.setting` holds the bare number.

use super::defs::{Context, Def, Kind};
use crate::datum::parse_bool;
use crate::error::SqlError;

const MAX_MS: i64 = 2_147_483_647;

/// 22023 `invalid value for parameter "x": "v"`.
pub fn invalid(name: &str, value: &str) -> SqlError {
    SqlError::InvalidParameterValue {
        message: format!("invalid value for parameter \"{name}\": \"{value}\""),
    }
}

/// Checks `value` for parameter `d` and returns it as SHOW prints it.
pub fn normalize(d: &Def, value: &str) -> Result<String, SqlError> {
    if d.context == Context::Internal {
        return Err(SqlError::CantChangeParameter {
            name: d.name.to_string(),
        });
    }
    match d.kind {
        Kind::Bool => parse_bool(value)
            .map(|b| if b { "on" } else { "off" }.to_string())
            .map_err(|_| SqlError::InvalidParameterValue {
                message: format!("parameter \"{}\" requires a Boolean value", d.name),
            }),
        Kind::Int { min, max } => {
            let v: i64 = value.trim().parse().map_err(|_| invalid(d.name, value))?;
            if v < min || v > max {
                return Err(out_of_range(d.name, &v.to_string(), min, max));
            }
            Ok(v.to_string())
        }
        Kind::Millis => parse_millis(d.name, value).map(format_millis),
        Kind::Str => Ok(value.to_string()),
        Kind::Enum(values) => {
            let v = value.trim().to_ascii_lowercase();
            if values.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(invalid(d.name, value))
            }
        }
        Kind::Special => special(d.name, value),
    }
}

fn out_of_range(name: &str, shown: &str, min: i64, max: i64) -> SqlError {
    SqlError::InvalidParameterValue {
        message: format!(
            "{shown} is outside the valid range for parameter \"{name}\" ({min} .. {max})"
        ),
    }
}

/// The parameters whose values FerrisDB restricts to what the engine does.
fn special(name: &str, value: &str) -> Result<String, SqlError> {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    match name {
        "client_encoding" => match lower.replace(['-', '_'], "").as_str() {
            "utf8" | "unicode" => Ok("UTF8".into()),
            "latin1" | "sqlascii" | "win1252" | "latin2" | "euckr" | "eucjp" | "sjis"
            | "big5" | "gbk" | "koi8r" | "win1251" | "iso88591" => {
                Err(SqlError::unsupported(format!(
                    "client_encoding \"{v}\" is not supported: FerrisDB speaks UTF8 only"
                )))
            }
            _ => Err(invalid(name, value)),
        },
        "DateStyle" => date_style(value),
        "TimeZone" => match lower.as_str() {
            "utc" => Ok("UTC".into()),
            "gmt" => Ok("GMT".into()),
            "etc/utc" => Ok("Etc/UTC".into()),
            "z" | "zulu" | "etc/gmt" | "etc/zulu" | "universal" | "etc/universal" => {
                Ok(v.to_string())
            }
            _ => Err(SqlError::unsupported(format!(
                "time zone \"{v}\" is not supported: FerrisDB runs in UTC only"
            ))),
        },
        "IntervalStyle" => match lower.as_str() {
            "postgres" => Ok(lower),
            "postgres_verbose" | "sql_standard" | "iso_8601" => Err(SqlError::unsupported(
                format!("IntervalStyle \"{v}\" is not supported: FerrisDB prints intervals in the postgres style only"),
            )),
            _ => Err(invalid(name, value)),
        },
        "standard_conforming_strings" => match parse_bool(value) {
            Ok(true) => Ok("on".into()),
            Ok(false) => Err(SqlError::unsupported(
                "standard_conforming_strings = off is not supported",
            )),
            Err(_) => Err(SqlError::InvalidParameterValue {
                message: format!("parameter \"{name}\" requires a Boolean value"),
            }),
        },
        "bytea_output" => match lower.as_str() {
            "hex" => Ok(lower),
            "escape" => Err(SqlError::unsupported(
                "bytea_output = escape is not supported",
            )),
            _ => Err(invalid(name, value)),
        },
        _ => Ok(v.to_string()),
    }
}

/// PostgreSQL's DateStyle: an output style and/or a field order, each optional,
/// comma- or space-separated; only the ISO output style is available here.
fn date_style(value: &str) -> Result<String, SqlError> {
    let mut order = "MDY";
    for word in value
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        match word.to_ascii_lowercase().as_str() {
            "iso" | "default" => {}
            "mdy" | "us" | "noneuropean" => order = "MDY",
            "dmy" | "euro" | "european" => order = "DMY",
            "ymd" => order = "YMD",
            "sql" | "postgres" | "german" => {
                return Err(SqlError::unsupported(format!(
                    "DateStyle \"{value}\" is not supported: FerrisDB prints dates in the ISO style only"
                )))
            }
            _ => return Err(invalid("DateStyle", value)),
        }
    }
    Ok(format!("ISO, {order}"))
}

/// A time value in milliseconds: a bare number is milliseconds; units us, ms, s, min, h,
/// d may follow, with optional space; fractions round to the nearest millisecond.
pub fn parse_millis(name: &str, value: &str) -> Result<i64, SqlError> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(v.len());
    let (num, unit) = (&v[..split], v[split..].trim());
    let n: f64 = num.parse().map_err(|_| invalid(name, value))?;
    let factor = match unit {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => {
            return Err(SqlError::InvalidParameterValue {
                message: format!("invalid value for parameter \"{name}\": \"{value}\""),
            })
        }
    };
    let ms = (n * factor).round();
    if !(0.0..=MAX_MS as f64).contains(&ms) {
        return Err(out_of_range(name, &format!("{ms} ms"), 0, MAX_MS));
    }
    Ok(ms as i64)
}

/// Milliseconds as SHOW prints them: the largest unit dividing the value exactly.
pub fn format_millis(ms: i64) -> String {
    if ms == 0 {
        return "0".into();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A SHOW value of a time parameter back to milliseconds (`pg_settings.setting`).
pub fn millis_of(shown: &str) -> i64 {
    parse_millis("", shown).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::defs::find;

    fn norm(name: &str, v: &str) -> Result<String, SqlError> {
        normalize(find(name).expect("known parameter"), v)
    }

    #[test]
    fn values_normalize_like_postgres() {
        // Expected values from PostgreSQL 15.
        assert_eq!(norm("statement_timeout", "5s").unwrap(), "5s");
        assert_eq!(norm("statement_timeout", "1500").unwrap(), "1500ms");
        assert_eq!(norm("statement_timeout", "60000").unwrap(), "1min");
        assert_eq!(norm("statement_timeout", "1.5s").unwrap(), "1500ms");
        assert_eq!(norm("statement_timeout", "10 s").unwrap(), "10s");
        assert_eq!(norm("lock_timeout", "1000ms").unwrap(), "1s");
        assert_eq!(norm("lock_timeout", "1d").unwrap(), "1d");
        assert_eq!(norm("DateStyle", "ISO").unwrap(), "ISO, MDY");
        assert_eq!(norm("datestyle", "iso, dmy").unwrap(), "ISO, DMY");
        assert_eq!(norm("TimeZone", "utc").unwrap(), "UTC");
        assert_eq!(norm("client_encoding", "utf-8").unwrap(), "UTF8");
        assert_eq!(norm("client_min_messages", "WARNING").unwrap(), "warning");
        assert_eq!(norm("standard_conforming_strings", "yes").unwrap(), "on");
        assert_eq!(norm("extra_float_digits", "3").unwrap(), "3");
    }

    #[test]
    fn bad_values_fail_like_postgres() {
        let e = norm("statement_timeout", "abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for parameter \"statement_timeout\": \"abc\""
        );
        assert_eq!(e.sqlstate(), "22023");
        let e = norm("statement_timeout", "-1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "-1 ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)"
        );
        let e = norm("extra_float_digits", "4").unwrap_err();
        assert_eq!(
            e.to_string(),
            "4 is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"
        );
        let e = norm("server_version", "1").unwrap_err();
        assert_eq!(
            (e.to_string().as_str(), e.sqlstate()),
            ("parameter \"server_version\" cannot be changed", "55P02")
        );
        assert_eq!(
            norm("client_encoding", "bogus").unwrap_err().sqlstate(),
            "22023"
        );
        assert_eq!(
            norm("client_encoding", "latin1").unwrap_err().sqlstate(),
            "0A000"
        );
        assert_eq!(
            norm("TimeZone", "Europe/Paris").unwrap_err().sqlstate(),
            "0A000"
        );
        assert_eq!(norm("DateStyle", "SQL").unwrap_err().sqlstate(), "0A000");
        assert_eq!(
            norm("standard_conforming_strings", "maybe")
                .unwrap_err()
                .to_string(),
            "parameter \"standard_conforming_strings\" requires a Boolean value"
        );
    }
}
