//! Cast tests: PostgreSQL 15 results, and text output -> input round trips.

use super::*;
use crate::interval::Interval;
use proptest::prelude::*;

fn explicit(input: &str, from: DataType, to: DataType) -> Result<String, SqlError> {
    let d = Datum::parse(input, &from)?;
    let out = cast(d, &from, &to, CastContext::Explicit)?;
    Ok(out.to_text(&to).unwrap_or_else(|| "NULL".into()))
}

fn ok(input: &str, from: DataType, to: DataType) -> String {
    explicit(input, from, to).unwrap_or_else(|e| panic!("{input}::{from}::{to}: {e}"))
}

fn code(input: &str, from: DataType, to: DataType) -> &'static str {
    explicit(input, from, to).unwrap_err().sqlstate()
}

#[test]
fn float_to_int_rounds_half_to_even() {
    use DataType::*;
    assert_eq!(ok("2.5", Float8, Int4), "2");
    assert_eq!(ok("3.5", Float8, Int4), "4");
    assert_eq!(ok("-2.5", Float8, Int4), "-2");
    assert_eq!(ok("2.6", Float4, Int2), "3");
    assert_eq!(code("2147483647.5", Float8, Int4), "22003");
    assert_eq!(code("NaN", Float8, Int8), "22003");
    assert_eq!(ok("-2147483648.4", Float8, Int4), "-2147483648");
}

#[test]
fn numeric_to_int_rounds_half_away_from_zero() {
    use DataType::*;
    assert_eq!(ok("2.5", DataType::NUMERIC, Int4), "3");
    assert_eq!(ok("-2.5", DataType::NUMERIC, Int4), "-3");
    let e = explicit("32767.5", DataType::NUMERIC, Int2).unwrap_err();
    assert_eq!(e.to_string(), "smallint out of range");
}

#[test]
fn integer_narrowing_overflows() {
    use DataType::*;
    let e = explicit("32768", Int4, Int2).unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.sqlstate()),
        ("smallint out of range", "22003")
    );
    assert_eq!(code("2147483648", Int8, Int4), "22003");
    assert_eq!(ok("-32768", Int8, Int2), "-32768");
}

#[test]
fn numeric_typmod_rounds_and_overflows() {
    let n52 = DataType::Numeric {
        precision: Some(5),
        scale: Some(2),
    };
    assert_eq!(ok("123.456", DataType::NUMERIC, n52), "123.46");
    assert_eq!(ok("1", DataType::Int4, n52), "1.00");
    assert_eq!(ok("0.125", DataType::Float8, n52), "0.13");
    let e = explicit("1000", DataType::Int4, n52).unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.sqlstate()),
        ("numeric field overflow", "22003")
    );
    assert_eq!(ok("0.1", DataType::Float8, DataType::NUMERIC), "0.1");
    assert_eq!(
        ok("0.1", DataType::Float4, DataType::Float8),
        "0.10000000149011612"
    );
    assert_eq!(code("1e300", DataType::Float8, DataType::Float4), "22003");
}

#[test]
fn string_lengths_truncate_or_fail_by_context() {
    let v3 = DataType::Varchar(Some(3));
    assert_eq!(ok("abcd", DataType::Text, v3), "abc");
    let assign = cast(
        Datum::Text("abcd".into()),
        &DataType::Text,
        &v3,
        CastContext::Assignment,
    )
    .unwrap_err();
    assert_eq!(
        assign.to_string(),
        "value too long for type character varying(3)"
    );
    assert_eq!(assign.sqlstate(), "22001");
    let spaces = cast(
        Datum::Text("ab   ".into()),
        &DataType::Text,
        &v3,
        CastContext::Assignment,
    );
    assert_eq!(spaces, Ok(Datum::Text("ab ".into())));
    assert_eq!(ok("ab", DataType::Text, DataType::Char(4)), "ab  ");
    assert_eq!(ok("ab  ", DataType::Char(4), DataType::Text), "ab");
    let c3 = cast(
        Datum::Text("abcd".into()),
        &DataType::Text,
        &DataType::Char(3),
        CastContext::Assignment,
    )
    .unwrap_err();
    assert_eq!(c3.to_string(), "value too long for type character(3)");
    // Multibyte characters count as one.
    assert_eq!(ok("ééé", DataType::Text, DataType::Varchar(Some(2))), "éé");
}

#[test]
fn text_casts_parse_and_print() {
    use DataType::*;
    assert_eq!(ok("  12 ", Text, Int4), "12");
    assert_eq!(code("abc", Text, Int4), "22P02");
    assert_eq!(ok("t", Bool, Text), "true");
    assert_eq!(ok("1", Int4, Bool), "t");
    assert_eq!(ok("f", Bool, Int4), "0");
    assert_eq!(ok("2024-01-31 13:00", Timestamp, Date), "2024-01-31");
    assert_eq!(
        ok("2024-01-31", Date, TimestampTz),
        "2024-01-31 00:00:00+00"
    );
    assert_eq!(ok("1.5", DataType::NUMERIC, Text), "1.5");
    assert_eq!(ok("\\x41", Bytea, Text), "\\x41");
}

