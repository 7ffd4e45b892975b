//! The protocol state machine driven message by message against a scripted session.

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use ferrisdb_sql::{DataType, Datum, SqlError};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::{DecodeContext, PgWireBackendMessage as Msg, ProtocolVersion};

use super::*;
use crate::pg::frontend::Target;
use crate::pg::session::OutputColumn;

/// Answers `BEGIN`/`COMMIT`/`ROLLBACK`, `fail` (42601 at position 3, fails a block), and
/// echoes any other SQL back as one text row, so tests see what the engine was given.
struct Script {
    log: Arc<Mutex<Vec<String>>>,
    state: TxnState,
}

impl SqlSession for Script {
    fn execute(&mut self, sql: &str) -> Result<Vec<Outcome>, SqlError> {
        self.log.lock().unwrap().push(sql.to_string());
        let tag = |t: &str| Ok(vec![Outcome::Command { tag: t.into() }]);
        match sql {
            "BEGIN" => {
                self.state = TxnState::InTransaction;
                tag("BEGIN")
            }
            "COMMIT" | "ROLLBACK" => {
                self.state = TxnState::Idle;
                tag(sql)
            }
            "INSERT" => tag("INSERT 0 1"),
            "-- nothing" => Ok(vec![]),
            s if s.starts_with("fail") || s.contains("'fail'") => {
                if self.state == TxnState::InTransaction {
                    self.state = TxnState::Failed;
                }
                Err(SqlError::Syntax {
                    message: "syntax error".into(),
                    position: Some(sql.find("fail").map_or(1, |p| p as u32 + 1)),
                })
            }
            _ => Ok(vec![Outcome::Rows {
                columns: vec![OutputColumn {
                    name: "sql".into(),
                    data_type: DataType::Text,
                }],
                rows: vec![vec![Datum::Text(sql.into())], vec![Datum::Null]],
                tag: None,
            }]),
        }
    }

    fn txn_state(&self) -> TxnState {
        self.state
    }

    /// The value of the last `SET name TO value` run ("" before any).
    fn setting(&self, name: &str) -> Option<String> {
        let set = format!("SET {name} TO ");
        let log = self.log.lock().unwrap();
        let last = log.iter().rev().find_map(|s| s.strip_prefix(&set));
        Some(last.unwrap_or("").to_string())
    }
}

struct Factory(Arc<Mutex<Vec<String>>>);

impl SessionFactory for Factory {
    type Session = Script;
    fn open(&self) -> Script {
        Script {
            log: self.0.clone(),
            state: TxnState::Idle,
        }
    }
}

fn connection(refusal: Option<PgError>) -> (Connection<Factory>, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let key = BackendKey { pid: 7, secret: 42 };
    (
        Connection::new(Arc::new(Factory(log.clone())), key, refusal),
        log,
    )
}

fn startup_message() -> Frontend {
    Frontend::Startup {
        major: 3,
        minor: 0,
        params: vec![("user".into(), "postgres".into())],
    }
}

fn decode(mut out: BytesMut) -> Vec<Msg> {
    let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    ctx.awaiting_frontend_ssl = false;
    ctx.awaiting_frontend_startup = false;
    let mut messages = Vec::new();
    while let Some(m) = Msg::decode(&mut out, &ctx).unwrap() {
        messages.push(m);
    }
    assert!(out.is_empty(), "undecodable output left: {out:?}");
    messages
}

fn ready(conn: &mut Connection<Factory>) {
    conn.handle(startup_message());
    conn.take_output();
}

fn step(conn: &mut Connection<Factory>, messages: Vec<Frontend>) -> Vec<Msg> {
    for m in messages {
        conn.handle(m);
    }
    decode(conn.take_output())
}

fn status(m: &Msg) -> Option<TransactionStatus> {
    match m {
        Msg::ReadyForQuery(r) => Some(r.status),
        _ => None,
    }
}

fn error_code(m: &Msg) -> Option<&str> {
    match m {
        Msg::ErrorResponse(e) => e.fields.iter().find(|f| f.0 == b'C').map(|f| f.1.as_str()),
        _ => None,
    }
}

fn first_text(messages: &[Msg]) -> String {
    messages
        .iter()
        .find_map(|m| match m {
            Msg::DataRow(r) => Some(String::from_utf8_lossy(&r.data[4..]).into_owned()),
            _ => None,
        })
        .expect("a data row")
}

