//! COPY, CancelRequest, statement_timeout and NOTICE over the wire: tokio-postgres (the
//! extended protocol), psql's `\copy` (the simple protocol) and a raw socket.

use std::process::Command;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{pin_mut, SinkExt, StreamExt};
use pgwire::messages::copy::{CopyData, CopyDone};
use pgwire::messages::extendedquery::Sync as SyncMsg;
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::Startup;
use pgwire::messages::{DecodeContext, Message, PgWireBackendMessage as Msg, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, NoTls};

mod common;

use common::Node;

impl Node {
    fn config(&self) -> String {
        let (host, port) = self.addr.split_once(':').unwrap();
        format!("host={host} port={port} user=postgres")
    }

    async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.config(), NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

fn code(e: &tokio_postgres::Error) -> SqlState {
    e.code()
        .cloned()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"))
}

async fn copy_in(
    client: &Client,
    sql: &str,
    pieces: &[&str],
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    pin_mut!(sink);
    for p in pieces {
        sink.send(Bytes::from(p.to_string())).await?;
    }
    sink.finish().await
}

async fn copy_out(client: &Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    let stream = client.copy_out(sql).await?;
    pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(String::from_utf8(out).unwrap())
}

async fn count(client: &Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn tokio_postgres_copy_in_and_out_text_and_csv() {
    let node = Node::start(&[]);
    let client = node.connect().await;
    client
        .batch_execute("CREATE TABLE t (a int PRIMARY KEY, b text, c numeric)")
        .await
        .unwrap();
    let n = copy_in(
        &client,
        "COPY t FROM STDIN",
        &["1\tone\t1.5\n2\t\\N", "\t2\n3\tth", "ree\t\\N\n"],
    )
    .await
    .unwrap();
    assert_eq!(n, 3);
    let n = copy_in(
        &client,
        "COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER true)",
        &["a,b\n4,\"x, \"\"y\"\"\"\n5,\n"],
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        copy_out(&client, "COPY t TO STDOUT").await.unwrap(),
        "1\tone\t1.5\n2\t\\N\t2\n3\tthree\t\\N\n4\tx, \"y\"\t\\N\n5\t\\N\t\\N\n"
    );
    assert_eq!(
        copy_out(
            &client,
            "COPY (SELECT a, b FROM t WHERE a >= 4 ORDER BY a) TO STDOUT (FORMAT csv, HEADER)"
        )
        .await
        .unwrap(),
        "a,b\n4,\"x, \"\"y\"\"\"\n5,\n"
    );

    // A bad row fails the COPY with its line; nothing of it stays; the connection works on.
    let e = copy_in(
        &client,
        "COPY t FROM STDIN",
        &["6\tok\t1\n", "oops\tbad\t1\n", "7\tok\t1\n"],
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), SqlState::INVALID_TEXT_REPRESENTATION);
    let db = e.as_db_error().unwrap();
    assert_eq!(db.where_(), Some("COPY t, line 2, column a: \"oops\""));
    assert_eq!(count(&client, "t").await, 5);
    let e = copy_in(&client, "COPY t FROM STDIN", &["8\n"])
        .await
        .unwrap_err();
    assert_eq!(code(&e), SqlState::BAD_COPY_FILE_FORMAT);
    assert_eq!(db_message(&e), "missing data for column \"b\"");

    let e = copy_out(&client, "COPY t TO '/tmp/ferrisdb-copy'")
        .await
        .unwrap_err();
    assert_eq!(code(&e), SqlState::FEATURE_NOT_SUPPORTED);

    // Dropping the sink sends CopyFail: the COPY is abandoned.
    {
        let sink = client
            .copy_in::<_, Bytes>("COPY t FROM STDIN")
            .await
            .unwrap();
        pin_mut!(sink);
        sink.send(Bytes::from_static(b"9\tnine\t9\n"))
            .await
            .unwrap();
    }
    assert_eq!(count(&client, "t").await, 5);

    // Inside a transaction block COPY is part of the block.
    client.batch_execute("BEGIN").await.unwrap();
    copy_in(&client, "COPY t (a) FROM STDIN", &["10\n11\n"])
        .await
        .unwrap();
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(count(&client, "t").await, 5);

    // Last on this client: a COPY refused at Execute leaves tokio-postgres's own CopyFail
    // and Sync to be answered with a second ReadyForQuery (as PostgreSQL does), which
    // this client version then misreads on its next request.
    let e = copy_in(&client, "COPY t FROM STDIN (FORMAT binary)", &[])
        .await
        .unwrap_err();
    assert_eq!(code(&e), SqlState::FEATURE_NOT_SUPPORTED);
}

fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error().unwrap().message().to_string()
}