#[test]
fn contexts_refuse_what_postgres_refuses() {
    use DataType::*;
    let refused = cast(Datum::Int(1), &Int4, &Bool, CastContext::Assignment).unwrap_err();
    assert_eq!(refused.to_string(), "cannot cast type integer to boolean");
    assert_eq!(refused.sqlstate(), "42846");
    assert!(cast(Datum::Int(1), &Int8, &Int4, CastContext::Implicit).is_err());
    assert!(cast(Datum::Int(1), &Int8, &Bool, CastContext::Explicit).is_err());
    assert!(cast(Datum::Date(0), &Date, &Interval, CastContext::Explicit).is_err());
    assert_eq!(
        cast(Datum::Null, &Int4, &Text, CastContext::Implicit),
        Ok(Datum::Null)
    );
}

/// The types the generators cover.
pub(crate) fn arb_type() -> impl Strategy<Value = DataType> {
    prop::sample::select(vec![
        DataType::Bool,
        DataType::Int2,
        DataType::Int4,
        DataType::Int8,
        DataType::Float4,
        DataType::Float8,
        DataType::NUMERIC,
        DataType::Text,
        DataType::Bytea,
        DataType::Date,
        DataType::Timestamp,
        DataType::TimestampTz,
        DataType::Interval,
    ])
}

/// Any non-NULL datum of `ty` (one of [`arb_type`]'s).
pub(crate) fn arb_datum(ty: DataType) -> BoxedStrategy<Datum> {
    const TS: std::ops::Range<i64> = -60_000_000_000_000_000..60_000_000_000_000_000;
    match ty {
        DataType::Bool => any::<bool>().prop_map(Datum::Bool).boxed(),
        DataType::Int2 => any::<i16>().prop_map(|i| Datum::Int(i.into())).boxed(),
        DataType::Int4 => any::<i32>().prop_map(|i| Datum::Int(i.into())).boxed(),
        DataType::Int8 => any::<i64>().prop_map(Datum::Int).boxed(),
        DataType::Float4 => any::<f32>().prop_map(|f| Datum::Float(f.into())).boxed(),
        DataType::Float8 => any::<f64>().prop_map(Datum::Float).boxed(),
        DataType::Numeric { .. } => (any::<i128>(), 0i64..40)
            .prop_map(|(m, s)| Datum::Numeric(bigdecimal::BigDecimal::new(m.into(), s)))
            .boxed(),
        DataType::Bytea => proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(Datum::Bytes)
            .boxed(),
        DataType::Date => (-2_000_000i32..2_000_000).prop_map(Datum::Date).boxed(),
        DataType::Timestamp => TS.prop_map(Datum::Timestamp).boxed(),
        DataType::TimestampTz => TS.prop_map(Datum::TimestampTz).boxed(),
        DataType::Interval => (any::<i32>(), any::<i32>(), any::<i64>())
            .prop_map(|(months, days, micros)| {
                Datum::Interval(Interval {
                    months,
                    days,
                    micros,
                })
            })
            .boxed(),
        _ => ".*".prop_map(Datum::Text).boxed(),
    }
}

/// Any non-NULL datum, with its type.
pub(crate) fn arb_typed_datum() -> impl Strategy<Value = (DataType, Datum)> {
    arb_type().prop_flat_map(|t| arb_datum(t).prop_map(move |d| (t, d)))
}

pub(crate) fn same_value(a: &Datum, b: &Datum) -> bool {
    match (a, b) {
        (Datum::Float(x), Datum::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Datum::Numeric(x), Datum::Numeric(y)) => {
            x == y && crate::numeric::scale(x) == crate::numeric::scale(y)
        }
        _ => a == b,
    }
}

proptest! {
    #[test]
    fn text_output_then_input_is_identity((ty, d) in arb_typed_datum()) {
        let text = d.to_text(&ty).unwrap();
        let back = Datum::parse(&text, &ty);
        prop_assert!(back.is_ok(), "{ty} {d:?} -> {text:?}: {:?}", back);
        let back = back.unwrap();
        prop_assert!(same_value(&back, &d), "{ty} {d:?} -> {text:?} -> {back:?}");
    }

    #[test]
    fn casts_to_text_and_back_are_identity((ty, d) in arb_typed_datum()) {
        let text = cast(d.clone(), &ty, &DataType::Text, CastContext::Explicit).unwrap();
        let back = cast(text, &DataType::Text, &ty, CastContext::Explicit).unwrap();
        prop_assert!(same_value(&back, &d), "{ty} {d:?} -> {back:?}");
    }

    #[test]
    fn int_widening_then_narrowing_is_identity(i in any::<i16>()) {
        let wide = cast(Datum::Int(i.into()), &DataType::Int2, &DataType::Int8, CastContext::Implicit).unwrap();
        let back = cast(wide, &DataType::Int8, &DataType::Int2, CastContext::Assignment).unwrap();
        prop_assert_eq!(back, Datum::Int(i.into()));
    }
}
