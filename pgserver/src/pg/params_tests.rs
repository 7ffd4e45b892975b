//! Placeholder lexing, type inference from casts, substitution and position mapping.

use super::*;

fn numbers(sql: &str) -> Vec<usize> {
    scan(sql)
        .unwrap()
        .placeholders
        .iter()
        .map(|p| p.number)
        .collect()
}

#[test]
fn finds_placeholders_only_outside_literals_identifiers_and_comments() {
    assert_eq!(numbers("SELECT $1 + $2, $10"), vec![1, 2, 10]);
    assert_eq!(
        numbers("SELECT '$1', \"$2\", a$3, $$ $4 $$, $t$ $5 $t$, $6"),
        vec![6]
    );
    assert_eq!(
        numbers("SELECT 1 -- $1\n, $2 /* $3 /* $4 */ $5 */ , $6"),
        vec![2, 6]
    );
    assert_eq!(numbers("SELECT E'\\' $1', 'it''s $2', $3"), vec![3]);
    assert_eq!(numbers("SELECT x'0f'::text, $1"), vec![1]);
    assert!(matches!(
        scan("SELECT $0"),
        Err(PgError::UndefinedParameter(0))
    ));
}

#[test]
fn a_cast_on_the_parameter_gives_its_type() {
    let s =
        scan("SELECT $1::int4, $2 :: double precision, $3::timestamp with time zone, $4, $1::text")
            .unwrap();
    assert_eq!(
        s.cast_types,
        vec![
            Some(DataType::Int4),
            Some(DataType::Float8),
            Some(DataType::TimestampTz),
            None
        ]
    );
    assert_eq!(s.max_param, 4);
}

#[test]
fn statement_shape() {
    let s = scan("  insert into t values ($1) returning id").unwrap();
    assert_eq!(s.first_word, "insert");
    assert!(s.has_returning);
    assert!(!s.multiple);
    assert!(
        !scan("SELECT 'returning' ; -- done\n")
            .unwrap()
            .has_returning
    );
    assert!(!scan("SELECT 1; ;  /* x */").unwrap().multiple);
    assert!(scan("SELECT 1; SELECT 2").unwrap().multiple);
}

#[test]
fn values_cannot_escape_their_literal() {
    let s = scan("SELECT * FROM t WHERE name = $1 AND id = $2").unwrap();
    let values = [
        BoundValue {
            datum: Datum::Text("x'); DROP TABLE t; --".into()),
            ty: Some(DataType::Text),
        },
        BoundValue {
            datum: Datum::Null,
            ty: Some(DataType::Int4),
        },
    ];
    let (sql, _) = substitute(&s, &values).unwrap();
    assert_eq!(
        sql,
        "SELECT * FROM t WHERE name = ('x''); DROP TABLE t; --'::text) AND id = (NULL::integer)"
    );
    let unknown = [
        BoundValue {
            datum: Datum::Text("a\\'b".into()),
            ty: None,
        },
        BoundValue {
            datum: Datum::Null,
            ty: None,
        },
    ];
    assert_eq!(
        substitute(&s, &unknown).unwrap().0,
        "SELECT * FROM t WHERE name = 'a\\''b' AND id = NULL"
    );
}

#[test]
fn positions_map_back_to_the_client_text() {
    let s = scan("SELECT $1, é, bad").unwrap();
    let (sql, map) = substitute(
        &s,
        &[BoundValue {
            datum: Datum::Int(12345),
            ty: Some(DataType::Int8),
        }],
    )
    .unwrap();
    let new_pos = |needle: &str| sql[..sql.find(needle).unwrap()].chars().count() as u32 + 1;
    let orig_pos = |needle: &str| s.text[..s.text.find(needle).unwrap()].chars().count() as u32 + 1;
    assert_eq!(map.map(new_pos("bad")), orig_pos("bad"));
    assert_eq!(map.map(new_pos("é")), orig_pos("é"));
    assert_eq!(map.map(new_pos("12345")), orig_pos("$1"));
    assert_eq!(map.map(1), 1);
}

#[test]
fn oids_map_to_types() {
    assert_eq!(type_for_oid(0).unwrap(), None);
    assert_eq!(type_for_oid(23).unwrap(), Some(DataType::Int4));
    assert_eq!(type_for_oid(1184).unwrap(), Some(DataType::TimestampTz));
    assert!(matches!(
        type_for_oid(2950),
        Err(PgError::UnsupportedType(2950))
    ));
}
