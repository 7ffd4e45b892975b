//! # ferrisdb-sqllogictest: sqllogictest files against FerrisDB's SQL engine, in process
//!
//! Each file runs on a fresh database (an embedded cluster in a temporary directory) through
//! one `ferrisdb_sql::Session`, with the `sqllogictest` crate's runner checking every record.
//! Unlike that crate's `run_file`, a failing record does not stop the file: every statement
//! and query is counted as passed, failed or skipped, so a suite reports how far along it is.
//!
//! Values are printed as PostgreSQL prints them in text format (`Datum::to_text`), `NULL` as
//! `NULL` and the empty string as `(empty)`, as sqllogictest-rs's PostgreSQL engines do. An
//! error reads `message (SQLSTATE code)`, so `statement error` may match either, and
//! `statement error (42P01)` matches the code exactly.
//!
//! SQLite's corpus (`sqlite/`, copied from SQLite's public-domain sqllogictest) needs four
//! adjustments, applied by [`prepare_sqlite_corpus`] (see `sqlite/README.md`): results are
//! valuewise, the default hash threshold is 8, condition lines lose trailing comments, and a
//! conditional `halt` is resolved for the label `postgresql` (the runner would halt
//! unconditionally). The labels are `postgresql` and `ferrisdb`.

use std::path::Path;
use std::sync::Arc;

use ferrisdb_sql::{Engine, Session, SqlError, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};
use sqllogictest::{DBOutput, DefaultColumnType, Record};

/// The labels `skipif` / `onlyif` test against.
pub const LABELS: [&str; 2] = ["postgresql", "ferrisdb"];

/// An engine error as the runner sees it.
#[derive(Debug, thiserror::Error)]
#[error("{message} (SQLSTATE {code})")]
pub struct SltError {
    pub message: String,
    pub code: String,
}

impl From<SqlError> for SltError {
    fn from(e: SqlError) -> SltError {
        SltError {
            code: e.sqlstate().to_string(),
            message: e.to_string(),
        }
    }
}

/// One session on a database (a script's `connection` records get one session each,
/// all on the script's one database, as separate PostgreSQL connections would).
pub struct FerrisDb {
    session: Session,
    _dir: Arc<tempfile::TempDir>,
}

/// A fresh database for one script: the engine and the directory that holds it.
#[derive(Clone)]
pub struct ScriptDb {
    engine: Engine,
    dir: Arc<tempfile::TempDir>,
}

impl ScriptDb {
    pub fn open() -> Result<ScriptDb, SltError> {
        let setup = |message: String| SltError {
            message,
            code: "58000".into(),
        };
        let dir = tempfile::tempdir().map_err(|e| setup(format!("cannot make a temp dir: {e}")))?;
        let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default())
            .map_err(|e| setup(e.to_string()))?;
        Ok(ScriptDb {
            engine: Engine::new(Database::from_backend(Arc::new(cluster))),
            dir: Arc::new(dir),
        })
    }

    /// A new session (connection) on this database.
    pub fn connect(&self) -> FerrisDb {
        FerrisDb {
            session: self.engine.session(),
            _dir: self.dir.clone(),
        }
    }
}

impl FerrisDb {
    /// One session on a fresh database of its own.
    pub fn open() -> Result<FerrisDb, SltError> {
        Ok(ScriptDb::open()?.connect())
    }
}

fn column_type(t: &ferrisdb_sql::DataType) -> DefaultColumnType {
    use ferrisdb_sql::DataType as D;
    match t {
        D::Int2 | D::Int4 | D::Int8 => DefaultColumnType::Integer,
        D::Float4 | D::Float8 | D::Numeric { .. } => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

impl sqllogictest::DB for FerrisDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let results = self.session.execute(sql)?;
        Ok(match results.into_iter().last() {
            Some(StatementResult::Query { columns, rows, .. }) => DBOutput::Rows {
                types: columns.iter().map(|c| column_type(&c.data_type)).collect(),
                rows: rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .zip(&columns)
                            .map(|(d, c)| match d.to_text(&c.data_type) {
                                None => "NULL".to_string(),
                                Some(s) if s.is_empty() => "(empty)".to_string(),
                                Some(s) => s,
                            })
                            .collect()
                    })
                    .collect(),
            },
            Some(StatementResult::Command { tag }) => {
                // "INSERT 0 3", "UPDATE 2": the last number is the row count.
                let count = tag
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                DBOutput::StatementComplete(count)
            }
            None => DBOutput::StatementComplete(0),
        })
    }

    fn engine_name(&self) -> &str {
        "ferrisdb"
    }

    fn error_sql_state(err: &SltError) -> Option<String> {
        Some(err.code.clone())
    }
}

