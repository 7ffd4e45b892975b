//! The startup packet's run-time parameters, end to end through tokio-postgres.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

mod common;

use common::Node;

fn code(e: &tokio_postgres::Error) -> SqlState {
    e.code()
        .cloned()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"))
}

/// Run-time parameters in the startup packet (and `options`' `-c name=value`) apply to the
/// session, as in PostgreSQL; a bad value of a known one refuses the connection, and one
/// FerrisDB cannot honour (a time zone other than UTC) stays at its default.
#[tokio::test]
async fn startup_parameters_apply_to_the_session() {
    let node = Node::start(&[]);
    let (host, port) = node.addr.split_once(':').unwrap();
    let show = |client: Client, name: &'static str| async move {
        let rows = client.simple_query(&format!("SHOW {name}")).await.unwrap();
        rows.iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap()
    };
    let config = format!(
        "host={host} port={port} user=postgres application_name=reporting \
         options='-c statement_timeout=1234 --datestyle=iso,dmy'"
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(show(client, "application_name").await, "reporting");
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(show(client, "statement_timeout").await, "1234ms");
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(show(client, "DateStyle").await, "ISO, DMY");

    let bad = format!("host={host} port={port} user=postgres options='-c statement_timeout=soon'");
    let e = tokio_postgres::connect(&bad, NoTls).await.err().unwrap();
    assert_eq!(code(&e), SqlState::INVALID_PARAMETER_VALUE);

    let elsewhere =
        format!("host={host} port={port} user=postgres options='-c TimeZone=Europe/Paris'");
    let (client, connection) = tokio_postgres::connect(&elsewhere, NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(show(client, "TimeZone").await, "UTC");
}
