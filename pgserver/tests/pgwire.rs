//! The PostgreSQL protocol of the `ferrisdb` binary, end to end: tokio-postgres (extended
//! protocol, binary formats), psql (simple protocol), and a raw socket for text-format
//! parameters, ReadyForQuery bytes and garbage.

use std::error::Error;
use std::process::Command;

use bytes::{BufMut, BytesMut};
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use pgwire::messages::extendedquery::{Bind, Execute, Parse, Sync as SyncMsg};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::Startup;
use pgwire::messages::{DecodeContext, Message, PgWireBackendMessage as Msg, ProtocolVersion};
use rust_decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

mod common;

use common::Node;

impl Node {
    async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let (host, port) = self.addr.split_once(':').unwrap();
        let config = format!("host={host} port={port} user=postgres");
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }
}

fn code(e: &tokio_postgres::Error) -> SqlState {
    e.code()
        .cloned()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"))
}

#[tokio::test]
async fn simple_and_extended_queries() {
    let node = Node::start(&[]);
    let client = node.connect().await.unwrap();
    let messages = client
        .simple_query("CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'one'), (2, NULL); SELECT id, name FROM t ORDER BY id")
        .await
        .unwrap();
    let tags: Vec<u64> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, vec![0, 2, 2]);
    let rows: Vec<(String, Option<String>)> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((r.get(0).unwrap().into(), r.get(1).map(Into::into)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        rows,
        vec![("1".into(), Some("one".into())), ("2".into(), None)]
    );

    // Extended protocol: prepare (Parse + Describe), then Bind/Execute with binary results.
    let stmt = client
        .prepare("SELECT id, name FROM t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(stmt.columns()[0].type_(), &Type::INT4);
    assert_eq!(stmt.columns()[1].type_(), &Type::TEXT);
    let rows = client.query(&stmt, &[]).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[1].get::<_, Option<String>>(1), None);
    // A parameter typed by a cast, and one typed by its column.
    let rows = client
        .query("SELECT name FROM t WHERE id = $1::int4", &[&1i32])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "one");
    // `$1` and `$2` carry no cast: as in PostgreSQL, their types come from the columns
    // they are inserted into (int4, text), and the values are bound, not spliced.
    let n = client
        .execute("INSERT INTO t VALUES ($1, $2)", &[&3i32, &"th'ree"])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let name: String = client
        .query_one("SELECT name FROM t WHERE id = 3", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "th'ree");
}

/// Whether a value of any type is NULL.
struct Nullness(bool);

impl<'a> FromSql<'a> for Nullness {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Nullness(false))
    }
    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Nullness(true))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// An interval in PostgreSQL's binary form, for tokio-postgres (which has none).
#[derive(Debug, PartialEq)]
struct Interval {
    micros: i64,
    days: i32,
    months: i32,
}

impl ToSql for Interval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_i64(self.micros);
        out.put_i32(self.days);
        out.put_i32(self.months);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Interval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let b: [u8; 16] = raw.try_into()?;
        Ok(Interval {
            micros: i64::from_be_bytes(b[..8].try_into()?),
            days: i32::from_be_bytes(b[8..12].try_into()?),
            months: i32::from_be_bytes(b[12..].try_into()?),
        })
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

