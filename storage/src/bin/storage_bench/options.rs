//! Command-line options of `storage-bench`.
//!
//! Hand-parsed (`--name value` or `--name=value`) to keep the bench free of extra
//! dependencies. The parent forwards every option verbatim to its children
//! ([`BenchOptions::child_args`]) so that all engines run with exactly the same parameters;
//! `dbbench.rs` translates the same struct into db_bench flags.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: storage-bench [options]
  --num N             entries for fillseq/fillrandom/overwrite and reads   (default 1000000)
  --key-size N        key bytes, db_bench format BE64(n) ++ '0' padding     (default 16)
  --value-size N      value bytes                                           (default 100)
  --sync-num N        synced writes per thread count, split over threads    (default 100000)
  --sync-threads L    thread counts for fillsync, comma-separated           (default 1,4,16)
  --cache-mb N        block cache MiB for every engine that has one         (default 8)
  --seed N            random key seed (thread i uses seed+i)                (default 301)
  --dir PATH          scratch directory for all databases   (default $TMPDIR/storage-bench-PID)
  --engines L         engines to run, comma-separated       (default: all compiled in)
  --db-bench PATH     also run RocksDB's db_bench binary with the same parameters
  --keep              keep the databases afterwards
engines compiled in: ";

/// Engines this binary can drive, in table order.
pub fn compiled_engines() -> Vec<String> {
    crate::engine::ENGINES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub num: u64,
    pub key_size: usize,
    pub value_size: usize,
    pub sync_num: u64,
    pub sync_threads: Vec<usize>,
    pub cache_mb: u64,
    pub seed: u64,
    pub dir: PathBuf,
    pub engines: Vec<String>,
    pub db_bench: Option<PathBuf>,
    pub keep: bool,
    /// Internal: this process is a per-engine child.
    pub child: bool,
    pub engine: Option<String>,
}

