//! COPY through the session API the wire server uses, cancellation, statement_timeout
//! and notices.

mod common;

use std::time::Duration;

use common::{engine, render};
use ferrisdb_sql::{CopyFormat, Session, SqlError, StatementResult};

fn one(s: &mut Session, sql: &str) -> Vec<String> {
    let r = s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.into_iter().last().map(render).unwrap_or_default()
}

fn tag(r: StatementResult) -> String {
    r.tag()
}

/// Starts `copy` and feeds `data` in pieces of `piece` bytes; the result of CopyDone.
fn copy_in(s: &mut Session, copy: &str, data: &[u8], piece: usize) -> Result<String, SqlError> {
    assert!(
        s.execute(copy)?.is_empty(),
        "COPY FROM STDIN returns no result yet"
    );
    assert!(s.copy_in_info().is_some());
    for chunk in data.chunks(piece.max(1)) {
        s.copy_data(chunk)?;
    }
    s.copy_done().map(tag)
}

fn table(s: &mut Session) {
    one(
        s,
        "CREATE TABLE t (a int PRIMARY KEY, b text DEFAULT 'dflt', c numeric(5,2), d date, e varchar(3) NOT NULL CHECK (e <> 'bad'))",
    );
}

#[test]
fn text_copy_casts_fields_fills_defaults_and_reports_copy_n() {
    let (_d, e) = engine();
    let mut s = e.session();
    table(&mut s);
    s.execute("COPY t (a, c, d, e) FROM STDIN").unwrap();
    let info = s.copy_in_info().unwrap();
    assert_eq!((info.columns, info.format), (4, CopyFormat::Text));
    let data = b"1\t1.5\t2024-02-29\tab\n2\t\\N\t\\N\tx\\ty\n3\t-0.005\t2000-01-01\tz  \n";
    for chunk in data.chunks(7) {
        s.copy_data(chunk).unwrap();
    }
    assert_eq!(tag(s.copy_done().unwrap()), "COPY 3");
    assert!(s.copy_in_info().is_none());
    assert_eq!(
        one(&mut s, "SELECT a, b, c, d, e FROM t ORDER BY a"),
        [
            "1|dflt|1.50|2024-02-29|ab",
            "2|dflt|NULL|NULL|x\ty",
            "3|dflt|-0.01|2000-01-01|z  "
        ]
    );
}

#[test]
fn csv_in_and_out_round_trip_with_header_and_quotes() {
    let (_d, e) = engine();
    let mut s = e.session();
    table(&mut s);
    let data = "a,b,c,d,e\n1,\"has, comma\",,2020-01-01,q\n2,\"line\nbreak \"\"q\"\"\",3.25,,\"\"\n3,,1,,n\n";
    let r = copy_in(
        &mut s,
        "COPY t FROM STDIN WITH (FORMAT csv, HEADER)",
        data.as_bytes(),
        5,
    );
    assert_eq!(r.unwrap(), "COPY 3");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t WHERE b IS NULL"), ["1"]);
    let r = s.execute("COPY t TO STDOUT WITH CSV HEADER").unwrap();
    assert_eq!(tag(r.into_iter().next().unwrap()), "COPY 3");
    let outs = s.take_copy_out();
    assert_eq!(outs.len(), 1);
    let (pos, out) = &outs[0];
    assert_eq!((*pos, out.columns, out.rows), (0, 5, 3));
    let text: String = out
        .lines
        .iter()
        .map(|l| String::from_utf8(l.clone()).unwrap())
        .collect();
    assert_eq!(
        text,
        "a,b,c,d,e\n1,\"has, comma\",,2020-01-01,q\n2,\"line\nbreak \"\"q\"\"\",3.25,,\"\"\n3,,1.00,,n\n"
    );
    s.execute("SELECT 1; COPY (SELECT a, b FROM t WHERE a > 1 ORDER BY a) TO STDOUT")
        .unwrap();
    let outs = s.take_copy_out();
    assert_eq!(outs[0].0, 1, "the position of the COPY in the script");
    let lines: Vec<&[u8]> = outs[0].1.lines.iter().map(Vec::as_slice).collect();
    assert_eq!(lines, [&b"2\tline\\nbreak \"q\"\n"[..], b"3\t\\N\n"]);
}