#[tokio::test]
async fn prepared_statements_with_binary_parameters_and_results_of_every_type() {
    let node = Node::start(&[]);
    let client = node.connect().await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE every (id int PRIMARY KEY, b bool, i2 smallint, i8 bigint, f4 real, \
             f8 double precision, n numeric(12,3), t text, v varchar(10), c char(3), by bytea, \
             d date, ts timestamp, tz timestamptz, iv interval)",
        )
        .await
        .unwrap();
    let insert = client
        .prepare_typed(
            "INSERT INTO every VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            &[
                Type::INT4, Type::BOOL, Type::INT2, Type::INT8, Type::FLOAT4, Type::FLOAT8,
                Type::NUMERIC, Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::BYTEA, Type::DATE,
                Type::TIMESTAMP, Type::TIMESTAMPTZ, Type::INTERVAL,
            ],
        )
        .await
        .unwrap();
    let n: Decimal = "-123456789.125".parse().unwrap();
    let date = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
    let ts: NaiveDateTime = date.and_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    let tz = Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap();
    let iv = Interval {
        micros: 3_600_000_001,
        days: -2,
        months: 13,
    };
    let bytes: Vec<u8> = vec![0, 1, 255, b'\''];
    let inserted = client
        .execute(
            &insert,
            &[
                &1i32,
                &true,
                &-7i16,
                &i64::MAX,
                &1.5f32,
                &-0.1f64,
                &n,
                &"it's \\ ok",
                &"varchar",
                &"ab",
                &bytes,
                &date,
                &ts,
                &tz,
                &iv,
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    // NULLs of every type bind too.
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&2i32];
    let typed_nulls: [&(dyn ToSql + Sync); 14] = [
        &None::<bool>,
        &None::<i16>,
        &None::<i64>,
        &None::<f32>,
        &None::<f64>,
        &None::<Decimal>,
        &None::<String>,
        &None::<String>,
        &None::<String>,
        &None::<Vec<u8>>,
        &None::<NaiveDate>,
        &None::<NaiveDateTime>,
        &None::<chrono::DateTime<Utc>>,
        &None::<Interval>,
    ];
    params.extend(typed_nulls);
    client.execute(&insert, &params).await.unwrap();

    let select = client
        .prepare_typed("SELECT * FROM every WHERE id = $1", &[Type::INT4])
        .await
        .unwrap();
    let types: Vec<&Type> = select.columns().iter().map(|c| c.type_()).collect();
    assert_eq!(
        types,
        vec![
            &Type::INT4,
            &Type::BOOL,
            &Type::INT2,
            &Type::INT8,
            &Type::FLOAT4,
            &Type::FLOAT8,
            &Type::NUMERIC,
            &Type::TEXT,
            &Type::VARCHAR,
            &Type::BPCHAR,
            &Type::BYTEA,
            &Type::DATE,
            &Type::TIMESTAMP,
            &Type::TIMESTAMPTZ,
            &Type::INTERVAL,
        ]
    );
    let row = client.query_one(&select, &[&1i32]).await.unwrap();
    assert!(row.get::<_, bool>(1));
    assert_eq!(row.get::<_, i16>(2), -7);
    assert_eq!(row.get::<_, i64>(3), i64::MAX);
    assert_eq!(row.get::<_, f32>(4), 1.5);
    assert_eq!(row.get::<_, f64>(5), -0.1);
    assert_eq!(row.get::<_, Decimal>(6), n);
    assert_eq!(row.get::<_, String>(7), "it's \\ ok");
    assert_eq!(row.get::<_, String>(8), "varchar");
    assert_eq!(row.get::<_, String>(9), "ab ");
    assert_eq!(row.get::<_, Vec<u8>>(10), bytes);
    assert_eq!(row.get::<_, NaiveDate>(11), date);
    assert_eq!(row.get::<_, NaiveDateTime>(12), ts);
    assert_eq!(row.get::<_, chrono::DateTime<Utc>>(13), tz);
    assert_eq!(row.get::<_, Interval>(14), iv);
    let row = client.query_one(&select, &[&2i32]).await.unwrap();
    assert!(!row.get::<_, Nullness>(0).0);
    for i in 1..15 {
        assert!(row.get::<_, Nullness>(i).0, "column {i}");
    }
}

