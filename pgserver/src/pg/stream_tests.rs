//! Results written to the socket while the statement runs, against the real engine.

use std::io;
use std::sync::Arc;

use bytes::BytesMut;
use ferrisdb_sql::{DataType, Engine};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};
use pgwire::messages::{DecodeContext, PgWireBackendMessage as Msg, ProtocolVersion};

use super::FLUSH_BYTES;
use crate::pg::frontend::{Frontend, Target};
use crate::pg::protocol::{BackendKey, Connection};

fn connection() -> (tempfile::TempDir, Connection<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    let mut conn = Connection::new(Arc::new(engine), BackendKey { pid: 1, secret: 2 }, None);
    conn.handle(Frontend::Startup {
        major: 3,
        minor: 0,
        params: vec![("user".into(), "postgres".into())],
    });
    conn.take_output();
    (dir, conn)
}

fn decode(bytes: &[u8]) -> Vec<Msg> {
    let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    ctx.awaiting_frontend_ssl = false;
    ctx.awaiting_frontend_startup = false;
    let mut buf = BytesMut::from(bytes);
    let mut messages = Vec::new();
    while let Some(m) = Msg::decode(&mut buf, &ctx).unwrap() {
        messages.push(m);
    }
    assert!(buf.is_empty(), "a write ended inside a message");
    messages
}

/// A socket that keeps every write apart, or fails them all.
#[derive(Default)]
struct Socket {
    writes: Vec<Vec<u8>>,
    broken: bool,
}

impl io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "client gone"));
        }
        self.writes.push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn count(messages: &[Msg], what: fn(&Msg) -> bool) -> usize {
    messages.iter().filter(|m| what(m)).count()
}

const BIG: &str = "SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g";

