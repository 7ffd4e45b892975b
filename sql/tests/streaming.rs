//! `Session::execute_to`: results reach the sink as statements complete, and a long
//! query's rows (or a COPY TO's lines) while it runs, held back only up to the retry buffer.

use std::sync::Arc;

use ferrisdb_sql::stream::{HOLD_BYTES, HOLD_ROWS};
use ferrisdb_sql::{
    Column, CopyFormat, CopyOutput, Datum, Engine, Notice, ResultSink, Session, SqlError,
    StatementResult, TxnStatus,
};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

fn session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    (dir, engine.session())
}

/// What a sink was told, in order.
#[derive(Debug, PartialEq)]
enum Event {
    BeginRows(Vec<String>),
    Rows(usize),
    BeginCopy(CopyFormat, usize),
    Lines(Vec<String>),
    Completed(usize, StatementResult, Option<CopyOutput>),
}

#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    /// Every row received through `rows`, in order.
    streamed: Vec<Vec<Datum>>,
    /// Fail the call to `rows` after this many batches (a client that went away).
    fail_after: Option<usize>,
}

impl ResultSink for Recorder {
    fn completed(
        &mut self,
        index: usize,
        result: StatementResult,
        _notices: Vec<Notice>,
        copy_out: Option<CopyOutput>,
    ) -> Result<(), SqlError> {
        self.events.push(Event::Completed(index, result, copy_out));
        Ok(())
    }

    fn begin_rows(&mut self, columns: &[Column]) -> Result<(), SqlError> {
        let names = columns.iter().map(|c| c.name.clone()).collect();
        self.events.push(Event::BeginRows(names));
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<Datum>>) -> Result<(), SqlError> {
        let batches = self
            .events
            .iter()
            .filter(|e| matches!(e, Event::Rows(_)))
            .count();
        if self.fail_after.is_some_and(|n| batches >= n) {
            return Err(SqlError::ConnectionFailure {
                message: "test: the client went away".into(),
            });
        }
        self.events.push(Event::Rows(rows.len()));
        self.streamed.extend(rows);
        Ok(())
    }

    fn begin_copy(&mut self, format: CopyFormat, columns: usize) -> Result<(), SqlError> {
        self.events.push(Event::BeginCopy(format, columns));
        Ok(())
    }

    fn copy_lines(&mut self, lines: Vec<Vec<u8>>) -> Result<(), SqlError> {
        let text = lines
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect();
        self.events.push(Event::Lines(text));
        Ok(())
    }
}

fn ints(rows: &[Vec<Datum>]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r[0] {
            Datum::Int(i) => i,
            ref other => panic!("expected an int, got {other:?}"),
        })
        .collect()
}