/// A raw protocol client.
struct Raw {
    stream: TcpStream,
    input: BytesMut,
}

impl Raw {
    async fn connect(addr: &str) -> Raw {
        let mut raw = Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            input: BytesMut::new(),
        };
        let mut startup = Startup::new();
        startup.parameters.insert("user".into(), "postgres".into());
        raw.send(&[&startup]).await;
        raw.until(|m| matches!(m, Msg::ReadyForQuery(_))).await;
        raw
    }

    async fn send(&mut self, messages: &[&dyn Encode]) {
        let mut out = BytesMut::new();
        for m in messages {
            m.put(&mut out);
        }
        self.stream.write_all(&out).await.unwrap();
    }

    /// Messages up to and including the first that `stop` accepts.
    async fn until(&mut self, stop: impl Fn(&Msg) -> bool) -> Vec<Msg> {
        let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
        ctx.awaiting_frontend_ssl = false;
        ctx.awaiting_frontend_startup = false;
        let mut got = Vec::new();
        loop {
            while let Some(m) = Msg::decode(&mut self.input, &ctx).unwrap() {
                let done = stop(&m);
                got.push(m);
                if done {
                    return got;
                }
            }
            let read = self.stream.read_buf(&mut self.input);
            let n = tokio::time::timeout(Duration::from_secs(30), read)
                .await
                .unwrap_or_else(|_| panic!("no answer from the server; got {got:?}"))
                .unwrap();
            assert!(n > 0, "server closed; got {got:?}");
        }
    }

    async fn until_ready(&mut self) -> Vec<Msg> {
        self.until(|m| matches!(m, Msg::ReadyForQuery(_))).await
    }

    async fn start_copy(&mut self, sql: &str) {
        self.send(&[&Query::new(sql.into())]).await;
        let got = self.until(|m| matches!(m, Msg::CopyInResponse(_))).await;
        assert!(
            matches!(got.last(), Some(Msg::CopyInResponse(_))),
            "{got:?}"
        );
    }
}

trait Encode {
    fn put(&self, out: &mut BytesMut);
}

impl<M: Message> Encode for M {
    fn put(&self, out: &mut BytesMut) {
        self.encode(out).unwrap();
    }
}

