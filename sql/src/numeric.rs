//! PostgreSQL NUMERIC arithmetic on [`BigDecimal`]: text input and output, rounding,
//! typmod checks, and the result scales PostgreSQL chooses.
//!
//! A value is a `BigDecimal` whose scale is the *display scale* (`dscale`): the number of
//! digits after the point PostgreSQL prints. `1.50` has scale 2 and prints `1.50`. Every
//! function here keeps the scale non-negative (a negative `BigDecimal` scale, as `1e3`
//! parses to, is widened to 0) and sets the result scale the way PostgreSQL does:
//!
//! | operation | result scale |
//! |-----------|--------------|
//! | `a + b`, `a - b`, `a % b` | `max(sa, sb)` |
//! | `a * b` | `sa + sb` |
//! | `a / b` | `select_div_scale`: at least 16 significant digits, at least `max(sa, sb)`, at most 1000 |
//! | `sqrt(a)` | at least 16 significant digits, at least `sa` |
//! | `round(a, n)`, `trunc(a, n)` | `max(n, 0)` |
//!
//! Rounding is half away from zero everywhere (PostgreSQL's `round_var`).
//! `NaN` and `±Infinity` NUMERIC values are not supported (0A000).

use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::{BigDecimal, Signed, ToPrimitive, Zero};

use crate::error::SqlError;

/// PostgreSQL's NUMERIC_MIN_SIG_DIGITS.
const MIN_SIG_DIGITS: i64 = 16;
/// PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE.
const MAX_DISPLAY_SCALE: i64 = 1000;
/// Largest scale or digit count accepted on input, bounding the work a hostile literal costs.
const MAX_INPUT_DIGITS: usize = 131_072 + 16_383;

/// `10^n` as a BigInt.
fn pow10(n: u64) -> BigInt {
    num_pow(BigInt::from(10u8), n)
}

fn num_pow(base: BigInt, n: u64) -> BigInt {
    let mut result = BigInt::from(1u8);
    let mut b = base;
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            result *= &b;
        }
        b = &b * &b;
        e >>= 1;
    }
    result
}

/// The value with scale at least 0 (PostgreSQL never has a negative display scale).
pub fn normalize_scale(v: BigDecimal) -> BigDecimal {
    let (m, s) = v.as_bigint_and_exponent();
    if s < 0 {
        BigDecimal::new(m * pow10(s.unsigned_abs()), 0)
    } else {
        v
    }
}

/// The display scale.
pub fn scale(v: &BigDecimal) -> i64 {
    v.as_bigint_and_exponent().1.max(0)
}

/// Parses PostgreSQL's NUMERIC text input: optional whitespace and sign, digits with an
/// optional point, optional exponent. The scale is the digits after the point minus the
/// exponent, at least 0 (`1.50` -> scale 2, `1.5e3` -> `1500`).
pub fn parse(input: &str) -> Result<BigDecimal, SqlError> {
    let bad = || SqlError::invalid_text("numeric", input);
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.trim_start_matches(['+', '-']),
        "nan" | "infinity" | "inf"
    ) {
        return Err(SqlError::unsupported(
            "NUMERIC NaN and Infinity are not supported",
        ));
    }
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e: i64 = rest[i + 1..].parse().map_err(|_| bad())?;
            if e.unsigned_abs() > MAX_DISPLAY_SCALE as u64 * 2 {
                return Err(SqlError::invalid_text("numeric", input));
            }
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || mantissa.len() > MAX_INPUT_DIGITS
    {
        return Err(bad());
    }
    let digits = format!("{int_part}{frac_part}");
    let mut m: BigInt = digits.parse().map_err(|_| bad())?;
    if neg {
        m = -m;
    }
    Ok(normalize_scale(BigDecimal::new(
        m,
        frac_part.len() as i64 - exp,
    )))
}

