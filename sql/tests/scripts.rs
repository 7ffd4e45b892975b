//! Statement/result scripts against an embedded cluster, each scenario named after what it
//! proves. Script format, one record per blank-line-separated block:
//!
//! ```text
//!   ok [TAG]          then SQL: must succeed (with that command tag, if given)
//!   error SQLSTATE    then SQL: must fail with that code
//!   query             then SQL, `----`, expected rows (values joined by `|`, NULL as NULL)
//! ```

mod common;

use common::*;

use std::sync::Arc;

use ferrisdb_sql::Engine;
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

#[test]
fn inserted_rows_are_read_back_in_key_order() {
    script(
        "ok CREATE TABLE
CREATE TABLE t(a INT PRIMARY KEY, b TEXT)

ok INSERT 0 3
INSERT INTO t VALUES (2, 'b'), (1, 'a'), (3, NULL)

query
SELECT a, b FROM t
----
1|a
2|b
3|NULL",
    );
}

#[test]
fn tables_without_primary_key_get_hidden_row_ids() {
    script(
        "ok
CREATE TABLE t1(a INTEGER, b INTEGER)

ok INSERT 0 1
INSERT INTO t1(b,a) VALUES(2,1)

ok INSERT 0 1
INSERT INTO t1(a,b) VALUES(1,2)

query
SELECT a, b, a+b FROM t1
----
1|2|3
1|2|3",
    );
}

#[test]
fn constraint_violations_carry_postgres_codes_and_names() {
    script(
        "ok
CREATE TABLE t(a INT PRIMARY KEY, b INT NOT NULL, c INT UNIQUE CHECK (c > 0))

ok INSERT 0 1
INSERT INTO t VALUES (1, 1, 1)

error 23505
INSERT INTO t VALUES (1, 2, 2)

error 23505
INSERT INTO t VALUES (2, 2, 1)

error 23502
INSERT INTO t (a, c) VALUES (3, 3)

error 23514
INSERT INTO t VALUES (4, 4, -4)

ok INSERT 0 0
INSERT INTO t VALUES (1, 9, 9) ON CONFLICT DO NOTHING

query
INSERT INTO t VALUES (1, 5, 5) ON CONFLICT (a) DO UPDATE SET b = excluded.b + t.b RETURNING a, b, c
----
1|6|1",
    );
}

#[test]
fn name_resolution_errors_match_postgres() {
    script(
        "ok
CREATE TABLE t(a INT, b INT)

ok
CREATE TABLE u(a INT, c INT)

error 42P01
SELECT * FROM nope

error 42703
SELECT x FROM t

error 42702
SELECT a FROM t, u

error 42803
SELECT a, count(*) FROM t

error 42804
SELECT * FROM t WHERE a

error 42601
SELEC 1

error 42P07
CREATE TABLE t(z INT)",
    );
}

#[test]
fn transaction_blocks_see_their_writes_and_roll_back() {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(
        &mut s,
        "ok BEGIN
BEGIN

ok
CREATE TABLE t(a INT PRIMARY KEY)

ok INSERT 0 2
INSERT INTO t VALUES (1), (2)

query
SELECT count(*) FROM t
----
2

error 22012
SELECT 1/0",
    );
    assert_eq!(s.transaction_status(), ferrisdb_sql::TxnStatus::Failed);
    run_script(
        &mut s,
        "error 25P02
SELECT 1

ok ROLLBACK
ROLLBACK

error 42P01
SELECT * FROM t",
    );
    assert_eq!(s.transaction_status(), ferrisdb_sql::TxnStatus::Idle);
}

#[test]
fn committed_transaction_is_visible_to_other_sessions() {
    let (_dir, e) = engine();
    let mut a = e.session();
    let mut b = e.session();
    run_script(
        &mut a,
        "ok\nBEGIN\n\nok\nCREATE TABLE t(a INT)\n\nok\nINSERT INTO t VALUES (7)",
    );
    run_script(&mut b, "error 42P01\nSELECT * FROM t");
    run_script(&mut a, "ok COMMIT\nCOMMIT");
    run_script(&mut b, "query\nSELECT a FROM t\n----\n7");
}

#[test]
fn update_delete_and_returning_report_counts() {
    script(
        "ok
CREATE TABLE t(a INT PRIMARY KEY, b TEXT DEFAULT 'none')

ok INSERT 0 3
INSERT INTO t (a) VALUES (1), (2), (3)

ok UPDATE 2
UPDATE t SET b = 'big' WHERE a >= 2

query
UPDATE t SET a = a + 10 WHERE a = 3 RETURNING a, b
----
13|big

ok DELETE 1
DELETE FROM t WHERE b = 'none'

query
SELECT * FROM t ORDER BY a DESC
----
13|big
2|big

ok TRUNCATE TABLE
TRUNCATE t

query
SELECT count(*) FROM t
----
0",
    );
}