/// Apply the four adjustments SQLite's corpus needs (see the module doc).
pub fn prepare_sqlite_corpus(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec!["control resultmode valuewise".to_string()];
    if !lines.iter().any(|l| l.starts_with("hash-threshold")) {
        out.push("hash-threshold 8".to_string());
    }
    out.push(String::new());
    let condition = |l: &str| -> Option<(String, String)> {
        let mut w = l.split_whitespace();
        let kind = w.next()?;
        let label = w.next()?;
        let rest: Vec<&str> = w.collect();
        let ok =
            (kind == "skipif" || kind == "onlyif") && (rest.is_empty() || rest[0].starts_with('#'));
        ok.then(|| (kind.to_string(), label.to_string()))
    };
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        let mut conds = Vec::new();
        while let Some(c) = lines.get(j).and_then(|l| condition(l)) {
            conds.push(c);
            j += 1;
        }
        if !conds.is_empty() && lines.get(j).map(|l| l.trim()) == Some("halt") {
            let skip = conds.iter().any(|(k, l)| {
                (k == "skipif" && LABELS.contains(&l.as_str()))
                    || (k == "onlyif" && !LABELS.contains(&l.as_str()))
            });
            if !skip {
                out.push("halt".to_string());
            }
            i = j + 1;
            continue;
        }
        for (k, l) in conds {
            out.push(format!("{k} {l}"));
        }
        if j < lines.len() {
            out.push(lines[j].to_string());
        }
        i = j + 1;
    }
    out.join("\n") + "\n"
}

/// What running one file found.
#[derive(Debug, Default)]
pub struct FileReport {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// The first few failures, with their location.
    pub failures: Vec<String>,
}

fn skipped(conditions: &[sqllogictest::Condition]) -> bool {
    conditions.iter().any(|c| match c {
        sqllogictest::Condition::OnlyIf { label } => !LABELS.contains(&label.as_str()),
        sqllogictest::Condition::SkipIf { label } => LABELS.contains(&label.as_str()),
    })
}

/// Run one script (already prepared) on a fresh database, counting every record.
pub fn run_script(name: &str, script: &str, keep_failures: usize) -> Result<FileReport, String> {
    let records = sqllogictest::parse_with_name::<DefaultColumnType>(script, name)
        .map_err(|e| format!("{name}: {e}"))?;
    let db = ScriptDb::open().map_err(|e| format!("{name}: {}", e.message))?;
    let mut runner = sqllogictest::Runner::new(move || {
        let db = db.clone();
        async move { Ok::<_, SltError>(db.connect()) }
    });
    for l in LABELS {
        runner.add_label(l);
    }
    let mut report = FileReport::default();
    for record in records {
        let counted = match &record {
            Record::Halt { .. } => break,
            Record::Statement { conditions, .. } | Record::Query { conditions, .. } => {
                if skipped(conditions) {
                    report.skipped += 1;
                    continue;
                }
                true
            }
            _ => false,
        };
        match runner.run(record) {
            Ok(_) if counted => report.passed += 1,
            Ok(_) => {}
            Err(e) => {
                report.failed += usize::from(counted);
                if report.failures.len() < keep_failures {
                    report.failures.push(e.display(false).to_string());
                }
            }
        }
    }
    Ok(report)
}

/// Run a file: SQLite corpus files (`.test`) get [`prepare_sqlite_corpus`] first.
pub fn run_file(path: &Path, keep_failures: usize) -> Result<FileReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let script = if path.extension().is_some_and(|e| e == "test") {
        prepare_sqlite_corpus(&text)
    } else {
        text
    };
    run_script(&path.display().to_string(), &script, keep_failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_preparation_strips_comments_and_resolves_conditional_halts() {
        let src = "skipif mysql # not compatible\nquery I\nSELECT 1\n----\n1\n\nonlyif mssql\nhalt\n\nonlyif postgresql\nhalt\n";
        let out = prepare_sqlite_corpus(src);
        assert!(out.starts_with("control resultmode valuewise\nhash-threshold 8\n"));
        assert!(out.contains("skipif mysql\nquery I"));
        assert_eq!(out.matches("halt").count(), 1, "{out}");
    }
}