#[test]
fn a_long_simple_query_result_is_written_while_it_runs() {
    let (_d, mut conn) = connection();
    let mut socket = Socket::default();
    conn.handle_to(
        Frontend::Query(format!("SELECT 1; {BIG}")),
        Some(&mut socket),
    );
    // Several writes happened inside the statement, each a whole number of messages
    // and about FLUSH_BYTES; the statement's end stayed in the buffer.
    assert!(socket.writes.len() > 10, "{} writes", socket.writes.len());
    assert!(socket.writes.iter().all(|w| w.len() >= FLUSH_BYTES));
    let first = decode(&socket.writes[0]);
    assert!(matches!(first[0], Msg::RowDescription(_)), "{:?}", first[0]);
    // SELECT 1 completed first, then the long result began.
    assert!(
        matches!(first[2], Msg::CommandComplete(_)),
        "{:?}",
        first[2]
    );
    assert!(matches!(first[3], Msg::RowDescription(_)), "{:?}", first[3]);
    let mut all: Vec<Msg> = socket.writes.iter().flat_map(|w| decode(w)).collect();
    let streamed_complete = count(&all, |m| matches!(m, Msg::CommandComplete(_)));
    assert_eq!(
        streamed_complete, 1,
        "only SELECT 1 completed inside the statement"
    );
    all.extend(decode(&conn.take_output()));
    assert_eq!(count(&all, |m| matches!(m, Msg::DataRow(_))), 20001);
    let tags: Vec<String> = all
        .iter()
        .filter_map(|m| match m {
            Msg::CommandComplete(c) => Some(c.tag.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tags, ["SELECT 1", "SELECT 20000"]);
    assert!(matches!(all.last(), Some(Msg::ReadyForQuery(_))));
}

#[test]
fn a_short_result_is_not_written_early() {
    let (_d, mut conn) = connection();
    let mut socket = Socket::default();
    conn.handle_to(
        Frontend::Query("SELECT g FROM generate_series(1, 100) g".into()),
        Some(&mut socket),
    );
    assert!(socket.writes.is_empty());
    let out = decode(&conn.take_output());
    assert_eq!(count(&out, |m| matches!(m, Msg::DataRow(_))), 100);
}

#[test]
fn an_unlimited_execute_streams_in_the_portals_formats() {
    let (_d, mut conn) = connection();
    let mut socket = Socket::default();
    conn.handle(Frontend::Parse {
        name: String::new(),
        sql: "SELECT g, repeat('y', 100) FROM generate_series(1, $1) g".into(),
        param_oids: vec![DataType::Int4.oid()],
    });
    conn.handle(Frontend::Bind {
        portal: String::new(),
        statement: String::new(),
        param_formats: vec![],
        params: vec![Some(b"20000".to_vec())],
        // The first column in binary.
        result_formats: vec![1, 0],
    });
    conn.handle(Frontend::Describe {
        target: Target::Portal,
        name: String::new(),
    });
    conn.handle_to(
        Frontend::Execute {
            portal: String::new(),
            max_rows: 0,
        },
        Some(&mut socket),
    );
    conn.handle(Frontend::Sync);
    assert!(socket.writes.len() > 10, "{} writes", socket.writes.len());
    let mut all: Vec<Msg> = socket.writes.iter().flat_map(|w| decode(w)).collect();
    all.extend(decode(&conn.take_output()));
    // ParseComplete, BindComplete, RowDescription (Describe), then rows: no second
    // RowDescription from Execute.
    assert_eq!(count(&all, |m| matches!(m, Msg::RowDescription(_))), 1);
    let rows: Vec<&Msg> = all
        .iter()
        .filter(|m| matches!(m, Msg::DataRow(_)))
        .collect();
    assert_eq!(rows.len(), 20000);
    let Msg::DataRow(last) = rows[19999] else {
        unreachable!()
    };
    // Binary int4 20000: length 4, then big-endian.
    assert_eq!(&last.data[..8], &[0, 0, 0, 4, 0, 0, 0x4e, 0x20]);
    assert!(all
        .iter()
        .any(|m| matches!(m, Msg::CommandComplete(c) if c.tag == "SELECT 20000")));
}

#[test]
fn a_limited_execute_still_suspends_the_portal() {
    let (_d, mut conn) = connection();
    conn.handle(Frontend::Parse {
        name: String::new(),
        sql: "SELECT g FROM generate_series(1, 5000) g".into(),
        param_oids: vec![],
    });
    conn.handle(Frontend::Bind {
        portal: String::new(),
        statement: String::new(),
        param_formats: vec![],
        params: vec![],
        result_formats: vec![],
    });
    for _ in 0..2 {
        conn.handle(Frontend::Execute {
            portal: String::new(),
            max_rows: 3000,
        });
    }
    conn.handle(Frontend::Sync);
    let out = decode(&conn.take_output());
    assert_eq!(count(&out, |m| matches!(m, Msg::DataRow(_))), 5000);
    assert_eq!(count(&out, |m| matches!(m, Msg::PortalSuspended(_))), 1);
}

#[test]
fn copy_to_lines_are_written_while_the_query_runs() {
    let (_d, mut conn) = connection();
    let mut socket = Socket::default();
    conn.handle_to(
        Frontend::Query(
            "COPY (SELECT g, repeat('z', 100) FROM generate_series(1, 20000) g) TO STDOUT".into(),
        ),
        Some(&mut socket),
    );
    assert!(socket.writes.len() > 10, "{} writes", socket.writes.len());
    let mut all: Vec<Msg> = socket.writes.iter().flat_map(|w| decode(w)).collect();
    assert!(matches!(all[0], Msg::CopyOutResponse(_)));
    all.extend(decode(&conn.take_output()));
    assert_eq!(count(&all, |m| matches!(m, Msg::CopyOutResponse(_))), 1);
    assert_eq!(count(&all, |m| matches!(m, Msg::CopyData(_))), 20000);
    assert_eq!(count(&all, |m| matches!(m, Msg::CopyDone(_))), 1);
    assert!(all
        .iter()
        .any(|m| matches!(m, Msg::CommandComplete(c) if c.tag == "COPY 20000")));
}

#[test]
fn a_client_gone_mid_result_closes_only_its_connection() {
    let (_d, mut conn) = connection();
    conn.handle(Frontend::Query("BEGIN".into()));
    conn.take_output();
    let mut socket = Socket {
        broken: true,
        ..Socket::default()
    };
    conn.handle_to(Frontend::Query(BIG.into()), Some(&mut socket));
    assert!(conn.is_closed());
}

/// libpq's PQsendQueryPrepared (pgbench -M prepared) sends Bind, Describe Portal, Execute
/// and Sync for every query: the portal's columns are described once per statement, not
/// bound again every time.
#[test]
fn a_prepared_statements_portals_are_described_once() {
    let (_d, mut conn) = connection();
    conn.handle(Frontend::Parse {
        name: "q".into(),
        sql: "SELECT $1::int + 1 AS n".into(),
        param_oids: vec![],
    });
    conn.handle(Frontend::Sync);
    conn.take_output();
    assert!(conn.statements["q"].columns.is_none());
    for i in 0..2 {
        conn.handle(Frontend::Bind {
            portal: String::new(),
            statement: "q".into(),
            param_formats: vec![],
            params: vec![Some(i.to_string().into_bytes())],
            result_formats: vec![],
        });
        conn.handle(Frontend::Describe {
            target: Target::Portal,
            name: String::new(),
        });
        conn.handle(Frontend::Execute {
            portal: String::new(),
            max_rows: 0,
        });
        conn.handle(Frontend::Sync);
        let out = decode(&conn.take_output());
        assert_eq!(count(&out, |m| matches!(m, Msg::RowDescription(_))), 1);
        let row = out.iter().find_map(|m| match m {
            Msg::DataRow(r) => Some(r.data.clone()),
            _ => None,
        });
        let want = (i + 1).to_string();
        assert_eq!(&row.expect("a row")[4..], want.as_bytes());
        assert!(
            conn.statements["q"].columns.is_some(),
            "described columns kept on the statement"
        );
    }
}
