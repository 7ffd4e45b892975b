//! The engine API the wire server builds on: typed parameters, describe without running,
//! partial results of a failing script, command tags of DML with RETURNING.

use std::sync::Arc;

use ferrisdb_sql::{DataType, Datum, Described, Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

fn session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    let mut s = engine.session();
    s.execute("CREATE TABLE t (id int PRIMARY KEY, name text, score bigint)")
        .unwrap();
    (dir, s)
}

fn rows(r: &StatementResult) -> Vec<Vec<Datum>> {
    match r {
        StatementResult::Query { rows, .. } => rows.clone(),
        other => panic!("expected rows, got {other:?}"),
    }
}

#[test]
fn parameters_bind_as_typed_values_never_as_text() {
    let (_d, mut s) = session();
    let evil = "x'); DROP TABLE t; --";
    s.execute_params(
        "INSERT INTO t VALUES ($1, $2, $3)",
        &[
            (Datum::Int(1), DataType::Int4),
            (Datum::Text(evil.into()), DataType::Text),
            (Datum::Int(7), DataType::Int8),
        ],
    )
    .unwrap();
    let r = s
        .execute_params(
            "SELECT name, score + $2 FROM t WHERE id = $1",
            &[
                (Datum::Int(1), DataType::Int4),
                (Datum::Int(1), DataType::Int8),
            ],
        )
        .unwrap();
    assert_eq!(
        rows(&r[0]),
        vec![vec![Datum::Text(evil.into()), Datum::Int(8)]]
    );
    // An untyped value is typed by its context, like a quoted literal.
    let r = s
        .execute_params(
            "SELECT id FROM t WHERE id = $1",
            &[(Datum::Text("1".into()), DataType::Unknown)],
        )
        .unwrap();
    assert_eq!(rows(&r[0]), vec![vec![Datum::Int(1)]]);
    let e = s
        .execute_params("SELECT $2", &[(Datum::Int(1), DataType::Int4)])
        .unwrap_err();
    assert_eq!(
        (e.sqlstate(), e.to_string().as_str()),
        ("42P02", "there is no parameter $2")
    );
}

#[test]
fn describe_infers_parameter_types_from_context() {
    let (_d, mut s) = session();
    let d = s.describe("SELECT name FROM t WHERE id = $1", &[]).unwrap();
    assert_eq!(d.param_types, vec![DataType::Int4]);
    let cols = d.columns.unwrap();
    assert_eq!(
        (cols[0].name.as_str(), cols[0].data_type),
        ("name", DataType::Text)
    );
    let d = s
        .describe("INSERT INTO t VALUES ($1, $2, $3)", &[])
        .unwrap();
    assert_eq!(
        d,
        Described {
            param_types: vec![DataType::Int4, DataType::Text, DataType::Int8],
            columns: None,
        }
    );
    let d = s
        .describe(
            "UPDATE t SET score = $2 WHERE id = $1 RETURNING id, $3",
            &[],
        )
        .unwrap();
    assert_eq!(
        d.param_types,
        vec![DataType::Int4, DataType::Int8, DataType::Text]
    );
    assert_eq!(d.columns.unwrap().len(), 2);
    // Undeclared and unused in any typed context: text. Declared: as declared.
    assert_eq!(
        s.describe("SELECT $1", &[]).unwrap().param_types,
        vec![DataType::Text]
    );
    let d = s.describe("SELECT $1", &[Some(DataType::Int8)]).unwrap();
    assert_eq!(d.columns.unwrap()[0].data_type, DataType::Int8);
    assert_eq!(
        s.describe("CREATE TABLE u (a int)", &[]).unwrap().columns,
        None
    );
}

#[test]
fn describe_runs_nothing() {
    let (_d, mut s) = session();
    s.execute("INSERT INTO t VALUES (1, 'a', 1)").unwrap();
    let d = s
        .describe("DELETE FROM t WHERE id = $1 RETURNING *", &[])
        .unwrap();
    assert_eq!(d.columns.unwrap().len(), 3);
    s.describe("CREATE TABLE u (a int)", &[]).unwrap();
    s.describe("INSERT INTO t VALUES (2, 'b', 2)", &[]).unwrap();
    let r = s.execute("SELECT count(*) FROM t").unwrap();
    assert_eq!(rows(&r[0]), vec![vec![Datum::Int(1)]]);
    assert_eq!(
        s.execute("SELECT * FROM u").unwrap_err().sqlstate(),
        "42P01"
    );
    assert_eq!(
        s.describe("SELECT * FROM nope", &[])
            .unwrap_err()
            .sqlstate(),
        "42P01"
    );
}

#[test]
fn execute_all_returns_what_completed_before_the_error() {
    let (_d, mut s) = session();
    let (done, err) = s.execute_all(
        "INSERT INTO t VALUES (1, 'a', 1); SELECT 1/0; INSERT INTO t VALUES (2, 'b', 2)",
    );
    assert_eq!(done, vec![StatementResult::command("INSERT 0 1")]);
    assert_eq!(err.unwrap().sqlstate(), "22012");
    let r = s.execute("SELECT id FROM t").unwrap();
    assert_eq!(rows(&r[0]), vec![vec![Datum::Int(1)]]);
}