#[test]
fn row_errors_carry_sqlstate_and_copy_context() {
    let (_d, e) = engine();
    let mut s = e.session();
    table(&mut s);
    let cases: [(&[u8], &str, &str, &str); 6] = [
        (
            b"1\tx\t1\t2000-01-01\tok\n2\tx\tabc\t2000-01-01\tok\n",
            "22P02",
            "invalid input syntax for type numeric: \"abc\"",
            "COPY t, line 2, column c: \"abc\"",
        ),
        (
            b"1\tx\n",
            "22P04",
            "missing data for column \"c\"",
            "COPY t, line 1: \"1\tx\"",
        ),
        (
            b"1\tx\t1\t\\N\tok\tmore\n",
            "22P04",
            "extra data after last expected column",
            "COPY t, line 1: \"1\tx\t1\t\\N\tok\tmore\"",
        ),
        (
            b"1\tx\t1\t\\N\tok\n1\ty\t1\t\\N\tok\n",
            "23505",
            "duplicate key value violates unique constraint \"t_pkey\"",
            "COPY t, line 2: \"1\ty\t1\t\\N\tok\"",
        ),
        (
            b"1\tx\t1\t\\N\t\\N\n",
            "23502",
            "null value in column \"e\" of relation \"t\" violates not-null constraint",
            "COPY t, line 1: \"1\tx\t1\t\\N\t\\N\"",
        ),
        (
            b"1\tx\t1\t\\N\ttoolong\n",
            "22001",
            "value too long for type character varying(3)",
            "COPY t, line 1, column e: \"toolong\"",
        ),
    ];
    for (data, code, message, context) in cases {
        let err = copy_in(&mut s, "COPY t FROM STDIN", data, 3).unwrap_err();
        assert_eq!(err.sqlstate(), code, "{err}");
        assert_eq!(err.to_string(), message);
        assert_eq!(err.context(), Some(context));
        assert!(s.copy_in_info().is_none(), "an error ends the COPY");
        assert_eq!(one(&mut s, "SELECT count(*) FROM t"), ["0"]);
    }
}

#[test]
fn copy_fail_and_errors_inside_a_block_fail_the_block() {
    let (_d, e) = engine();
    let mut s = e.session();
    table(&mut s);
    s.execute("COPY t (a, e) FROM STDIN").unwrap();
    s.copy_data(b"1\tx\n").unwrap();
    let err = s.copy_fail("client gave up");
    assert_eq!(err.sqlstate(), "57014");
    assert_eq!(err.to_string(), "COPY from stdin failed: client gave up");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), ["0"]);

    one(&mut s, "BEGIN");
    assert_eq!(
        copy_in(&mut s, "COPY t (a, e) FROM STDIN", b"1\tx\n2\ty\n", 100).unwrap(),
        "COPY 2"
    );
    let err = copy_in(&mut s, "COPY t (a, e) FROM STDIN", b"3\tz\n3\tz\n", 100).unwrap_err();
    assert_eq!(err.sqlstate(), "23505");
    assert_eq!(s.execute("SELECT 1").unwrap_err().sqlstate(), "25P02");
    one(&mut s, "ROLLBACK");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), ["0"]);

    one(&mut s, "BEGIN");
    copy_in(&mut s, "COPY t (a, e) FROM STDIN", b"1\tx\n2\ty", 100).unwrap();
    one(&mut s, "COMMIT");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), ["2"]);
}

