//! The db_bench workloads, run on one engine inside a child process.
//!
//! Phase order and semantics are described in `main.rs`. Only the loops are timed; opening,
//! settling (`wait_idle`) and closing are not, matching db_bench, which times each benchmark
//! and runs `flush,waitforcompaction` as separate meta-benchmarks.
//!
//! Key encoding (db_bench's `GenerateKeyFromInt` with no prefix): the low
//! `min(key_size, 8)` bytes of the number in big-endian order, then ASCII `'0'` up to
//! `key_size`. Sequential order of numbers is thus byte order of keys.

use std::path::Path;
use std::time::Instant;

use crate::engine::{self, BenchEngine, BenchResult, EngineConfig};
use crate::options::BenchOptions;
use crate::report::Measurement;

/// Writes db_bench's key for `n` into `buf` (whose length is the key size).
pub fn encode_key(n: u64, buf: &mut [u8]) {
    let fill = buf.len().min(8);
    let be = n.to_be_bytes();
    let (num, pad) = buf.split_at_mut(fill);
    num.copy_from_slice(&be[8 - fill..]);
    pad.fill(b'0');
}

/// SplitMix64: tiny, fast, and good enough for uniform key choice.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` by multiply-shift (bias below 2^-32 for our ranges).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Values are windows into one pseudo-random buffer, so producing one costs nothing.
pub struct ValueSource {
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl ValueSource {
    pub fn new(len: usize, seed: u64) -> Self {
        let size = (1 << 20).max(len * 2);
        let mut rng = Rng::new(seed ^ 0x5EED);
        let buf = (0..size).map(|_| rng.next_u64() as u8).collect();
        ValueSource { buf, pos: 0, len }
    }

    pub fn next(&mut self) -> &[u8] {
        if self.pos + self.len > self.buf.len() {
            self.pos = 0;
        }
        let start = self.pos;
        self.pos += self.len;
        &self.buf[start..start + self.len]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    Sequential,
    /// Uniform over `[0, range)`.
    Random {
        range: u64,
    },
}

/// Runs every phase on engine `name` in `dir`, calling `emit` after each workload so that a
/// later failure does not lose earlier results.
pub fn run_all(
    name: &str,
    dir: &Path,
    opts: &BenchOptions,
    emit: &mut dyn FnMut(&Measurement),
) -> BenchResult<()> {
    let _ = std::fs::remove_dir_all(dir);
    let main_dir = dir.join("main");
    let unsynced = EngineConfig {
        synced: false,
        cache_bytes: opts.cache_bytes(),
    };
    let num = opts.num;
    let fills = [
        ("fillseq", Order::Sequential, true),
        ("fillrandom", Order::Random { range: num }, true),
        ("overwrite", Order::Random { range: num }, false),
    ];
    for (workload, order, fresh) in fills {
        if fresh {
            let _ = std::fs::remove_dir_all(&main_dir);
        }
        progress(name, workload);
        let e = engine::open(name, &main_dir, &unsynced)?;
        let m = fill(&*e, workload, order, num, 1, opts)?;
        e.close()?;
        emit(&m);
    }
    let e = engine::open(name, &main_dir, &unsynced)?;
    for workload in ["readrandom", "readseq", "seekrandom"] {
        progress(name, workload);
        emit(&read(&*e, workload, opts)?);
    }
    e.close()?;
    let _ = std::fs::remove_dir_all(&main_dir);
    run_fillsync(name, dir, opts, emit)
}

fn run_fillsync(
    name: &str,
    dir: &Path,
    opts: &BenchOptions,
    emit: &mut dyn FnMut(&Measurement),
) -> BenchResult<()> {
    let synced = EngineConfig {
        synced: true,
        cache_bytes: opts.cache_bytes(),
    };
    for &threads in &opts.sync_threads {
        let workload = format!("fillsync-{threads}");
        let sync_dir = dir.join(&workload);
        let _ = std::fs::remove_dir_all(&sync_dir);
        progress(name, &workload);
        let per_thread = opts.sync_per_thread(threads);
        let e = engine::open(name, &sync_dir, &synced)?;
        let order = Order::Random { range: per_thread };
        let m = fill(&*e, &workload, order, per_thread, threads, opts)?;
        e.close()?;
        let _ = std::fs::remove_dir_all(&sync_dir);
        emit(&m);
    }
    Ok(())
}

fn progress(engine: &str, workload: &str) {
    eprintln!("  [{engine}] {workload} ...");
}

/// `threads` writers each put `per_thread` entries, then the engine settles (untimed).
fn fill(
    e: &dyn BenchEngine,
    workload: &str,
    order: Order,
    per_thread: u64,
    threads: usize,
    opts: &BenchOptions,
) -> BenchResult<Measurement> {
    let start = Instant::now();
    let results: Vec<BenchResult<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                // Threads of one phase draw disjoint-looking streams from the phase's seed.
                let seed = opts.seed_for(workload).wrapping_add((t as u64) << 32);
                s.spawn(move || write_loop(e, order, per_thread, seed, opts))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("writer thread panicked".into()))
            })
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    results.into_iter().collect::<BenchResult<Vec<()>>>()?;
    e.wait_idle()?;
    let ops = per_thread * threads as u64;
    let entry = (opts.key_size + opts.value_size) as u64;
    Ok(Measurement {
        workload: workload.to_string(),
        ops,
        secs,
        bytes: ops * entry,
        found: None,
        write_amp: e.write_amp(),
    })
}