#[test]
fn dml_with_returning_keeps_its_command_tag() {
    let (_d, mut s) = session();
    let r = s
        .execute("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2) RETURNING id")
        .unwrap();
    assert_eq!(r[0].tag(), "INSERT 0 2");
    assert_eq!(rows(&r[0]).len(), 2);
    let r = s.execute("UPDATE t SET score = 0 RETURNING id").unwrap();
    assert_eq!(r[0].tag(), "UPDATE 2");
    let r = s
        .execute("DELETE FROM t WHERE id = 1 RETURNING name")
        .unwrap();
    assert_eq!(r[0].tag(), "DELETE 1");
    let r = s.execute("SELECT * FROM t").unwrap();
    assert_eq!(r[0].tag(), "SELECT 1");
}

fn one_value(s: &mut Session, sql: &str) -> Datum {
    let r = s.execute(sql).unwrap_or_else(|e| panic!("{e}"));
    rows(&r[0])[0][0].clone()
}

#[test]
fn deep_expressions_run_where_postgres_runs_them_and_fail_with_54001_beyond() {
    let (_d, mut s) = session();
    s.execute("INSERT INTO t VALUES (1, 'a', 1)").unwrap();
    let sum = vec!["1"; 4990].join("+");
    assert_eq!(
        one_value(&mut s, &format!("SELECT {sum}")),
        Datum::Int(4990)
    );
    let parens = format!("SELECT {}1{}", "(".repeat(4990), ")".repeat(4990));
    assert_eq!(one_value(&mut s, &parens), Datum::Int(1));
    let conj = vec!["id = 1"; 2490].join(" AND ");
    let sql = format!("SELECT count(*) FROM t WHERE {conj} OR NOT ({conj})");
    assert_eq!(one_value(&mut s, &sql), Datum::Int(1));
    let nots = format!("SELECT {} true", "NOT ".repeat(2000));
    assert_eq!(one_value(&mut s, &nots), Datum::Bool(true));
    for sql in [
        format!("SELECT {}", vec!["1"; 20000].join("+")),
        format!("SELECT {}1{}", "(".repeat(20000), ")".repeat(20000)),
    ] {
        let e = s.execute(&sql).unwrap_err();
        assert_eq!(
            (e.sqlstate(), e.to_string().as_str()),
            ("54001", "stack depth limit exceeded")
        );
    }
    assert_eq!(one_value(&mut s, "SELECT 1"), Datum::Int(1));
}

#[test]
fn move_repositions_a_cursor_and_reports_the_rows_it_passed() {
    let (_d, mut s) = session();
    s.execute("INSERT INTO t SELECT g, 'n', g FROM generate_series(1, 5) g")
        .unwrap();
    s.execute("BEGIN").unwrap();
    s.execute("DECLARE c SCROLL CURSOR FOR SELECT id FROM t ORDER BY id")
        .unwrap();
    let tag = |s: &mut Session, sql: &str| s.execute(sql).unwrap().pop().unwrap().tag();
    assert_eq!(tag(&mut s, "MOVE 3 IN c"), "MOVE 3");
    assert_eq!(tag(&mut s, "MOVE FORWARD ALL FROM c"), "MOVE 2");
    assert_eq!(tag(&mut s, "MOVE c"), "MOVE 0");
    assert_eq!(tag(&mut s, "MOVE ABSOLUTE 2 c"), "MOVE 1");
    let r = s.execute("FETCH NEXT FROM c").unwrap();
    assert_eq!(rows(&r[0]), vec![vec![Datum::Int(3)]]);
    // Describe: MOVE returns no rows (NoData), FETCH the cursor's columns.
    let d = s.describe("MOVE PRIOR IN c", &[]).unwrap();
    assert!(d.columns.is_none(), "{d:?}");
    let d = s.describe("FETCH PRIOR FROM c", &[]).unwrap();
    assert_eq!(d.columns.map(|c| c.len()), Some(1));
    let e = s.execute("MOVE NEXT FROM missing").unwrap_err();
    assert_eq!(e.sqlstate(), "34000");
}

/// A transaction block that sits idle past the 5 s MVCC window still commits when what it
/// read is unchanged: pgbench -i's `BEGIN; TRUNCATE; COPY ...; COMMIT` (a minute at scale
/// 40, the COPY writing beside the block) and any interactive block failed at COMMIT with
/// 40001 "transaction too old".
#[test]
fn an_idle_block_with_a_truncate_commits_after_the_mvcc_window() {
    let (_d, mut s) = session();
    s.execute("CREATE TABLE serials (id serial PRIMARY KEY, v int)")
        .unwrap();
    s.execute("INSERT INTO t VALUES (1, 'a', 1); INSERT INTO serials (v) VALUES (1)")
        .unwrap();
    s.execute("BEGIN; TRUNCATE t, serials; INSERT INTO t VALUES (2, 'b', 2)")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    s.execute("INSERT INTO t VALUES (3, 'c', 3)").unwrap();
    let r = s.execute("COMMIT").unwrap();
    assert_eq!(r[0], StatementResult::command("COMMIT"));
    let r = s.execute("SELECT id FROM t ORDER BY id").unwrap();
    assert_eq!(rows(&r[0]), vec![vec![Datum::Int(2)], vec![Datum::Int(3)]]);
    let r = s
        .execute("SELECT pg_get_serial_sequence('serials', 'id')")
        .unwrap();
    assert_eq!(
        rows(&r[0]),
        vec![vec![Datum::Text("public.serials_id_seq".into())]]
    );
}
