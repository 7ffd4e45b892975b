//! The shared, memory-bounded block cache.
//!
//! Every open table reads its data blocks through one `BlockCache`, keyed by
//! `(file number, block offset)`, holding decoded and decompressed [`Block`]s behind `Arc`s:
//! a hit costs a hash lookup and a reference-count increment, and an evicted block stays alive
//! for any iterator still reading it. Index and filter blocks are not cached here; each
//! `Table` holds its own for as long as it is open.
//!
//! Design: the key space is split over 16 shards by a hash of the key, each an LRU list under
//! its own `Mutex`, so concurrent readers rarely contend. The capacity is split evenly (each
//! shard gets `capacity / 16`), which keeps the total at or below the bound without a global
//! counter. A block is charged its buffer size plus a fixed per-entry overhead; a block larger
//! than a whole shard is not cached at all rather than flushing the shard for it. Hit and miss
//! counters live inside the shards (updated under the lock already held), so counting costs no
//! extra atomic traffic.
//!
//! Each shard's LRU is an intrusive doubly linked list over a slab (`Vec<Node>`) with a free
//! list: no allocation per insert once the slab has grown. Slot 0 is the list's sentinel;
//! `sentinel.next` is the least recently used entry, `sentinel.prev` the most recent.
//!
//! `erase_file` scans the slabs (files are deleted rarely, after compactions, and a scan of a
//! slab is a linear pass over contiguous memory), which keeps the hot paths free of a second
//! per-file index.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::sstable::Block;

const NUM_SHARDS: usize = 16;
const SENTINEL: usize = 0;
/// Bookkeeping charged per cached block on top of its bytes: slab node plus map entry.
const ENTRY_OVERHEAD: usize = 96;

type Key = (u64, u64);

/// A memory-bounded LRU cache of decoded blocks, shared by all tables.
pub struct BlockCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.capacity)
            .field("usage", &self.usage())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` of blocks (0 disables caching).
    pub fn new(capacity_bytes: usize) -> BlockCache {
        let per_shard = capacity_bytes / NUM_SHARDS;
        let shards = (0..NUM_SHARDS)
            .map(|_| Mutex::new(Shard::new(per_shard)))
            .collect();
        BlockCache {
            shards,
            capacity: capacity_bytes,
        }
    }

    fn shard(&self, key: Key) -> MutexGuard<'_, Shard> {
        let h = mix(key.0 ^ key.1.rotate_left(32));
        let m = &self.shards[(h >> 60) as usize % NUM_SHARDS];
        // A panic while holding a shard lock can only come from a bug in this module, and
        // the shard stays structurally sound between statements; keep serving.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached block at `offset` of table `file_number`, marked most recently used.
    pub fn get(&self, file_number: u64, offset: u64) -> Option<Arc<Block>> {
        self.shard((file_number, offset)).get((file_number, offset))
    }

    /// Cache `block`, evicting least recently used blocks to stay within capacity.
    pub fn insert(&self, file_number: u64, offset: u64, block: Arc<Block>) {
        let charge = block.charge() + ENTRY_OVERHEAD;
        self.shard((file_number, offset))
            .insert((file_number, offset), block, charge);
    }

    /// Drop every block of `file_number` (its table file is being deleted).
    pub fn erase_file(&self, file_number: u64) {
        for s in self.shards.iter() {
            s.lock()
                .unwrap_or_else(|e| e.into_inner())
                .erase_file(file_number);
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

    fn sum(&self, f: impl Fn(&Shard) -> u64) -> u64 {
        self.shards
            .iter()
            .map(|s| f(&s.lock().unwrap_or_else(|e| e.into_inner())))
            .sum()
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

/// A cheap hasher for `(u64, u64)` keys (SipHash's DoS resistance is not needed: keys are
/// file numbers and offsets the engine chose).
#[derive(Default)]
struct KeyHasher(u64);

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

struct Node {
    key: Key,
    /// `None` for the sentinel and free slots.
    block: Option<Arc<Block>>,
    charge: usize,
    prev: usize,
    next: usize,
}

struct Shard {
    map: HashMap<Key, usize, BuildHasherDefault<KeyHasher>>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    usage: usize,
    capacity: usize,
    hits: u64,
    misses: u64,
}

impl Shard {
    fn new(capacity: usize) -> Shard {
        let sentinel = Node {
            key: (0, 0),
            block: None,
            charge: 0,
            prev: SENTINEL,
            next: SENTINEL,
        };
        Shard {
            map: HashMap::default(),
            nodes: vec![sentinel],
            free: Vec::new(),
            usage: 0,
            capacity,
            hits: 0,
            misses: 0,
        }
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.nodes[i].prev, self.nodes[i].next);
        self.nodes[p].next = n;
        self.nodes[n].prev = p;
    }

    /// Link `i` as the most recently used entry.
    fn push_back(&mut self, i: usize) {
        let last = self.nodes[SENTINEL].prev;
        self.nodes[i].prev = last;
        self.nodes[i].next = SENTINEL;
        self.nodes[last].next = i;
        self.nodes[SENTINEL].prev = i;
    }

    fn get(&mut self, key: Key) -> Option<Arc<Block>> {
        let Some(&i) = self.map.get(&key) else {
            self.misses += 1;
            return None;
        };
        self.hits += 1;
        self.unlink(i);
        self.push_back(i);
        self.nodes[i].block.clone()
    }

    fn insert(&mut self, key: Key, block: Arc<Block>, charge: usize) {
        if let Some(&i) = self.map.get(&key) {
            self.remove(i);
        }
        if charge > self.capacity {
            return;
        }
        while self.usage + charge > self.capacity {
            let lru = self.nodes[SENTINEL].next;
            if lru == SENTINEL {
                break;
            }
            self.remove(lru);
        }
        let node = Node {
            key,
            block: Some(block),
            charge,
            prev: SENTINEL,
            next: SENTINEL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        self.push_back(i);
        self.map.insert(key, i);
        self.usage += charge;
    }

    fn remove(&mut self, i: usize) {
        self.unlink(i);
        let node = &mut self.nodes[i];
        node.block = None;
        self.usage -= node.charge;
        let key = node.key;
        self.map.remove(&key);
        self.free.push(i);
    }

    fn erase_file(&mut self, file_number: u64) {
        let doomed: Vec<usize> = (1..self.nodes.len())
            .filter(|&i| self.nodes[i].block.is_some() && self.nodes[i].key.0 == file_number)
            .collect();
        for i in doomed {
            self.remove(i);
        }
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
        assert!(s.get((1, 0)).is_some()); // 0 becomes most recent; 1 is now the LRU.
        s.insert((1, 3), block(100), one);
        assert!(s.get((1, 1)).is_none());
        for k in [0, 2, 3] {
            assert!(s.get((1, k)).is_some(), "key {k} evicted");
        }
        assert_eq!(s.usage, 3 * one);
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
