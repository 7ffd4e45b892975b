//! Operator tests; expected values from PostgreSQL 15.

use super::*;
use crate::cast::{cast, CastContext};

/// Parses both literals as their types, resolves, casts, evaluates, prints.
fn run(op: BinaryOp, l: (&str, DataType), r: (&str, DataType)) -> Result<String, SqlError> {
    let sig = resolve_binary(op, &l.1, &r.1)?;
    let operand = |(text, t): (&str, DataType), to: &DataType| -> Result<Datum, SqlError> {
        let d = if text == "NULL" {
            Datum::Null
        } else {
            Datum::parse(text, &t)?
        };
        cast(d, &t, to, CastContext::Implicit)
    };
    let out = eval_binary(op, &sig, &operand(l, &sig.left)?, &operand(r, &sig.right)?)?;
    Ok(out.to_text(&sig.result).unwrap_or_else(|| "NULL".into()))
}

fn ok(op: BinaryOp, l: (&str, DataType), r: (&str, DataType)) -> String {
    run(op, l, r).unwrap_or_else(|e| panic!("{op:?}: {e}"))
}

const I2: DataType = DataType::Int2;
const I4: DataType = DataType::Int4;
const I8: DataType = DataType::Int8;
const N: DataType = DataType::NUMERIC;
const F8: DataType = DataType::Float8;
const T: DataType = DataType::Text;
const B: DataType = DataType::Bool;

#[test]
fn integer_arithmetic_checks_width() {
    use BinaryOp::*;
    assert_eq!(ok(Div, ("7", I4), ("2", I4)), "3");
    assert_eq!(ok(Div, ("-7", I4), ("2", I4)), "-3");
    assert_eq!(ok(Mod, ("-7", I4), ("3", I4)), "-1");
    assert_eq!(ok(Sub, ("-2147483647", I4), ("1", I4)), "-2147483648");
    let e = run(Add, ("2147483647", I4), ("1", I4)).unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.sqlstate()),
        ("integer out of range", "22003")
    );
    assert_eq!(ok(Add, ("2147483647", I4), ("1", I8)), "2147483648");
    assert_eq!(
        run(Mul, ("-32768", I2), ("-1", I2))
            .unwrap_err()
            .to_string(),
        "smallint out of range"
    );
    assert_eq!(
        run(Div, ("1", I4), ("0", I4)).unwrap_err().sqlstate(),
        "22012"
    );
    assert_eq!(
        run(Mod, ("1", I8), ("0", I8)).unwrap_err().to_string(),
        "division by zero"
    );
    assert_eq!(ok(Mod, ("-9223372036854775808", I8), ("-1", I8)), "0");
    assert_eq!(resolve_binary(Add, &I2, &I4).unwrap().result, I4);
    assert_eq!(resolve_binary(Add, &I4, &N).unwrap().result, N);
    assert_eq!(resolve_binary(Add, &I4, &F8).unwrap().result, F8);
    assert_eq!(
        resolve_binary(Add, &DataType::Float4, &I4).unwrap().result,
        F8
    );
}

#[test]
fn numeric_and_float_arithmetic() {
    use BinaryOp::*;
    assert_eq!(ok(Div, ("7.0", N), ("2", I4)), "3.5000000000000000");
    assert_eq!(ok(Mul, ("1.5", N), ("2.25", N)), "3.375");
    assert_eq!(ok(Add, ("1.5", N), ("2.25", N)), "3.75");
    assert_eq!(
        run(Div, ("1.0", N), ("0", I4)).unwrap_err().sqlstate(),
        "22012"
    );
    assert_eq!(
        ok(Mul, ("2", DataType::Float4), ("3", DataType::Float4)),
        "6"
    );
    assert_eq!(ok(Div, ("1", F8), ("3", F8)), "0.3333333333333333");
    assert_eq!(
        run(Mul, ("1e308", F8), ("10", F8)).unwrap_err().to_string(),
        "value out of range: overflow"
    );
    assert_eq!(
        run(Mul, ("1e-308", F8), ("1e-308", F8))
            .unwrap_err()
            .to_string(),
        "value out of range: underflow"
    );
    assert_eq!(
        run(Div, ("1", F8), ("0", F8)).unwrap_err().sqlstate(),
        "22012"
    );
    assert!(resolve_binary(Mod, &F8, &F8).is_err());
}