#[test]
fn ssl_is_accepted_once_when_tls_is_configured() {
    let (conn, _) = connection(None);
    let mut conn = conn.with_tls(true);
    conn.handle(Frontend::GssEncRequest);
    assert_eq!(&conn.take_output()[..], b"N");
    assert!(!conn.take_tls_request());
    conn.handle(Frontend::SslRequest);
    assert_eq!(&conn.take_output()[..], b"S");
    assert!(conn.take_tls_request(), "the socket must now handshake");
    assert!(!conn.take_tls_request(), "once");
    assert!(conn.in_startup());
    // Inside the encrypted connection, another SSLRequest is a protocol violation.
    conn.handle(Frontend::SslRequest);
    assert!(conn.is_closed());
    let out = conn.take_output();
    assert_eq!(out.first(), Some(&b'E'));
    assert!(!conn.take_tls_request());
}

#[test]
fn ssl_is_refused_and_startup_reports_parameters_key_and_idle() {
    let (mut conn, _) = connection(None);
    conn.handle(Frontend::SslRequest);
    assert_eq!(&conn.take_output()[..], b"N");
    assert!(conn.in_startup());
    let out = step(&mut conn, vec![startup_message()]);
    assert!(matches!(out[0], Msg::Authentication(_)));
    let params: Vec<(String, String)> = out
        .iter()
        .filter_map(|m| match m {
            Msg::ParameterStatus(p) => Some((p.name.clone(), p.value.clone())),
            _ => None,
        })
        .collect();
    for (name, value) in [
        ("server_version", "15.0"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("standard_conforming_strings", "on"),
        ("integer_datetimes", "on"),
        ("TimeZone", "UTC"),
        ("IntervalStyle", "postgres"),
    ] {
        assert!(params.contains(&(name.into(), value.into())), "{name}");
    }
    assert!(out
        .iter()
        .any(|m| matches!(m, Msg::BackendKeyData(k) if k.pid == 7)));
    assert_eq!(status(out.last().unwrap()), Some(TransactionStatus::Idle));
}

#[test]
fn a_refused_client_gets_53300_after_its_startup_and_is_closed() {
    let (mut conn, _) = connection(Some(PgError::TooManyConnections));
    let out = step(&mut conn, vec![startup_message()]);
    assert_eq!(out.len(), 1);
    assert_eq!(error_code(&out[0]), Some("53300"));
    assert!(conn.is_closed());
}

#[test]
fn a_non_utf8_client_encoding_is_refused() {
    let (mut conn, _) = connection(None);
    let out = step(
        &mut conn,
        vec![Frontend::Startup {
            major: 3,
            minor: 0,
            params: vec![("client_encoding".into(), "LATIN1".into())],
        }],
    );
    assert_eq!(error_code(&out[0]), Some("22023"));
    assert!(conn.is_closed());
}

#[test]
fn simple_query_results_errors_and_ready_status_follow_the_session() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let out = step(&mut conn, vec![Frontend::Query("BEGIN".into())]);
    assert!(matches!(&out[0], Msg::CommandComplete(c) if c.tag == "BEGIN"));
    assert_eq!(status(&out[1]), Some(TransactionStatus::Transaction));
    let out = step(&mut conn, vec![Frontend::Query("SELECT x".into())]);
    assert!(matches!(&out[0], Msg::RowDescription(d) if d.fields[0].type_id == 25));
    assert_eq!(first_text(&out), "SELECT x");
    assert!(matches!(&out[3], Msg::CommandComplete(c) if c.tag == "SELECT 2"));
    let out = step(&mut conn, vec![Frontend::Query("fail now".into())]);
    assert_eq!(error_code(&out[0]), Some("42601"));
    assert_eq!(status(&out[1]), Some(TransactionStatus::Error));
    let out = step(&mut conn, vec![Frontend::Query("ROLLBACK".into())]);
    assert_eq!(status(&out[1]), Some(TransactionStatus::Idle));
}

#[test]
fn empty_queries_get_empty_query_response() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    for q in ["", " ; ", "-- nothing"] {
        let out = step(&mut conn, vec![Frontend::Query(q.into())]);
        assert!(matches!(out[0], Msg::EmptyQueryResponse(_)), "{q:?}");
        assert!(status(&out[1]).is_some());
    }
}

fn parse(name: &str, sql: &str, oids: Vec<u32>) -> Frontend {
    Frontend::Parse {
        name: name.into(),
        sql: sql.into(),
        param_oids: oids,
    }
}