fn error_fields(messages: &[Msg]) -> Vec<(u8, String)> {
    messages
        .iter()
        .find_map(|m| match m {
            Msg::ErrorResponse(e) => Some(e.fields.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ErrorResponse in {messages:?}"))
}

fn field(fields: &[(u8, String)], code: u8) -> Option<&str> {
    fields
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v.as_str())
}

fn status(messages: &[Msg]) -> u8 {
    match messages.last() {
        Some(Msg::ReadyForQuery(r)) => r.status as u8,
        other => panic!("not ReadyForQuery: {other:?}"),
    }
}

/// CopyFail ('f' | int32 len | cstring): pgwire 0.38 encodes it with CopyDone's type byte.
struct RawCopyFail(&'static str);

impl Encode for RawCopyFail {
    fn put(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"f");
        out.extend_from_slice(&(self.0.len() as i32 + 5).to_be_bytes());
        out.extend_from_slice(self.0.as_bytes());
        out.extend_from_slice(&[0]);
    }
}

fn data(s: &str) -> CopyData {
    CopyData::new(Bytes::from(s.to_string()))
}

#[tokio::test]
async fn raw_copy_fail_garbage_and_protocol_messages_in_copy_mode() {
    let node = Node::start(&[]);
    let mut raw = Raw::connect(&node.addr).await;
    raw.send(&[&Query::new("CREATE TABLE r (a int, b text)".into())])
        .await;
    raw.until_ready().await;

    // CopyFail: 57014 with the client's reason, then ReadyForQuery (idle).
    raw.start_copy("COPY r FROM STDIN").await;
    raw.send(&[&data("1\tx\n"), &RawCopyFail("boom")]).await;
    let got = raw.until_ready().await;
    let f = error_fields(&got);
    assert_eq!(field(&f, b'C'), Some("57014"));
    assert_eq!(field(&f, b'M'), Some("COPY from stdin failed: boom"));
    assert_eq!(status(&got), b'I');

    // Sync and Flush are ignored in copy mode; CopyDone completes with COPY n.
    raw.start_copy("COPY r FROM STDIN").await;
    raw.send(&[
        &data("1\tx\n2\t"),
        &SyncMsg::new(),
        &data("y\n"),
        &CopyDone::new(),
    ])
    .await;
    let got = raw.until_ready().await;
    assert!(
        got.iter()
            .any(|m| matches!(m, Msg::CommandComplete(c) if c.tag == "COPY 2")),
        "{got:?}"
    );
    assert_eq!(
        got.iter()
            .filter(|m| matches!(m, Msg::ReadyForQuery(_)))
            .count(),
        1
    );

    // A garbage row is answered at once; the client's later copy messages are ignored.
    raw.start_copy("COPY r FROM STDIN").await;
    raw.send(&[&data("3\tz\nnot-a-number\tz\n")]).await;
    let got = raw.until_ready().await;
    let f = error_fields(&got);
    assert_eq!(field(&f, b'C'), Some("22P02"));
    assert_eq!(
        field(&f, b'W'),
        Some("COPY r, line 2, column a: \"not-a-number\"")
    );
    raw.send(&[
        &data("4\tw\n"),
        &CopyDone::new(),
        &Query::new("SELECT count(*) FROM r".into()),
    ])
    .await;
    let got = raw.until_ready().await;
    assert!(
        got.iter().any(|m| matches!(m, Msg::DataRow(_))),
        "the query after the ignored copy messages runs: {got:?}"
    );

    // Any other message in copy mode aborts the COPY with 08P01.
    raw.start_copy("COPY r FROM STDIN").await;
    raw.send(&[&Query::new("SELECT 1".into())]).await;
    let got = raw.until_ready().await;
    assert_eq!(field(&error_fields(&got), b'C'), Some("08P01"));
    assert_eq!(status(&got), b'I');

    // COPY TO STDOUT: CopyOutResponse, one CopyData per row, CopyDone, COPY n.
    raw.send(&[&Query::new(
        "COPY (SELECT a FROM r ORDER BY a) TO STDOUT".into(),
    )])
    .await;
    let got = raw.until_ready().await;
    let kinds: Vec<&str> = got
        .iter()
        .map(|m| match m {
            Msg::CopyOutResponse(_) => "H",
            Msg::CopyData(_) => "d",
            Msg::CopyDone(_) => "c",
            Msg::CommandComplete(_) => "C",
            Msg::ReadyForQuery(_) => "Z",
            _ => "?",
        })
        .collect();
    assert_eq!(kinds, ["H", "d", "d", "c", "C", "Z"]);
}

fn psql(node: &Node, args: &[&str], dir: &std::path::Path) -> std::process::Output {
    let (host, port) = node.addr.split_once(':').unwrap();
    Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            host,
            "-p",
            port,
            "-U",
            "postgres",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("psql runs")
}

#[test]
fn psql_copy_from_and_to_files_and_notices_on_stderr() {
    let node = Node::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.csv"),
        "id,name\n1,\"a, b\"\n2,\n3,\"say \"\"hi\"\"\"\n",
    )
    .unwrap();
    let out = psql(
        &node,
        &[
            "-c",
            "CREATE TABLE p (id int PRIMARY KEY, name text)",
            "-c",
            "\\copy p from 'in.csv' csv header",
            "-c",
            "\\copy p to 'out.csv' csv header",
            "-c",
            "\\copy (select id from p where name is null) to 'nulls.txt'",
            "-c",
            "DROP TABLE IF EXISTS nothing_here",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("COPY 3"), "{stdout}");
    assert!(
        stderr.contains("NOTICE:  table \"nothing_here\" does not exist, skipping"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert_eq!(written, "id,name\n1,\"a, b\"\n2,\n3,\"say \"\"hi\"\"\"\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("nulls.txt")).unwrap(),
        "2\n"
    );

    std::fs::write(dir.path().join("bad.csv"), "4,ok\nfive,bad\n").unwrap();
    let out = psql(&node, &["-c", "\\copy p from 'bad.csv' csv"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("invalid input syntax for type integer: \"five\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("CONTEXT:  COPY p, line 2, column id: \"five\""),
        "{stderr}"
    );
}

/// Runs for hours unless stopped: 2.7e10 joined rows.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b, generate_series(1, 3000) c";

#[tokio::test]
async fn cancel_request_stops_a_running_query_and_others_keep_working() {
    let node = Node::start(&[]);
    let client = node.connect().await;
    let other = node.connect().await;
    let token = client.cancel_token();
    let running = tokio::spawn(async move {
        let r = client.simple_query(ENDLESS).await;
        (client, r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n: i64 = other
        .query_one("SELECT 41 + 1::bigint", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 42, "another connection works while the query runs");
    token.cancel_query(NoTls).await.unwrap();
    let (client, r) = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the cancelled query returns")
        .unwrap();
    let e = r.unwrap_err();
    assert_eq!(code(&e), SqlState::QUERY_CANCELED);
    assert_eq!(db_message(&e), "canceling statement due to user request");
    let n: i32 = client.query_one("SELECT 7", &[]).await.unwrap().get(0);
    assert_eq!(n, 7, "the connection is usable after the cancel");

    // A cancel for an idle session does nothing (a wrong key: see pg::cancel tests).
    let idle = other.cancel_token();
    idle.cancel_query(NoTls).await.unwrap();
    other.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn statement_timeout_flag_cancels_long_statements() {
    let node = Node::start(&["--statement-timeout", "300"]);
    let client = node.connect().await;
    let e = client.simple_query(ENDLESS).await.unwrap_err();
    assert_eq!(code(&e), SqlState::QUERY_CANCELED);
    assert_eq!(
        db_message(&e),
        "canceling statement due to statement timeout"
    );
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn pg_sleep_returns_void_and_is_cancelled_by_statement_timeout() {
    let node = Node::start(&[]);
    let client = node.connect().await;
    // void: an empty value (not NULL) in text, zero bytes in binary, type oid 2278.
    let rows = client.simple_query("SELECT pg_sleep(0)").await.unwrap();
    let tokio_postgres::SimpleQueryMessage::Row(row) = &rows[1] else {
        panic!("expected a row, got {rows:?}");
    };
    assert_eq!(row.get(0), Some(""));
    let stmt = client.prepare("SELECT pg_sleep($1)").await.unwrap();
    assert_eq!(stmt.columns()[0].type_().oid(), 2278);
    assert_eq!(stmt.params()[0], tokio_postgres::types::Type::FLOAT8);
    let rows = client.query(&stmt, &[&0.01f64]).await.unwrap();
    assert_eq!(rows.len(), 1);

    client
        .simple_query("SET statement_timeout = 200")
        .await
        .unwrap();
    let e = client
        .simple_query("SELECT pg_sleep(30)")
        .await
        .unwrap_err();
    assert_eq!(code(&e), SqlState::QUERY_CANCELED);
    assert_eq!(
        db_message(&e),
        "canceling statement due to statement timeout"
    );
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn notices_reach_tokio_postgres_before_the_command_completes() {
    let node = Node::start(&[]);
    let (client, mut connection) = tokio_postgres::connect(&node.config(), NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notice(n))) => {
                    let _ = tx.send((n.code().code().to_string(), n.message().to_string()));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    });
    client
        .batch_execute("DROP TABLE IF EXISTS ghost; CREATE TABLE n (a int); CREATE TABLE IF NOT EXISTS n (a int)")
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Ok(n) = rx.try_recv() {
        got.push(n);
    }
    assert_eq!(
        got,
        [
            (
                "00000".to_string(),
                "table \"ghost\" does not exist, skipping".to_string()
            ),
            (
                "42P07".to_string(),
                "relation \"n\" already exists, skipping".to_string()
            ),
        ]
    );
}
