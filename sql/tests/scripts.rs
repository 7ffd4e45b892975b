//! Statement/result scripts against an embedded cluster, each scenario named after what it
//! proves. Script format, one record per blank-line-separated block:
//!
//! ```text
//!   ok [TAG]          then SQL: must succeed (with that command tag, if given)
//!   error SQLSTATE    then SQL: must fail with that code
//!   query             then SQL, `----`, expected rows (values joined by `|`, NULL as NULL)
//! ```

use std::sync::Arc;

use ferrisdb_sql::{Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    (dir, Engine::new(Database::from_backend(Arc::new(cluster))))
}

fn render(r: StatementResult) -> Vec<String> {
    match r {
        StatementResult::Query { columns, rows } => rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&columns)
                    .map(|(d, c)| d.to_text(&c.data_type).unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
        StatementResult::Command { tag } => vec![tag],
    }
}

fn run_script(s: &mut Session, script: &str) {
    for block in script.split("\n\n") {
        let block = block.trim();
        if block.is_empty() {
            continue;
        }
        let (head, rest) = block.split_once('\n').unwrap_or((block, ""));
        let head = head.trim();
        if let Some(code) = head.strip_prefix("error ") {
            match s.execute(rest) {
                Ok(r) => panic!("expected {code} from {rest}, got {r:?}"),
                Err(e) => assert_eq!(e.sqlstate(), code.trim(), "{rest}: {e}"),
            }
        } else if let Some(tag) = head.strip_prefix("ok") {
            let r = s.execute(rest).unwrap_or_else(|e| panic!("{rest}: {e}"));
            if !tag.trim().is_empty() {
                let got = r.into_iter().last().map(render).unwrap_or_default();
                assert_eq!(got, vec![tag.trim().to_string()], "{rest}");
            }
        } else if head == "query" {
            let (sql, expected) = rest.split_once("----").unwrap_or((rest, ""));
            let r = s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            let got = r.into_iter().last().map(render).unwrap_or_default();
            let want: Vec<String> = expected
                .trim()
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(got, want, "{sql}");
        } else {
            panic!("bad script record {head}");
        }
    }
}

fn script(text: &str) {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(&mut s, text);
}

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
