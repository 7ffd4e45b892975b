//! Resolver throughput: batches of single-key transactions over a key space, the shape of
//! `ferrisdb bench kv`'s write and mix loads at 64 clients, without the rest of the pipeline.
//!
//! ```sh
//! cargo run --release -p ferrisdb-txn --example resolver_bench            # 100,000 keys
//! cargo run --release -p ferrisdb-txn --example resolver_bench -- 1000000 # keys
//! ```
//!
//! Commit versions advance 320 per batch (64 commits in 320 us: 200,000 commits/s), so the
//! default 5 s window holds about a million writes. Prints ns per transaction.

use std::time::Instant;

use ferrisdb_kv::KeyRange;
use ferrisdb_txn::{ResolveRequest, Resolver};

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    for (name, with_reads) in [("blind writes", false), ("read-modify-write", true)] {
        let mut res = Resolver::new(0);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut version = 1_000u64;
        let batches = 100_000;
        let warmup = 20_000;
        let mut start = Instant::now();
        let mut conflicts = 0usize;
        for b in 0..batches {
            if b == warmup {
                start = Instant::now();
            }
            let txns: Vec<ResolveRequest> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = KeyRange::single(format!("key/{:08}", x % keys).as_bytes());
                    ResolveRequest {
                        read_version: version - 300,
                        reads: if with_reads { vec![k.clone()] } else { vec![] },
                        writes: vec![k],
                    }
                })
                .collect();
            version += 320;
            let out = res.resolve(version, &txns).expect("a valid batch");
            conflicts += out.iter().filter(|o| o.is_retryable()).count();
        }
        let per = start.elapsed().as_nanos() as f64 / ((batches - warmup) * 64) as f64;
        println!(
            "{name}: {per:.0} ns per transaction (incl. building it), {} spans held, {conflicts} conflicts",
            res.span_count()
        );
    }
}