#[test]
fn comparisons_cross_numeric_types_and_text() {
    use BinaryOp::*;
    assert_eq!(ok(Eq, ("1", I4), ("1.0", N)), "t");
    assert_eq!(ok(Lt, ("1", I8), ("1.5", F8)), "t");
    assert_eq!(ok(Lt, ("abc", T), ("abd", DataType::Varchar(None))), "t");
    assert_eq!(ok(Lt, ("B", T), ("a", T)), "t");
    assert_eq!(ok(Eq, ("1", I4), ("NULL", I4)), "NULL");
    assert_eq!(
        ok(
            Eq,
            ("2024-01-01", DataType::Date),
            ("2024-01-01 00:00", DataType::Timestamp)
        ),
        "t"
    );
    let e = resolve_binary(Eq, &I4, &T).unwrap_err();
    assert_eq!(e.to_string(), "operator does not exist: integer = text");
    assert_eq!(e.sqlstate(), "42883");
    assert_eq!(
        resolve_binary(Add, &I4, &B).unwrap_err().to_string(),
        "operator does not exist: integer + boolean"
    );
}

#[test]
fn three_valued_logic_and_distinctness() {
    use BinaryOp::*;
    let cases = [
        (And, "NULL", "f", "f"),
        (And, "NULL", "t", "NULL"),
        (And, "t", "t", "t"),
        (Or, "NULL", "t", "t"),
        (Or, "NULL", "f", "NULL"),
        (Or, "f", "f", "f"),
        (IsDistinctFrom, "NULL", "NULL", "f"),
        (IsDistinctFrom, "NULL", "t", "t"),
        (IsNotDistinctFrom, "NULL", "NULL", "t"),
        (IsNotDistinctFrom, "t", "f", "f"),
    ];
    for (op, l, r, want) in cases {
        assert_eq!(ok(op, (l, B), (r, B)), want, "{l} {op:?} {r}");
    }
    let not = resolve_unary(UnaryOp::Not, &B).unwrap();
    assert_eq!(
        eval_unary(UnaryOp::Not, &not, &Datum::Null),
        Ok(Datum::Null)
    );
    assert_eq!(
        eval_unary(UnaryOp::Not, &not, &Datum::Bool(true)),
        Ok(Datum::Bool(false))
    );
}

#[test]
fn strings_concat_and_like() {
    use BinaryOp::*;
    assert_eq!(ok(Concat, ("t", B), ("a", DataType::Unknown)), "truea");
    assert_eq!(ok(Concat, ("a", T), ("1", I4)), "a1");
    assert_eq!(ok(Concat, ("a", T), ("NULL", T)), "NULL");
    assert_eq!(ok(Like, ("abc", T), ("a%", T)), "t");
    assert_eq!(ok(NotLike, ("abc", T), ("a%", T)), "f");
    assert_eq!(ok(ILike, ("ABC", T), ("a_c", T)), "t");
    assert_eq!(
        ok(
            Concat,
            ("\\x01", DataType::Bytea),
            ("\\x02", DataType::Bytea)
        ),
        "\\x0102"
    );
}

#[test]
fn datetime_arithmetic() {
    use BinaryOp::*;
    use DataType::*;
    assert_eq!(ok(Add, ("2024-01-31", Date), ("1", I4)), "2024-02-01");
    assert_eq!(ok(Sub, ("2024-03-01", Date), ("2024-02-01", Date)), "29");
    assert_eq!(
        ok(Add, ("2024-01-31", Date), ("1 mon", Interval)),
        "2024-02-29 00:00:00"
    );
    assert_eq!(
        ok(
            Sub,
            ("2024-01-31 12:00", Timestamp),
            ("1 day 1 hour", Interval)
        ),
        "2024-01-30 11:00:00"
    );
    assert_eq!(
        ok(
            Add,
            ("2024-01-31 12:00+00", TimestampTz),
            ("1 hour", Interval)
        ),
        "2024-01-31 13:00:00+00"
    );
    assert_eq!(
        ok(
            Sub,
            ("2024-01-31 12:00", Timestamp),
            ("2024-01-30 11:00", Timestamp)
        ),
        "1 day 01:00:00"
    );
    assert_eq!(ok(Mul, ("1 day", Interval), ("0.5", N)), "12:00:00");
    assert_eq!(
        ok(Add, ("1 day", Interval), ("2 hours", Interval)),
        "1 day 02:00:00"
    );
    assert_eq!(resolve_binary(Add, &Date, &Unknown).unwrap().right, I4);
    let neg = resolve_unary(UnaryOp::Neg, &Interval).unwrap();
    let iv = Datum::parse("1 day", &Interval).unwrap();
    assert_eq!(
        eval_unary(UnaryOp::Neg, &neg, &iv)
            .unwrap()
            .to_text(&Interval)
            .unwrap(),
        "-1 days"
    );
}
