//! One-dimensional arrays: the element types, PostgreSQL's array text form, comparison
//! and the array functions catalog queries use.
//!
//! FerrisDB has arrays for what PostgreSQL's clients read from the catalogs (`oid[]`,
//! `int2vector`, `text[]` options, `name[]` from `current_schemas`) and what their queries
//! build (`ARRAY[...]`, `ARRAY(SELECT ...)`, `'{0}'`); tables cannot store them. An array
//! type is [`DataType::Array`] over a `&'static` element type taken from the statics here,
//! which keeps `DataType` `Copy`. Values are [`Datum::Array`]: the elements in order,
//! lower bound 1 (PostgreSQL's `int2vector` and `oidvector` start at 0; here they are
//! plain `int2[]` and `oid[]`, an accepted difference).
//!
//! Text form, as PostgreSQL's `array_out` / `array_in`:
//!
//! ```text
//!   {1,2,NULL}        {a,"b c","",NULL,"NULL","x\"y"}
//! ```
//!
//! An element is double-quoted when it is empty, is `NULL` in any case, or contains a
//! brace, comma, double quote, backslash or white space; inside quotes `"` and `\` are
//! backslash-escaped. Arrays compare element by element, a NULL element above every
//! value, a shorter array below a longer one it prefixes (PostgreSQL's `btarraycmp`).

use std::cmp::Ordering;

use crate::datum::Datum;
use crate::error::SqlError;
use crate::types::{DataType, OidKind};

pub static BOOL: DataType = DataType::Bool;
pub static INT2: DataType = DataType::Int2;
pub static INT4: DataType = DataType::Int4;
pub static INT8: DataType = DataType::Int8;
pub static FLOAT4: DataType = DataType::Float4;
pub static FLOAT8: DataType = DataType::Float8;
pub static NUMERIC: DataType = DataType::NUMERIC;
pub static TEXT: DataType = DataType::Text;
pub static VARCHAR: DataType = DataType::Varchar(None);
pub static BYTEA: DataType = DataType::Bytea;
pub static DATE: DataType = DataType::Date;
pub static TIMESTAMP: DataType = DataType::Timestamp;
pub static TIMESTAMPTZ: DataType = DataType::TimestampTz;
pub static INTERVAL: DataType = DataType::Interval;
pub static OID: DataType = DataType::Oid(OidKind::Oid);
pub static REGCLASS: DataType = DataType::Oid(OidKind::RegClass);
pub static REGTYPE: DataType = DataType::Oid(OidKind::RegType);
pub static REGPROC: DataType = DataType::Oid(OidKind::RegProc);
pub static REGNAMESPACE: DataType = DataType::Oid(OidKind::RegNamespace);
pub static REGROLE: DataType = DataType::Oid(OidKind::RegRole);
pub static NAME: DataType = DataType::Name;
pub static CHAR: DataType = DataType::InternalChar;

/// Every element type with its array type's OID, as in `pg_type.typarray`.
pub static ELEMENTS: &[(&DataType, u32)] = &[
    (&BOOL, 1000),
    (&INT2, 1005),
    (&INT4, 1007),
    (&INT8, 1016),
    (&FLOAT4, 1021),
    (&FLOAT8, 1022),
    (&NUMERIC, 1231),
    (&TEXT, 1009),
    (&VARCHAR, 1015),
    (&BYTEA, 1001),
    (&DATE, 1182),
    (&TIMESTAMP, 1115),
    (&TIMESTAMPTZ, 1185),
    (&INTERVAL, 1187),
    (&OID, 1028),
    (&REGCLASS, 2210),
    (&REGTYPE, 2211),
    (&REGPROC, 1008),
    (&REGNAMESPACE, 4090),
    (&REGROLE, 4097),
    (&NAME, 1003),
    (&CHAR, 1002),
];

/// The array type of `elem` (modifiers dropped; `char(n)` elements become text).
pub fn array_of(elem: &DataType) -> Result<DataType, SqlError> {
    let base = match elem.base() {
        DataType::Char(_) | DataType::Unknown => DataType::Text,
        b => b,
    };
    ELEMENTS
        .iter()
        .find(|(e, _)| **e == base)
        .map(|(e, _)| DataType::Array(e))
        .ok_or_else(|| SqlError::unsupported(format!("arrays of type {elem} are not supported")))
}

/// The OID of the array type over `elem`.
pub fn array_type_oid(elem: &DataType) -> u32 {
    ELEMENTS
        .iter()
        .find(|(e, _)| *e == elem)
        .map_or(0, |(_, oid)| *oid)
}

/// The array type whose OID is `oid`.
pub fn array_type_by_oid(oid: u32) -> Option<DataType> {
    ELEMENTS
        .iter()
        .find(|(_, o)| *o == oid)
        .map(|(e, _)| DataType::Array(e))
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace())
}

/// PostgreSQL's `array_out`.
pub fn format(items: &[Datum], elem: &DataType) -> String {
    let mut out = String::from("{");
    for (i, d) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match d.to_text(elem) {
            None => out.push_str("NULL"),
            Some(s) if needs_quotes(&s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Some(s) => out.push_str(&s),
        }
    }
    out.push('}');
    out
}

