//! The `ferrisdb` binary end to end: start a node, use it through `ferrisdb kv`, SIGKILL it,
//! restart it on the same data directory, and find every acknowledged write.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};

mod common;

use common::BIN;

/// Start a node on a free port; returns the process and its KV address.
fn start(data: &Path) -> (Child, String) {
    common::start(data, &["--addr", "127.0.0.1:0"])
}

fn kv(addr: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["kv", "--cluster", addr])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ferrisdb kv {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn set_get_scan_clear_and_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, addr) = start(dir.path());
    assert!(kv(&addr, &["set", "greeting", "hello"]).starts_with("committed at version "));
    kv(&addr, &["set", "planet", "earth"]);
    assert_eq!(kv(&addr, &["get", "greeting"]), "hello\n");
    assert_eq!(
        kv(&addr, &["scan", "a", "z"]),
        "greeting\thello\nplanet\tearth\n"
    );
    assert_eq!(
        kv(&addr, &["scan", "a", "z", "--limit", "1"]),
        "greeting\thello\n"
    );
    kv(&addr, &["clear", "planet"]);
    assert_eq!(kv(&addr, &["get", "planet"]), "(not found)\n");
    assert_eq!(
        kv(&addr, &["--hex", "get", "6772656574696e67"]),
        "68656c6c6f\n"
    );
    assert!(kv(&addr, &["status"]).contains("committed version"));

    // A client that is not FerrisDB is turned away without disturbing the node.
    let mut junk = std::net::TcpStream::connect(&addr).unwrap();
    let _ = junk.write_all(b"GET / HTTP/1.0\r\n\r\n");
    drop(junk);
    assert_eq!(kv(&addr, &["get", "greeting"]), "hello\n");

    assert!(
        node.try_wait().unwrap().is_none(),
        "the node is still running after its stdout closed"
    );
    node.kill().unwrap(); // SIGKILL: no chance to flush anything
    node.wait().unwrap();
    let (mut node, addr) = start(dir.path());
    assert_eq!(
        kv(&addr, &["get", "greeting"]),
        "hello\n",
        "acknowledged write survived kill -9"
    );
    assert_eq!(
        kv(&addr, &["get", "planet"]),
        "(not found)\n",
        "acknowledged clear survived kill -9"
    );
    node.kill().unwrap();
    node.wait().unwrap();
}

#[test]
fn bad_hex_is_a_clear_error_not_a_crash() {
    for bad in ["zz", "abc", "\u{e9}\u{e9}"] {
        let out = Command::new(BIN)
            .args(["kv", "--cluster", "127.0.0.1:1", "--hex", "get", bad])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is not hex") && !err.contains("panicked"),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn kv_against_a_closed_port_fails_cleanly() {
    let out = Command::new(BIN)
        .args(["kv", "--cluster", "127.0.0.1:1", "get", "k"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}
