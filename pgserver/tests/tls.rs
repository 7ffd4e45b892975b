//! TLS for PostgreSQL clients: psql with sslmode=require and verify-full against a
//! certificate made here, plain text still served, no TLS without the flags, and the
//! protocol violations around SSLRequest closing only that connection.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::Node;

/// A self-signed certificate for localhost and 127.0.0.1 in `dir`: (cert.pem, key.pem, DER).
fn certificate(dir: &Path) -> (String, String, Vec<u8>) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
        made.cert.der().to_vec(),
    )
}

fn psql(conninfo: &str, sql: &str) -> (bool, String, String) {
    let out = Command::new("psql")
        .args([conninfo, "-X", "-A", "-t", "-c", sql])
        .output()
        .expect("psql is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

#[test]
fn psql_connects_over_tls_verifying_the_certificate_and_plain_text_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = certificate(dir.path());
    let node = Node::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let (_, port) = node.addr.split_once(':').unwrap();

    // verify-full: the chain checks against our root and the host name matches.
    let verified =
        format!("host=localhost port={port} user=postgres sslmode=verify-full sslrootcert={cert}");
    let (ok, out, err) = psql(
        &verified,
        "CREATE TABLE t (a int); INSERT INTO t VALUES (7)",
    );
    assert!(ok, "{err}");
    let (ok, out2, err) = psql(&verified, "SELECT a FROM t");
    assert!(ok, "{err}");
    assert_eq!(
        (out.as_str(), out2.as_str()),
        ("CREATE TABLE\nINSERT 0 1\n", "7\n")
    );
    // psql reports the connection as encrypted.
    let info = Command::new("psql")
        .args([&verified, "-X", "-c", "\\conninfo"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("SSL connection (protocol: TLSv1."), "{info}");

    // A client that does not ask for TLS is served in plain text.
    let (ok, out, err) = psql(
        &format!("host=127.0.0.1 port={port} user=postgres sslmode=disable"),
        "SELECT a + 1 FROM t",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "8\n");

    // verify-full against another root fails on the client's side, before any SQL.
    let other = tempfile::tempdir().unwrap();
    let (other_cert, _, _) = certificate(other.path());
    let (ok, _, err) = psql(
        &format!(
            "host=localhost port={port} user=postgres sslmode=verify-full sslrootcert={other_cert}"
        ),
        "SELECT 1",
    );
    assert!(!ok);
    assert!(err.contains("certificate verify failed"), "{err}");
}

#[test]
fn without_a_certificate_sslmode_require_is_refused_and_prefer_falls_back() {
    let node = Node::start(&[]);
    let (_, port) = node.addr.split_once(':').unwrap();
    let (ok, _, err) = psql(
        &format!("host=127.0.0.1 port={port} user=postgres sslmode=require"),
        "SELECT 1",
    );
    assert!(!ok);
    assert!(err.contains("server does not support SSL"), "{err}");
    let (ok, out, err) = psql(
        &format!("host=127.0.0.1 port={port} user=postgres sslmode=prefer"),
        "SELECT 1",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "1\n");
}

#[test]
fn bytes_after_the_ssl_request_or_a_second_request_inside_tls_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate(dir.path());
    let node = Node::start(&["--tls-cert", &cert, "--tls-key", &key]);

    // A startup packet pipelined behind the SSLRequest was read in plain text: the
    // server answers `S` and closes instead of handshaking.
    let mut sock = TcpStream::connect(&node.addr).unwrap();
    let mut pipelined = SSL_REQUEST.to_vec();
    pipelined.extend_from_slice(&[0, 0, 0, 8, 0, 3, 0, 0]);
    sock.write_all(&pipelined).unwrap();
    let mut got = Vec::new();
    sock.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"S");

    // Through a real handshake, a second SSLRequest is a FATAL protocol violation.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut sock = TcpStream::connect(&node.addr).unwrap();
    sock.write_all(&SSL_REQUEST).unwrap();
    let mut answer = [0u8; 1];
    sock.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"S");
    let conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(&SSL_REQUEST).unwrap();
    tls.flush().unwrap();
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply);
    assert_eq!(reply.first(), Some(&b'E'), "{reply:?}");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains("FATAL") && text.contains("08P01"), "{text}");

    // Garbage where the TLS ClientHello should be ends that handshake, and only it.
    let mut sock = TcpStream::connect(&node.addr).unwrap();
    sock.write_all(&SSL_REQUEST).unwrap();
    sock.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"S");
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = sock.read_to_end(&mut rest);
    // At most a TLS alert record (content type 21), never a PostgreSQL message.
    assert!(rest.is_empty() || rest[0] == 21, "{rest:?}");

    // The server goes on serving everyone else.
    let (_, port) = node.addr.split_once(':').unwrap();
    let (ok, out, err) = psql(
        &format!("host=localhost port={port} user=postgres sslmode=verify-full sslrootcert={cert}"),
        "SELECT 1",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "1\n");
}

#[test]
fn a_missing_or_mismatched_certificate_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _, _) = certificate(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (_, other_key, _) = certificate(other.path());
    for (cert, key, expect) in [
        (
            "/nonexistent/cert.pem",
            other_key.as_str(),
            "/nonexistent/cert.pem",
        ),
        (cert.as_str(), other_key.as_str(), "key"),
    ] {
        let out = Command::new(common::BIN)
            .args(["start", "--tls-cert", cert, "--tls-key", key])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--addr", "127.0.0.1:0", "--pg-addr", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{err}");
    }
    let out = Command::new(common::BIN)
        .args(["start", "--tls-cert", &cert])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