/// PostgreSQL's `array_in` for one dimension: `{a, "b", NULL}`.
pub fn parse(input: &str, elem: &DataType) -> Result<Vec<Datum>, SqlError> {
    let malformed = || SqlError::InvalidTextRepresentation {
        type_name: "array".into(),
        input: input.to_string(),
    };
    let body = input
        .trim()
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let mut items = Vec::new();
    if body.trim().is_empty() {
        return Ok(items);
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let (text, quoted) = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next().ok_or_else(malformed)? {
                    '"' => break,
                    '\\' => s.push(chars.next().ok_or_else(malformed)?),
                    c => s.push(c),
                }
            }
            (s, true)
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if matches!(c, '{' | '}' | '"') {
                    return Err(SqlError::unsupported(
                        "multidimensional arrays are not supported",
                    ));
                }
                s.push(c);
                chars.next();
            }
            (s.trim_end().to_string(), false)
        };
        if !quoted && text.is_empty() {
            return Err(malformed());
        }
        items.push(if !quoted && text.eq_ignore_ascii_case("null") {
            Datum::Null
        } else {
            Datum::parse(&text, elem)?
        });
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(items),
            Some(',') => {}
            Some(_) => return Err(malformed()),
        }
    }
}

/// PostgreSQL's array order (see the module doc).
pub fn compare(a: &[Datum], b: &[Datum]) -> Option<Ordering> {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.compare(y)?,
        };
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    Some(a.len().cmp(&b.len()))
}

fn items(d: &Datum) -> Result<&[Datum], SqlError> {
    match d {
        Datum::Array(v) => Ok(v),
        other => Err(SqlError::internal(format!(
            "expected an array, got {other:?}"
        ))),
    }
}

/// `array_to_string(arr, sep [, null_text])`: NULL elements skipped unless `null_text`.
pub fn to_string(
    arr: &Datum,
    elem: &DataType,
    sep: &str,
    null_text: Option<&str>,
) -> Result<Datum, SqlError> {
    let parts: Vec<String> = items(arr)?
        .iter()
        .filter_map(|d| match d.to_text(elem) {
            Some(s) => Some(s),
            None => null_text.map(str::to_string),
        })
        .collect();
    Ok(Datum::Text(parts.join(sep)))
}

/// `array_position(arr, value)`: the 1-based position of the first equal element.
pub fn position(arr: &Datum, value: &Datum) -> Result<Datum, SqlError> {
    for (i, d) in items(arr)?.iter().enumerate() {
        let equal = match (d.is_null(), value.is_null()) {
            (true, true) => true,
            (false, false) => d.compare(value) == Some(Ordering::Equal),
            _ => false,
        };
        if equal {
            return Ok(Datum::Int(i as i64 + 1));
        }
    }
    Ok(Datum::Null)
}

/// `array_upper(arr, dim)` / `array_length(arr, dim)`: NULL for an empty array or a
/// dimension other than 1 (lower bounds are always 1, so both are the length).
pub fn upper(arr: &Datum, dim: i64) -> Result<Datum, SqlError> {
    let n = items(arr)?.len();
    Ok(if dim == 1 && n > 0 {
        Datum::Int(n as i64)
    } else {
        Datum::Null
    })
}

/// `arr[i]` (1-based; NULL outside the array).
pub fn subscript(arr: &Datum, index: i64) -> Result<Datum, SqlError> {
    let v = items(arr)?;
    Ok(usize::try_from(index)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| v.get(i))
        .cloned()
        .unwrap_or(Datum::Null))
}

/// `a || b` over two arrays of one element type.
pub fn concat(a: &Datum, b: &Datum) -> Result<Datum, SqlError> {
    let mut v = items(a)?.to_vec();
    v.extend(items(b)?.iter().cloned());
    Ok(Datum::Array(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_matches_postgres() {
        let v = vec![
            Datum::Text("a".into()),
            Datum::Text("b c".into()),
            Datum::Text(String::new()),
            Datum::Null,
            Datum::Text("NULL".into()),
            Datum::Text("x\"y".into()),
        ];
        let s = format(&v, &TEXT);
        assert_eq!(s, r#"{a,"b c","",NULL,"NULL","x\"y"}"#);
        assert_eq!(parse(&s, &TEXT).unwrap(), v);
        assert_eq!(parse("{0}", &OID).unwrap(), vec![Datum::Int(0)]);
        assert_eq!(
            parse(" { 1 , 2 } ", &INT4).unwrap(),
            vec![Datum::Int(1), Datum::Int(2)]
        );
        assert_eq!(parse("{}", &INT4).unwrap(), vec![]);
        assert_eq!(parse("{1,", &INT4).unwrap_err().sqlstate(), "22P02");
        assert_eq!(parse("1", &INT4).unwrap_err().sqlstate(), "22P02");
        assert_eq!(parse("{{1}}", &INT4).unwrap_err().sqlstate(), "0A000");
    }

    #[test]
    fn compare_and_functions() {
        let a = [Datum::Int(1), Datum::Int(2)];
        let b = [Datum::Int(1), Datum::Null];
        assert_eq!(compare(&a, &b), Some(Ordering::Less));
        assert_eq!(compare(&a[..1], &a), Some(Ordering::Less));
        let arr = Datum::Array(a.to_vec());
        assert_eq!(position(&arr, &Datum::Int(2)).unwrap(), Datum::Int(2));
        assert_eq!(position(&arr, &Datum::Int(3)).unwrap(), Datum::Null);
        assert_eq!(upper(&arr, 1).unwrap(), Datum::Int(2));
        assert_eq!(upper(&Datum::Array(vec![]), 1).unwrap(), Datum::Null);
        assert_eq!(subscript(&arr, 2).unwrap(), Datum::Int(2));
        assert_eq!(subscript(&arr, 0).unwrap(), Datum::Null);
        let t = Datum::Array(vec![
            Datum::Text("a".into()),
            Datum::Null,
            Datum::Text("b".into()),
        ]);
        assert_eq!(
            to_string(&t, &TEXT, ",", None).unwrap(),
            Datum::Text("a,b".into())
        );
        assert_eq!(
            to_string(&t, &TEXT, ",", Some("*")).unwrap(),
            Datum::Text("a,*,b".into())
        );
    }
}
