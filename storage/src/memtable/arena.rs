//! Bump allocation for skiplist nodes.
//!
//! A memtable only ever grows and is dropped whole, so its nodes need no individual `free`:
//! they are carved one after another out of 1 MiB chunks, and dropping the arena returns the
//! chunks. Compared with one `malloc` per node this removes the allocator from the insert
//! path and the per-node `free` walk from the flush thread (which frees a whole memtable).
//!
//! ```text
//!   chunk 0: [node][node][node]...[unused tail]   chunk 1: [node][node]..   <- cur, left
//!   oversized node (> CHUNK / 4): a chunk of its own
//! ```
//!
//! Allocation takes a mutex for a few instructions. Inserts come from the engine's single
//! write leader, so it is uncontended; concurrent inserters stay correct, merely serialized
//! here for the bump.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::Mutex;

const CHUNK: usize = 1 << 20;
/// Every allocation is rounded to this alignment (the node header's).
pub(crate) const ALIGN: usize = 8;

struct State {
    cur: *mut u8,
    left: usize,
    chunks: Vec<(NonNull<u8>, Layout)>,
    /// Bytes handed out, including alignment padding.
    used: usize,
}

pub(crate) struct Arena {
    state: Mutex<State>,
}

// SAFETY: the raw pointers are only touched under the mutex, and the chunks they point into
// are owned by the arena until it drops.
unsafe impl Send for Arena {}
// SAFETY: as above; `alloc` hands out disjoint regions.
unsafe impl Sync for Arena {}

impl Arena {
    pub(crate) fn new() -> Arena {
        Arena {
            state: Mutex::new(State {
                cur: std::ptr::null_mut(),
                left: 0,
                chunks: Vec::new(),
                used: 0,
            }),
        }
    }

    /// A region of `size` bytes aligned to `ALIGN`, valid until the arena drops.
    pub(crate) fn alloc(&self, size: usize) -> NonNull<u8> {
        let size = size
            .checked_next_multiple_of(ALIGN)
            .expect("memtable node size overflows (the caller validated the lengths)");
        let mut st = self
            .state
            .lock()
            .expect("arena mutex poisoned: an allocation panicked");
        st.used += size;
        if size > CHUNK / 4 {
            return new_chunk(&mut st.chunks, size);
        }
        if size > st.left {
            let chunk = new_chunk(&mut st.chunks, CHUNK);
            st.cur = chunk.as_ptr();
            st.left = CHUNK;
        }
        let p = st.cur;
        // SAFETY: `size <= left`, so `cur + size` stays within (or one past) the current chunk.
        st.cur = unsafe { st.cur.add(size) };
        st.left -= size;
        // SAFETY: `p` points into a live chunk (never null).
        unsafe { NonNull::new_unchecked(p) }
    }

    /// Bytes handed out so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.state.lock().map(|s| s.used).unwrap_or(0)
    }
}

fn new_chunk(chunks: &mut Vec<(NonNull<u8>, Layout)>, size: usize) -> NonNull<u8> {
    let layout = Layout::from_size_align(size, ALIGN).expect("chunk layout is valid");
    // SAFETY: the layout has non-zero size.
    let p = unsafe { alloc::alloc(layout) };
    let Some(p) = NonNull::new(p) else {
        alloc::handle_alloc_error(layout)
    };
    chunks.push((p, layout));
    p
}

impl Drop for Arena {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for (p, layout) in st.chunks.drain(..) {
            // SAFETY: allocated by `new_chunk` with this layout, freed exactly once, and the
            // skiplist that handed out pointers into it is being dropped with it.
            unsafe { alloc::dealloc(p.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_span_chunks() {
        let a = Arena::new();
        let mut regions = Vec::new();
        for i in 0..10_000usize {
            let size = 1 + (i * 37) % 500;
            let p = a.alloc(size);
            assert_eq!(p.as_ptr() as usize % ALIGN, 0);
            // SAFETY: the region has `size` bytes.
            unsafe { std::ptr::write_bytes(p.as_ptr(), (i % 251) as u8, size) };
            regions.push((p.as_ptr() as usize, size));
        }
        let big = a.alloc(CHUNK);
        regions.push((big.as_ptr() as usize, CHUNK));
        regions.sort();
        for w in regions.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "regions overlap");
        }
        assert!(a.used() >= regions.iter().map(|r| r.1).sum::<usize>());
    }
}