/// PostgreSQL's text output: all digits, no exponent, exactly `scale` digits after the point.
pub fn format(v: &BigDecimal) -> String {
    let v = normalize_scale(v.clone());
    let (m, s) = v.as_bigint_and_exponent();
    let mut digits = m.magnitude().to_string();
    let s = s as usize;
    if digits.len() <= s {
        digits = format!("{}{digits}", "0".repeat(s + 1 - digits.len()));
    }
    let sign = if m.sign() == Sign::Minus { "-" } else { "" };
    if s == 0 {
        format!("{sign}{digits}")
    } else {
        let (i, f) = digits.split_at(digits.len() - s);
        format!("{sign}{i}.{f}")
    }
}

/// `v` rounded half away from zero to `n` digits after the point (`n` may be negative:
/// `round(1250, -2)` = 1300); the result scale is `max(n, 0)`.
pub fn round(v: &BigDecimal, n: i64) -> BigDecimal {
    let (m, s) = v.as_bigint_and_exponent();
    if n >= s {
        return normalize_scale(BigDecimal::new(m, s)).with_scale(n.max(0));
    }
    let shift = pow10((s - n) as u64);
    let q = div_round(&m, &shift);
    finish_shift(q, n)
}

/// `v` truncated toward zero to `n` digits after the point; the result scale is `max(n, 0)`.
pub fn trunc(v: &BigDecimal, n: i64) -> BigDecimal {
    let (m, s) = v.as_bigint_and_exponent();
    if n >= s {
        return normalize_scale(BigDecimal::new(m, s)).with_scale(n.max(0));
    }
    let q = m / pow10((s - n) as u64);
    finish_shift(q, n)
}

/// `q * 10^-n` as a value of scale `max(n, 0)`.
fn finish_shift(q: BigInt, n: i64) -> BigDecimal {
    if n >= 0 {
        BigDecimal::new(q, n)
    } else {
        BigDecimal::new(q * pow10(n.unsigned_abs()), 0)
    }
}

/// The largest integer `<= v` (`floor`) or smallest `>= v` (`ceil`), scale 0.
pub fn floor_ceil(v: &BigDecimal, ceil: bool) -> BigDecimal {
    let t = trunc(v, 0);
    let exact = &t == v;
    let adjust = if exact {
        0
    } else if ceil && v.is_positive() {
        1
    } else if !ceil && v.is_negative() {
        -1
    } else {
        0
    };
    t + BigDecimal::from(adjust)
}

/// `n / d` rounded half away from zero. `d` must be non-zero.
fn div_round(n: &BigInt, d: &BigInt) -> BigInt {
    let q = n / d;
    let r = n - &q * d;
    if (r.magnitude() * 2u8) >= *d.magnitude() {
        let away = if (n.sign() == Sign::Minus) != (d.sign() == Sign::Minus) {
            -1
        } else {
            1
        };
        q + away
    } else {
        q
    }
}

/// PostgreSQL's normalized weight (in base-10000 digits) and first base-10000 digit.
fn weight_and_first_digit(v: &BigDecimal) -> (i64, u32) {
    let (m, s) = v.as_bigint_and_exponent();
    if m.is_zero() {
        return (0, 0);
    }
    let ndigits = m.magnitude().to_string().len() as i64;
    let msd_exp = ndigits - 1 - s;
    let w = msd_exp.div_euclid(4);
    let shift = -s - 4 * w;
    let mag = BigInt::from_biguint(Sign::Plus, m.magnitude().clone());
    let first = if shift >= 0 {
        mag * pow10(shift as u64)
    } else {
        mag / pow10(shift.unsigned_abs())
    };
    (w, first.to_u32().unwrap_or(0))
}

