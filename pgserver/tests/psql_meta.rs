//! psql's meta-commands against the `ferrisdb` binary: `\l`, `\dt`, `\di`, `\dv`, `\dn`,
//! `\du`, `\d t`, `\d+ t` run the catalog queries of psql's `describe.c` (GitHub issue 5),
//! and must succeed and show the objects that exist; Ctrl-C (SIGINT) cancels psql's
//! running statement through a CancelRequest. Skipped, with a message, when psql is not
//! installed.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::Node;

fn psql_installed() -> bool {
    Command::new("psql").arg("--version").output().is_ok()
}

/// Runs `psql -X -c COMMAND`; returns stdout then stderr (where psql puts "Did not find
/// any relations"), failing on a non-zero exit or an error message.
fn psql(node: &Node, command: &str) -> String {
    let (host, port) = node.addr.split_once(':').unwrap();
    let out = Command::new("psql")
        .args([
            "-X", "-h", host, "-p", port, "-U", "postgres", "-c", command,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql -c '{command}' failed: {stderr}");
    assert!(
        !stderr.contains("ERROR") && !stderr.contains("error"),
        "psql -c '{command}' reported: {stderr}"
    );
    format!("{}{stderr}", String::from_utf8_lossy(&out.stdout))
}

/// A node to run psql against; `None` (the test is skipped, with a message) when psql is
/// not installed.
fn start() -> Option<Node> {
    if !psql_installed() {
        eprintln!("SKIPPED: psql is not installed");
        return None;
    }
    Some(Node::start(&[]))
}

#[test]
fn psql_meta_commands_on_an_empty_catalog() {
    let Some(node) = start() else {
        return;
    };
    assert!(psql(&node, "\\dt").contains("Did not find any relations"));
    assert!(psql(&node, "\\di").contains("Did not find any relations"));
    assert!(psql(&node, "\\dv").contains("Did not find any relations"));
    let l = psql(&node, "\\l");
    assert!(
        l.contains("List of databases") && l.contains("postgres"),
        "{l}"
    );
    let dn = psql(&node, "\\dn");
    assert!(dn.contains("public"), "{dn}");
    let du = psql(&node, "\\du");
    assert!(du.contains("postgres") && du.contains("Superuser"), "{du}");
    // psql exits 1 when \d finds nothing, as against PostgreSQL.
    let (host, port) = node.addr.split_once(':').unwrap();
    let out = Command::new("psql")
        .args([
            "-X",
            "-h",
            host,
            "-p",
            port,
            "-U",
            "postgres",
            "-c",
            "\\d nosuch",
        ])
        .output()
        .expect("psql runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Did not find any relation named \"nosuch\""),
        "{stderr}"
    );
}

#[test]
fn psql_meta_commands_describe_tables_indexes_and_views() {
    let Some(node) = start() else {
        return;
    };
    psql(
        &node,
        "CREATE TABLE t (id int PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'x', \
         n numeric(10,2) CHECK (n > 0), u int UNIQUE); \
         CREATE INDEX t_n ON t (n); CREATE VIEW v AS SELECT id FROM t",
    );
    let dt = psql(&node, "\\dt");
    assert!(dt.contains(" public | t    | table | postgres"), "{dt}");
    let di = psql(&node, "\\di");
    for ix in ["t_pkey", "t_u_key", "t_n"] {
        assert!(di.contains(ix), "{di}");
    }
    assert!(di.contains("| index | postgres | t"), "{di}");
    let dv = psql(&node, "\\dv");
    assert!(dv.contains(" public | v    | view | postgres"), "{dv}");

    let d = psql(&node, "\\d t");
    for expected in [
        "Table \"public.t\"",
        " id     | integer               |           | not null | ",
        " name   | character varying(20) |           | not null | 'x'",
        " n      | numeric(10,2)         |           |          | ",
        "\"t_pkey\" PRIMARY KEY, btree (id)",
        "\"t_n\" btree (n)",
        "\"t_u_key\" UNIQUE CONSTRAINT, btree (u)",
        "Check constraints:",
        "\"t_n_check\" CHECK (n > 0)",
    ] {
        assert!(d.contains(expected), "missing {expected:?} in:\n{d}");
    }
    let dplus = psql(&node, "\\d+ t");
    assert!(dplus.contains("Storage"), "{dplus}");
    assert!(dplus.contains("Access method: heap"), "{dplus}");
    let dv = psql(&node, "\\d v");
    assert!(dv.contains("View \"public.v\""), "{dv}");
    let di = psql(&node, "\\d t_pkey");
    assert!(di.contains("Index \"public.t_pkey\""), "{di}");
}

/// `\d` of a sequence (pg_sequence, and pg_depend for its owner), `\ds`, and the
/// pg_sequences / information_schema.sequences views; the expected lines are PostgreSQL
/// 15's output for the same objects.
#[test]
fn psql_describes_sequences() {
    let Some(node) = start() else {
        return;
    };
    psql(
        &node,
        "CREATE TABLE sq_t (id serial PRIMARY KEY); \
         CREATE SEQUENCE sq_s AS int INCREMENT 5 START 10 CYCLE; SELECT nextval('sq_s')",
    );
    let d = psql(&node, "\\d sq_t_id_seq");
    for expected in [
        "Sequence \"public.sq_t_id_seq\"",
        " integer |     1 |       1 | 2147483647 |         1 | no      |     1",
        "Owned by: public.sq_t.id",
    ] {
        assert!(d.contains(expected), "missing {expected:?} in:\n{d}");
    }
    let d = psql(&node, "\\d sq_s");
    assert!(
        d.contains(" integer |    10 |       1 | 2147483647 |         5 | yes     |     1"),
        "{d}"
    );
    let ds = psql(&node, "\\ds");
    assert!(
        ds.contains(" public | sq_s        | sequence | postgres"),
        "{ds}"
    );
    let v = psql(
        &node,
        "SELECT sequencename, data_type, increment_by, cycle, last_value FROM pg_sequences ORDER BY 1",
    );
    assert!(
        v.contains(" sq_s         | integer   |            5 | t     |         10"),
        "{v}"
    );
    assert!(
        v.contains(" sq_t_id_seq  | integer   |            1 | f     |           "),
        "{v}"
    );
    let v = psql(
        &node,
        "SELECT sequence_name, data_type, numeric_precision, start_value, cycle_option \
         FROM information_schema.sequences ORDER BY 1",
    );
    assert!(
        v.contains(" sq_s          | integer   |                32 | 10          | YES"),
        "{v}"
    );
}

/// Runs `psql ARGS` with a long query, sends it SIGINT (what Ctrl-C does) after `wait`,
/// and returns its stderr.
fn interrupted_psql(node: &Node, args: &[&str], wait: Duration) -> String {
    let (host, port) = node.addr.split_once(':').unwrap();
    let child = Command::new("psql")
        .args(["-X", "-h", host, "-p", port, "-U", "postgres"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs");
    std::thread::sleep(wait);
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    unsafe { libc_kill(child.id() as i32, 2) };
    let out = child.wait_with_output().expect("psql exits");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

const LONG: &str =
    "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b, generate_series(1, 3000) c";

#[test]
fn ctrl_c_in_psql_cancels_the_running_statement() {
    let Some(node) = start() else {
        return;
    };
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), format!("SELECT 1;\n{LONG};\n")).unwrap();
    let script_path = script.path().to_str().unwrap().to_string();
    for args in [vec!["-c", LONG], vec!["-f", script_path.as_str()]] {
        // The signal must arrive while the query runs; a signal before psql has sent it
        // ends psql without a cancel, so try again with a longer wait.
        let mut seen = String::new();
        for attempt in 1..=6u32 {
            seen = interrupted_psql(
                &node,
                &args,
                Duration::from_millis(300 * u64::from(attempt)),
            );
            if seen.contains("canceling statement due to user request") {
                break;
            }
        }
        assert!(
            seen.contains("ERROR:  canceling statement due to user request"),
            "psql {args:?} after SIGINT: {seen}"
        );
    }
    // The server is still serving.
    assert!(psql(&node, "SELECT 42").contains("42"));
}
