//! The README's test command runs FerrisDB's own suites (`suites/*.slt`, whose expected
//! results were produced by PostgreSQL 15) and SQLite's select1-3 against the engine in
//! process. `passing.txt` records how many records of each file pass; a file passing fewer
//! is a regression and fails the test (raise the numbers as the engine grows, never lower
//! them). Every count is printed, so `cargo test -p ferrisdb-sqllogictest -- --nocapture`
//! is the progress report.

use std::collections::BTreeMap;
use std::path::Path;

fn floors() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("passing.txt"))
        .expect("passing.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let file = w.next().expect("file").to_string();
            let n = w.next().and_then(|n| n.parse().ok()).expect("a count");
            (file, n)
        })
        .collect()
}

#[test]
fn suites_pass_at_least_the_recorded_number_of_records() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut regressions = Vec::new();
    for (file, floor) in floors() {
        let report = ferrisdb_sqllogictest::run_file(&root.join(&file), 3)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        eprintln!(
            "{file}: passed {} failed {} skipped {} (recorded floor {floor})",
            report.passed, report.failed, report.skipped
        );
        if report.passed < floor {
            regressions.push(format!(
                "{file}: {} < {floor}\n{}",
                report.passed,
                report.failures.join("\n")
            ));
        }
    }
    assert!(
        regressions.is_empty(),
        "fewer records pass than recorded:\n{}",
        regressions.join("\n")
    );
}
