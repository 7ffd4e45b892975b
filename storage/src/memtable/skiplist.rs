//! The lock-free, insert-only skiplist under the memtable.
//!
//! ## What it is for
//!
//! Every write lands here first, from several writer threads at once, while readers and flush
//! iterators walk the same list. It must therefore accept concurrent inserts without a lock,
//! let readers run without a lock, and keep entries sorted in the engine's internal order
//! extended by a tie-breaking sequence number:
//!
//! ```text
//!   key ascending, then version descending, then seq descending
//! ```
//!
//! (a higher `seq` is a newer write of the same `(key, version)`, so it is met first).
//!
//! ## Design
//!
//! A classic skiplist (Pugh), linked with `crossbeam_epoch::Atomic` pointers and grown only by
//! compare-and-swap on next pointers, level by level, bottom first, as in LevelDB/RocksDB's
//! concurrent skiplists. Tower heights are drawn with p = 1/4 up to `MAX_HEIGHT` = 16 from
//! a per-thread xorshift64* generator seeded from std's `RandomState` (no `rand` dependency and
//! no shared cache line between writers).
//!
//! Each node is **one contiguous region** of the list's bump arena (`arena.rs`) holding
//! header, tower, key and value, so an insert costs one bump and no `malloc`, a lookup touches
//! one contiguous block per node, and dropping the list frees whole chunks:
//!
//! ```text
//!   offset  size           field
//!   0       16             prefix: first 16 key bytes as two big-endian u64s, zero-padded
//!   16      8              version: u64
//!   24      8              seq: u64
//!   32      4              key_len: u32
//!   36      4              value_len: u32
//!   40      1              kind: ValueKind (0 tombstone, 1 value)
//!   41      1              height: u8, 1..=MAX_HEIGHT
//!   42      6              padding (header is 48 bytes, 8-aligned)
//!   48      8 * height     tower: Atomic<Node> next pointers, level 0 first
//!   ..      key_len        key bytes
//!   ..      value_len      value bytes (empty for tombstones)
//! ```
//!
//! This is an in-memory layout only; it never reaches disk. The head node uses the same layout
//! with `height = MAX_HEIGHT` and an empty key; it is never compared against anything.
//!
//! The 16-byte prefix settles every comparison between keys of at most 16 bytes from the
//! headers alone (equal padded prefixes then differ only in length: the shorter key is a
//! prefix of the longer). Keys of that size are the common case: `bench kv`'s `key/00012345`,
//! a SQL row key (table, index, primary key). With an 8-byte prefix, keys sharing their first
//! 8 bytes (`key/0001...` in groups of 10,000) fell through to `memcmp` of the key bytes on
//! another cache line, a quarter of the CPU of a write-only `bench kv` run.
//!
//! The arena replaced one `malloc` per node after measurement: 1M random 116-byte inserts
//! into a 64 MiB memtable went from 381k to 413k per second, and the flush thread no longer
//! frees nodes one by one.
//!
//! ## Invariants
//!
//! 1. Header, key and value of a node are written before the node is published (the level-0
//!    CAS, `Release`) and never change afterwards. Readers load links with `Acquire`, so they
//!    see fully initialised nodes.
//! 2. A link at level `l` only ever points to a node that compares greater than its owner, and
//!    a successful CAS `pred.next[l]: succ -> new` requires `pred < new < succ`, so every level
//!    is always sorted. Upper levels may lag behind level 0 (a node is linked upward after it
//!    is visible at level 0); they are only shortcuts, so a reader that misses them is slower,
//!    never wrong.
//! 3. **Nothing is ever unlinked or freed while the list is alive.** Nodes are freed only in
//!    `Drop`, which holds `&mut self`, so no reader or writer can be inside the list. Since every
//!    insert finishes its level-0 CAS before it returns, `Drop` finds every node by walking
//!    level 0.
//!
//! ## Why the epoch guard is `unprotected()`
//!
//! An epoch guard protects a reader from memory *retired* by other threads while it is pinned.
//! This list retires nothing (invariant 3), so pinning would cost a fence per operation and
//! protect nothing. Every load uses `epoch::unprotected()`, and the validity of a loaded pointer
//! rests on invariant 3 instead: a node reachable from the head stays allocated for as long as
//! the list is borrowed. `NodeRef<'a>` encodes that in the type system (it borrows the list
//! for `'a`); `RawNode` erases the lifetime for cursors that keep the *owner* alive another
//! way (the memtable iterator holds an `Arc<Memtable>`), and turning it back into a `NodeRef`
//! is the one `unsafe` operation offered to the rest of the crate.

