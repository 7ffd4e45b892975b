//! Schema changes over tables larger than one KV transaction (10 MB) run as batched
//! jobs (`ferrisdb_sql::backfill`); these tests load ~13 MB and check each statement
//! kind, success and failure, and that the table is usable (and unchanged on failure).

mod common;

use common::{engine, run_script};
use ferrisdb_sql::Session;

/// 60,000 rows of ~220 bytes: more than the transaction limit, in six statements.
/// The plan of `sql`, one string.
fn plan(s: &mut Session, sql: &str) -> String {
    let r = s.execute(&format!("EXPLAIN {sql}")).unwrap();
    common::render(r.into_iter().last().unwrap()).join("\n")
}

fn load(s: &mut Session, table: &str) {
    for chunk in 0..6 {
        let lo = chunk * 10_000 + 1;
        let hi = lo + 9_999;
        s.execute(&format!(
            "INSERT INTO {table} SELECT g, g % 1000, repeat('x', 200) FROM generate_series({lo}, {hi}) g"
        ))
        .unwrap();
    }
}

#[test]
fn create_index_over_a_table_larger_than_a_transaction_builds_in_batches() {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(
        &mut s,
        "ok\nCREATE TABLE big (id INT PRIMARY KEY, grp INT, filler TEXT)",
    );
    load(&mut s, "big");
    run_script(
        &mut s,
        "ok
BEGIN

error 54000
CREATE INDEX big_filler ON big (filler, grp)

ok
ROLLBACK

ok CREATE INDEX
CREATE INDEX big_filler ON big (filler, grp)

query
SELECT count(*) FROM big WHERE filler = repeat('x', 200) AND grp = 7
----
60

error 23505
CREATE UNIQUE INDEX big_filler_u ON big (filler)

ok CREATE INDEX
CREATE UNIQUE INDEX big_filler_id ON big (filler, id)

ok INSERT 0 1
INSERT INTO big VALUES (60001, 7, repeat('x', 200))

error 23505
INSERT INTO big VALUES (60002, 8, 'y'), (60002, 9, 'y')

query
SELECT count(*) FROM big WHERE filler = repeat('x', 200) AND grp = 7
----
61",
    );
    let p = plan(&mut s, "SELECT id FROM big WHERE filler = 'x' AND grp = 7");
    assert!(p.contains("index big_filler"), "{p}");
}

#[test]
fn a_failed_unique_build_leaves_no_index_and_no_entries_behind() {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(
        &mut s,
        "ok\nCREATE TABLE big (id INT PRIMARY KEY, grp INT, filler TEXT)",
    );
    load(&mut s, "big");
    let err = s
        .execute("CREATE UNIQUE INDEX big_u ON big (filler)")
        .unwrap_err();
    assert_eq!(err.sqlstate(), "23505");
    assert_eq!(err.to_string(), "could not create unique index \"big_u\"");
    // The name is free again and writes proceed (the lock is gone).
    run_script(
        &mut s,
        "ok INSERT 0 1\nINSERT INTO big VALUES (0, 0, '')\n\nok CREATE INDEX\nCREATE INDEX big_u ON big (filler, grp)\n\nquery\nSELECT count(*) FROM big WHERE filler = '' AND grp = 0\n----\n1",
    );
}

#[test]
fn add_primary_key_re_keys_a_large_table_in_batches() {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(
        &mut s,
        "ok\nCREATE TABLE acct (aid INT, bid INT, filler TEXT)\n\nok\nCREATE INDEX acct_bid ON acct (bid)",
    );
    load(&mut s, "acct");
    run_script(
        &mut s,
        "ok ALTER TABLE
ALTER TABLE acct ADD PRIMARY KEY (aid)

query
SELECT bid FROM acct WHERE aid = 12345
----
345

query
SELECT count(*), sum(aid) FROM acct
----
60000|1800030000

query
SELECT count(*) FROM acct WHERE bid = 345
----
60

error 23505
INSERT INTO acct VALUES (1, 1, '')

error 23502
INSERT INTO acct VALUES (NULL, 1, '')",
    );
    let p = plan(&mut s, "SELECT bid FROM acct WHERE aid = 12345");
    assert!(p.contains("index acct_pkey: eq [12345]"), "{p}");
}

#[test]
fn add_primary_key_over_duplicates_fails_and_leaves_the_table_as_it_was() {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(
        &mut s,
        "ok\nCREATE TABLE acct (aid INT, bid INT, filler TEXT)",
    );
    load(&mut s, "acct");
    let err = s
        .execute("ALTER TABLE acct ADD PRIMARY KEY (bid)")
        .unwrap_err();
    assert_eq!(err.sqlstate(), "23505", "{err}");
    run_script(
        &mut s,
        "query\nSELECT count(*), count(DISTINCT aid) FROM acct\n----\n60000|60000\n\nok INSERT 0 1\nINSERT INTO acct VALUES (1, 1, 'again')\n\nquery\nSELECT count(*) FROM acct WHERE aid = 1\n----\n2",
    );
}