#[tokio::test]
async fn transactions_errors_and_a_client_dropping_mid_transaction() {
    let node = Node::start(&[]);
    let mut client = node.connect().await.unwrap();
    client
        .batch_execute("CREATE TABLE acc (id int PRIMARY KEY, bal int)")
        .await
        .unwrap();

    let e = client.simple_query("SELECT 1/0").await.unwrap_err();
    assert_eq!(code(&e), SqlState::DIVISION_BY_ZERO);
    let e = client.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(code(&e), SqlState::SYNTAX_ERROR);
    let db = e.as_db_error().unwrap();
    assert!(
        db.position().is_some(),
        "a syntax error carries its position"
    );
    let e = client
        .query("SELECT * FROM missing", &[])
        .await
        .unwrap_err();
    assert_eq!(code(&e), SqlState::UNDEFINED_TABLE);

    // A transaction that fails stays failed (25P02) until it is rolled back.
    client
        .batch_execute("BEGIN; INSERT INTO acc VALUES (1, 10)")
        .await
        .unwrap();
    let e = client
        .batch_execute("INSERT INTO acc VALUES (1, 11)")
        .await
        .unwrap_err();
    assert_eq!(code(&e), SqlState::UNIQUE_VIOLATION);
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(code(&e), SqlState::IN_FAILED_SQL_TRANSACTION);
    client.batch_execute("ROLLBACK").await.unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM acc", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);

    // tokio-postgres's Transaction: commit is visible, drop rolls back.
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO acc VALUES (2, 20)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    {
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO acc VALUES (3, 30)", &[])
            .await
            .unwrap();
    }

    // A second client vanishes inside a transaction: its writes never commit.
    let other = node.connect().await.unwrap();
    other
        .batch_execute("BEGIN; INSERT INTO acc VALUES (4, 40)")
        .await
        .unwrap();
    drop(other);
    let ids: Vec<i32> = client
        .query("SELECT id FROM acc ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![2]);
    client
        .batch_execute("INSERT INTO acc VALUES (4, 41)")
        .await
        .unwrap();
}

/// A raw protocol client: startup, then messages in, backend messages out.
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
        raw.until_ready().await;
        raw
    }

    async fn send(&mut self, messages: &[&dyn Encode]) {
        let mut out = BytesMut::new();
        for m in messages {
            m.put(&mut out);
        }
        self.stream.write_all(&out).await.unwrap();
    }

    /// Messages up to and including the next ReadyForQuery; `None` if the server closed.
    async fn until_ready(&mut self) -> Option<Vec<Msg>> {
        let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
        ctx.awaiting_frontend_ssl = false;
        ctx.awaiting_frontend_startup = false;
        let mut got = Vec::new();
        loop {
            while let Some(m) = Msg::decode(&mut self.input, &ctx).unwrap() {
                let done = matches!(m, Msg::ReadyForQuery(_));
                got.push(m);
                if done {
                    return Some(got);
                }
            }
            if self.stream.read_buf(&mut self.input).await.unwrap_or(0) == 0 {
                return None;
            }
        }
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

fn status(messages: &[Msg]) -> u8 {
    match messages.last() {
        Some(Msg::ReadyForQuery(r)) => r.status as u8,
        other => panic!("not ReadyForQuery: {other:?}"),
    }
}

fn texts(messages: &[Msg]) -> Vec<String> {
    let mut out = Vec::new();
    for m in messages {
        if let Msg::DataRow(r) = m {
            let mut data = &r.data[..];
            for _ in 0..r.field_count {
                let len = i32::from_be_bytes(data[..4].try_into().unwrap());
                data = &data[4..];
                if len < 0 {
                    out.push("NULL".into());
                } else {
                    out.push(String::from_utf8(data[..len as usize].to_vec()).unwrap());
                    data = &data[len as usize..];
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn text_parameters_ready_status_and_garbage_on_the_socket() {
    let node = Node::start(&[]);
    let mut raw = Raw::connect(&node.addr).await;
    // Text-format parameters of declared types (OID 0 = let the server decide).
    raw.send(&[
        &Parse::new(
            Some("s".into()),
            "SELECT $1 + 1, $2, $3, $4::date, $5".into(),
            vec![23, 1700, 1184, 0, 0],
        ),
        &Bind::new(
            None,
            Some("s".into()),
            vec![0],
            vec![
                Some("41".into()),
                Some("-1.50".into()),
                Some("2024-01-02 03:04:05+00".into()),
                Some("2000-02-29".into()),
                Some("it's".into()),
            ],
            vec![0],
        ),
        &Execute::new(None, 0),
        &SyncMsg::new(),
    ])
    .await;
    let got = raw.until_ready().await.unwrap();
    assert_eq!(
        texts(&got),
        vec![
            "42",
            "-1.50",
            "2024-01-02 03:04:05+00",
            "2000-02-29",
            "it's"
        ]
    );
    assert_eq!(status(&got), b'I');
    raw.send(&[&Query::new("BEGIN".into())]).await;
    assert_eq!(status(&raw.until_ready().await.unwrap()), b'T');
    raw.send(&[&Query::new("SELECT 1/0".into())]).await;
    assert_eq!(status(&raw.until_ready().await.unwrap()), b'E');
    raw.send(&[&Query::new("ROLLBACK".into())]).await;
    assert_eq!(status(&raw.until_ready().await.unwrap()), b'I');

    // Garbage after startup: a FATAL 08P01, then the server closes this connection only.
    raw.stream
        .write_all(b"\x01\x00\x00\x00\x05x")
        .await
        .unwrap();
    assert!(raw.until_ready().await.is_none());
    let mut oversized = Raw::connect(&node.addr).await;
    let mut huge = BytesMut::new();
    huge.put_u8(b'Q');
    huge.put_i32(i32::MAX);
    oversized.stream.write_all(&huge).await.unwrap();
    assert!(oversized.until_ready().await.is_none());
    let mut http = TcpStream::connect(&node.addr).await.unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = http.read_to_end(&mut sink).await;

    let client = node.connect().await.unwrap();
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn clients_beyond_the_limit_are_refused_with_53300() {
    let node = Node::start(&["--pg-max-connections", "2"]);
    let a = node.connect().await.unwrap();
    let b = node.connect().await.unwrap();
    let e = node.connect().await.unwrap_err();
    assert_eq!(code(&e), SqlState::TOO_MANY_CONNECTIONS);
    drop(a);
    // The slot frees once the server sees the disconnect.
    let mut c = None;
    for _ in 0..100 {
        if let Ok(client) = node.connect().await {
            c = Some(client);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let c = c.expect("a slot frees after a client leaves");
    assert_eq!(
        c.query_one("SELECT 2", &[]).await.unwrap().get::<_, i32>(0),
        2
    );
    drop(b);
}

/// `--config FILE` sets what the command line does not: here the connection limit and the
/// statement timeout come from the file, while the addresses given as flags win over its.
#[tokio::test]
async fn a_config_file_sets_what_the_flags_leave_unset() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ferrisdb.toml");
    std::fs::write(
        &config,
        "# both addresses are overridden by the test helper's flags\n\
         pg_addr = \"127.0.0.1:1\"\n\
         pg_max_connections = 1\n\
         statement_timeout = 200\n",
    )
    .unwrap();
    let node = Node::start(&["--config", config.to_str().unwrap()]);
    let a = node.connect().await.unwrap();
    let e = node.connect().await.unwrap_err();
    assert_eq!(code(&e), SqlState::TOO_MANY_CONNECTIONS);
    let endless = "SELECT count(*) FROM generate_series(1, 3000) a, \
                   generate_series(1, 3000) b, generate_series(1, 3000) c";
    let e = a.simple_query(endless).await.unwrap_err();
    assert_eq!(code(&e), SqlState::QUERY_CANCELED);
}

#[test]
fn a_bad_config_file_stops_the_start_with_the_line_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ferrisdb.toml");
    std::fs::write(&config, "pg_max_connections = 10\nwork_mem = 64\n").unwrap();
    let out = Command::new(common::BIN)
        .args(["start", "--config", config.to_str().unwrap()])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ferrisdb.toml") && err.contains("line 2") && err.contains("work_mem"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

/// psql against `addr` (unaligned, tuples only, quiet, stopping at the first error);
/// panics with its stderr unless it succeeds, else returns its stdout.
fn psql(addr: &str, args: &[&str]) -> String {
    let (host, port) = addr.split_once(':').unwrap();
    let out = Command::new("psql")
        .args(["-h", host, "-p", port, "-U", "postgres", "-X", "-q"])
        .args(["-v", "ON_ERROR_STOP=1", "-A", "-t"])
        .args(args)
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn psql_runs_a_query() {
    let node = Node::start(&[]);
    assert_eq!(psql(&node.addr, &["-c", "SELECT 1"]), "1\n");
}

/// Bound parameters reach the engine as typed values: text that looks like SQL stays text,
/// and an untyped parameter is typed from its context (`id = $1` makes it an integer).
#[tokio::test]
async fn parameters_are_bound_as_values_never_spliced_into_the_sql() {
    let node = Node::start(&[]);
    let client = node.connect().await.unwrap();
    client
        .batch_execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        .await
        .unwrap();
    let hostile = "x'); DROP TABLE notes; --";
    client
        .execute("INSERT INTO notes VALUES ($1, $2)", &[&1i32, &hostile])
        .await
        .unwrap();
    let stmt = client
        .prepare("SELECT body FROM notes WHERE id = $1")
        .await
        .unwrap();
    assert_eq!(
        stmt.params(),
        &[Type::INT4],
        "the parameter type is inferred from id"
    );
    let row = client.query_one(&stmt, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), hostile);
    let n: i64 = client
        .query_one("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the table is still there");
}

/// A simple Query of several statements whose last one fails: the earlier statements'
/// results (already committed) arrive before the error, and rows of `INSERT ... RETURNING`
/// complete with the INSERT tag, as PostgreSQL sends them.
#[tokio::test]
async fn earlier_results_precede_an_error_and_returning_keeps_its_tag() {
    let node = Node::start(&[]);
    let mut raw = Raw::connect(&node.addr).await;
    raw.send(&[&Query::new(
        "CREATE TABLE r (id int PRIMARY KEY); INSERT INTO r VALUES (1), (2) RETURNING id; SELECT 1/0"
            .into(),
    )])
    .await;
    let got = raw.until_ready().await.unwrap();
    let tags: Vec<String> = got
        .iter()
        .filter_map(|m| match m {
            Msg::CommandComplete(c) => Some(c.tag.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tags, vec!["CREATE TABLE", "INSERT 0 2"]);
    assert_eq!(texts(&got), vec!["1", "2"]);
    assert!(
        matches!(got.iter().rev().nth(1), Some(Msg::ErrorResponse(_))),
        "the error comes last: {got:?}"
    );
    // The INSERT before the error committed.
    raw.send(&[&Query::new("SELECT count(*) FROM r".into())])
        .await;
    assert_eq!(texts(&raw.until_ready().await.unwrap()), vec!["2"]);
}

#[tokio::test]
async fn work_mem_and_message_size_flags_set_the_limits() {
    let node = Node::start(&["--work-mem-mb", "1", "--pg-max-message-mb", "1"]);
    let client = node.connect().await.unwrap();
    let sort = "SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC LIMIT 1";
    let err = client.simple_query(sort).await.unwrap_err();
    assert_eq!(code(&err), SqlState::OUT_OF_MEMORY, "{err}");
    // A 2 MiB query text is over the message limit: that connection is closed, the
    // server keeps serving.
    let big = format!("SELECT '{}'", "x".repeat(2 << 20));
    assert!(client.simple_query(&big).await.is_err());
    let other = node.connect().await.unwrap();
    let rows = other.query("SELECT 1::int4", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 1);
}

/// A dump written by PostgreSQL 15's pg_dump (a serial column, a view, an index; see
/// `tests/data/pg_dump15_users.sql`) restores with psql stopping at the first error:
/// its SETs, OWNER TO, ALTER SEQUENCE ... OWNED BY and ALTER COLUMN ... SET DEFAULT all
/// run, and the restored serial column goes on from the dumped sequence value.
#[test]
fn a_pg_dump_restores_with_psql_on_error_stop() {
    let node = Node::start(&[]);
    let dump = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pg_dump15_users.sql"
    );
    psql(&node.addr, &["-f", dump]);
    assert_eq!(
        psql(
            &node.addr,
            &["-c", "SELECT id, name, score FROM users ORDER BY id"]
        ),
        "1|a|1.50\n2|b|2.00\n"
    );
    assert_eq!(
        psql(
            &node.addr,
            &["-c", "INSERT INTO users (name) VALUES ('c') RETURNING id"]
        ),
        "3\n"
    );
    assert_eq!(
        psql(
            &node.addr,
            &["-c", "SELECT id, name FROM v ORDER BY id DESC LIMIT 1"]
        ),
        "3|c\n"
    );
}
