//! Sequences under concurrency and restarts: values are never handed out twice, not by
//! concurrent sessions, not by two engines on one database (two SQL processes), not after
//! a reopen; `nextval` runs once per row and is never folded into a constant.

use std::collections::HashSet;
use std::sync::Arc;

use ferrisdb_sql::{DataType, Datum, Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

fn engine(dir: &std::path::Path) -> Engine {
    let cluster = EmbeddedCluster::open(dir, EmbeddedOptions::default()).unwrap();
    Engine::new(Database::from_backend(Arc::new(cluster)))
}

fn ints(s: &mut Session, sql: &str) -> Vec<i64> {
    match s.execute(sql).unwrap().pop().unwrap() {
        StatementResult::Query { rows, .. } => rows
            .into_iter()
            .map(|r| match r[0] {
                Datum::Int(i) => i,
                ref other => panic!("expected an integer, got {other:?}"),
            })
            .collect(),
        other => panic!("expected rows, got {other:?}"),
    }
}

/// A session on each of two engines sharing one database (two SQL processes).
fn two_engines(dir: &std::path::Path) -> (Session, Session) {
    let cluster = EmbeddedCluster::open(dir, EmbeddedOptions::default()).unwrap();
    let db = Database::from_backend(Arc::new(cluster));
    let (a, b) = (Engine::new(db.clone()), Engine::new(db));
    (a.session(), b.session())
}

#[test]
fn concurrent_sessions_never_share_a_value_and_each_sees_its_own_increase() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    engine.session().execute("CREATE SEQUENCE s").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut s = engine.session();
                (0..150)
                    .map(|_| ints(&mut s, "SELECT nextval('s')")[0])
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in threads {
        let mine = t.join().unwrap();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        for v in mine {
            assert!(all.insert(v), "{v} handed out twice");
        }
    }
    assert_eq!(all.len(), 600);
    // Within one process nothing is skipped: the values are exactly 1..=600.
    assert_eq!(all.iter().copied().max(), Some(600));
}

#[test]
fn two_engines_on_one_database_never_share_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sa, mut sb) = two_engines(dir.path());
    sa.execute("CREATE TABLE t (id serial PRIMARY KEY, who text)")
        .unwrap();
    for i in 0..100 {
        let s = if i % 3 == 0 { &mut sb } else { &mut sa };
        s.execute("INSERT INTO t (who) VALUES ('x')").unwrap();
    }
    assert_eq!(ints(&mut sa, "SELECT count(DISTINCT id) FROM t"), vec![100]);
    // setval is seen at once by the engine that ran it (the other finishes its block
    // first: see the module doc of ferrisdb_sql::sequence).
    sa.execute("SELECT setval('t_id_seq', 1000)").unwrap();
    assert_eq!(ints(&mut sa, "SELECT nextval('t_id_seq')"), vec![1001]);
    for _ in 0..40 {
        sb.execute("INSERT INTO t (who) VALUES ('y')").unwrap();
    }
    assert_eq!(ints(&mut sa, "SELECT count(DISTINCT id) FROM t"), vec![140]);
}

#[test]
fn values_are_not_handed_out_again_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let engine = engine(dir.path());
        let mut s = engine.session();
        s.execute("CREATE SEQUENCE s").unwrap();
        ints(&mut s, "SELECT nextval('s') FROM generate_series(1, 5)")
    };
    assert_eq!(before, vec![1, 2, 3, 4, 5]);
    let engine = engine(dir.path());
    let mut s = engine.session();
    let after = ints(&mut s, "SELECT nextval('s')")[0];
    assert!(after > 5, "{after} was handed out before the reopen");
    let e = s.execute("SELECT currval('s'), lastval()");
    assert!(e.is_ok(), "currval after this session's nextval: {e:?}");
}

#[test]
fn nextval_runs_once_per_row_and_is_never_folded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut s = engine.session();
    s.execute("CREATE SEQUENCE s").unwrap();
    assert_eq!(
        ints(&mut s, "SELECT nextval('s') FROM generate_series(1, 3)"),
        vec![1, 2, 3]
    );
    // The same prepared statement, run again and again (generic plans are cached).
    for want in 4..8 {
        let r = s
            .execute_params(
                "SELECT nextval($1::text::regclass)",
                &[(Datum::Text("s".into()), DataType::Text)],
            )
            .unwrap();
        match r.into_iter().next().unwrap() {
            StatementResult::Query { rows, .. } => assert_eq!(rows, vec![vec![Datum::Int(want)]]),
            other => panic!("{other:?}"),
        }
    }
    // A rolled-back transaction's value is gone for good.
    s.execute("BEGIN").unwrap();
    assert_eq!(ints(&mut s, "SELECT nextval('s')"), vec![8]);
    s.execute("ROLLBACK").unwrap();
    assert_eq!(ints(&mut s, "SELECT nextval('s')"), vec![9]);
}

