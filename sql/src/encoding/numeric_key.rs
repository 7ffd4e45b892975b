//! An order-preserving byte encoding of NUMERIC values.
//!
//! A non-zero value is normalized to `± 0.d1 d2 ... dn × 10^E` with `d1 != 0` and
//! `dn != 0` (no leading or trailing zeros), so each SQL-equal value (`1.5`, `1.50`) has
//! one form. Then:
//!
//! ```text
//!   zero       80
//!   positive   c0  E'(8)  D
//!   negative   40  !E'(8) !D  ff
//!
//!   E'   the exponent E as an i64, sign bit flipped, big-endian (unsigned order = signed order)
//!   D    the digits in pairs, one byte each: 10*d(2k-1) + d(2k), 0..=99; an odd last digit
//!        is paired with 0
//!   !x   every byte of x inverted (0xff - b)
//! ```
//!
//! Why it sorts: the tag orders negative < zero < positive. Among positives a larger
//! exponent means a larger value (d1 != 0), and with equal exponents the digit bytes
//! compare like the digit strings; a shorter digit string that is a prefix of a longer one
//! is the smaller value (the longer one adds a non-zero tail) and bytewise sorts first.
//! Pairing with a 0 pad keeps this (`0.1` = `[10]`, `0.101` = `[10, 10]`). Negatives invert
//! every byte to reverse the order, and end with `ff`, which is above any inverted digit
//! byte (`>= 0x9c`), so that `-0.12` (`... 87 ff`) sorts after `-0.123` (`... 87 69 ff`)
//! rather than before it as a bare prefix would.
//!
//! The encoding is prefix-free inside its tuple `Bytes` wrapper, and decoding is strict:
//! only the canonical form is accepted.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;

use crate::numeric::normalize_scale;

const TAG_NEG: u8 = 0x40;
const TAG_ZERO: u8 = 0x80;
const TAG_POS: u8 = 0xc0;
const NEG_END: u8 = 0xff;
const SIGN: u64 = 0x8000_0000_0000_0000;

/// The order-preserving bytes of `v` (equal values, whatever their scale, give equal bytes).
pub fn encode(v: &BigDecimal) -> Vec<u8> {
    let (m, scale) = v.as_bigint_and_exponent();
    let digits_full = m.magnitude().to_string();
    if digits_full == "0" {
        return vec![TAG_ZERO];
    }
    let digits = digits_full.trim_end_matches('0');
    // value = 0.digits_full × 10^(len - scale); trailing zeros do not move the exponent.
    let exp = digits_full.len() as i64 - scale;
    let neg = m.sign() == bigdecimal::num_bigint::Sign::Minus;
    let mask = if neg { 0xff } else { 0x00 };
    let mut out = Vec::with_capacity(10 + digits.len() / 2);
    out.push(if neg { TAG_NEG } else { TAG_POS });
    out.extend(((exp as u64) ^ SIGN).to_be_bytes().iter().map(|b| b ^ mask));
    for pair in digits.as_bytes().chunks(2) {
        let hi = pair[0] - b'0';
        let lo = pair.get(1).map_or(0, |b| b - b'0');
        out.push((hi * 10 + lo) ^ mask);
    }
    if neg {
        out.push(NEG_END);
    }
    out
}

/// Decodes [`encode`]'s output back to the value, with the smallest scale that holds it
/// (never negative); `None` for any byte string `encode` does not produce.
pub fn decode(buf: &[u8]) -> Option<BigDecimal> {
    let (&tag, rest) = buf.split_first()?;
    let (neg, body) = match tag {
        TAG_ZERO if rest.is_empty() => return Some(BigDecimal::from(0)),
        TAG_POS => (false, rest),
        TAG_NEG => (true, rest.strip_suffix(&[NEG_END])?),
        _ => return None,
    };
    let mask = if neg { 0xff } else { 0x00 };
    let exp_bytes: [u8; 8] = body.get(..8)?.try_into().ok()?;
    let exp_raw = u64::from_be_bytes(exp_bytes.map(|b| b ^ mask));
    let exp = (exp_raw ^ SIGN) as i64;
    let pairs = &body[8..];
    let mut digits = String::with_capacity(pairs.len() * 2);
    for &b in pairs {
        let b = b ^ mask;
        if b > 99 {
            return None;
        }
        digits.push(char::from(b'0' + b / 10));
        digits.push(char::from(b'0' + b % 10));
    }
    if digits.ends_with("00") {
        return None;
    }
    if digits.ends_with('0') {
        digits.pop();
    }
    if !digits.starts_with(|c: char| ('1'..='9').contains(&c)) {
        return None;
    }
    let scale = (digits.len() as i64).checked_sub(exp)?;
    // Bound the work a hostile exponent can cause (PostgreSQL allows 131072 + 16383 digits).
    if scale.unsigned_abs() > 150_000 {
        return None;
    }
    let mut m: BigInt = digits.parse().ok()?;
    if neg {
        m = -m;
    }
    Some(normalize_scale(BigDecimal::new(m, scale)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_decimal() -> impl Strategy<Value = BigDecimal> {
        (any::<i128>(), -30i64..60, 0u32..4).prop_map(|(m, s, zeros)| {
            // Extra trailing zeros give SQL-equal values with other scales.
            let m = BigInt::from(m) * BigInt::from(10u32.pow(zeros));
            BigDecimal::new(m, s + i64::from(zeros))
        })
    }

    #[test]
    fn known_layouts() {
        let n = |s: &str| crate::numeric::parse(s).unwrap();
        assert_eq!(encode(&n("0.000")), vec![0x80]);
        assert_eq!(encode(&n("1.5")), encode(&n("1.50")));
        let one = encode(&n("1"));
        assert_eq!(one, vec![0xc0, 0x80, 0, 0, 0, 0, 0, 0, 1, 10]);
        let minus_one = encode(&n("-1"));
        assert_eq!(
            minus_one,
            vec![0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xf5, 0xff]
        );
        assert!(encode(&n("-0.12")) > encode(&n("-0.123")));
        assert!(encode(&n("0.1")) < encode(&n("0.101")));
        assert_eq!(
            decode(&[0xc0, 0x80, 0, 0, 0, 0, 0, 0, 1, 0]),
            None,
            "leading zero digit"
        );
        assert_eq!(
            decode(&[0xc0, 0x80, 0, 0, 0, 0, 0, 0, 1, 10, 0]),
            None,
            "trailing zeros"
        );
    }

    proptest! {
        #[test]
        fn byte_order_is_numeric_order(a in arb_decimal(), b in arb_decimal()) {
            prop_assert_eq!(encode(&a).cmp(&encode(&b)), a.cmp(&b), "{} vs {}", a, b);
        }

        #[test]
        fn roundtrip_gives_an_equal_value(a in arb_decimal()) {
            let back = decode(&encode(&a));
            prop_assert!(back.as_ref() == Some(&a), "{} -> {:?}", a, back);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Some(v) = decode(&bytes) {
                prop_assert_eq!(encode(&v), bytes);
            }
        }
    }
}