#[test]
fn inline_payload_file_targets_and_misplaced_copy() {
    let (_d, e) = engine();
    let mut s = e.session();
    table(&mut s);
    let r = s
        .execute("COPY t (a, e) FROM STDIN;\n1\tx\n2\ty\n\\.\n")
        .unwrap();
    assert_eq!(r.last().map(|r| r.tag()).as_deref(), Some("COPY 2"));
    let code = |s: &mut Session, sql: &str| s.execute(sql).unwrap_err().sqlstate();
    assert_eq!(code(&mut s, "COPY t FROM '/etc/passwd'"), "0A000");
    assert_eq!(code(&mut s, "COPY t TO '/tmp/x'"), "0A000");
    assert_eq!(code(&mut s, "COPY t FROM PROGRAM 'ls'"), "0A000");
    assert_eq!(code(&mut s, "COPY t FROM STDIN; SELECT 1"), "0A000");
    assert!(s.copy_in_info().is_none());
    assert_eq!(code(&mut s, "COPY missing FROM STDIN"), "42P01");
    assert_eq!(code(&mut s, "COPY t (zz) FROM STDIN"), "42703");
    assert_eq!(code(&mut s, "COPY t FROM STDIN (FORMAT binary)"), "0A000");
    one(&mut s, "CREATE VIEW v AS SELECT a FROM t");
    assert_eq!(code(&mut s, "COPY v TO STDOUT"), "42809");
    s.execute("COPY (SELECT a FROM v ORDER BY a) TO STDOUT")
        .unwrap();
    assert_eq!(
        s.take_copy_out()[0].1.lines,
        [b"1\n".to_vec(), b"2\n".to_vec()]
    );
}

#[test]
fn copy_in_rows_takes_decoded_fields() {
    let (_d, e) = engine();
    let mut s = e.session();
    table(&mut s);
    s.execute("COPY t (a, e) FROM STDIN").unwrap();
    s.copy_in_rows(vec![
        vec![Some("1".into()), Some("x".into())],
        vec![Some("2".into()), Some("y".into())],
    ])
    .unwrap();
    assert_eq!(tag(s.copy_done().unwrap()), "COPY 2");
    s.execute("COPY t (a, e) FROM STDIN").unwrap();
    let err = s
        .copy_in_rows(vec![vec![Some("x".into()), None]])
        .unwrap_err();
    assert_eq!(err.sqlstate(), "22P02");
    assert_eq!(err.context(), Some("COPY t, line 1, column a: \"x\""));
}

fn big_input(rows: usize, pad: usize) -> Vec<u8> {
    let filler = "f".repeat(pad);
    let mut data = Vec::new();
    for i in 0..rows {
        data.extend_from_slice(format!("{i}\t{filler}\n").as_bytes());
    }
    data
}

#[test]
fn large_copy_commits_in_batches_outside_a_block_and_is_54000_inside_one() {
    let (_d, e) = engine();
    let mut s = e.session();
    one(&mut s, "CREATE TABLE big (n int, pad text)");
    let data = big_input(200_000, 60);
    assert!(data.len() > 12_000_000);
    let r = copy_in(&mut s, "COPY big FROM STDIN", &data, 64 * 1024);
    assert_eq!(r.unwrap(), "COPY 200000");
    assert_eq!(
        one(&mut s, "SELECT count(*), min(n), max(n) FROM big"),
        ["200000|0|199999"]
    );

    one(&mut s, "CREATE TABLE big2 (n int, pad text)");
    one(&mut s, "BEGIN");
    let err = copy_in(&mut s, "COPY big2 FROM STDIN", &data, 64 * 1024).unwrap_err();
    assert_eq!(err.sqlstate(), "54000", "{err}");
    assert!(
        err.to_string().contains("transaction is too large"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("outside a transaction block"));
    one(&mut s, "ROLLBACK");
    assert_eq!(one(&mut s, "SELECT count(*) FROM big2"), ["0"]);
}

#[test]
fn a_failing_row_after_committed_batches_says_how_many_are_kept() {
    let (_d, e) = engine();
    let mut s = e.session();
    one(&mut s, "CREATE TABLE b (n int)");
    let mut data = Vec::new();
    for i in 0..12_000 {
        data.extend_from_slice(
            if i == 11_000 {
                b"oops\n".to_vec()
            } else {
                format!("{i}\n").into_bytes()
            }
            .as_slice(),
        );
    }
    let err = copy_in(&mut s, "COPY b FROM STDIN", &data, 4096).unwrap_err();
    assert_eq!(err.sqlstate(), "22P02");
    assert_eq!(
        err.context(),
        Some("COPY b, line 11001, column n: \"oops\"")
    );
    assert!(
        err.detail()
            .unwrap()
            .starts_with("10000 rows were already committed"),
        "{:?}",
        err.detail()
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM b"), ["10000"]);
}

const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b, generate_series(1, 3000) c";

#[test]
fn cancel_stops_a_running_statement_and_is_forgotten_when_idle() {
    let (_d, e) = engine();
    let mut s = e.session();
    let h = s.cancel_handle();
    h.cancel();
    assert_eq!(
        one(&mut s, "SELECT 1"),
        ["1"],
        "a cancel while idle does nothing"
    );
    let h = s.cancel_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        h.cancel();
    });
    let err = s.execute(ENDLESS).unwrap_err();
    t.join().unwrap();
    assert_eq!(err, SqlError::QueryCanceled);
    assert_eq!(err.to_string(), "canceling statement due to user request");
    assert_eq!(one(&mut s, "SELECT 2"), ["2"]);
}

