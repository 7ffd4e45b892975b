//! RocksDB's `db_bench`, driven with the same parameters and the same phases as our engines.
//!
//! db_bench prints its statistics once per process and they are cumulative, so each phase is
//! its own invocation: that is what lets us attribute write amplification to a single fill.
//! The invocations, for `--num N --key-size K --value-size V --cache-mb C --seed S`
//! (`COMMON` = `--num=N --key_size=K --value_size=V --compression_type=none
//! --cache_size=C*2^20 --seed=S+i --seek_nexts=10 --statistics=1 --histogram=0
//! --progress_reports=0 --db=DIR/rocksdb/main`, where `S+i` is the phase's own seed from
//! `BenchOptions::seed_for`):
//!
//! ```text
//! db_bench COMMON --benchmarks=fillseq,flush,waitforcompaction    --use_existing_db=0 --sync=0 --threads=1
//! db_bench COMMON --benchmarks=fillrandom,flush,waitforcompaction --use_existing_db=0 --sync=0 --threads=1
//! db_bench COMMON --benchmarks=overwrite,flush,waitforcompaction  --use_existing_db=1 --sync=0 --threads=1
//! db_bench COMMON --benchmarks=readrandom,readseq,seekrandom      --use_existing_db=1 --sync=0 --threads=1
//! db_bench COMMON --benchmarks=fillrandom,flush,waitforcompaction --use_existing_db=0 --sync=1 --threads=T
//!          --num=SYNC_NUM/T --db=DIR/rocksdb/fillsync-T            (for each T in --sync-threads)
//! ```
//!
//! Each runs under `/usr/bin/time -f '@peak_kb %M'` when that exists (GNU time's maximum RSS,
//! the same quantity as VmHWM); the engine's peak is the largest over its invocations. Write
//! amplification = (`rocksdb.flush.write.bytes` + `rocksdb.compact.write.bytes`) / (ops x
//! (key + value)), the definition used for every engine. ops/s and MB/s are db_bench's own
//! printed figures. Note that Debian's db_bench is built with assertions enabled (it warns
//! about it), which costs RocksDB some speed.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::options::BenchOptions;
use crate::report::{EngineRun, Measurement};

/// One db_bench process: its flags and which of its result lines we keep, under which name.
struct Invocation {
    args: Vec<String>,
    /// (db_bench benchmark name, our workload name)
    keep: Vec<(&'static str, String)>,
    /// User bytes this invocation writes, for write amplification (0: not a fill).
    user_bytes: u64,
}

pub fn run(db_bench: &Path, opts: &BenchOptions) -> EngineRun {
    let mut run = EngineRun::new("rocksdb");
    let root = opts.dir.join("rocksdb");
    // db_bench creates its database directory but not the parents.
    if let Err(e) = std::fs::create_dir_all(&root) {
        return run.failed(format!("{}: {e}", root.display()));
    }
    for inv in invocations(opts, &root) {
        let line = format!("{} {}", db_bench.display(), inv.args.join(" "));
        eprintln!("  [rocksdb] {line}");
        match run_one(db_bench, &inv) {
            Ok((results, peak)) => {
                run.results.extend(results);
                run.peak_kb = run.peak_kb.max(peak);
            }
            Err(e) => {
                run.error = Some(format!("{line}: {e}"));
                break;
            }
        }
    }
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&root);
    }
    run
}

fn common_args(opts: &BenchOptions, db: &Path, num: u64, seed: u64) -> Vec<String> {
    vec![
        format!("--num={num}"),
        format!("--key_size={}", opts.key_size),
        format!("--value_size={}", opts.value_size),
        "--compression_type=none".into(),
        format!("--cache_size={}", opts.cache_bytes()),
        format!("--seed={seed}"),
        "--seek_nexts=10".into(),
        "--statistics=1".into(),
        "--histogram=0".into(),
        "--progress_reports=0".into(),
        format!("--db={}", db.display()),
    ]
}

fn invocations(opts: &BenchOptions, root: &Path) -> Vec<Invocation> {
    let entry = (opts.key_size + opts.value_size) as u64;
    let main = root.join("main");
    let inv = |db: &Path, num: u64, benches: String, existing: u8, sync: u8, threads: usize| {
        let first = benches.split(',').next().unwrap_or_default();
        let phase = if sync == 1 {
            format!("fillsync-{threads}")
        } else {
            first.to_string()
        };
        let mut args = common_args(opts, db, num, opts.seed_for(&phase));
        args.push(format!("--benchmarks={benches}"));
        args.push(format!("--use_existing_db={existing}"));
        args.push(format!("--sync={sync}"));
        args.push(format!("--threads={threads}"));
        Invocation {
            args,
            keep: Vec::new(),
            user_bytes: 0,
        }
    };
    let settle = ",flush,waitforcompaction";
    let mut v = Vec::new();
    for (name, existing) in [("fillseq", 0), ("fillrandom", 0), ("overwrite", 1)] {
        let mut i = inv(&main, opts.num, format!("{name}{settle}"), existing, 0, 1);
        i.keep = vec![(name, name.to_string())];
        i.user_bytes = opts.num * entry;
        v.push(i);
    }
    let reads = ["readrandom", "readseq", "seekrandom"];
    let mut i = inv(&main, opts.num, reads.join(","), 1, 0, 1);
    i.keep = reads.iter().map(|r| (*r, r.to_string())).collect();
    v.push(i);
    for &t in &opts.sync_threads {
        let name = format!("fillsync-{t}");
        let per_thread = opts.sync_per_thread(t);
        let mut i = inv(
            &root.join(&name),
            per_thread,
            format!("fillrandom{settle}"),
            0,
            1,
            t,
        );
        i.user_bytes = per_thread * t as u64 * entry;
        i.keep = vec![("fillrandom", name)];
        v.push(i);
    }
    v
}

