//! Binary send/receive forms: exact bytes for known values, round trips, rejections.

use ferrisdb_sql::Interval;

use super::*;

fn enc(d: &Datum, t: &DataType) -> Vec<u8> {
    let mut out = Vec::new();
    encode(d, t, &mut out).unwrap();
    out
}

fn num(s: &str) -> Datum {
    Datum::Numeric(numeric::parse(s).unwrap())
}

#[test]
fn numeric_bytes_match_postgres() {
    // 12345.678: ndigits 3, weight 1, positive, dscale 3, digits 1 2345 6780.
    assert_eq!(
        enc(&num("12345.678"), &DataType::NUMERIC),
        vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
    );
    // -0.0001: one digit 1 at weight -1.
    assert_eq!(
        enc(&num("-0.0001"), &DataType::NUMERIC),
        vec![0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]
    );
    // 0.00: no digits, dscale 2.
    assert_eq!(
        enc(&num("0.00"), &DataType::NUMERIC),
        vec![0, 0, 0, 0, 0, 0, 0, 2]
    );
    // 20000: one digit 2 at weight 1 (trailing zero group dropped).
    assert_eq!(
        enc(&num("20000"), &DataType::NUMERIC),
        vec![0, 1, 0, 1, 0, 0, 0, 0, 0, 2]
    );
}

#[test]
fn every_type_round_trips() {
    let cases = vec![
        (Datum::Bool(true), DataType::Bool),
        (Datum::Int(-32768), DataType::Int2),
        (Datum::Int(2_147_483_647), DataType::Int4),
        (Datum::Int(i64::MIN), DataType::Int8),
        (Datum::Float(1.5), DataType::Float4),
        (Datum::Float(-0.1), DataType::Float8),
        (
            num("123456789012345678901234567890.000000001"),
            DataType::NUMERIC,
        ),
        (num("-7.50"), DataType::NUMERIC),
        (num("0.000000012"), DataType::NUMERIC),
        (Datum::Text("héllo".into()), DataType::Text),
        (Datum::Text("ab ".into()), DataType::Char(3)),
        (Datum::Bytes(vec![0, 255, 1]), DataType::Bytea),
        (Datum::Date(-10_957), DataType::Date),
        (Datum::Timestamp(1_234_567_890), DataType::Timestamp),
        (Datum::TimestampTz(-1), DataType::TimestampTz),
        (
            Datum::Interval(Interval {
                months: 14,
                days: -3,
                micros: 5_000_001,
            }),
            DataType::Interval,
        ),
    ];
    for (d, t) in cases {
        let bytes = enc(&d, &t);
        assert_eq!(decode(&bytes, &t, 1).unwrap(), d, "{t}");
    }
}

#[test]
fn malformed_values_are_22p03() {
    let bad = |bytes: &[u8], t: DataType| {
        matches!(
            decode(bytes, &t, 4),
            Err(PgError::BinaryFormat { index: 4 })
        )
    };
    assert!(bad(&[0, 1], DataType::Int4));
    assert!(bad(&[0; 9], DataType::Int8));
    assert!(bad(&[], DataType::Bool));
    assert!(bad(
        &[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10],
        DataType::NUMERIC
    )); // digit 10000
    assert!(bad(&[0, 2, 0, 0, 0, 0, 0, 0, 0, 1], DataType::NUMERIC)); // 2 digits, 1 sent
    assert!(bad(&[0, 0, 0, 0, 0x12, 0, 0, 0], DataType::NUMERIC)); // bad sign
    assert!(bad(&[0x7f, 0xff, 0xff, 0xfe], DataType::Date)); // beyond the supported range
    assert!(matches!(
        decode(&[0, 0, 0, 0, 0xc0, 0, 0, 0], &DataType::NUMERIC, 1),
        Err(PgError::Unsupported(_))
    ));
    assert!(matches!(
        decode(&[0xff], &DataType::Text, 1),
        Err(PgError::InvalidUtf8)
    ));
    assert!(matches!(
        decode(b"a\0", &DataType::Text, 1),
        Err(PgError::InvalidUtf8)
    ));
}

#[test]
fn a_value_outside_its_declared_width_is_an_encode_error_not_a_wrapped_number() {
    let mut out = Vec::new();
    assert!(encode(&Datum::Int(70_000), &DataType::Int2, &mut out).is_err());
}
