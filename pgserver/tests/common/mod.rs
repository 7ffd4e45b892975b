//! Helpers shared by the tests that run the `ferrisdb` binary.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrisdb");

/// Spawn `ferrisdb start ARGS --data-dir DATA` with its stdout piped to us.
fn spawn(data: &Path, args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
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
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    (child, out)
}

/// Start `ferrisdb start ARGS --data-dir DATA`; returns the process and the KV address its
/// banner announced. Our end of its stdout is closed after the banner: the node must keep
/// running anyway.
#[allow(dead_code)] // each test binary uses some of these helpers
pub fn start(data: &Path, args: &[&str]) -> (Child, String) {
    let (child, mut out) = spawn(data, args);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .split("KV API on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected start banner: {line:?}"))
        .to_string();
    (child, addr)
}

/// Start `ferrisdb start` with both listeners on free ports (plus `args`); returns the
/// process and the PostgreSQL address its banner announced.
/// The caller owns the child (and kills and waits for it).
#[allow(dead_code, clippy::zombie_processes)]
pub fn start_pg(data: &Path, args: &[&str]) -> (Child, String) {
    let mut all = vec!["--addr", "127.0.0.1:0", "--pg-addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (mut child, mut out) = spawn(data, &all);
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let status = child.wait();
            panic!("ferrisdb start exited before announcing PostgreSQL: {status:?}");
        }
        if let Some(rest) = line.split("PostgreSQL on ").nth(1) {
            let addr = rest.split(':').take(2).collect::<Vec<_>>().join(":");
            return (child, addr);
        }
    }
}

/// Kills and reaps the server when dropped, so a failing test does not leave it running
/// (holding the test harness's output pipe open).
#[allow(dead_code)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `ferrisdb start` with both listeners on free ports and its own data directory,
/// killed and reaped when dropped.
#[allow(dead_code)]
pub struct Node {
    pub child: Child,
    /// The PostgreSQL address, `host:port`.
    pub addr: String,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Node {
    pub fn start(args: &[&str]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (child, addr) = start_pg(dir.path(), args);
        Node {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
