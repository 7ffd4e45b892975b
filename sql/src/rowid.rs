//! Hidden row ids of tables without a primary key, generated without a shared counter.
//!
//! A table without a primary key keys its rows by a hidden `bigint` row id. Taking ids
//! from a counter key would make every two concurrent inserts into the table conflict
//! on that key (each reads and writes it), so pgbench's `pgbench_history` would
//! serialize all clients. Instead, like CockroachDB's `unique_rowid()`, an id is made of
//! a timestamp and the generating process's node tag:
//!
//! ```text
//!   bit 63      0 (ids are positive)
//!   bits 62..15 48-bit time slot: 10-microsecond units since 2020-01-01 UTC
//!               (2^48 slots last 89 years)
//!   bits 14..0  node tag: 15 bits chosen at random when the process starts
//! ```
//!
//! Within a process the slot is strictly increasing (each id takes the slot after the
//! last one if the clock has not moved on, running ahead of the clock under more than
//! 100,000 inserts a second), so one process never repeats an id. Two processes repeat
//! one only with equal tags *and* equal slots; the insert reads the key first
//! ([`crate::dml`]) and draws again on a hit, and that read puts just this one key in
//! the transaction's conflict set. Ids grow with time, so a scan without ORDER BY
//! returns a process's rows in insertion order, as PostgreSQL's heap usually does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// 2020-01-01T00:00:00Z in Unix seconds.
const EPOCH_2020: u64 = 1_577_836_800;
const TAG_BITS: u32 = 15;
const SLOT_MASK: u64 = (1 << 48) - 1;

/// The last slot handed out by this process.
static LAST_SLOT: AtomicU64 = AtomicU64::new(0);

fn node_tag() -> u64 {
    static TAG: OnceLock<u64> = OnceLock::new();
    *TAG.get_or_init(|| {
        // RandomState is seeded from the OS per process; hashing the pid and the start
        // time through it gives a tag without another dependency.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(now_micros() as u128);
        h.finish() & ((1 << TAG_BITS) - 1)
    })
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The current time slot (10 µs since 2020).
fn clock_slot() -> u64 {
    (now_micros().saturating_sub(EPOCH_2020 * 1_000_000) / 10) & SLOT_MASK
}

/// A fresh row id, greater than every id this process generated before.
pub fn next_row_id() -> i64 {
    let now = clock_slot();
    let mut last = LAST_SLOT.load(Ordering::Relaxed);
    let slot = loop {
        let slot = now.max(last + 1) & SLOT_MASK;
        match LAST_SLOT.compare_exchange_weak(last, slot, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break slot,
            Err(seen) => last = seen,
        }
    };
    ((slot << TAG_BITS) | node_tag()) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_and_strictly_increasing_within_a_process() {
        let mut prev = next_row_id();
        assert!(prev > 0);
        for _ in 0..100_000 {
            let id = next_row_id();
            assert!(id > prev, "{id} after {prev}");
            prev = id;
        }
    }

    #[test]
    fn concurrent_generators_never_repeat_an_id() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| next_row_id()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<i64> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("generator thread"))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn ids_carry_the_node_tag_and_a_time_slot_near_now() {
        let before = clock_slot();
        let id = next_row_id() as u64;
        assert_eq!(id & ((1 << TAG_BITS) - 1), node_tag());
        assert!(id >> TAG_BITS >= before);
    }
}
