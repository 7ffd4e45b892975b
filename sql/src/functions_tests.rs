//! Function tests; expected values from PostgreSQL 15.

use super::*;
use crate::cast::{cast, CastContext};

const CTX: EvalContext = EvalContext {
    statement_timestamp: 0,
};

/// Resolves `name` for the literal arguments' types, casts, calls, prints.
fn run(name: &str, args: &[(&str, DataType)]) -> Result<String, SqlError> {
    let types: Vec<DataType> = args.iter().map(|(_, t)| *t).collect();
    let (id, result) = resolve_function(name, &types)?;
    let mut values = Vec::new();
    for ((text, t), p) in args.iter().zip(&id.params) {
        let d = if *text == "NULL" {
            Datum::Null
        } else {
            Datum::parse(text, t)?
        };
        values.push(cast(d, t, p, CastContext::Implicit)?);
    }
    let out = call(&id, &values, &CTX)?;
    Ok(out.to_text(&result).unwrap_or_else(|| "NULL".into()))
}

fn ok(name: &str, args: &[(&str, DataType)]) -> String {
    run(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const U: DataType = DataType::Unknown;
const I: DataType = DataType::Int4;
const N: DataType = DataType::NUMERIC;
const F: DataType = DataType::Float8;

#[test]
fn string_functions() {
    assert_eq!(ok("substr", &[("hello", U), ("2", I), ("3", I)]), "ell");
    assert_eq!(ok("substr", &[("hello", U), ("0", I), ("2", I)]), "h");
    assert_eq!(ok("substring", &[("hello", U), ("-1", I)]), "hello");
    assert_eq!(
        run("substr", &[("hello", U), ("1", I), ("-1", I)])
            .unwrap_err()
            .sqlstate(),
        "22011"
    );
    assert_eq!(ok("left", &[("hello", U), ("-2", I)]), "hel");
    assert_eq!(ok("right", &[("hello", U), ("2", I)]), "lo");
    assert_eq!(ok("lpad", &[("hi", U), ("5", I), ("xy", U)]), "xyxhi");
    assert_eq!(ok("rpad", &[("hello", U), ("3", I)]), "hel");
    assert_eq!(ok("initcap", &[("hELLO wORLD-foo", U)]), "Hello World-Foo");
    assert_eq!(ok("concat", &[("a", U), ("NULL", U), ("1", I)]), "a1");
    assert_eq!(
        ok("concat_ws", &[(",", U), ("a", U), ("NULL", U), ("b", U)]),
        "a,b"
    );
    assert_eq!(ok("strpos", &[("héllo", U), ("l", U)]), "3");
    assert_eq!(ok("repeat", &[("ab", U), ("3", I)]), "ababab");
    assert_eq!(ok("reverse", &[("abc", U)]), "cba");
    assert_eq!(ok("btrim", &[("xxhixx", U), ("x", U)]), "hi");
    assert_eq!(ok("ltrim", &[("  hi", U)]), "hi");
    assert_eq!(ok("length", &[("héllo", U)]), "5");
    assert_eq!(ok("replace", &[("aaa", U), ("a", U), ("bb", U)]), "bbbbbb");
    assert_eq!(ok("upper", &[("abc", DataType::Varchar(Some(5)))]), "ABC");
    assert_eq!(ok("lower", &[("NULL", U)]), "NULL");
}

#[test]
fn resolution_matches_postgres() {
    assert_eq!(resolve_function("abs", &[I]).unwrap().1, I);
    assert_eq!(resolve_function("round", &[I]).unwrap().1, F);
    assert_eq!(resolve_function("round", &[N]).unwrap().1, N);
    assert_eq!(resolve_function("sign", &[DataType::Int2]).unwrap().1, F);
    assert_eq!(resolve_function("mod", &[I, I]).unwrap().1, I);
    assert_eq!(resolve_function("ABS", &[U]).unwrap().1, F);
    let e = resolve_function("lower", &[I]).unwrap_err();
    assert_eq!(e.to_string(), "function lower(integer) does not exist");
    assert_eq!(e.sqlstate(), "42883");
    assert_eq!(
        resolve_function("foo", &[]).unwrap_err().to_string(),
        "function foo() does not exist"
    );
}

#[test]
fn math_functions() {
    assert_eq!(ok("round", &[("2.5", F)]), "2");
    assert_eq!(ok("round", &[("-2.5", N)]), "-3");
    assert_eq!(ok("round", &[("1234.5678", N), ("2", I)]), "1234.57");
    assert_eq!(ok("round", &[("-0.5", F)]), "-0");
    assert_eq!(ok("trunc", &[("-2.7", N)]), "-2");
    assert_eq!(ok("log", &[("100", I)]), "2");
    assert_eq!(ok("mod", &[("-7", I), ("3", I)]), "-1");
    assert_eq!(ok("sign", &[("-2.5", N)]), "-1");
    assert_eq!(ok("power", &[("2", I), ("10", I)]), "1024");
    assert_eq!(ok("abs", &[("-2", I)]), "2");
    assert_eq!(
        run("abs", &[("-2147483648", I)]).unwrap_err().to_string(),
        "integer out of range"
    );
    assert_eq!(ok("ceil", &[("-1.5", N)]), "-1");
    assert_eq!(ok("floor", &[("-1.5", N)]), "-2");
    assert_eq!(ok("exp", &[("1", I)]), "2.718281828459045");
    assert_eq!(ok("ln", &[("10", I)]), "2.302585092994046");
    assert_eq!(ok("pi", &[]), "3.141592653589793");
    assert_eq!(ok("sqrt", &[("2", N)]), "1.414213562373095");
    let e = run("sqrt", &[("-1", F)]).unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.sqlstate()),
        ("cannot take square root of a negative number", "2201F")
    );
    assert_eq!(
        run("ln", &[("0", F)]).unwrap_err().to_string(),
        "cannot take logarithm of zero"
    );
    assert_eq!(run("ln", &[("-1", F)]).unwrap_err().sqlstate(), "2201E");
    assert_eq!(
        run("power", &[("0", F), ("-1", F)])
            .unwrap_err()
            .to_string(),
        "zero raised to a negative power is undefined"
    );
    assert_eq!(
        run("power", &[("-8", F), ("0.5", F)])
            .unwrap_err()
            .sqlstate(),
        "2201F"
    );
    assert_eq!(
        run("mod", &[("1", I), ("0", I)]).unwrap_err().sqlstate(),
        "22012"
    );
}

