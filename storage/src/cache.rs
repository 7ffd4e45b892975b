//! The shared, memory-bounded block cache, and the optional row cache beside it.
//!
//! Every open table reads its data blocks through one `BlockCache`, keyed by
//! `(file number, block offset)`, holding decoded and decompressed [`Block`]s behind `Arc`s:
//! a hit costs a hash lookup and a reference-count increment, and an evicted block stays alive
//! for any iterator still reading it. Index and filter blocks are not cached here; each
//! `Table` holds its own for as long as it is open.
//!
//! Design: the key space is split over 16 shards by a hash of the key, each a second-chance
//! queue under its own `Mutex`, so concurrent readers rarely contend. The capacity is split
//! evenly (each shard gets `capacity / 16`), which keeps the total at or below the bound
//! without a global counter. A block is charged its buffer size plus a fixed per-entry overhead; a block larger
//! than a whole shard is not cached at all rather than flushing the shard for it. Hit and miss
//! counters live inside the shards (updated under the lock already held), so counting costs no
//! extra atomic traffic.
//!
//! Replacement is second chance (CLOCK): entries queue in insertion order; a hit only sets
//! the entry's `referenced` bit, and eviction takes the oldest entry, giving a referenced one
//! another round instead. A hit therefore touches nothing but its own hash-map entry (an LRU
//! list would relink three neighbours: four more cache misses per lookup in a large cache).
//!
//! `erase_file` scans the shards' maps (files are deleted rarely, after compactions), which
//! keeps the hot paths free of a second per-file index.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::sstable::Block;
use crate::types::{ValueKind, Version};

const NUM_SHARDS: usize = 16;
/// Bookkeeping charged per cached value on top of its bytes: map entry plus queue entry.
const ENTRY_OVERHEAD: usize = 96;

type Key = (u64, u64);

/// A sharded, memory-bounded map from `(u64, u64)` keys to shared values, with
/// second-chance replacement.
pub struct ShardedCache<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    capacity: usize,
}

impl<V> ShardedCache<V> {
    pub fn new(capacity_bytes: usize) -> ShardedCache<V> {
        let per_shard = capacity_bytes / NUM_SHARDS;
        let shards = (0..NUM_SHARDS)
            .map(|_| Mutex::new(Shard::new(per_shard)))
            .collect();
        ShardedCache {
            shards,
            capacity: capacity_bytes,
        }
    }

    fn shard(&self, key: Key) -> MutexGuard<'_, Shard<V>> {
        let h = mix(key.0 ^ key.1.rotate_left(32));
        let m = &self.shards[(h >> 60) as usize % NUM_SHARDS];
        // A panic while holding a shard lock can only come from a bug in this module, and
        // the shard stays structurally sound between statements; keep serving.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value cached under `(a, b)`, marked as referenced.
    pub fn get(&self, a: u64, b: u64) -> Option<Arc<V>> {
        self.shard((a, b)).get((a, b))
    }

    /// Insert, charged `charge` bytes plus the per-entry overhead; a value larger than a
    /// shard is not cached.
    pub fn insert(&self, a: u64, b: u64, value: Arc<V>, charge: usize) {
        self.shard((a, b))
            .insert((a, b), value, charge + ENTRY_OVERHEAD);
    }

    /// Drop every entry whose key's first half is `a`.
    pub fn erase_first(&self, a: u64) {
        for s in self.shards.iter() {
            s.lock().unwrap_or_else(|e| e.into_inner()).erase_file(a);
        }
    }

    /// Bytes currently charged.
    pub fn usage(&self) -> usize {
        self.sum(|s| s.usage as u64) as usize
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn hits(&self) -> u64 {
        self.sum(|s| s.hits)
    }

    pub fn misses(&self) -> u64 {
        self.sum(|s| s.misses)
    }

    fn sum(&self, f: impl Fn(&Shard<V>) -> u64) -> u64 {
        self.shards
            .iter()
            .map(|s| f(&s.lock().unwrap_or_else(|e| e.into_inner())))
            .sum()
    }
}

/// One version of a cached row: its version, kind and value.
pub type RowVersion = (Version, ValueKind, Box<[u8]>);

/// Every version of one user key held by one table, newest first: what the row cache keeps.
#[derive(Debug)]
pub struct CachedRow {
    pub key: Box<[u8]>,
    pub versions: Box<[RowVersion]>,
}

impl CachedRow {
    /// Bytes the row cache charges for this row (before the per-entry overhead).
    pub fn charge(&self) -> usize {
        self.key.len()
            + self
                .versions
                .iter()
                .map(|(_, _, v)| v.len() + 40)
                .sum::<usize>()
    }

