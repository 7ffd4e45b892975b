//! psycopg 3 and psycopg2, unchanged from PyPI, against `ferrisdb start` (GitHub issue 5).
//!
//! The checks live in Python scripts under `tests/python/` (one per driver, plus a small
//! shared runner) that assert what PostgreSQL 15 does; run them by hand against a real
//! server with `python3 tests/python/psycopg3_test.py HOST PORT`. Each script prints one
//! `ok`/`FAIL` line per check and ends with `failed checks: a,b` (or `(none)`); it exits
//! non-zero only when it could not run at all.
//!
//! Design: the drivers are installed on first use with `pip install --target` into
//! `CARGO_TARGET_TMPDIR/pydeps` and put on `PYTHONPATH`, so a clean machine needs only
//! python3 and network access, the system site-packages are never touched, and later runs
//! reuse the directory. Installed drivers already importable by python3 are used as they are.
//!
//! Where FerrisDB still differs from PostgreSQL the check stays strict and its name goes
//! in the driver's `*_GAPS` list below; the test asserts the failing checks are exactly
//! that list, so a regression fails it and so does a fixed gap (remove it from the list).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Checks of `psycopg3_test.py` that fail against FerrisDB (and pass against PostgreSQL 15):
/// none.
const PSYCOPG3_GAPS: &[&str] = &[];

/// Checks of `psycopg2_test.py` that fail against FerrisDB (and pass against PostgreSQL 15):
/// none.
const PSYCOPG2_GAPS: &[&str] = &[];

const PACKAGES: &[&str] = &["psycopg[binary]", "psycopg2-binary"];

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn python_imports(pythonpath: Option<&Path>) -> bool {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", "import psycopg, psycopg2, psycopg.pq"]);
    if let Some(dir) = pythonpath {
        cmd.env("PYTHONPATH", dir);
    }
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// The PYTHONPATH under which both drivers import: none when python3 already has them,
/// else `CARGO_TARGET_TMPDIR/pydeps`, filled by pip the first time.
fn driver_path() -> Option<PathBuf> {
    let version = Command::new("python3").arg("--version").output();
    assert!(
        version.map(|o| o.status.success()).unwrap_or(false),
        "python3 is required for the psycopg tests (apt-get install python3 python3-pip)"
    );
    if python_imports(None) {
        return None;
    }
    let deps = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pydeps");
    if python_imports(Some(&deps)) {
        return Some(deps);
    }
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--upgrade", "--target"])
        .arg(&deps)
        .args(PACKAGES)
        .output()
        .expect("run python3 -m pip");
    assert!(
        out.status.success(),
        "pip install {PACKAGES:?} into {} failed:\n{}{}",
        deps.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        python_imports(Some(&deps)),
        "psycopg still not importable from {}",
        deps.display()
    );
    Some(deps)
}

/// Runs one script against `addr`; asserts it ran to the end and that exactly `gaps`
/// of its checks failed.
fn run_script(script: &str, addr: &str, gaps: &[&str]) {
    let (host, port) = addr.split_once(':').unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(scripts_dir().join(script)).args([host, port]);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    cmd.env("PGCONNECT_TIMEOUT", "10");
    if let Some(dir) = driver_path() {
        cmd.env("PYTHONPATH", dir);
    }
    let out = cmd.output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!("--- {script} stdout:\n{stdout}--- stderr:\n{stderr}");
    assert!(
        out.status.success(),
        "{script} exited {}\n{report}",
        out.status
    );
    let failed: Vec<&str> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("failed checks: "))
        .unwrap_or_else(|| panic!("{script} printed no summary\n{report}"))
        .split(',')
        .filter(|name| *name != "(none)")
        .collect();
    assert_eq!(
        failed, gaps,
        "{script}: the failing checks are not the known gaps\n{report}"
    );
    println!("{stdout}");
}

#[test]
fn psycopg3_and_psycopg2_work_against_ferrisdb() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = common::start_pg(dir.path(), &[]);
    let _server = common::KillOnDrop(child);
    run_script("psycopg3_test.py", &addr, PSYCOPG3_GAPS);
    run_script("psycopg2_test.py", &addr, PSYCOPG2_GAPS);
}