/// `a / b` with PostgreSQL's `select_div_scale` result scale; 22012 on zero.
pub fn div(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal, SqlError> {
    if b.is_zero() {
        return Err(SqlError::DivisionByZero);
    }
    let (w1, f1) = weight_and_first_digit(a);
    let (w2, f2) = weight_and_first_digit(b);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = (MIN_SIG_DIGITS - qweight * 4)
        .max(scale(a))
        .max(scale(b))
        .clamp(0, MAX_DISPLAY_SCALE);
    Ok(div_to_scale(a, b, rscale))
}

/// `a / b` rounded to `rscale` digits. `b` must be non-zero.
fn div_to_scale(a: &BigDecimal, b: &BigDecimal, rscale: i64) -> BigDecimal {
    let (m1, s1) = a.as_bigint_and_exponent();
    let (m2, s2) = b.as_bigint_and_exponent();
    let e = rscale + s2 - s1;
    let (n, d) = if e >= 0 {
        (m1 * pow10(e as u64), m2)
    } else {
        (m1, m2 * pow10(e.unsigned_abs()))
    };
    BigDecimal::new(div_round(&n, &d), rscale)
}

/// Integer division truncating toward zero (`div(a, b)`), scale 0.
pub fn div_trunc(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal, SqlError> {
    if b.is_zero() {
        return Err(SqlError::DivisionByZero);
    }
    let (m1, m2, _) = aligned(a, b);
    Ok(BigDecimal::new(m1 / m2, 0))
}

/// `a % b`: the remainder with the sign of `a`, scale `max(sa, sb)`.
pub fn rem(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal, SqlError> {
    if b.is_zero() {
        return Err(SqlError::DivisionByZero);
    }
    let (m1, m2, s) = aligned(a, b);
    Ok(BigDecimal::new(m1 % m2, s))
}

/// Both mantissas at the common scale `max(sa, sb)`.
fn aligned(a: &BigDecimal, b: &BigDecimal) -> (BigInt, BigInt, i64) {
    let s = scale(a).max(scale(b));
    let a = a.with_scale(s).as_bigint_and_exponent().0;
    let b = b.with_scale(s).as_bigint_and_exponent().0;
    (a, b, s)
}

/// `sqrt(v)` with PostgreSQL's result scale; 2201F for a negative input.
pub fn sqrt(v: &BigDecimal) -> Result<BigDecimal, SqlError> {
    if v.is_negative() {
        return Err(SqlError::InvalidPowerArgument(
            "cannot take square root of a negative number",
        ));
    }
    let (w, _) = weight_and_first_digit(v);
    let sweight = w * 4 / 2 + 1;
    let rscale = (MIN_SIG_DIGITS - sweight)
        .max(scale(v))
        .clamp(0, MAX_DISPLAY_SCALE);
    let (m, s) = normalize_scale(v.clone()).as_bigint_and_exponent();
    // One digit more than wanted, then round: the square root of an integer is an integer
    // or irrational, so the extra digit decides the rounding exactly.
    let radicand = m * pow10((2 * rscale - s + 2) as u64);
    let r = radicand.sqrt();
    let q = div_round(&r, &BigInt::from(10u8));
    Ok(BigDecimal::new(q, rscale))
}

/// Checks `v` against `numeric(precision, scale)`: rounds to `scale`, then 22003 "numeric
/// field overflow" if more than `precision - scale` integer digits remain.
pub fn apply_typmod(v: &BigDecimal, precision: u32, scale: u32) -> Result<BigDecimal, SqlError> {
    let r = round(v, i64::from(scale));
    let (m, s) = r.as_bigint_and_exponent();
    let int_part = m.magnitude() / pow10(s as u64).magnitude();
    let int_digits = if int_part.is_zero() {
        0
    } else {
        int_part.to_string().len() as u32
    };
    if int_digits > precision.saturating_sub(scale) {
        return Err(SqlError::NumericFieldOverflow { precision, scale });
    }
    Ok(r)
}

/// The numeric nearest a float, as PostgreSQL's `float8_numeric` (`%.15g`; `%.6g` for
/// float4: `sig_digits`). NaN and infinities are 0A000 (unsupported NUMERIC values).
pub fn from_float(f: f64, sig_digits: usize) -> Result<BigDecimal, SqlError> {
    if !f.is_finite() {
        return Err(SqlError::unsupported(
            "cannot convert NaN or Infinity to numeric: not supported",
        ));
    }
    let sci = format!("{:.*e}", sig_digits - 1, f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    parse(&format!("{mant}e{exp}"))
}

/// The nearest float (PostgreSQL parses the numeric's text as a float).
pub fn to_f64(v: &BigDecimal) -> f64 {
    format(v).parse().unwrap_or(f64::NAN)
}

/// The integer nearest `v` (half away from zero), if it fits an i64.
pub fn to_i64_rounded(v: &BigDecimal) -> Option<i64> {
    round(v, 0).as_bigint_and_exponent().0.to_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> BigDecimal {
        parse(s).unwrap()
    }

    #[test]
    fn input_and_output_keep_display_scale() {
        for (input, out) in [
            ("  12 ", "12"),
            ("1.50", "1.50"),
            ("-.5", "-0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            ("1.5E-3", "0.0015"),
            ("+0.000", "0.000"),
            (
                "12345678901234567890123456789012345678.12",
                "12345678901234567890123456789012345678.12",
            ),
        ] {
            assert_eq!(format(&n(input)), out, "{input}");
        }
        for bad in ["", "abc", "1.2.3", "1e", "--1", ". ", "1 2"] {
            assert_eq!(
                parse(bad).unwrap_err().to_string(),
                format!("invalid input syntax for type numeric: \"{bad}\"")
            );
        }
    }

    #[test]
    fn division_scale_matches_postgres() {
        // Expected values from PostgreSQL 15.
        for (a, b, q) in [
            ("10", "3", "3.3333333333333333"),
            ("1", "3", "0.33333333333333333333"),
            ("100000", "7", "14285.714285714286"),
            ("2", "3", "0.66666666666666666667"),
            ("1.00", "8", "0.12500000000000000000"),
            ("-7", "2", "-3.5000000000000000"),
        ] {
            assert_eq!(format(&div(&n(a), &n(b)).unwrap()), q, "{a}/{b}");
        }
        assert_eq!(div(&n("1"), &n("0")), Err(SqlError::DivisionByZero));
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(format(&round(&n("2.5"), 0)), "3");
        assert_eq!(format(&round(&n("-2.5"), 0)), "-3");
        assert_eq!(format(&round(&n("1234.5678"), 2)), "1234.57");
        assert_eq!(format(&round(&n("1250"), -2)), "1300");
        assert_eq!(format(&round(&n("1.5"), 3)), "1.500");
        assert_eq!(format(&trunc(&n("-1.99"), 1)), "-1.9");
        assert_eq!(format(&floor_ceil(&n("-1.5"), false)), "-2");
        assert_eq!(format(&floor_ceil(&n("1.2"), true)), "2");
        assert_eq!(format(&rem(&n("-7.5"), &n("2")).unwrap()), "-1.5");
    }

    #[test]
    fn typmod_and_sqrt() {
        assert_eq!(
            format(&apply_typmod(&n("123.456"), 5, 2).unwrap()),
            "123.46"
        );
        assert_eq!(
            apply_typmod(&n("999.995"), 5, 2),
            Err(SqlError::NumericFieldOverflow {
                precision: 5,
                scale: 2
            })
        );
        assert_eq!(format(&sqrt(&n("2")).unwrap()), "1.414213562373095");
        assert_eq!(format(&sqrt(&n("16")).unwrap()), "4.000000000000000");
        assert_eq!(format(&sqrt(&n("0.0001")).unwrap()), "0.01000000000000000");
        assert_eq!(format(&from_float(0.1, 15).unwrap()), "0.1");
        assert_eq!(
            format(&from_float(1.0 / 3.0, 15).unwrap()),
            "0.333333333333333"
        );
        assert_eq!(
            format(&from_float(1e20, 15).unwrap()),
            "100000000000000000000"
        );
    }
}
