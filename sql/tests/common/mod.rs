//! The script runner the scenario tests share (format in `scripts.rs`).
#![allow(dead_code)]

use std::sync::Arc;

use ferrisdb_sql::{Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

pub fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    (dir, Engine::new(Database::from_backend(Arc::new(cluster))))
}

pub fn render(r: StatementResult) -> Vec<String> {
    match r {
        StatementResult::Query { columns, rows, .. } => rows
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

pub fn run_script(s: &mut Session, script: &str) {
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

pub fn script(text: &str) {
    let (_dir, e) = engine();
    let mut s = e.session();
    run_script(&mut s, text);
}
