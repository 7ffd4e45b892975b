//! Generic plans of prepared queries (`ferrisdb_sql::plan_cache`): reused with new values,
//! replanned after a schema change, never kept when binding needed a value, and
//! still conflicting with a DDL change committed while their transaction ran.

mod common;

use ferrisdb_sql::{DataType, Datum, Engine, StatementResult};

fn engine() -> (tempfile::TempDir, Engine) {
    let (dir, engine) = common::engine();
    let mut s = engine.session();
    s.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        .unwrap();
    s.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        .unwrap();
    (dir, engine)
}

fn rows(r: Vec<StatementResult>) -> Vec<Vec<Datum>> {
    match r.into_iter().last() {
        Some(StatementResult::Query { rows, .. }) => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

fn int(i: i64) -> (Datum, DataType) {
    (Datum::Int(i), DataType::Int4)
}

fn text(s: &str) -> Vec<Datum> {
    vec![Datum::Text(s.into())]
}

const BY_ID: &str = "SELECT name FROM t WHERE id = $1";

#[test]
fn a_prepared_query_keeps_one_generic_plan_and_runs_it_with_new_values() {
    let (_d, e) = engine();
    let mut s = e.session();
    for (id, name) in [(1, "one"), (3, "three"), (2, "two"), (1, "one")] {
        assert_eq!(
            rows(s.execute_params(BY_ID, &[int(id)]).unwrap()),
            vec![text(name)]
        );
    }
    assert!(rows(s.execute_params(BY_ID, &[int(9)]).unwrap()).is_empty());
    assert_eq!(s.generic_plans(), 1);
    // Untyped values (a client that sent no types) get a plan of their own and are typed
    // by their context when the plan runs, as a quoted literal would be.
    let untyped = |v: &str| (Datum::Text(v.into()), DataType::Unknown);
    assert_eq!(
        rows(s.execute_params(BY_ID, &[untyped("2")]).unwrap()),
        vec![text("two")]
    );
    assert_eq!(
        rows(s.execute_params(BY_ID, &[untyped("3")]).unwrap()),
        vec![text("three")]
    );
    assert_eq!(s.generic_plans(), 2);
    let bad = s.execute_params(BY_ID, &[untyped("x")]).unwrap_err();
    assert_eq!(bad.sqlstate(), "22P02");
}

#[test]
fn a_schema_change_by_another_session_replans() {
    let (_d, e) = engine();
    let (mut s, mut ddl) = (e.session(), e.session());
    let star = "SELECT * FROM t WHERE id = $1";
    assert_eq!(
        rows(s.execute_params(star, &[int(1)]).unwrap()),
        vec![vec![Datum::Int(1), Datum::Text("one".into())]]
    );
    ddl.execute("ALTER TABLE t ADD COLUMN score int DEFAULT 7")
        .unwrap();
    assert_eq!(
        rows(s.execute_params(star, &[int(1)]).unwrap()),
        vec![vec![
            Datum::Int(1),
            Datum::Text("one".into()),
            Datum::Int(7)
        ]]
    );
    ddl.execute("DROP TABLE t").unwrap();
    let gone = s.execute_params(star, &[int(1)]).unwrap_err();
    assert_eq!(gone.sqlstate(), "42P01");
    ddl.execute("CREATE TABLE t (id int PRIMARY KEY, flag bool)")
        .unwrap();
    ddl.execute("INSERT INTO t VALUES (1, true)").unwrap();
    assert_eq!(
        rows(s.execute_params(star, &[int(1)]).unwrap()),
        vec![vec![Datum::Int(1), Datum::Bool(true)]]
    );
}

#[test]
fn values_needed_while_binding_are_never_cached() {
    let (_d, e) = engine();
    let mut s = e.session();
    let limited = "SELECT id FROM t ORDER BY id LIMIT $1";
    assert_eq!(rows(s.execute_params(limited, &[int(1)]).unwrap()).len(), 1);
    assert_eq!(rows(s.execute_params(limited, &[int(3)]).unwrap()).len(), 3);
    assert_eq!(s.generic_plans(), 0);
    // now() is the statement's time, folded by the optimizer: never cached.
    let when = "SELECT now(), $1::int";
    let first = rows(s.execute_params(when, &[int(1)]).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(5));
    let second = rows(s.execute_params(when, &[int(2)]).unwrap());
    assert_ne!(first[0][0], second[0][0]);
    assert_eq!(second[0][1], Datum::Int(2));
    assert_eq!(s.generic_plans(), 0);
}

/// The cached plan's descriptor read still conflicts: a block that used it while another
/// session changed the table cannot commit.
#[test]
fn a_cached_plan_conflicts_with_a_concurrent_schema_change() {
    let (_d, e) = engine();
    let (mut s, mut ddl) = (e.session(), e.session());
    s.execute("CREATE TABLE log (n int)").unwrap();
    s.execute_params(BY_ID, &[int(1)]).unwrap();
    assert_eq!(s.generic_plans(), 1);
    s.execute("BEGIN").unwrap();
    assert_eq!(
        rows(s.execute_params(BY_ID, &[int(2)]).unwrap()),
        vec![text("two")]
    );
    s.execute("INSERT INTO log VALUES (1)").unwrap();
    ddl.execute("CREATE INDEX t_name ON t (name)").unwrap();
    let e = s.execute("COMMIT").unwrap_err();
    assert_eq!(e.sqlstate(), "40001", "{e}");
}

/// Describe answers from a current generic plan (libpq describes every portal), and binds
/// again once a schema change made the plan stale.
#[test]
fn describe_uses_a_current_generic_plan_and_not_a_stale_one() {
    let (_d, e) = engine();
    let mut s = e.session();
    let star = "SELECT * FROM t WHERE id = $1";
    let names = |s: &mut ferrisdb_sql::Session| -> Vec<String> {
        let d = s.describe(star, &[Some(DataType::Int4)]).unwrap();
        d.columns.unwrap().into_iter().map(|c| c.name).collect()
    };
    assert_eq!(names(&mut s), ["id", "name"]);
    s.execute_params(star, &[int(1)]).unwrap();
    assert_eq!(s.generic_plans(), 1);
    assert_eq!(names(&mut s), ["id", "name"]);
    // Another session changes the table: the cached plan's columns are stale.
    e.session()
        .execute("ALTER TABLE t ADD COLUMN extra int")
        .unwrap();
    assert_eq!(names(&mut s), ["id", "name", "extra"]);
    let r = rows(s.execute_params(star, &[int(2)]).unwrap());
    assert_eq!(
        r,
        [vec![Datum::Int(2), Datum::Text("two".into()), Datum::Null]]
    );
    assert_eq!(names(&mut s), ["id", "name", "extra"]);
}
