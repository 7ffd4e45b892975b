//! Leak check for the memtable: a counting global allocator proves that dropping a filled
//! memtable (directly, or through the last iterator holding its `Arc`) returns every byte.
//!
//! Its own test binary, so the counting allocator sees no other test's allocations; counts
//! are kept per thread so the harness's own threads cannot disturb them either.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use ferrisdb_storage::iterator::InternalIterator;
use ferrisdb_storage::memtable::Memtable;
use ferrisdb_storage::ValueKind;

struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with` because the allocator may run while thread-locals are being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: forwards to the system allocator unchanged; only counts sizes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn fill(mem: &Memtable, n: u64) {
    let value = vec![0xAB; 300];
    for i in 0..n {
        let key = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes();
        let kind = if i % 5 == 0 {
            ValueKind::Tombstone
        } else {
            ValueKind::Value
        };
        let v = if kind == ValueKind::Value {
            &value[..(i % 300) as usize]
        } else {
            &[][..]
        };
        mem.insert(&key, i % 4, i, kind, v);
    }
}

#[test]
fn dropping_a_filled_memtable_frees_every_byte() {
    // Warm up lazily allocated per-thread state (the height generator's seed) first.
    drop(Memtable::new());
    Memtable::new().insert(b"warm", 1, 1, ValueKind::Value, b"up");

    let before = live();
    let mem = Memtable::new();
    fill(&mem, 100_000);
    assert!(live() - before >= mem.approximate_size() as isize);
    drop(mem);
    assert_eq!(live(), before, "memtable leaked (or double-freed) bytes");

    let before = live();
    let mem = Arc::new(Memtable::new());
    fill(&mem, 20_000);
    let mut it = mem.iter();
    drop(mem);
    it.seek_to_last().expect("memtable iterators never fail");
    assert!(it.valid());
    drop(it);
    assert_eq!(live(), before, "memtable kept by an iterator leaked bytes");
}