    /// The newest version at or below `version`.
    pub fn at(&self, version: Version) -> Option<&RowVersion> {
        self.versions.iter().find(|(v, _, _)| *v <= version)
    }
}

/// The engine's shared caches: decoded data blocks, and (when given a capacity) whole rows
/// for point reads.
pub struct BlockCache {
    blocks: ShardedCache<Block>,
    rows: Option<ShardedCache<CachedRow>>,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.capacity())
            .field("usage", &self.usage())
            .field("row_capacity", &self.rows.as_ref().map(|r| r.capacity()))
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` of blocks (0 disables caching), no row cache.
    pub fn new(capacity_bytes: usize) -> BlockCache {
        BlockCache {
            blocks: ShardedCache::new(capacity_bytes),
            rows: None,
        }
    }

    /// Also keep a row cache of `row_bytes` (none when 0). Its entries are keyed by table
    /// file number and key hash, so they never go stale (tables are immutable and their
    /// numbers never reused); a deleted table's rows simply age out.
    pub fn with_row_cache(mut self, row_bytes: usize) -> BlockCache {
        self.rows = (row_bytes > 0).then(|| ShardedCache::new(row_bytes));
        self
    }

    /// The row cache, if there is one.
    pub fn rows(&self) -> Option<&ShardedCache<CachedRow>> {
        self.rows.as_ref()
    }

    /// The cached block at `offset` of table `file_number`.
    pub fn get(&self, file_number: u64, offset: u64) -> Option<Arc<Block>> {
        self.blocks.get(file_number, offset)
    }

    /// Cache `block`, evicting others to stay within capacity.
    pub fn insert(&self, file_number: u64, offset: u64, block: Arc<Block>) {
        let charge = block.charge();
        self.blocks.insert(file_number, offset, block, charge);
    }

    /// Drop every block of `file_number` (its table file is being deleted).
    pub fn erase_file(&self, file_number: u64) {
        self.blocks.erase_first(file_number);
    }

    /// Bytes currently charged (blocks).
    pub fn usage(&self) -> usize {
        self.blocks.usage()
    }

    pub fn capacity(&self) -> usize {
        self.blocks.capacity()
    }

    pub fn hits(&self) -> u64 {
        self.blocks.hits()
    }

    pub fn misses(&self) -> u64 {
        self.blocks.misses()
    }
}

/// The murmur3 64-bit finalizer: spreads the key over the shard index bits.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A cheap hasher for `u64` and `(u64, u64)` keys (SipHash's DoS resistance is not needed:
/// keys are file numbers, offsets and hashes the engine chose).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(29) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One cached value and its replacement state.
struct Slot<V> {
    value: Arc<V>,
    charge: usize,
    /// Set by a hit; the eviction sweep clears it once instead of evicting (second chance).
    referenced: bool,
    /// Matches the queue entry that is this slot's place in line (older entries are stale).
    stamp: u64,
}

struct Shard<V> {
    map: HashMap<Key, Slot<V>, BuildHasherDefault<KeyHasher>>,
    /// Keys in insertion order, each with the stamp of the insert that queued it; entries
    /// whose key was since removed or re-inserted are stale and skipped.
    queue: VecDeque<(Key, u64)>,
    next_stamp: u64,
    usage: usize,
    capacity: usize,
    hits: u64,
    misses: u64,
}

impl<V> Shard<V> {
    fn new(capacity: usize) -> Shard<V> {
        Shard {
            map: HashMap::default(),
            queue: VecDeque::new(),
            next_stamp: 0,
            usage: 0,
            capacity,
            hits: 0,
            misses: 0,
        }
    }

    /// A hit touches only its own map entry: no list to relink, so a lookup in a large cache
    /// costs one or two cache misses instead of five.
    fn get(&mut self, key: Key) -> Option<Arc<V>> {
        let Some(slot) = self.map.get_mut(&key) else {
            self.misses += 1;
            return None;
        };
        self.hits += 1;
        slot.referenced = true;
        Some(Arc::clone(&slot.value))
    }

    fn insert(&mut self, key: Key, value: Arc<V>, charge: usize) {
        if let Some(old) = self.map.remove(&key) {
            self.usage -= old.charge;
        }
        if charge > self.capacity {
            return;
        }
        while self.usage + charge > self.capacity && self.evict_one() {}
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.map.insert(
            key,
            Slot {
                value,
                charge,
                referenced: false,
                stamp,
            },
        );
        self.queue.push_back((key, stamp));
        self.usage += charge;
        self.compact_queue();
    }

    /// Evict the oldest entry not referenced since its last pass; false when empty.
    fn evict_one(&mut self) -> bool {
        while let Some((key, stamp)) = self.queue.pop_front() {
            let Some(slot) = self.map.get_mut(&key) else {
                continue;
            };
            if slot.stamp != stamp {
                continue;
            }
            if slot.referenced {
                slot.referenced = false;
                self.queue.push_back((key, stamp));
                continue;
            }
            let charge = slot.charge;
            self.map.remove(&key);
            self.usage -= charge;
            return true;
        }
        false
    }

    /// Drop stale queue entries once they outnumber the live ones (removals and re-inserts
    /// leave them behind; without evictions nothing else would).
    fn compact_queue(&mut self) {
        if self.queue.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.queue
                .retain(|(k, stamp)| map.get(k).is_some_and(|s| s.stamp == *stamp));
        }
    }

    fn erase_file(&mut self, file_number: u64) {
        let mut freed = 0;
        self.map.retain(|k, slot| {
            let keep = k.0 != file_number;
            if !keep {
                freed += slot.charge;
            }
            keep
        });
        self.usage -= freed;
        self.compact_queue();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid empty block padded to roughly `size` bytes of buffer.
    fn block(size: usize) -> Arc<Block> {
        let mut data = vec![0u8; size.max(8)];
        let n = data.len();
        // restarts = [0], count = 1; the zero padding before them is never decoded here.
        data[n - 8..n - 4].copy_from_slice(&0u32.to_le_bytes());
        data[n - 4..].copy_from_slice(&1u32.to_le_bytes());
        Arc::new(Block::new(data).unwrap())
    }

    #[test]
    fn hit_and_miss_counters() {
        let c = BlockCache::new(1 << 20);
        assert!(c.get(1, 0).is_none());
        c.insert(1, 0, block(100));
        assert!(c.get(1, 0).is_some());
        assert!(c.get(1, 0).is_some());
        assert!(c.get(2, 0).is_none());
        assert_eq!((c.hits(), c.misses()), (2, 2));
    }

    #[test]
    fn capacity_is_respected() {
        let c = BlockCache::new(64 * 1024);
        for i in 0..1000u64 {
            c.insert(i % 7, i * 4096, block(1000));
            assert!(c.usage() <= c.capacity(), "usage {} after {i}", c.usage());
        }
        assert!(c.usage() > c.capacity() / 2, "cache should fill up");
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        // Drive one shard directly so placement across shards does not matter.
        let one = block(100).charge() + ENTRY_OVERHEAD;
        let mut s = Shard::new(3 * one);
        for k in 0..3u64 {
            s.insert((1, k), block(100), one);
        }
        assert!(s.get((1, 0)).is_some()); // 0 is referenced; 1 is now the oldest untouched.
        s.insert((1, 3), block(100), one);
        assert!(s.get((1, 1)).is_none());
        for k in [0, 2, 3] {
            assert!(s.get((1, k)).is_some(), "key {k} evicted");
        }
        assert_eq!(s.usage, 3 * one);
    }

    #[test]
    fn referenced_entries_get_a_second_chance_and_stale_queue_entries_are_dropped() {
        let one = block(100).charge() + ENTRY_OVERHEAD;
        let mut s = Shard::new(4 * one);
        for k in 0..4u64 {
            s.insert((1, k), block(100), one);
        }
        // Touch 0 and 1: the next two inserts evict 2 and 3, the oldest untouched.
        assert!(s.get((1, 0)).is_some());
        assert!(s.get((1, 1)).is_some());
        s.insert((1, 4), block(100), one);
        s.insert((1, 5), block(100), one);
        assert!(s.get((1, 2)).is_none() && s.get((1, 3)).is_none());
        for k in [0, 1, 4, 5] {
            assert!(s.get((1, k)).is_some(), "key {k} evicted");
        }
        assert_eq!(s.usage, 4 * one);
        // Re-inserting the same keys over and over leaves stale queue entries behind; the
        // queue stays bounded by the live entries.
        for round in 0..1000u64 {
            s.insert((1, round % 4), block(100), one);
        }
        assert!(
            s.queue.len() <= 2 * s.map.len() + 64,
            "queue {}",
            s.queue.len()
        );
        assert!(s.usage <= 4 * one);
    }

    #[test]
    fn reinsert_replaces_without_double_charge() {
        let c = BlockCache::new(1 << 20);
        c.insert(1, 0, block(100));
        let u = c.usage();
        c.insert(1, 0, block(100));
        assert_eq!(c.usage(), u);
    }

    #[test]
    fn oversized_blocks_are_not_cached() {
        let c = BlockCache::new(16 * 1024);
        c.insert(1, 0, block(4096));
        assert!(c.get(1, 0).is_none());
        assert_eq!(c.usage(), 0);
        let off = BlockCache::new(0);
        off.insert(1, 0, block(10));
        assert!(off.get(1, 0).is_none());
    }

    #[test]
    fn erase_file_drops_only_that_file() {
        let c = BlockCache::new(1 << 20);
        for off in 0..50u64 {
            c.insert(7, off, block(10));
            c.insert(8, off, block(10));
        }
        let before = c.usage();
        c.erase_file(7);
        assert_eq!(c.usage(), before / 2);
        for off in 0..50u64 {
            assert!(c.get(7, off).is_none());
            assert!(c.get(8, off).is_some());
        }
        // Freed slots are reused and the cache still works.
        c.insert(7, 0, block(10));
        assert!(c.get(7, 0).is_some());
    }

    #[test]
    fn shared_across_threads() {
        let c = Arc::new(BlockCache::new(1 << 20));
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for i in 0..200u64 {
                        c.insert(t, i, block(64));
                        assert!(c.get(t, i).is_some());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(c.hits(), 800);
    }
}