use std::alloc::Layout;
use std::cell::Cell;
use std::cmp::Ordering as CmpOrdering;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_epoch::{self as epoch, Atomic, Shared};

use crate::types::{ValueKind, Version};

/// Tallest tower. With p = 1/4, 16 levels keep searches logarithmic up to ~4^16 entries.
pub(crate) const MAX_HEIGHT: usize = 16;

/// The fixed header at the start of every node allocation (see the layout in the module docs).
#[repr(C)]
struct Node {
    /// The key's first 16 bytes, big-endian, zero-padded (`key_prefix`). Comparing prefixes
    /// settles most comparisons from the header's cache line, without reading the key.
    prefix: KeyPrefix,
    version: Version,
    seq: u64,
    key_len: u32,
    value_len: u32,
    kind: ValueKind,
    height: u8,
}

const HEADER: usize = size_of::<Node>();
const LINK: usize = size_of::<Atomic<Node>>();
const NODE_ALIGN: usize = align_of::<Node>();

// The tower starts right after the header, so the header size must keep links aligned.
const _: () = assert!(HEADER.is_multiple_of(align_of::<Atomic<Node>>()));
const _: () = assert!(align_of::<Atomic<Node>>() <= NODE_ALIGN);
// The arena hands out ALIGN-aligned regions, which must suit the node header.
const _: () = assert!(NODE_ALIGN <= super::arena::ALIGN);
const _: () = assert!(MAX_HEIGHT <= u8::MAX as usize);

/// Size and alignment of a node allocation. Lengths come from the caller, who has already
/// validated them against the engine limits; overflow here is a caller bug, not bad input.
fn node_layout(height: usize, key_len: usize, value_len: usize) -> Layout {
    let size = (height * LINK)
        .checked_add(HEADER)
        .and_then(|s| s.checked_add(key_len))
        .and_then(|s| s.checked_add(value_len));
    match size.map(|s| Layout::from_size_align(s, NODE_ALIGN)) {
        Some(Ok(layout)) => layout,
        _ => panic!("memtable node of {key_len}+{value_len} bytes overflows the address space"),
    }
}

/// A node of a skiplist borrowed for `'a`; valid for all of `'a` by invariant 3.
#[derive(Clone, Copy)]
pub(crate) struct NodeRef<'a> {
    ptr: NonNull<Node>,
    _list: PhantomData<&'a SkipList>,
}

/// A node pointer with its lifetime erased, for cursors that keep the list alive themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawNode(NonNull<Node>);

