//! SET / SHOW / RESET through a session, with PostgreSQL 15's results and transactional
//! behaviour.

use std::sync::Arc;
use std::time::Duration;

use ferrisdb_sql::{Datum, Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

fn session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    (dir, engine.session())
}

/// The single text value of the last statement in `sql`, and its column name.
fn show(s: &mut Session, sql: &str) -> (String, String) {
    let r = s.execute(sql).unwrap();
    match r.last() {
        Some(StatementResult::Query { columns, rows, .. }) => {
            let v = match &rows[0][0] {
                Datum::Text(t) => t.clone(),
                other => panic!("expected text, got {other:?}"),
            };
            (columns[0].name.clone(), v)
        }
        other => panic!("expected rows, got {other:?}"),
    }
}

fn value(s: &mut Session, sql: &str) -> String {
    show(s, sql).1
}

#[test]
fn show_names_the_column_after_the_parameter() {
    let (_d, mut s) = session();
    assert_eq!(
        show(&mut s, "SHOW timezone"),
        ("TimeZone".into(), "UTC".into())
    );
    assert_eq!(
        show(&mut s, "SHOW TIME ZONE"),
        ("TimeZone".into(), "UTC".into())
    );
    assert_eq!(
        show(&mut s, "SHOW datestyle"),
        ("DateStyle".into(), "ISO, MDY".into())
    );
    assert_eq!(value(&mut s, "SHOW server_version"), "15.0");
    assert_eq!(value(&mut s, "SHOW server_version_num"), "150000");
    assert_eq!(value(&mut s, "SHOW search_path"), "\"$user\", public");
    assert_eq!(value(&mut s, "SHOW standard_conforming_strings"), "on");
    let r = s.execute("SHOW ALL").unwrap();
    let StatementResult::Query { columns, rows, tag } = &r[0] else {
        panic!("SHOW ALL returns rows")
    };
    assert_eq!(columns.len(), 3);
    assert_eq!(tag.as_deref(), Some("SHOW"));
    assert!(rows.iter().any(|r| r[0] == Datum::Text("DateStyle".into())));
}

#[test]
fn set_normalizes_values_like_postgres() {
    let (_d, mut s) = session();
    s.execute("SET statement_timeout = '5s'").unwrap();
    assert_eq!(value(&mut s, "SHOW statement_timeout"), "5s");
    assert_eq!(s.statement_timeout(), Some(Duration::from_secs(5)));
    s.execute("SET statement_timeout TO 1500").unwrap();
    assert_eq!(value(&mut s, "SHOW statement_timeout"), "1500ms");
    s.execute("SET search_path = a, \"b c\", public").unwrap();
    assert_eq!(value(&mut s, "SHOW search_path"), "a, \"b c\", public");
    s.execute("SET DATESTYLE TO 'ISO'").unwrap();
    assert_eq!(value(&mut s, "SHOW DateStyle"), "ISO, MDY");
    s.execute("SET TIME ZONE 'utc'").unwrap();
    assert_eq!(value(&mut s, "SHOW timezone"), "UTC");
    s.execute("SET client_min_messages = WARNING").unwrap();
    assert_eq!(value(&mut s, "SHOW client_min_messages"), "warning");
    s.execute("SET extra_float_digits = 3").unwrap();
    assert_eq!(value(&mut s, "SHOW extra_float_digits"), "3");
    s.execute("SET ferrisdb.x = 'y'").unwrap();
    assert_eq!(value(&mut s, "SHOW ferrisdb.x"), "y");
    s.execute("RESET statement_timeout").unwrap();
    assert_eq!(s.statement_timeout(), None);
    s.execute("RESET ALL").unwrap();
    assert_eq!(value(&mut s, "SHOW search_path"), "\"$user\", public");
}

#[test]
fn set_errors_carry_postgres_codes() {
    let (_d, mut s) = session();
    let code = |s: &mut Session, sql: &str| s.execute(sql).unwrap_err().sqlstate();
    assert_eq!(code(&mut s, "SET foo = 1"), "42704");
    assert_eq!(code(&mut s, "SHOW foo"), "42704");
    assert_eq!(code(&mut s, "SHOW ferrisdb.unset"), "42704");
    assert_eq!(code(&mut s, "SET server_version = '1'"), "55P02");
    assert_eq!(code(&mut s, "SET client_encoding = 'bogus'"), "22023");
    assert_eq!(code(&mut s, "SET client_encoding = 'LATIN1'"), "0A000");
    assert_eq!(code(&mut s, "SET TimeZone = 'Europe/Paris'"), "0A000");
    assert_eq!(code(&mut s, "SET statement_timeout = 'abc'"), "22023");
    assert_eq!(
        s.execute("SET foo = 1").unwrap_err().to_string(),
        "unrecognized configuration parameter \"foo\""
    );
}