impl BenchOptions {
    fn defaults() -> Self {
        BenchOptions {
            num: 1_000_000,
            key_size: 16,
            value_size: 100,
            sync_num: 100_000,
            sync_threads: vec![1, 4, 16],
            cache_mb: 8,
            seed: 301,
            dir: std::env::temp_dir().join(format!("storage-bench-{}", std::process::id())),
            engines: compiled_engines(),
            db_bench: None,
            keep: false,
            child: false,
            engine: None,
        }
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Self::defaults();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            let flag = matches!(name, "--keep" | "--child" | "--help" | "-h");
            let value = if flag {
                String::new()
            } else {
                match inline.or_else(|| it.next().cloned()) {
                    Some(v) => v,
                    None => return Err(format!("{name} needs a value")),
                }
            };
            o.apply(name, &value)?;
        }
        o.validate()?;
        Ok(o)
    }

    fn apply(&mut self, name: &str, v: &str) -> Result<(), String> {
        match name {
            "--num" => self.num = number(name, v)?,
            "--key-size" => self.key_size = number(name, v)?,
            "--value-size" => self.value_size = number(name, v)?,
            "--sync-num" => self.sync_num = number(name, v)?,
            "--sync-threads" => {
                self.sync_threads = list(v).map(|t| number(name, t)).collect::<Result<_, _>>()?
            }
            "--cache-mb" => self.cache_mb = number(name, v)?,
            "--seed" => self.seed = number(name, v)?,
            "--dir" => self.dir = PathBuf::from(v),
            "--engines" => self.engines = list(v).map(str::to_string).collect(),
            "--db-bench" => self.db_bench = Some(PathBuf::from(v)),
            "--keep" => self.keep = true,
            "--child" => self.child = true,
            "--engine" => self.engine = Some(v.to_string()),
            "--help" | "-h" => return Err("help requested".into()),
            _ => return Err(format!("unknown option {name}")),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.num == 0 || self.key_size == 0 || self.sync_num == 0 {
            return Err("--num, --key-size and --sync-num must be positive".into());
        }
        if self.sync_threads.contains(&0) {
            return Err("--sync-threads entries must be positive".into());
        }
        let known = compiled_engines();
        for e in self.engines.iter().chain(self.engine.iter()) {
            if !known.contains(e) {
                return Err(format!("engine {e:?} is not compiled in (have: {known:?})"));
            }
        }
        Ok(())
    }

    /// Block cache size in bytes, shared by every engine's configuration.
    pub fn cache_bytes(&self) -> u64 {
        self.cache_mb.saturating_mul(1 << 20)
    }

    /// Writes per thread in the fillsync phase with `threads` threads (db_bench's `--num`).
    pub fn sync_per_thread(&self, threads: usize) -> u64 {
        (self.sync_num / threads as u64).max(1)
    }

    /// The random seed of one workload. Every phase gets its own, as in a single db_bench
    /// process (which advances its seed per benchmark): with one shared seed, overwrite and
    /// readrandom would replay fillrandom's exact key sequence and every read would hit.
    /// db_bench runs each phase as its own process and gets the phase's seed as `--seed`.
    pub fn seed_for(&self, workload: &str) -> u64 {
        let offset = match workload {
            "fillrandom" => 1,
            "overwrite" => 2,
            "readrandom" => 3,
            "seekrandom" => 4,
            w => match w
                .strip_prefix("fillsync-")
                .and_then(|t| t.parse::<u64>().ok())
            {
                Some(t) => 100 + t,
                None => 0,
            },
        };
        self.seed.wrapping_add(offset)
    }

    /// The argument list for a per-engine child: every parameter, explicitly.
    pub fn child_args(&self, engine: &str) -> Vec<String> {
        let threads: Vec<String> = self.sync_threads.iter().map(|t| t.to_string()).collect();
        let mut a = vec![
            "--child".to_string(),
            format!("--engine={engine}"),
            format!("--num={}", self.num),
            format!("--key-size={}", self.key_size),
            format!("--value-size={}", self.value_size),
            format!("--sync-num={}", self.sync_num),
            format!("--sync-threads={}", threads.join(",")),
            format!("--cache-mb={}", self.cache_mb),
            format!("--seed={}", self.seed),
            format!("--dir={}", self.dir.display()),
        ];
        if self.keep {
            a.push("--keep".into());
        }
        a
    }

    pub fn describe(&self) -> String {
        format!(
            "num={} key={}B value={}B sync_num={} sync_threads={:?} cache={}MiB seed={} \
             compression=none fill-sync=off dir={}",
            self.num,
            self.key_size,
            self.value_size,
            self.sync_num,
            self.sync_threads,
            self.cache_mb,
            self.seed,
            self.dir.display()
        )
    }
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.replace('_', "")
        .parse()
        .map_err(|_| format!("{name}: not a number: {v:?}"))
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn child_args_reproduce_the_parent_options() {
        let parent = BenchOptions::parse(&args(&[
            "--num",
            "50_000",
            "--key-size=20",
            "--sync-threads",
            "2,8",
            "--dir",
            "/tmp/x",
            "--keep",
        ]))
        .expect("valid options");
        let child = BenchOptions::parse(&parent.child_args("x")).expect_err("unknown engine");
        assert!(child.contains("not compiled in"), "{child}");
        let mut forwarded = parent.child_args("x");
        forwarded.retain(|a| !a.starts_with("--engine"));
        let child = BenchOptions::parse(&forwarded).expect("forwarded options parse");
        assert!(child.child && child.keep);
        assert_eq!(child.num, 50_000);
        assert_eq!(child.key_size, 20);
        assert_eq!(child.sync_threads, vec![2, 8]);
        assert_eq!(child.dir, PathBuf::from("/tmp/x"));
        assert_eq!(child.sync_per_thread(8), 100_000 / 8);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(BenchOptions::parse(&args(&["--num"])).is_err());
        assert!(BenchOptions::parse(&args(&["--num", "x"])).is_err());
        assert!(BenchOptions::parse(&args(&["--num", "0"])).is_err());
        assert!(BenchOptions::parse(&args(&["--sync-threads", "1,0"])).is_err());
        assert!(BenchOptions::parse(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn every_phase_has_its_own_seed() {
        let o = BenchOptions::parse(&[]).expect("defaults");
        let phases = [
            "fillseq",
            "fillrandom",
            "overwrite",
            "readrandom",
            "seekrandom",
            "fillsync-1",
            "fillsync-4",
        ];
        let mut seeds: Vec<u64> = phases.iter().map(|p| o.seed_for(p)).collect();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), phases.len());
    }
}