impl<'a> NodeRef<'a> {
    fn header(self) -> &'a Node {
        // SAFETY: `ptr` points to a live, fully initialised node (invariants 1 and 3) whose
        // header is never written after publication, so a shared reference is sound for 'a.
        unsafe { self.ptr.as_ref() }
    }

    /// Base of the allocation as bytes; offsets below stay inside the node's layout.
    fn base(self) -> *const u8 {
        self.ptr.as_ptr().cast::<u8>().cast_const()
    }

    fn link(self, level: usize) -> &'a Atomic<Node> {
        // Callers only ask for levels a node has: the head has all of them, `insert` links its
        // new node on levels below its height, and any other node is reached at level l
        // through a level-l link, which only towers taller than l receive.
        debug_assert!(level < usize::from(self.header().height));
        // SAFETY: level < height (above), so the link lies inside the allocation; it was
        // initialised by `alloc_node` and lives as long as the node (invariant 3). `Atomic` is
        // only ever accessed atomically, so a shared reference is sound while others CAS it.
        unsafe {
            &*self
                .base()
                .add(HEADER + level * LINK)
                .cast::<Atomic<Node>>()
        }
    }

    /// The successor at `level`.
    pub(crate) fn next(self, level: usize) -> Option<NodeRef<'a>> {
        // SAFETY: the guard only matters for retired memory and nothing is retired
        // (invariant 3); the loaded node stays allocated while the list is borrowed for 'a.
        let guard = unsafe { epoch::unprotected() };
        let shared = self.link(level).load(Ordering::Acquire, guard);
        NonNull::new(shared.as_raw().cast_mut()).map(|ptr| NodeRef {
            ptr,
            _list: PhantomData,
        })
    }

    pub(crate) fn key(self) -> &'a [u8] {
        let h = self.header();
        let offset = HEADER + usize::from(h.height) * LINK;
        // SAFETY: the key bytes were copied to this offset before publication, lie inside the
        // allocation by `node_layout`, and are immutable afterwards (invariants 1 and 3).
        unsafe { std::slice::from_raw_parts(self.base().add(offset), h.key_len as usize) }
    }

    pub(crate) fn value(self) -> &'a [u8] {
        let h = self.header();
        let offset = HEADER + usize::from(h.height) * LINK + h.key_len as usize;
        // SAFETY: as for `key`; the value follows the key inside the same allocation.
        unsafe { std::slice::from_raw_parts(self.base().add(offset), h.value_len as usize) }
    }

    pub(crate) fn version(self) -> Version {
        self.header().version
    }

    pub(crate) fn seq(self) -> u64 {
        self.header().seq
    }

    pub(crate) fn kind(self) -> ValueKind {
        self.header().kind
    }

    /// Where this node sits relative to the target `(key, version, seq)`.
    pub(crate) fn cmp_to(self, key: &[u8], version: Version, seq: u64) -> CmpOrdering {
        self.cmp_to_prefixed(key_prefix(key), key, version, seq)
    }

    /// `cmp_to` with the key's prefix computed once by the caller. Unequal prefixes order the
    /// keys (zero padding sorts a shorter key first, as bytewise order does); equal prefixes
    /// fall back to the full comparison.
    #[inline]
    pub(crate) fn cmp_to_prefixed(
        self,
        prefix: KeyPrefix,
        key: &[u8],
        version: Version,
        seq: u64,
    ) -> CmpOrdering {
        let h = self.header();
        match h.prefix.cmp(&prefix) {
            CmpOrdering::Equal => {
                let len = h.key_len as usize;
                // Equal padded prefixes: if either key fits in the prefix, it is a prefix of
                // the other, so the lengths order them; otherwise compare the rest.
                let keys = if len <= PREFIX_LEN || key.len() <= PREFIX_LEN {
                    len.cmp(&key.len())
                } else {
                    self.key()[PREFIX_LEN..].cmp(&key[PREFIX_LEN..])
                };
                keys.then_with(|| version.cmp(&h.version))
                    .then_with(|| seq.cmp(&h.seq))
            }
            o => o,
        }
    }

    pub(crate) fn raw(self) -> RawNode {
        RawNode(self.ptr)
    }

    fn shared(node: Option<NodeRef<'a>>) -> Shared<'a, Node> {
        match node {
            Some(n) => Shared::from(n.ptr.as_ptr().cast_const()),
            None => Shared::null(),
        }
    }
}

/// The skiplist. `Send + Sync`; see the module docs for the concurrency contract.
pub(crate) struct SkipList {
    /// Owns every node's memory; nodes are freed all at once when the list drops.
    arena: super::arena::Arena,
    head: NonNull<Node>,
    /// Height of the tallest tower linked so far; searches start there. Only grows. A stale
    /// (smaller) value merely makes a search start lower, which is slower but correct.
    max_height: AtomicUsize,
}

// SAFETY: all state shared between threads is reached through atomics (links, max_height);
// node contents are immutable after publication (invariant 1) and only freed by `Drop`, which
// has exclusive access (invariant 3). The raw head pointer is owned by the list.
unsafe impl Send for SkipList {}
// SAFETY: see `Send`; `&SkipList` only permits lock-free inserts and reads.
unsafe impl Sync for SkipList {}

impl SkipList {
    pub(crate) fn new() -> SkipList {
        let arena = super::arena::Arena::new();
        let head = alloc_node(&arena, MAX_HEIGHT, b"", 0, 0, ValueKind::Tombstone, b"");
        SkipList {
            arena,
            head,
            max_height: AtomicUsize::new(1),
        }
    }