fn bind(portal: &str, statement: &str, formats: Vec<i16>, params: Vec<Option<&[u8]>>) -> Frontend {
    Frontend::Bind {
        portal: portal.into(),
        statement: statement.into(),
        param_formats: formats,
        params: params.into_iter().map(|p| p.map(<[u8]>::to_vec)).collect(),
        result_formats: vec![],
    }
}

fn execute(portal: &str, max_rows: i32) -> Frontend {
    Frontend::Execute {
        portal: portal.into(),
        max_rows,
    }
}

#[test]
fn extended_query_binds_typed_values_as_literals_never_raw_text() {
    let (mut conn, log) = connection(None);
    ready(&mut conn);
    let out = step(
        &mut conn,
        vec![
            parse("s1", "SELECT $1, $2::int8, $3", vec![23]),
            Frontend::Describe {
                target: Target::Statement,
                name: "s1".into(),
            },
            bind(
                "",
                "s1",
                vec![1, 0, 0],
                vec![Some(&7i32.to_be_bytes()), Some(b"-9"), Some(b"it's")],
            ),
            execute("", 0),
            Frontend::Sync,
        ],
    );
    assert!(matches!(out[0], Msg::ParseComplete(_)));
    // int4 declared, int8 from the cast, the third unknown (described as text).
    assert!(matches!(&out[1], Msg::ParameterDescription(p) if p.types == vec![23, 20, 25]));
    assert!(matches!(&out[2], Msg::RowDescription(_)));
    assert!(matches!(out[3], Msg::BindComplete(_)));
    assert_eq!(
        first_text(&out),
        "SELECT ('7'::integer), ('-9'::bigint)::int8, 'it''s'"
    );
    assert_eq!(status(out.last().unwrap()), Some(TransactionStatus::Idle));
    // The describe ran the statement with typed NULLs; nothing else saw raw values.
    assert_eq!(
        log.lock().unwrap()[0],
        "SELECT (NULL::integer), (NULL::bigint)::int8, NULL"
    );
}

#[test]
fn max_rows_suspends_the_portal_and_the_next_execute_finishes_it() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let out = step(
        &mut conn,
        vec![
            parse("", "SELECT rows", vec![]),
            bind("p", "", vec![], vec![]),
            execute("p", 1),
        ],
    );
    assert!(matches!(out.last().unwrap(), Msg::PortalSuspended(_)));
    let out = step(&mut conn, vec![execute("p", 1), Frontend::Sync]);
    assert!(matches!(&out[1], Msg::CommandComplete(c) if c.tag == "SELECT 2"));
}

#[test]
fn an_extended_error_skips_to_sync_and_maps_the_position_back() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let out = step(
        &mut conn,
        vec![
            parse("", "SELECT $1, 'fail'", vec![25]),
            bind("", "", vec![], vec![Some(b"a long value")]),
            execute("", 0),
            // Ignored until Sync:
            parse("x", "SELECT 1", vec![]),
            Frontend::Sync,
        ],
    );
    assert_eq!(error_code(&out[2]), Some("42601"));
    let Msg::ErrorResponse(e) = &out[2] else {
        unreachable!()
    };
    // `fail` starts at character 13 of the client's text.
    assert!(e.fields.contains(&(b'P', "13".into())), "{:?}", e.fields);
    assert_eq!(out.len(), 4);
    assert!(status(&out[3]).is_some());
    let out = step(
        &mut conn,
        vec![bind("", "x", vec![], vec![]), Frontend::Sync],
    );
    assert_eq!(error_code(&out[0]), Some("26000"));
}

#[test]
fn bind_errors_have_postgres_codes() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let cases: Vec<(Frontend, &str)> = vec![
        (bind("", "s", vec![], vec![Some(b"1")]), "08P01"),
        (bind("", "s", vec![1], vec![Some(b"xy"), None]), "22P03"),
        (bind("", "s", vec![0], vec![Some(b"abc"), None]), "22P02"),
        (bind("", "s", vec![2], vec![Some(b"1"), None]), "22023"),
        (bind("", "nope", vec![], vec![]), "26000"),
        (execute("nope", 0), "34000"),
        (parse("s", "SELECT 1", vec![]), "42P05"),
        (parse("t", "SELECT 1; SELECT 2", vec![]), "42601"),
        (parse("t", "SELECT $1", vec![600]), "42704"),
    ];
    step(
        &mut conn,
        vec![parse("s", "SELECT $1, $2", vec![23, 23]), Frontend::Sync],
    );
    for (message, code) in cases {
        let out = step(&mut conn, vec![message, Frontend::Sync]);
        assert_eq!(error_code(&out[0]), Some(code));
        assert!(status(&out[1]).is_some());
    }
}

