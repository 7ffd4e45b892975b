//! # storage-bench: db_bench's workloads on FerrisDB, fjall and RocksDB, side by side
//!
//! ```text
//! cargo run --release -p ferrisdb-storage --features bench-fjall --bin storage-bench -- \
//!     [--num 1000000] [--key-size 16] [--value-size 100] [--sync-num 100000] \
//!     [--sync-threads 1,4,16] [--cache-mb 8] [--seed 301] [--dir PATH] \
//!     [--engines ferrisdb,fjall] [--db-bench /usr/bin/db_bench] [--keep]
//! ```
//!
//! The point of this program is an honest comparison, so every engine gets *the same
//! procedure*, and that procedure is RocksDB's `db_bench` with its defaults wherever we have a
//! choice. `bench/storage-compare.sh` builds it and runs it with `--db-bench`, which adds
//! RocksDB (Debian's `rocksdb-tools`) as a third column.
//!
//! ## Process model
//! The parent re-executes itself once per engine (`--child --engine NAME`, plus the same
//! options), one child at a time. Each child runs every phase below on one engine and prints
//! `@result` / `@peak_kb` lines on stdout; the parent parses them and prints one table. One
//! process per engine means each engine's peak memory (`VmHWM` from `/proc/self/status`) and
//! caches are its own. db_bench runs as a child as well (under `/usr/bin/time` for its peak
//! RSS), with command lines built from the very same options.
//!
//! ## Phases (identical for every engine, db_bench included)
//! Each phase opens the database, runs, and closes it; the fill phases then flush the memtable
//! and wait for compactions (untimed, like db_bench's `flush,waitforcompaction`) so that the
//! write amplification is the settled one and the next phase starts from a quiet tree.
//! 1. `fillseq`: fresh database, keys `0..num` in order.
//! 2. `fillrandom`: fresh database, `num` keys drawn uniformly from `[0, num)`.
//! 3. `overwrite`: the same database, `num` more random keys.
//! 4. `readrandom`, `readseq`, `seekrandom` (seek + 10 nexts): on the database left by
//!    fillrandom + overwrite, reopened; exactly db_bench's default order, where the reads follow
//!    `fillrandom,overwrite` on the same database (not a fresh fillseq). About 86% of the keys
//!    exist (`1 - e^-2`), so readrandom reports how many were found.
//! 5. `fillsync-T` for T in `--sync-threads`: fresh database, `--sync-num` writes in total
//!    split over T threads, each write durable before it returns (group commit in FerrisDB,
//!    `persist(SyncData)` after each insert in fjall, `--sync=1` in RocksDB). Like db_bench with
//!    `--threads=T --num=sync_num/T`, each thread draws keys from `[0, sync_num/T)`.
//!
//! ## Choices that must stay identical across engines
//! - Keys: db_bench's `GenerateKeyFromInt`: the number's 8-byte big-endian encoding followed
//!   by ASCII `'0'` padding up to `--key-size` (16 bytes: `BE64(n) ++ "00000000"`). Random
//!   keys come from SplitMix64 seeded with `--seed` (thread i uses `seed + i`), uniform over
//!   `[0, num)`; db_bench gets the same `--seed` but has its own generator, so the *sequence*
//!   differs while the distribution is the same.
//! - Values: `--value-size` bytes sliced from a 1 MiB pseudo-random buffer (content is
//!   irrelevant because compression is off).
//! - Fill writes are not synced (db_bench's default `--sync=0`); the WAL/journal is still
//!   written on every put and handed to the OS.
//! - Compression is off everywhere: db_bench `--compression_type=none`, fjall data and index
//!   blocks `CompressionPolicy::disabled()` and journal `CompressionType::None`.
//! - Block cache `--cache-mb` (db_bench's default 8 MiB) for every engine that has one.
//! - Memtable sizes stay at each engine's default (64 MiB for RocksDB and fjall).
//!
//! ## Metrics
//! ops/s = operations / wall seconds of the timed loop (all threads together). MB/s counts
//! key + value bytes of every entry written or returned, in MiB like db_bench. Write
//! amplification = table bytes written by flushes and compactions / user key+value bytes
//! written in that phase (WAL excluded, as in RocksDB's `W-Amp`); "n/a" where the engine's API
//! does not expose it (fjall). Peak memory is the child's VmHWM after all phases.

mod dbbench;
mod engine;
// FerrisDB's adapter targets the `Engine` API that is being written on another branch; the
// lead enables this line (and the matching arm in `engine.rs`) when merging.
mod ferris;
#[cfg(feature = "bench-fjall")]
mod fjall_engine;
mod options;
mod report;
mod workloads;

use std::process::{Command, ExitCode, Stdio};

use options::BenchOptions;
use report::{EngineRun, Measurement};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match BenchOptions::parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!(
                "storage-bench: {msg}\n\n{}{:?}",
                options::USAGE,
                options::compiled_engines()
            );
            return ExitCode::from(2);
        }
    };
    let outcome = if opts.child {
        run_child(&opts)
    } else {
        run_parent(&opts)
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("storage-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Child mode: run every phase on one engine and report on stdout.
fn run_child(opts: &BenchOptions) -> engine::BenchResult<()> {
    let name = opts.engine.as_deref().ok_or("--child needs --engine")?;
    let dir = opts.dir.join(name);
    // Results go out as soon as each workload ends: a later failure keeps earlier numbers.
    let outcome = workloads::run_all(name, &dir, opts, &mut |m| println!("{}", m.to_line()));
    if let Some(kb) = report::peak_memory_kb() {
        println!("@peak_kb {kb}");
    }
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

/// Parent mode: one child per engine, then db_bench, then the table.
fn run_parent(opts: &BenchOptions) -> engine::BenchResult<()> {
    std::fs::create_dir_all(&opts.dir).map_err(|e| format!("{}: {e}", opts.dir.display()))?;
    eprintln!("storage-bench: {}", opts.describe());
    let mut runs = Vec::new();
    for name in &opts.engines {
        runs.push(spawn_engine_child(name, opts));
    }
    if let Some(path) = &opts.db_bench {
        runs.push(dbbench::run(path, opts));
    }
    if runs.is_empty() {
        eprintln!(
            "storage-bench: no engine to run (built without `bench-fjall` and FerrisDB's adapter \
             is not enabled yet) and no --db-bench given"
        );
    }
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&opts.dir);
    }
    println!("{}", report::render_table(opts, &runs));
    Ok(())
}

fn spawn_engine_child(name: &str, opts: &BenchOptions) -> EngineRun {
    let mut run = EngineRun::new(name);
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return run.failed(format!("cannot find own executable: {e}")),
    };
    eprintln!("storage-bench: running {name} in a child process");
    let output = Command::new(exe)
        .args(opts.child_args(name))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) => return run.failed(format!("spawn failed: {e}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        if let Some(kb) = line.strip_prefix("@peak_kb ") {
            run.peak_kb = kb.trim().parse().ok();
        } else if let Some(m) = Measurement::from_line(line) {
            run.results.push(m);
        }
    }
    if !output.status.success() {
        run.error = Some(format!("child exited with {}", output.status));
    }
    run
}