#[test]
fn statement_timeout_cancels_a_long_statement() {
    let (_d, e) = engine();
    let e = e.with_statement_timeout(Some(Duration::from_millis(100)));
    let mut s = e.session();
    let err = s.execute(ENDLESS).unwrap_err();
    assert_eq!(err.sqlstate(), "57014");
    assert_eq!(
        err.to_string(),
        "canceling statement due to statement timeout"
    );
    assert_eq!(one(&mut s, "SELECT 1"), ["1"]);
    s.set_statement_timeout(None);
    one(&mut s, "BEGIN");
    s.set_statement_timeout(Some(Duration::from_millis(50)));
    assert_eq!(s.execute(ENDLESS).unwrap_err(), SqlError::StatementTimeout);
    assert_eq!(s.execute("SELECT 1").unwrap_err().sqlstate(), "25P02");
    one(&mut s, "ROLLBACK");
    // SET statement_timeout is the same limit, for the statements after it.
    s.set_statement_timeout(None);
    let err = s
        .execute(&format!("SET statement_timeout = '50ms'; {ENDLESS}"))
        .unwrap_err();
    assert_eq!(err, SqlError::StatementTimeout);
    one(&mut s, "RESET statement_timeout");
    assert_eq!(one(&mut s, "SHOW statement_timeout"), ["0"]);
}

#[test]
fn notices_are_tagged_with_their_statement() {
    let (_d, e) = engine();
    let mut s = e.session();
    s.execute("CREATE TABLE t (a int); DROP TABLE IF EXISTS missing, t; CREATE TABLE IF NOT EXISTS u (a int); CREATE TABLE IF NOT EXISTS u (a int)")
        .unwrap();
    let notices: Vec<(usize, &str, String)> = s
        .take_notices()
        .into_iter()
        .map(|(i, n)| (i, n.code, n.message))
        .collect();
    assert_eq!(
        notices,
        [
            (
                1,
                "00000",
                "table \"missing\" does not exist, skipping".to_string()
            ),
            (
                3,
                "42P07",
                "relation \"u\" already exists, skipping".to_string()
            ),
        ]
    );
    assert!(s.take_notices().is_empty());
    s.execute("DROP INDEX IF EXISTS nope").unwrap();
    assert_eq!(
        s.take_notices()[0].1.message,
        "index \"nope\" does not exist, skipping"
    );
}