#[test]
fn time_functions() {
    let ts = DataType::Timestamp;
    let t = "2024-01-31 12:30:45.5";
    assert_eq!(ok("extract", &[("year", U), (t, ts)]), "2024");
    assert_eq!(ok("extract", &[("second", U), (t, ts)]), "45.500000");
    assert_eq!(ok("extract", &[("epoch", U), (t, ts)]), "1706704245.500000");
    assert_eq!(
        ok("date_part", &[("dow", U), ("2024-01-31", DataType::Date)]),
        "3"
    );
    assert_eq!(
        ok("extract", &[("doy", U), ("2024-02-01", DataType::Date)]),
        "32"
    );
    assert_eq!(
        ok("date_trunc", &[("month", U), ("2024-01-31 12:30", ts)]),
        "2024-01-01 00:00:00"
    );
    assert_eq!(
        ok("date_trunc", &[("week", U), ("2024-01-31", ts)]),
        "2024-01-29 00:00:00"
    );
    assert_eq!(
        ok("date_trunc", &[("hour", U), (t, DataType::TimestampTz)]),
        "2024-01-31 12:00:00+00"
    );
    let e = run("date_trunc", &[("foo", U), (t, DataType::TimestampTz)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unit \"foo\" not recognized for type timestamp with time zone"
    );
    assert_eq!(ok("now", &[]), "2000-01-01 00:00:00+00");
}