fn write_loop(
    e: &dyn BenchEngine,
    order: Order,
    count: u64,
    seed: u64,
    opts: &BenchOptions,
) -> BenchResult<()> {
    let mut rng = Rng::new(seed);
    let mut values = ValueSource::new(opts.value_size, seed);
    let mut key = vec![0u8; opts.key_size];
    for i in 0..count {
        let n = match order {
            Order::Sequential => i,
            Order::Random { range } => rng.below(range),
        };
        encode_key(n, &mut key);
        e.put(&key, values.next())?;
    }
    Ok(())
}

/// One read workload on the database left by fillrandom + overwrite.
fn read(e: &dyn BenchEngine, workload: &str, opts: &BenchOptions) -> BenchResult<Measurement> {
    const SEEK_NEXTS: usize = 10;
    let mut rng = Rng::new(opts.seed_for(workload));
    let mut key = vec![0u8; opts.key_size];
    let mut bytes = 0u64;
    let mut found = 0u64;
    let start = Instant::now();
    let ops = match workload {
        "readrandom" => {
            for _ in 0..opts.num {
                encode_key(rng.below(opts.num), &mut key);
                let klen = key.len() as u64;
                if e.get(&key, &mut |v| bytes += klen + v.len() as u64)? {
                    found += 1;
                }
            }
            opts.num
        }
        "readseq" => e.scan_all(&mut |k, v| bytes += (k.len() + v.len()) as u64)? as u64,
        "seekrandom" => {
            for _ in 0..opts.num {
                encode_key(rng.below(opts.num), &mut key);
                let mut first = true;
                let target = key.as_slice();
                e.scan_from(target, SEEK_NEXTS + 1, &mut |k, v| {
                    if first && k == target {
                        found += 1;
                    }
                    first = false;
                    bytes += (k.len() + v.len()) as u64;
                })?;
            }
            opts.num
        }
        other => return Err(format!("unknown read workload {other}").into()),
    };
    let secs = start.elapsed().as_secs_f64();
    let found = (workload != "readseq").then_some(found);
    Ok(Measurement {
        workload: workload.to_string(),
        ops,
        secs,
        bytes,
        found,
        write_amp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_db_bench_layout() {
        let mut k = [0u8; 16];
        encode_key(0x0102_0304_0506_0708, &mut k);
        assert_eq!(&k, b"\x01\x02\x03\x04\x05\x06\x07\x0800000000");
        let mut short = [0u8; 4];
        encode_key(0x0102_0304_0506_0708, &mut short);
        assert_eq!(&short, b"\x05\x06\x07\x08");
    }

    #[test]
    fn sequential_numbers_give_sorted_keys() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        for n in [0u64, 1, 255, 256, 65_535, 1 << 40] {
            encode_key(n, &mut a);
            encode_key(n + 1, &mut b);
            assert!(a < b, "key({n}) must sort before key({})", n + 1);
        }
    }

    #[test]
    fn random_keys_stay_in_range_and_cover_it() {
        let mut rng = Rng::new(301);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let n = rng.below(10);
            assert!(n < 10);
            seen[n as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "1000 draws must hit all of [0,10)");
    }
}