/// pgbench -i: `begin; truncate; copy ... from stdin; commit` with more rows than one
/// transaction holds. The COPY side-writes into the truncated table's new key range
/// (`ferrisdb_sql::fresh`): others see the old rows until COMMIT, then all new ones.
#[test]
fn a_large_copy_into_a_table_truncated_in_the_block_commits_with_the_block() {
    let (_d, e) = engine();
    let mut s = e.session();
    let mut other = e.session();
    one(&mut s, "CREATE TABLE big (n int PRIMARY KEY, pad text)");
    one(&mut s, "INSERT INTO big VALUES (-1, 'old'), (-2, 'old')");
    let data = big_input(200_000, 60);
    one(&mut s, "BEGIN");
    one(&mut s, "TRUNCATE big");
    let r = copy_in(&mut s, "COPY big FROM STDIN", &data, 64 * 1024);
    assert_eq!(r.unwrap(), "COPY 200000");
    assert_eq!(one(&mut other, "SELECT count(*) FROM big"), ["2"]);
    // The block's snapshot cannot see the side-written rows: it refuses to read.
    let err = s.execute("SELECT count(*) FROM big").unwrap_err();
    assert_eq!(err.sqlstate(), "0A000", "{err}");
    one(&mut s, "ROLLBACK");
    assert_eq!(one(&mut s, "SELECT count(*) FROM big"), ["2"]);

    one(&mut s, "BEGIN");
    one(&mut s, "TRUNCATE big");
    copy_in(&mut s, "COPY big FROM STDIN", &data, 64 * 1024).unwrap();
    // A small COPY into another fresh table stays in the block's transaction.
    one(&mut s, "COMMIT");
    assert_eq!(
        one(&mut other, "SELECT count(*), min(n), max(n) FROM big"),
        ["200000|0|199999"]
    );
    // Unique checks held across batches: a duplicate row in a second load fails it.
    one(&mut s, "BEGIN");
    one(&mut s, "TRUNCATE big");
    let mut dup = big_input(10_000, 60);
    dup.extend_from_slice(b"5\tagain\n");
    let err = copy_in(&mut s, "COPY big FROM STDIN", &dup, 64 * 1024).unwrap_err();
    assert_eq!(err.sqlstate(), "23505", "{err}");
    one(&mut s, "ROLLBACK");
    assert_eq!(one(&mut other, "SELECT count(*) FROM big"), ["200000"]);
}

#[test]
fn a_small_copy_into_a_fresh_table_stays_readable_in_the_block() {
    let (_d, e) = engine();
    let mut s = e.session();
    one(&mut s, "CREATE TABLE small (n int PRIMARY KEY, pad text)");
    one(&mut s, "BEGIN");
    one(&mut s, "TRUNCATE small");
    copy_in(&mut s, "COPY small FROM STDIN", &big_input(10, 3), 1024).unwrap();
    assert_eq!(one(&mut s, "SELECT count(*) FROM small"), ["10"]);
    one(&mut s, "COMMIT");
    assert_eq!(one(&mut s, "SELECT count(*) FROM small"), ["10"]);
}

/// pgbench -i's exact sequence (its tables made beforehand, outside the block).
#[test]
fn pgbench_style_load_truncates_several_tables_and_copies_each() {
    let (_d, e) = engine();
    let mut s = e.session();
    one(&mut s, "create table pgbench_branches(bid int not null,bbalance int,filler char(88)) with (fillfactor=100)");
    one(&mut s, "create table pgbench_accounts(aid int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)");
    one(&mut s, "begin");
    one(&mut s, "truncate table pgbench_accounts, pgbench_branches");
    // pgbench 15 inserts the branches (and tellers) row by row.
    one(
        &mut s,
        "insert into pgbench_branches(bid,bbalance) values(1,0)",
    );
    let mut data = Vec::new();
    for i in 1..=100_000 {
        data.extend_from_slice(format!("{i}\t1\t0\t\n").as_bytes());
    }
    let r = copy_in(
        &mut s,
        "copy pgbench_accounts from stdin with (freeze on)",
        &data,
        8192,
    );
    assert_eq!(r.unwrap(), "COPY 100000");
    one(&mut s, "commit");
    assert_eq!(
        one(&mut s, "select count(*) from pgbench_accounts"),
        ["100000"]
    );
    assert_eq!(one(&mut s, "select count(*) from pgbench_branches"), ["1"]);
}
