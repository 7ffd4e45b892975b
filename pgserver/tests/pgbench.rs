//! pgbench, unchanged, against `ferrisdb start`: `pgbench -i -s 1` (drop, create,
//! client-side COPY of 100,000 accounts, VACUUM, ADD PRIMARY KEY re-keying the accounts
//! in batches), then tpcb-like and select-only runs with several clients in the simple
//! and the prepared protocol. pgbench exits non-zero on any error it does not retry; the
//! only ones it retries (`--max-tries`) are serialization failures (40001).

mod common;

use std::path::PathBuf;
use std::process::Command;

/// pgbench from PATH or PostgreSQL's bin directory; installed with apt if missing.
fn pgbench() -> PathBuf {
    let find = || {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .chain(
                (13..=18)
                    .rev()
                    .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"))),
            )
            .map(|d| d.join("pgbench"))
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return p;
    }
    let _ = Command::new("apt-get")
        .args(["install", "-y", "-q", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    find().expect("pgbench is required (apt-get install postgresql)")
}

fn run(args: &[&str], addr: &str) -> String {
    let (host, port) = addr.split_once(':').unwrap();
    let out = Command::new(pgbench())
        .args(["-h", host, "-p", port, "-U", "postgres"])
        .args(args)
        .arg("postgres")
        .output()
        .expect("run pgbench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pgbench {args:?} failed:\n{text}");
    text
}

/// The number after `label` in pgbench's report.
fn figure(report: &str, label: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{report}"))
}

#[test]
fn pgbench_initializes_and_runs_tpcb_like_and_select_only_in_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = common::start_pg(dir.path(), &[]);
    let _server = common::KillOnDrop(child);
    let init = run(&["-i", "-s", "1"], &addr);
    assert!(init.contains("done in"), "{init}");
    for mode in ["simple", "prepared"] {
        for (script, clients) in [(None, "4"), (Some("-S"), "4")] {
            let mut args = vec!["-M", mode, "-c", clients, "-j", "2", "-t", "40"];
            args.extend(["--max-tries", "1000"]);
            args.extend(script);
            let report = run(&args, &addr);
            assert_eq!(
                figure(&report, "number of transactions actually processed: "),
                160,
                "{report}"
            );
            assert_eq!(
                figure(&report, "number of failed transactions: "),
                0,
                "{report}"
            );
        }
    }
    // Every tpcb-like transaction added the same delta to one account, one teller and
    // one branch (pgbench truncates the history before each run, so it cannot be
    // summed): the three tables' balances sum to the same total.
    let sums = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", addr.split(':').next().unwrap()])
        .args(["-p", addr.split(':').nth(1).unwrap(), "-U", "postgres", "-c"])
        .arg(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(bbalance) FROM pgbench_branches), \
             (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(bbalance) FROM pgbench_branches), \
             (SELECT count(*) FROM pgbench_accounts)",
        )
        .output()
        .expect("psql");
    let text = String::from_utf8_lossy(&sums.stdout).trim().to_string();
    assert_eq!(
        text,
        "t|t|100000",
        "{}",
        String::from_utf8_lossy(&sums.stderr)
    );
}
