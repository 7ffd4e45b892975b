//! Helpers shared by the tests that run the `ferrisdb` binary.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrisdb");

/// Start `ferrisdb start ARGS --data-dir DATA`; returns the process and the KV address its
/// banner announced. Our end of its stdout is closed after the banner: the node must keep
/// running anyway.
pub fn start(data: &Path, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("start")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ferrisdb start");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("KV API on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected start banner: {line:?}"))
        .to_string();
    (child, addr)
}