    fn head(&self) -> NodeRef<'_> {
        NodeRef {
            ptr: self.head,
            _list: PhantomData,
        }
    }

    /// Re-borrow a node position kept by a cursor.
    ///
    /// # Safety
    /// `raw` must have come from `NodeRef::raw` on a node of *this* list. (Then it is still
    /// allocated: nodes live until the list drops, and `&self` proves it has not.)
    pub(crate) unsafe fn node(&self, raw: RawNode) -> NodeRef<'_> {
        NodeRef {
            ptr: raw.0,
            _list: PhantomData,
        }
    }

    /// The smallest node.
    pub(crate) fn first(&self) -> Option<NodeRef<'_>> {
        self.head().next(0)
    }

    /// The first node `>= (key, version, seq)`.
    pub(crate) fn lower_bound(
        &self,
        key: &[u8],
        version: Version,
        seq: u64,
    ) -> Option<NodeRef<'_>> {
        let prefix = key_prefix(key);
        self.search(
            |n| n.cmp_to_prefixed(prefix, key, version, seq).is_lt(),
            |_, _, _| {},
        )
        .1
    }

    /// The last node for which `before` holds; `before` must hold for a prefix of the list.
    pub(crate) fn find_last<'a>(
        &'a self,
        before: impl Fn(NodeRef<'a>) -> bool,
    ) -> Option<NodeRef<'a>> {
        let (pred, _) = self.search(before, |_, _, _| {});
        (pred.ptr != self.head).then_some(pred)
    }

    /// Top-down search for the boundary where `before` stops holding. Calls `record(level,
    /// pred, succ)` on each level on the way down and returns the level-0 pair: the last node
    /// for which `before` holds (or the head) and the first for which it does not.
    fn search<'a>(
        &'a self,
        before: impl Fn(NodeRef<'a>) -> bool,
        mut record: impl FnMut(usize, NodeRef<'a>, Option<NodeRef<'a>>),
    ) -> (NodeRef<'a>, Option<NodeRef<'a>>) {
        let mut x = self.head();
        let mut level = self.max_height.load(Ordering::Relaxed) - 1;
        // The successor rejected one level up is often met again one level down; remembering
        // it saves a key comparison per level.
        let mut rejected: Option<NonNull<Node>> = None;
        loop {
            let next = x.next(level);
            match next {
                Some(n) if Some(n.ptr) != rejected && before(n) => x = n,
                _ => {
                    record(level, x, next);
                    if level == 0 {
                        return (x, next);
                    }
                    rejected = next.map(|n| n.ptr);
                    level -= 1;
                }
            }
        }
    }

    /// Walk `level` forward from `pred` (which satisfies `before`) to the boundary.
    fn search_level<'a>(
        &'a self,
        mut pred: NodeRef<'a>,
        level: usize,
        before: &impl Fn(NodeRef<'a>) -> bool,
    ) -> (NodeRef<'a>, Option<NodeRef<'a>>) {
        loop {
            match pred.next(level) {
                Some(n) if before(n) => pred = n,
                next => return (pred, next),
            }
        }
    }

    /// Insert an entry; lock-free and safe to call from many threads at once. The caller
    /// guarantees `(key, version, seq)` is not already present. Returns the bytes allocated.
    pub(crate) fn insert(
        &self,
        key: &[u8],
        version: Version,
        seq: u64,
        kind: ValueKind,
        value: &[u8],
    ) -> usize {
        let height = random_height();
        let node = NodeRef {
            ptr: alloc_node(&self.arena, height, key, version, seq, kind, value),
            _list: PhantomData,
        };
        let prefix = key_prefix(key);
        let before = |n: NodeRef<'_>| n.cmp_to_prefixed(prefix, key, version, seq).is_lt();
        let mut preds = [self.head(); MAX_HEIGHT];
        let mut succs: [Option<NodeRef<'_>>; MAX_HEIGHT] = [None; MAX_HEIGHT];
        // Levels above the current max height keep (head, None), which is right unless
        // another writer raises them meanwhile; then the CAS fails and we re-search.
        self.search(before, |level, pred, succ| {
            preds[level] = pred;
            succs[level] = succ;
        });
        self.max_height.fetch_max(height, Ordering::Relaxed);
        // SAFETY (for the guard): nothing is retired, see the module docs.
        let guard = unsafe { epoch::unprotected() };
        for level in 0..height {
            loop {
                // Release: a reader that reaches `succ` through this link must also see
                // `succ`'s contents, which this thread acquired while searching.
                node.link(level)
                    .store(NodeRef::shared(succs[level]), Ordering::Release);
                let swapped = preds[level].link(level).compare_exchange(
                    NodeRef::shared(succs[level]),
                    NodeRef::shared(Some(node)),
                    Ordering::Release,
                    Ordering::Acquire,
                    guard,
                );
                if swapped.is_ok() {
                    break;
                }
                // Someone linked a node after `preds[level]`; it is still before us (keys
                // never change), so resume the walk from there.
                (preds[level], succs[level]) = self.search_level(preds[level], level, &before);
            }
        }
        node_layout(height, key.len(), value.len()).size()
    }
}