#[test]
fn a_small_result_is_held_back_and_completes_whole() {
    let (_d, mut s) = session();
    let mut sink = Recorder::default();
    let err = s.execute_to("SELECT 1 AS a; SELECT 2 AS b", None, &mut sink);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(sink.events.len(), 2, "{:?}", sink.events);
    for (i, e) in sink.events.iter().enumerate() {
        match e {
            Event::Completed(at, StatementResult::Query { rows, tag, .. }, None) => {
                assert_eq!((*at, rows.len(), tag), (i, 1, &None));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[test]
fn a_long_result_streams_in_batches_before_its_statement_completes() {
    let (_d, mut s) = session();
    s.execute("CREATE TABLE big (id int PRIMARY KEY, pad text)")
        .unwrap();
    s.execute("INSERT INTO big SELECT g, repeat('x', 50) FROM generate_series(1, 5000) g")
        .unwrap();
    let mut sink = Recorder::default();
    let err = s.execute_to(
        "SELECT 1; SELECT id FROM big ORDER BY id; SELECT 3",
        None,
        &mut sink,
    );
    assert!(err.is_none(), "{err:?}");
    // The first statement completed before the second began streaming.
    assert!(
        matches!(&sink.events[0], Event::Completed(0, StatementResult::Query { rows, .. }, _) if rows.len() == 1),
        "{:?}",
        &sink.events[0]
    );
    assert_eq!(sink.events[1], Event::BeginRows(vec!["id".into()]));
    let batches: Vec<usize> = sink
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(n) => Some(*n),
            _ => None,
        })
        .collect();
    // Held back up to HOLD_ROWS (the rows are far below HOLD_BYTES), then smaller batches.
    const { assert!(HOLD_ROWS * 64 < HOLD_BYTES) };
    assert_eq!(batches[0], HOLD_ROWS, "{batches:?}");
    assert!(batches.len() > 2, "{batches:?}");
    assert!(batches[1..].iter().all(|&n| n < HOLD_ROWS), "{batches:?}");
    assert_eq!(ints(&sink.streamed), (1..=5000).collect::<Vec<_>>());
    let done: Vec<&Event> = sink
        .events
        .iter()
        .filter(|e| matches!(e, Event::Completed(..)))
        .collect();
    assert_eq!(done.len(), 3);
    match done[1] {
        Event::Completed(1, StatementResult::Query { rows, tag, .. }, None) => {
            assert!(rows.is_empty());
            assert_eq!(tag.as_deref(), Some("SELECT 5000"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Everything streamed came before the statement's completion.
    let completed_at = sink
        .events
        .iter()
        .position(|e| matches!(e, Event::Completed(1, ..)))
        .unwrap();
    let last_rows = sink
        .events
        .iter()
        .rposition(|e| matches!(e, Event::Rows(_)))
        .unwrap();
    assert!(last_rows < completed_at);
    assert_eq!(s.transaction_status(), TxnStatus::Idle);
}

#[test]
fn an_error_after_rows_went_out_is_reported_after_them() {
    let (_d, mut s) = session();
    let mut sink = Recorder::default();
    let err = s.execute_to(
        "SELECT 10 / (4000 - g) FROM generate_series(1, 5000) g",
        None,
        &mut sink,
    );
    assert_eq!(err.map(|e| e.sqlstate()), Some("22012"));
    assert!(matches!(sink.events[0], Event::BeginRows(_)));
    // Rows up to the failing one may have gone out; none past it.
    assert!(sink.streamed.len() >= HOLD_ROWS && sink.streamed.len() < 4000);
    assert!(!sink
        .events
        .iter()
        .any(|e| matches!(e, Event::Completed(..))));
    // The session goes on.
    let r = s.execute("SELECT 1").unwrap();
    assert_eq!(r.len(), 1);
}

#[test]
fn a_sink_that_fails_stops_the_statement_and_fails_the_block() {
    let (_d, mut s) = session();
    s.execute("BEGIN").unwrap();
    let mut sink = Recorder {
        fail_after: Some(2),
        ..Recorder::default()
    };
    let err = s.execute_to(
        "SELECT g FROM generate_series(1, 100000) g",
        None,
        &mut sink,
    );
    assert_eq!(err.map(|e| e.sqlstate()), Some("08006"));
    assert!(sink.streamed.len() < 100_000);
    assert_eq!(s.transaction_status(), TxnStatus::Failed);
    s.execute("ROLLBACK").unwrap();
}

#[test]
fn streaming_inside_a_block_sees_the_blocks_writes() {
    let (_d, mut s) = session();
    s.execute("CREATE TABLE w (id int PRIMARY KEY)").unwrap();
    s.execute("BEGIN").unwrap();
    s.execute("INSERT INTO w SELECT g FROM generate_series(1, 3000) g")
        .unwrap();
    let mut sink = Recorder::default();
    assert!(s
        .execute_to("SELECT id FROM w ORDER BY id", None, &mut sink)
        .is_none());
    assert_eq!(ints(&sink.streamed), (1..=3000).collect::<Vec<_>>());
    s.execute("COMMIT").unwrap();
}

#[test]
fn copy_to_streams_its_lines_header_first() {
    let (_d, mut s) = session();
    let mut sink = Recorder::default();
    let err = s.execute_to(
        "COPY (SELECT g AS n, 'v' || g AS v FROM generate_series(1, 3000) g) TO STDOUT WITH (FORMAT csv, HEADER)",
        None,
        &mut sink,
    );
    assert!(err.is_none(), "{err:?}");
    assert_eq!(sink.events[0], Event::BeginCopy(CopyFormat::Csv, 2));
    let mut lines: Vec<String> = sink
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Lines(l) => Some(l.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let Some(Event::Completed(0, result, Some(rest))) = sink.events.last() else {
        panic!("{:?}", sink.events.last());
    };
    assert_eq!(result.tag(), "COPY 3000");
    assert_eq!(rest.rows, 3000);
    lines.extend(
        rest.lines
            .iter()
            .map(|l| String::from_utf8(l.clone()).unwrap()),
    );
    assert_eq!(lines.len(), 3001);
    assert_eq!(lines[0], "n,v\n");
    assert_eq!(lines[1], "1,v1\n");
    assert_eq!(lines[3000], "3000,v3000\n");
}

#[test]
fn execute_all_still_collects_everything() {
    let (_d, mut s) = session();
    let (results, err) = s.execute_all("SELECT g FROM generate_series(1, 5000) g");
    assert!(err.is_none());
    match &results[0] {
        StatementResult::Query { rows, tag, .. } => {
            assert_eq!(rows.len(), 5000);
            assert_eq!(tag, &None);
        }
        other => panic!("{other:?}"),
    }
}