#[test]
fn joins_groups_and_set_operations() {
    script(
        "ok
CREATE TABLE t(a INT, b INT)

ok
CREATE TABLE u(a INT, c TEXT)

ok
INSERT INTO t VALUES (1, 10), (2, 20), (2, 30), (NULL, 40)

ok
INSERT INTO u VALUES (1, 'x'), (3, 'z')

query
SELECT t.a, b, c FROM t JOIN u ON t.a = u.a
----
1|10|x

query
SELECT t.a, c FROM t LEFT JOIN u USING (a) ORDER BY b
----
1|x
2|NULL
2|NULL
NULL|NULL

query
SELECT u.a, t.b FROM t RIGHT JOIN u ON t.a = u.a ORDER BY 1
----
1|10
3|NULL

query
SELECT count(*) FROM t FULL JOIN u ON t.a = u.a
----
5

query
SELECT a, sum(b), avg(b), count(DISTINCT b) FROM t GROUP BY a HAVING count(*) > 1
----
2|50|25.0000000000000000|2

query
SELECT a FROM t UNION SELECT a FROM u ORDER BY 1 NULLS FIRST
----
NULL
1
2
3

query
SELECT a FROM t INTERSECT SELECT a FROM u
----
1

query
SELECT a FROM u EXCEPT ALL SELECT a FROM t
----
3

query
WITH big AS (SELECT * FROM t WHERE b > 15) SELECT count(*), max(b) FROM big
----
3|40

query
SELECT x * 2 FROM generate_series(1, 3) AS x LIMIT 2 OFFSET 1
----
4
6

query
SELECT (SELECT c FROM u WHERE u.a = t.a) FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)
----
x

query
SELECT a, b FROM t WHERE a IN (SELECT a FROM u) OR b BETWEEN 25 AND 35 ORDER BY b
----
1|10
2|30

query
SELECT string_agg(c, ',') , bool_or(a > 2) FROM u
----
x,z|t",
    );
}

#[test]
fn indexes_narrow_scans_and_keep_answers() {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(
        &mut s,
        "ok
CREATE TABLE t(a INT PRIMARY KEY, b INT, c TEXT)

ok
INSERT INTO t SELECT x, x % 10, 'v' FROM generate_series(1, 300) AS x

ok CREATE INDEX
CREATE INDEX t_b ON t (b)

query
SELECT count(*) FROM t WHERE b = 3
----
30

query
SELECT a FROM t WHERE a > 297
----
298
299
300

ok UPDATE 30
UPDATE t SET b = 11 WHERE b = 3

query
SELECT count(*) FROM t WHERE b = 3
----
0

error 23505
CREATE UNIQUE INDEX t_bu ON t (b)

ok DROP INDEX
DROP INDEX t_b",
    );
    let plan = render(
        s.execute("EXPLAIN SELECT * FROM t WHERE a = 5")
            .unwrap()
            .pop()
            .unwrap(),
    );
    assert!(
        plan.iter().any(|l| l.contains("index t_pkey: eq [5]")),
        "{plan:?}"
    );
    let plan = render(
        s.execute("EXPLAIN ANALYZE SELECT * FROM t JOIN t AS u ON t.a = u.b")
            .unwrap()
            .pop()
            .unwrap(),
    );
    assert!(
        plan.iter()
            .any(|l| l.contains("HashJoin") && l.contains("rows=")),
        "{plan:?}"
    );
}

#[test]
fn views_and_drop_if_exists() {
    script(
        "ok
CREATE TABLE t(a INT)

ok
INSERT INTO t VALUES (1), (2)

ok CREATE VIEW
CREATE VIEW v AS SELECT a * 10 AS ten FROM t

query
SELECT ten FROM v WHERE ten > 10
----
20

ok DROP VIEW
DROP VIEW v

ok DROP TABLE
DROP TABLE IF EXISTS nope

error 42P01
DROP TABLE nope

ok DROP TABLE
DROP TABLE t

error 42P01
SELECT * FROM t",
    );
}

#[test]
fn sort_beyond_the_memory_limit_is_53200() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let e = Engine::new(Database::from_backend(Arc::new(cluster))).with_memory_limit(10_000);
    let mut s = e.session();
    let err = s
        .execute("SELECT x FROM generate_series(1, 10000) AS x ORDER BY x DESC")
        .unwrap_err();
    assert_eq!(err.sqlstate(), "53200");
    let ok = s
        .execute("SELECT x FROM generate_series(1, 10000) AS x LIMIT 3")
        .unwrap();
    assert_eq!(render(ok.into_iter().next().unwrap()), vec!["1", "2", "3"]);
}