#[test]
fn set_follows_the_transaction_block() {
    let (_d, mut s) = session();
    s.execute("SET application_name = 'a'").unwrap();
    s.execute("BEGIN; SET application_name = 'b'; ROLLBACK")
        .unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "a");
    s.execute("BEGIN; SET application_name = 'c'; COMMIT")
        .unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "c");
    s.execute("BEGIN; SET LOCAL application_name = 'loc'")
        .unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "loc");
    s.execute("COMMIT").unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "c");
    s.execute("SET LOCAL application_name = 'outside'").unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "c");
    s.execute("BEGIN; SAVEPOINT p; SET application_name = 'd'; ROLLBACK TO p")
        .unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "c");
    s.execute("COMMIT").unwrap();
    s.execute("BEGIN").unwrap();
    assert_eq!(s.execute("SELECT 1/0").unwrap_err().sqlstate(), "22012");
    assert_eq!(
        s.execute("SET application_name = 'z'")
            .unwrap_err()
            .sqlstate(),
        "25P02"
    );
    assert_eq!(
        s.execute("SHOW application_name").unwrap_err().sqlstate(),
        "25P02"
    );
    s.execute("ROLLBACK").unwrap();
    assert_eq!(value(&mut s, "SHOW application_name"), "c");
}

#[test]
fn isolation_level_is_stored_as_asked() {
    let (_d, mut s) = session();
    assert_eq!(value(&mut s, "SHOW transaction_isolation"), "serializable");
    s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    assert_eq!(
        value(&mut s, "SHOW TRANSACTION ISOLATION LEVEL"),
        "repeatable read"
    );
    s.execute("COMMIT").unwrap();
    s.execute("BEGIN; SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .unwrap();
    assert_eq!(
        value(&mut s, "SHOW transaction_isolation"),
        "read committed"
    );
    s.execute("COMMIT").unwrap();
    s.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .unwrap();
    assert_eq!(
        value(&mut s, "SHOW default_transaction_isolation"),
        "read committed"
    );
}

#[test]
fn startup_parameters_set_like_set() {
    let (_d, mut s) = session();
    assert_eq!(s.set_parameter("application_name", "psql").unwrap(), "psql");
    assert_eq!(s.set_parameter("DateStyle", "ISO").unwrap(), "ISO, MDY");
    assert_eq!(s.setting("datestyle").unwrap(), "ISO, MDY");
    assert_eq!(value(&mut s, "SHOW application_name"), "psql");
    assert_eq!(
        s.set_parameter("TimeZone", "Europe/Berlin")
            .unwrap_err()
            .sqlstate(),
        "0A000"
    );
}

#[test]
fn describe_reports_show_columns() {
    let (_d, mut s) = session();
    let d = s.describe("SHOW search_path", &[]).unwrap();
    let cols = d.columns.unwrap();
    assert_eq!(cols[0].name, "search_path");
}

/// `pg_prepared_statements` lists what the wire server reported prepared, per session,
/// until it is closed; the types are those the client declared.
#[test]
fn pg_prepared_statements_lists_the_sessions_named_statements() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    let mut s = engine.session();
    let list = |s: &mut Session| -> Vec<Vec<String>> {
        match s
            .execute(
                "SELECT name, statement, parameter_types[1], \
                 array_length(parameter_types, 1)::text, from_sql::text \
                 FROM pg_prepared_statements ORDER BY name",
            )
            .unwrap()
            .pop()
        {
            Some(StatementResult::Query { rows, .. }) => rows
                .into_iter()
                .map(|r| {
                    r.iter()
                        .map(|d| d.to_text(&ferrisdb_sql::DataType::Text).unwrap_or_default())
                        .collect()
                })
                .collect(),
            other => panic!("expected rows, got {other:?}"),
        }
    };
    assert!(list(&mut s).is_empty());
    s.note_prepared(
        "s1",
        "SELECT $1 + 1",
        vec![Some(ferrisdb_sql::DataType::Int4)],
    );
    s.note_prepared("s2", "SELECT 1", vec![]);
    assert_eq!(
        list(&mut s),
        vec![
            vec![
                "s1".to_string(),
                "SELECT $1 + 1".into(),
                "integer".into(),
                "1".into(),
                "false".into()
            ],
            vec![
                "s2".to_string(),
                "SELECT 1".into(),
                String::new(),
                String::new(),
                "false".into()
            ],
        ]
    );
    s.note_closed("s1");
    assert_eq!(list(&mut s).len(), 1);
    // Another session sees none of them.
    let mut other = engine.session();
    assert!(list(&mut other).is_empty());
}