fn run_one(db_bench: &Path, inv: &Invocation) -> Result<(Vec<Measurement>, Option<u64>), String> {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "@peak_kb %M"]).arg(db_bench);
        c
    } else {
        Command::new(db_bench)
    };
    let out = cmd
        .args(&inv.args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!("exited with {}: {}", out.status, tail.join(" / ")));
    }
    let peak = stderr
        .lines()
        .find_map(|l| l.strip_prefix("@peak_kb ")?.trim().parse().ok());
    let wa = write_amp(&stdout, inv.user_bytes);
    let mut results = Vec::new();
    for (bench, ours) in &inv.keep {
        let mut m = parse_result(&stdout, bench)
            .ok_or_else(|| format!("no result line for {bench} in db_bench output"))?;
        m.workload = ours.clone();
        m.write_amp = wa;
        results.push(m);
    }
    Ok((results, peak))
}

/// Parses db_bench's summary line, e.g.
/// `readrandom   :  1.074 micros/op 930578 ops/sec 0.021 seconds 20000 operations;   89.2 MB/s (17335 of 20000 found)`.
pub fn parse_result(stdout: &str, bench: &str) -> Option<Measurement> {
    let line = stdout.lines().find(|l| {
        l.split_once(':')
            .is_some_and(|(n, rest)| n.trim() == bench && rest.contains("micros/op"))
    })?;
    let rest = line.split_once(':')?.1;
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let before = |unit: &str| -> Option<f64> {
        let i = tokens.iter().position(|t| *t == unit)?;
        tokens.get(i.checked_sub(1)?)?.parse().ok()
    };
    let ops_per_sec = before("ops/sec")?;
    let ops = before("operations;")? as u64;
    let mb_per_sec = before("MB/s").unwrap_or(0.0);
    let secs = if ops_per_sec > 0.0 {
        ops as f64 / ops_per_sec
    } else {
        before("seconds")?
    };
    let found = rest
        .split_once('(')
        .and_then(|(_, f)| f.split_whitespace().next()?.parse().ok());
    Some(Measurement {
        workload: bench.to_string(),
        ops,
        secs,
        bytes: (mb_per_sec * secs * 1_048_576.0).round() as u64,
        found,
        write_amp: None,
    })
}

/// (flush + compaction bytes written) / user bytes, from db_bench's `STATISTICS:` dump.
pub fn write_amp(stdout: &str, user_bytes: u64) -> Option<f64> {
    if user_bytes == 0 {
        return None;
    }
    let counter = |name: &str| -> Option<u64> {
        let line = stdout.lines().find(|l| l.starts_with(name))?;
        line.rsplit(':').next()?.trim().parse().ok()
    };
    let written = counter("rocksdb.flush.write.bytes COUNT")?
        .checked_add(counter("rocksdb.compact.write.bytes COUNT")?)?;
    Some(written as f64 / user_bytes as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "\
DB path: [/tmp/dbb]
fillseq      :       2.478 micros/op 403144 ops/sec 0.050 seconds 20000 operations;   44.6 MB/s
readrandom   :       1.074 micros/op 930578 ops/sec 0.021 seconds 20000 operations;   89.2 MB/s (17335 of 20000 found)
STATISTICS:
rocksdb.compact.write.bytes COUNT : 1000
rocksdb.flush.write.bytes COUNT : 2438263
";

    #[test]
    fn parses_summary_lines() {
        let m = parse_result(OUT, "fillseq").expect("fillseq line");
        assert_eq!(m.ops, 20_000);
        assert!((m.ops_per_sec() - 403_144.0).abs() < 1.0);
        assert!((m.mb_per_sec() - 44.6).abs() < 0.01);
        assert_eq!(m.found, None);
        let r = parse_result(OUT, "readrandom").expect("readrandom line");
        assert_eq!(r.found, Some(17_335));
        assert!(parse_result(OUT, "seekrandom").is_none());
    }

    #[test]
    fn write_amp_from_statistics() {
        let wa = write_amp(OUT, 2_439_263).expect("counters present");
        assert!((wa - 1.0).abs() < 1e-9);
        assert_eq!(write_amp(OUT, 0), None);
        assert_eq!(write_amp("no stats", 10), None);
    }
}