#[test]
fn close_sync_and_terminate() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let out = step(
        &mut conn,
        vec![
            parse("s", "SELECT 1", vec![]),
            Frontend::Close {
                target: Target::Statement,
                name: "s".into(),
            },
            Frontend::Close {
                target: Target::Portal,
                name: "never".into(),
            },
            bind("", "s", vec![], vec![]),
            Frontend::Sync,
        ],
    );
    assert!(matches!(out[1], Msg::CloseComplete(_)));
    assert!(matches!(out[2], Msg::CloseComplete(_)));
    assert_eq!(error_code(&out[3]), Some("26000"));
    step(&mut conn, vec![Frontend::Terminate]);
    assert!(conn.is_closed());
    assert!(step(&mut conn, vec![Frontend::Query("SELECT 1".into())]).is_empty());
}

#[test]
fn command_results_in_extended_and_nodata_for_non_queries() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let out = step(
        &mut conn,
        vec![
            parse("", "INSERT", vec![]),
            Frontend::Describe {
                target: Target::Statement,
                name: "".into(),
            },
            bind("", "", vec![], vec![]),
            execute("", 0),
            Frontend::Sync,
        ],
    );
    assert!(matches!(out[2], Msg::NoData(_)));
    assert!(matches!(&out[4], Msg::CommandComplete(c) if c.tag == "INSERT 0 1"));
}

#[test]
fn deallocate_as_sql_drops_prepared_statements() {
    let (mut conn, log) = connection(None);
    ready(&mut conn);
    let tag = |m: &Msg| match m {
        Msg::CommandComplete(c) => c.tag.clone(),
        other => panic!("expected CommandComplete, got {other:?}"),
    };
    step(
        &mut conn,
        vec![
            parse("_pg3_0", "SELECT 1", vec![]),
            parse("_pg3_1", "SELECT 2", vec![]),
            parse("keep", "SELECT 3", vec![]),
            Frontend::Sync,
        ],
    );
    let out = step(&mut conn, vec![Frontend::Query("DEALLOCATE _pg3_0".into())]);
    assert_eq!(tag(&out[0]), "DEALLOCATE");
    let out = step(
        &mut conn,
        vec![Frontend::Query("deallocate prepare _PG3_0;".into())],
    );
    assert_eq!(error_code(&out[0]), Some("26000"));
    assert!(status(&out[1]).is_some());
    let out = step(&mut conn, vec![Frontend::Query("DEALLOCATE ALL".into())]);
    assert_eq!(tag(&out[0]), "DEALLOCATE ALL");
    for name in ["_pg3_1", "keep"] {
        let out = step(
            &mut conn,
            vec![bind("", name, vec![], vec![]), Frontend::Sync],
        );
        assert_eq!(error_code(&out[0]), Some("26000"), "{name}");
    }
    // None of it reached the engine (which does not know the connection's statements).
    assert!(!log.lock().unwrap().iter().any(|s| s.contains("DEALLOCATE")));
}

#[test]
fn a_changed_setting_is_reported_before_ready_for_query() {
    let (mut conn, _) = connection(None);
    ready(&mut conn);
    let statuses = |out: &[Msg]| -> Vec<(String, String)> {
        out.iter()
            .filter_map(|m| match m {
                Msg::ParameterStatus(p) => Some((p.name.clone(), p.value.clone())),
                _ => None,
            })
            .collect()
    };
    let out = step(&mut conn, vec![Frontend::Query("SELECT 1".into())]);
    assert_eq!(statuses(&out), vec![]);
    let out = step(&mut conn, vec![Frontend::Query("SET TimeZone TO x".into())]);
    assert_eq!(statuses(&out), vec![("TimeZone".into(), "x".into())]);
    assert!(matches!(out[out.len() - 2], Msg::ParameterStatus(_)));
    assert!(status(&out[out.len() - 1]).is_some());
    // Unchanged: not reported again; the extended protocol reports at Sync.
    let out = step(&mut conn, vec![Frontend::Query("SET TimeZone TO x".into())]);
    assert_eq!(statuses(&out), vec![]);
    let out = step(
        &mut conn,
        vec![
            parse("", "SET application_name TO app", vec![]),
            bind("", "", vec![], vec![]),
            execute("", 0),
            Frontend::Sync,
        ],
    );
    assert_eq!(
        statuses(&out),
        vec![("application_name".into(), "app".into())]
    );
}
