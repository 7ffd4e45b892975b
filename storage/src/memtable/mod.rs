//! The memtable: the sorted, in-memory home of recent writes until they are flushed.
//!
//! ## What it is for
//!
//! Writes are appended to the WAL and then inserted here; reads consult the active memtable
//! and the immutable ones before any SSTable; a full memtable is frozen and streamed, in
//! order, into an L0 table by the flush thread. So the memtable must take concurrent inserts,
//! serve point reads and ordered cursors at the same time, and report its size to trigger the
//! flush.
//!
//! ## Design
//!
//! [`Memtable`] wraps the lock-free skiplist of `skiplist.rs` (see its essay for the node layout,
//! the memory orderings and why no epoch is pinned) and adds relaxed statistics: entry count,
//! approximate bytes, and the version range (used by the engine to pick which memtables and
//! tables a read at some version must consult).
//!
//! Entries are ordered by the internal order (key ascending, version descending) and, among
//! equal `(key, version)`, by the engine-assigned `seq` descending, so the newest write of a
//! `(key, version)` comes first. The engine never inserts the same `(key, version, seq)` twice.
//!
//! A small key filter rides along: one 64-bit word per key hash with four bits set, over a
//! fixed 512 KiB table (4 Mi bits). A point read asks it first and skips the skiplist walk
//! (some forty dependent node visits at a full memtable) for a key the memtable does not
//! hold, which is most point reads of a large table. Bits are set before the entry is
//! inserted, hence before the engine publishes the entry's sequence number (`Release`); a
//! reader loads that number (`Acquire`) before asking, so it never misses an entry it may
//! see. False positives only cost the walk: about 1% at 300,000 entries.
//!
//! ## Invariants
//!
//! - Insert-only: an entry, once visible, stays visible and unchanged until the memtable drops.
//! - `len`, `approximate_size` and `version_range` are updated after (respectively around) the
//!   insert with relaxed counters; under concurrency they are snapshots, exact once writers
//!   have stopped. `len` is bumped with `Release` after the version range, so a reader that
//!   sees a non-zero `len` (`Acquire`) also sees the range of those entries.
//!
//! ## Why the iterator may hold raw positions
//!
//! [`MemtableIterator`] owns an `Arc<Memtable>` and remembers its position as a bare node
//! pointer, without pinning an epoch guard between calls. This is sound because (a) the `Arc`
//! keeps the memtable, hence its skiplist, alive as long as the iterator exists, and (b) the
//! skiplist frees nodes only when it drops, never while alive. So the remembered node stays
//! allocated and unchanged for the iterator's whole life, and concurrent inserts can only add
//! nodes around it. A cursor moving forward may or may not see entries inserted after it was
//! positioned; whatever it sees is in order.

mod arena;
mod skiplist;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::iterator::InternalIterator;
use crate::types::{compare_internal, ValueKind, Version};
use crate::Result;
use skiplist::{NodeRef, RawNode, SkipList};

/// Words of the key filter (a power of two).
const FILTER_WORDS: usize = 1 << 16;

/// The filter word of `key` and the four bits it sets there.
fn filter_bits(key: &[u8]) -> (usize, u64) {
    let h = crate::sstable::bloom::hash64(key);
    let word = (h as usize) & (FILTER_WORDS - 1);
    let mask = (0..4).fold(0u64, |m, i| m | 1 << ((h >> (16 + 6 * i)) & 63));
    (word, mask)
}

/// A concurrent, insert-only sorted map of versioned entries. `Send + Sync`.
pub struct Memtable {
    list: SkipList,
    /// The key filter (see the module doc).
    filter: Box<[AtomicU64]>,
    size: AtomicUsize,
    len: AtomicUsize,
    min_version: AtomicU64,
    max_version: AtomicU64,
}

impl Default for Memtable {
    fn default() -> Self {
        Memtable::new()
    }
}

impl fmt::Debug for Memtable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memtable")
            .field("len", &self.len())
            .field("approximate_size", &self.approximate_size())
            .field("version_range", &self.version_range())
            .finish()
    }
}

impl Memtable {
    pub fn new() -> Memtable {
        let list = SkipList::new();
        Memtable {
            list,
            filter: (0..FILTER_WORDS).map(|_| AtomicU64::new(0)).collect(),
            size: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            min_version: AtomicU64::new(u64::MAX),
            max_version: AtomicU64::new(0),
        }
    }

    /// Concurrent-safe, lock-free. Value empty for tombstones.
    ///
    /// The caller guarantees `(key, version, seq)` is new and that the lengths are within the
    /// engine limits (`types::MAX_KEY_LEN`, `types::MAX_VALUE_LEN`).
    pub fn insert(&self, key: &[u8], version: Version, seq: u64, kind: ValueKind, value: &[u8]) {
        let (word, mask) = filter_bits(key);
        self.filter[word].fetch_or(mask, Ordering::Relaxed);
        self.min_version.fetch_min(version, Ordering::Relaxed);
        self.max_version.fetch_max(version, Ordering::Relaxed);
        let bytes = self.list.insert(key, version, seq, kind, value);
        self.size.fetch_add(bytes, Ordering::Relaxed);
        self.len.fetch_add(1, Ordering::Release);
    }