/// TRUNCATE gives the table a new id; the serial column's sequence must follow it (it
/// was left owned by the old id: DROP TABLE then left the sequence behind and DROP
/// SEQUENCE broke the column's default). RESTART IDENTITY restarts it, outside a block
/// only: inside one it is refused (0A000) and fails the block rather than being ignored.
#[test]
fn truncate_keeps_the_serial_sequence_and_restarts_it_only_outside_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut s = engine.session();
    s.execute("CREATE TABLE t (id serial PRIMARY KEY, v text)")
        .unwrap();
    assert_eq!(
        ints(&mut s, "INSERT INTO t (v) VALUES ('a'), ('b') RETURNING id"),
        [1, 2]
    );
    s.execute("TRUNCATE t").unwrap();
    assert_eq!(
        ints(&mut s, "INSERT INTO t (v) VALUES ('c') RETURNING id"),
        [3]
    );
    let e = s.execute("DROP SEQUENCE t_id_seq").unwrap_err();
    assert_eq!(e.sqlstate(), "2BP01", "{e}");

    s.execute("BEGIN").unwrap();
    let e = s.execute("TRUNCATE t RESTART IDENTITY").unwrap_err();
    assert_eq!(e.sqlstate(), "0A000", "{e}");
    assert_eq!(
        s.execute("COMMIT").unwrap()[0],
        StatementResult::command("ROLLBACK")
    );
    assert_eq!(
        ints(&mut s, "SELECT count(*) FROM t"),
        [1],
        "nothing was truncated"
    );

    s.execute("TRUNCATE t RESTART IDENTITY").unwrap();
    // Another session of the same engine holding a block of values also starts over.
    let mut other = engine.session();
    assert_eq!(
        ints(&mut other, "INSERT INTO t (v) VALUES ('d') RETURNING id"),
        [1]
    );
    s.execute("DROP TABLE t").unwrap();
    assert!(ints(
        &mut s,
        "SELECT count(*) FROM pg_class WHERE relname = 't_id_seq'"
    )
    .iter()
    .all(|n| *n == 0));
}

/// ALTER SEQUENCE's definition changes are transactional; RESTART moves the value at once,
/// so it is refused inside a block (as TRUNCATE ... RESTART IDENTITY is).
#[test]
fn alter_sequence_changes_roll_back_and_restart_is_refused_in_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = engine(dir.path()).session();
    s.execute("CREATE SEQUENCE s").unwrap();
    assert_eq!(ints(&mut s, "SELECT nextval('s')"), vec![1]);
    s.execute("BEGIN").unwrap();
    s.execute("ALTER SEQUENCE s INCREMENT BY 100").unwrap();
    assert_eq!(ints(&mut s, "SELECT nextval('s')"), vec![101]);
    s.execute("ROLLBACK").unwrap();
    // The increment is 1 again; 101 was handed out and is never handed out again.
    let next = ints(&mut s, "SELECT nextval('s')")[0];
    let after = ints(&mut s, "SELECT nextval('s')")[0];
    assert_eq!(after, next + 1);
    assert!(next > 101, "{next}");

    s.execute("BEGIN").unwrap();
    let e = s.execute("ALTER SEQUENCE s RESTART WITH 5").unwrap_err();
    assert_eq!(e.sqlstate(), "0A000");
    assert_eq!(s.transaction_status(), ferrisdb_sql::TxnStatus::Failed);
    s.execute("ROLLBACK").unwrap();
    s.execute("ALTER SEQUENCE s RESTART WITH 5").unwrap();
    assert_eq!(ints(&mut s, "SELECT nextval('s')"), vec![5]);

    let e = s.execute("ALTER SEQUENCE s RENAME TO s2").unwrap_err();
    assert_eq!(e.sqlstate(), "0A000");
    s.execute("ALTER SEQUENCE s OWNER TO postgres").unwrap();
    let e = s.execute("ALTER SEQUENCE s OWNER TO alice").unwrap_err();
    assert_eq!(e.sqlstate(), "0A000");
}

/// Two engines on one database: after an ALTER in one, the other drops the block it took
/// under the old definition, and no value is handed out twice.
#[test]
fn an_altered_sequence_is_seen_by_another_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sa, mut sb) = two_engines(dir.path());
    sa.execute("CREATE SEQUENCE s").unwrap();
    let mut seen = HashSet::new();
    for _ in 0..5 {
        assert!(seen.insert(ints(&mut sa, "SELECT nextval('s')")[0]));
        assert!(seen.insert(ints(&mut sb, "SELECT nextval('s')")[0]));
    }
    sa.execute("ALTER SEQUENCE s INCREMENT BY 1000").unwrap();
    let x = ints(&mut sb, "SELECT nextval('s')")[0];
    let y = ints(&mut sb, "SELECT nextval('s')")[0];
    assert_eq!(y - x, 1000, "engine b uses the new increment");
    assert!(seen.insert(x) && seen.insert(y));
    for _ in 0..5 {
        assert!(seen.insert(ints(&mut sa, "SELECT nextval('s')")[0]));
    }
}

/// Read as a relation, a sequence shows the values this server holds (log_cnt) and, to
/// another server, the last value taken from the key (ahead of what was handed out, as
/// PostgreSQL's last_value is with CACHE).
#[test]
fn a_sequence_read_as_a_relation_counts_the_values_its_server_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sa, mut sb) = two_engines(dir.path());
    sa.execute("CREATE SEQUENCE s").unwrap();
    assert_eq!(ints(&mut sa, "SELECT log_cnt FROM s"), vec![0]);
    assert_eq!(ints(&mut sa, "SELECT nextval('s')"), vec![1]);
    assert_eq!(
        ints(
            &mut sa,
            "SELECT last_value FROM s UNION ALL SELECT log_cnt FROM s"
        ),
        vec![1, 31]
    );
    // Server b holds no block: it sees the key, which server a moved 32 ahead.
    assert_eq!(
        ints(
            &mut sb,
            "SELECT last_value FROM s UNION ALL SELECT log_cnt FROM s"
        ),
        vec![32, 0]
    );
    assert_eq!(ints(&mut sb, "SELECT nextval('s')"), vec![33]);
}
