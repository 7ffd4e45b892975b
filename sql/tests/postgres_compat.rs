//! Scenario scripts for behaviour matched against PostgreSQL 15 (format in `scripts.rs`):
//! constant folding, dependencies between views and tables, ALTER TABLE, savepoints,
//! databases. Every expected result here was checked on a real PostgreSQL.

mod common;

use common::*;

#[test]
fn strict_operators_with_a_null_constant_fold_to_null_without_evaluating() {
    script(
        "ok
CREATE TABLE fz (a INT, b INT)

ok
INSERT INTO fz VALUES (0, 0), (1, 2)

query
SELECT a FROM fz WHERE a / 0 = NULL
----

query
SELECT count(*) FROM fz WHERE NULL IN (a / a, b / b) OR NULL NOT IN (a / a)
----
0

query
SELECT (a / 0)::text || NULL, NULLIF(NULL, a / 0), abs(a / 0) + abs(NULL) FROM fz
----
NULL|NULL|NULL
NULL|NULL|NULL

query
SELECT count(*) FROM fz WHERE NULL::int BETWEEN a / 0 AND 1
----
0

error 22012
SELECT a FROM fz WHERE a / 0 IN (NULL, 1)

error 22012
SELECT coalesce(NULL, a / 0) FROM fz",
    );
}