    /// Newest entry for exactly `key` with entry.version <= version (highest seq among ties).
    /// Returns (entry version, kind, value) — value copied out.
    pub fn get(&self, key: &[u8], version: Version) -> Option<(Version, ValueKind, Vec<u8>)> {
        // (key, version, u64::MAX) sorts before every real entry of (key, version), so the
        // lower bound is the newest entry of `key` at or below `version`, if `key` has one.
        let node = self.list.lower_bound(key, version, u64::MAX)?;
        (node.key() == key).then(|| (node.version(), node.kind(), node.value().to_vec()))
    }

    /// False when no entry of `key` was inserted before the caller's view of the memtable
    /// (see the module doc on ordering); true may be a false positive.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let (word, mask) = filter_bits(key);
        self.filter[word].load(Ordering::Relaxed) & mask == mask
    }

    /// Approximate heap bytes used (keys + values + node overhead); used to decide when to flush.
    pub fn approximate_size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Smallest and largest version inserted so far (None when empty).
    pub fn version_range(&self) -> Option<(Version, Version)> {
        if self.is_empty() {
            return None;
        }
        let min = self.min_version.load(Ordering::Relaxed);
        let max = self.max_version.load(Ordering::Relaxed);
        Some((min, max))
    }

    /// A cursor that owns a clone of the Arc; 'static + Send. Starts unpositioned.
    pub fn iter(self: &Arc<Self>) -> MemtableIterator {
        MemtableIterator {
            mem: Arc::clone(self),
            pos: None,
        }
    }
}

/// A bidirectional cursor over every entry of a memtable, duplicates of a `(key, version)`
/// included (higher `seq` first going forward).
///
/// `next` follows one link; `prev` and `seek_for_prev` search for the predecessor from the
/// head (O(log n)), as LevelDB does, because the list has no back links.
pub struct MemtableIterator {
    mem: Arc<Memtable>,
    /// `None` when not positioned.
    pos: Option<RawNode>,
}

// SAFETY: the iterator owns an `Arc<Memtable>` (itself Send + Sync) and a node pointer into
// that memtable. The node is immutable and stays allocated while the Arc lives (see the module
// docs), so using the pointer from another thread is as safe as using it from this one.
unsafe impl Send for MemtableIterator {}
// SAFETY: `&MemtableIterator` only reads the immutable node (same argument as `Send`).
unsafe impl Sync for MemtableIterator {}

impl fmt::Debug for MemtableIterator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MemtableIterator");
        match self.node() {
            Some(n) => d
                .field("key", &n.key())
                .field("version", &n.version())
                .field("seq", &n.seq()),
            None => d.field("valid", &false),
        };
        d.finish()
    }
}

impl MemtableIterator {
    fn node(&self) -> Option<NodeRef<'_>> {
        // SAFETY: `pos` was taken from a node of `self.mem.list` (every assignment below comes
        // from that list), and `self.mem` keeps the list alive; see the module docs.
        self.pos.map(|raw| unsafe { self.mem.list.node(raw) })
    }

    fn cur(&self) -> NodeRef<'_> {
        match self.node() {
            Some(n) => n,
            None => panic!("MemtableIterator accessed while not valid"),
        }
    }

    /// The entry's engine-assigned sequence number. Only while `valid()`.
    pub fn seq(&self) -> u64 {
        self.cur().seq()
    }
}

impl InternalIterator for MemtableIterator {
    fn valid(&self) -> bool {
        self.pos.is_some()
    }

    fn key(&self) -> &[u8] {
        self.cur().key()
    }

    fn version(&self) -> Version {
        self.cur().version()
    }

    fn kind(&self) -> ValueKind {
        self.cur().kind()
    }

    fn value(&self) -> &[u8] {
        self.cur().value()
    }

    fn next(&mut self) -> Result<()> {
        self.pos = self.node().and_then(|n| n.next(0)).map(NodeRef::raw);
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        self.pos = self.node().and_then(|cur| {
            let (key, version, seq) = (cur.key(), cur.version(), cur.seq());
            let list = &self.mem.list;
            list.find_last(|n| n.cmp_to(key, version, seq).is_lt())
                .map(NodeRef::raw)
        });
        Ok(())
    }

    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        // u64::MAX puts the target before every duplicate of (key, version).
        self.pos = self
            .mem
            .list
            .lower_bound(key, version, u64::MAX)
            .map(NodeRef::raw);
        Ok(())
    }

    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        // Every duplicate of (key, version) is <= the target, so land on the last (lowest seq).
        let list = &self.mem.list;
        self.pos = list
            .find_last(|n| compare_internal(n.key(), n.version(), key, version).is_le())
            .map(NodeRef::raw);
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.pos = self.mem.list.first().map(NodeRef::raw);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.pos = self.mem.list.find_last(|_| true).map(NodeRef::raw);
        Ok(())
    }
}