// No `Drop` for SkipList: nodes hold only bytes and atomics, and their memory belongs to the
// arena, which frees it when the list drops (after which no `NodeRef` can exist, invariant 3).

/// How many leading key bytes a node keeps in its header.
const PREFIX_LEN: usize = 16;

/// The first 16 key bytes, zero-padded, as two big-endian words: comparing two of these
/// (fields in order) is comparing the padded bytes. Two `u64`s rather than a `u128`, which
/// would raise the header's alignment to 16.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct KeyPrefix(u64, u64);

/// `key`'s prefix (see `KeyPrefix`).
#[inline]
pub(crate) fn key_prefix(key: &[u8]) -> KeyPrefix {
    let mut b = [0u8; PREFIX_LEN];
    let n = key.len().min(PREFIX_LEN);
    b[..n].copy_from_slice(&key[..n]);
    let (hi, lo) = b.split_at(8);
    KeyPrefix(
        u64::from_be_bytes(hi.try_into().expect("8 bytes")),
        u64::from_be_bytes(lo.try_into().expect("8 bytes")),
    )
}

/// Allocate and fully initialise an unlinked node with null links.
fn alloc_node(
    arena: &super::arena::Arena,
    height: usize,
    key: &[u8],
    version: Version,
    seq: u64,
    kind: ValueKind,
    value: &[u8],
) -> NonNull<Node> {
    let (Ok(key_len), Ok(value_len)) = (u32::try_from(key.len()), u32::try_from(value.len()))
    else {
        panic!("memtable entry lengths must fit in u32 (the engine limits are far below)");
    };
    let layout = node_layout(height, key.len(), value.len());
    // SAFETY: the layout has non-zero size (HEADER > 0). Every write below stays inside it:
    // header at 0, `height` links after it, then key and value, exactly as `node_layout`
    // sums them; the base is NODE_ALIGN-aligned and HEADER keeps the links aligned.
    unsafe {
        let base = arena.alloc(layout.size()).as_ptr();
        base.cast::<Node>().write(Node {
            prefix: key_prefix(key),
            version,
            seq,
            key_len,
            value_len,
            kind,
            height: height as u8,
        });
        for level in 0..height {
            let link = base.add(HEADER + level * LINK).cast::<Atomic<Node>>();
            link.write(Atomic::null());
        }
        let key_at = base.add(HEADER + height * LINK);
        ptr::copy_nonoverlapping(key.as_ptr(), key_at, key.len());
        ptr::copy_nonoverlapping(value.as_ptr(), key_at.add(key.len()), value.len());
        NonNull::new_unchecked(base.cast::<Node>())
    }
}

/// A tower height in 1..=MAX_HEIGHT with P(h > k) = 4^-k, from a per-thread xorshift64*.
fn random_height() -> usize {
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            // Seeded per thread from std's randomly keyed hasher; `| 1` keeps it non-zero.
            x = RandomState::new().build_hasher().finish() | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Each pair of zero low bits is one more level: probability 1/4 per step.
        (1 + (r.trailing_zeros() / 2) as usize).min(MAX_HEIGHT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_follow_a_quarter_geometric_distribution() {
        let n = 100_000;
        let mut at_least_two = 0;
        for _ in 0..n {
            let h = random_height();
            assert!((1..=MAX_HEIGHT).contains(&h));
            if h >= 2 {
                at_least_two += 1;
            }
        }
        // Expected 25_000; 5 sigma is ~700.
        assert!((22_000..28_000).contains(&at_least_two), "{at_least_two}");
    }

    #[test]
    fn layout_places_key_and_value_after_the_tower() {
        assert_eq!(HEADER, 48);
        let list = SkipList::new();
        list.insert(b"key", 7, 3, ValueKind::Value, b"value");
        let n = list.first().expect("one node");
        assert_eq!((n.key(), n.value()), (&b"key"[..], &b"value"[..]));
        assert_eq!((n.version(), n.seq(), n.kind()), (7, 3, ValueKind::Value));
        assert!(n.next(0).is_none());
    }
}
