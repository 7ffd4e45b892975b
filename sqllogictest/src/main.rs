//! `cargo run --release -p ferrisdb-sqllogictest -- [--show N] FILE|DIR...`: run sqllogictest
//! files (`.slt`: FerrisDB's own; `.test`: SQLite's corpus) against FerrisDB in process and
//! print records passed, failed and skipped per file and in total.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "slt" || e == "test") {
        out.push(p.to_path_buf());
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut show = 0;
    if let Some(i) = args.iter().position(|a| a == "--show") {
        show = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(3);
        args.drain(i..(i + 2).min(args.len()));
    }
    let mut files = Vec::new();
    for a in &args {
        collect(Path::new(a), &mut files);
    }
    if files.is_empty() {
        eprintln!("usage: ferrisdb-sqllogictest [--show N] FILE|DIR...");
        return ExitCode::from(2);
    }
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for f in &files {
        match ferrisdb_sqllogictest::run_file(f, show) {
            Ok(r) => {
                println!(
                    "{}: passed {} failed {} skipped {}",
                    f.display(),
                    r.passed,
                    r.failed,
                    r.skipped
                );
                for e in &r.failures {
                    println!("  {}", e.replace('\n', "\n  "));
                }
                passed += r.passed;
                failed += r.failed;
                skipped += r.skipped;
            }
            Err(e) => {
                println!("{}: cannot run: {e}", f.display());
                failed += 1;
            }
        }
    }
    println!("TOTAL: {passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
