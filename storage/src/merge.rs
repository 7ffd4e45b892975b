//! The merging iterator: one sorted cursor over many sorted sources.
//!
//! A read sees the memtable, the immutable memtables, every L0 table and one table per deeper
//! level at once. [`MergingIterator`] merges their cursors into one stream in the internal
//! order, yielding *every* entry of every child (no deduplication: deciding visibility is the
//! job of the layer above).
//!
//! ## Order and ties
//!
//! Children are passed newest source first. The merged order is total:
//!
//! ```text
//!   forward:  (key ascending, version descending, child index ascending)
//!   backward: exactly the reverse, so among equal (key, version) the highest child index
//!             comes first and the newest source (index 0) last
//! ```
//!
//! so that going forward the newest source's copy of an entry is met first. Entries that are
//! equal inside one child keep that child's own order.
//!
//! ## Design
//!
//! The children that are positioned sit in a binary heap of child indices (`heap[0]` is the
//! current entry), ordered by the forward order as a min-heap while moving forward and as a
//! max-heap while moving backward. `next` in the forward direction advances the top child and
//! sifts it down (no pop and push), so a step costs O(log n) comparisons, one of which is
//! usually decided by the first differing key byte. With 10 to 20 children this beats a linear
//! scan, and a custom heap (rather than `std::collections::BinaryHeap`) lets the comparison
//! read the children's current keys without copying them.
//!
//! ## Direction switches
//!
//! While moving forward every non-current child is positioned *after* the current entry; while
//! moving backward, *before* it. Changing direction at entry `E = (k, v)` of child `c`
//! re-seeks every other child `i` around `E`, as LevelDB's MergingIterator does, with the tie
//! rule made explicit:
//!
//! ```text
//!   to forward:  seek(k, v)           then, if i < c, step past entries equal to (k, v)
//!   to backward: seek_for_prev(k, v)  then, if i > c, step back past entries equal to (k, v)
//! ```
//!
//! then moves child `c` itself one step and rebuilds the heap.
//!
//! ## Invariants
//!
//! `heap` holds exactly the valid children, each once, in heap order for `direction`. After
//! any error the heap is cleared, so `valid()` is false as the trait requires.

use std::cmp::Ordering;

use crate::iterator::InternalIterator;
use crate::types::{compare_internal, ValueKind, Version};
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A cursor over the union of its children, in the internal order.
pub struct MergingIterator {
    children: Vec<Box<dyn InternalIterator>>,
    /// Indices of the valid children, heap-ordered for `direction`; `heap[0]` is current.
    heap: Vec<usize>,
    direction: Direction,
}

impl MergingIterator {
    /// `children` ordered newest source first.
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> MergingIterator {
        let heap = Vec::with_capacity(children.len());
        MergingIterator {
            children,
            heap,
            direction: Direction::Forward,
        }
    }

    fn current(&self) -> &dyn InternalIterator {
        &*self.children[self.heap[0]]
    }

    /// The forward order between the current entries of two valid children.
    fn forward_cmp(&self, a: usize, b: usize) -> Ordering {
        let (x, y) = (&self.children[a], &self.children[b]);
        compare_internal(x.key(), x.version(), y.key(), y.version()).then(a.cmp(&b))
    }

    /// Whether child `a` belongs above child `b` in the heap for the current direction.
    fn before(&self, a: usize, b: usize) -> bool {
        let o = self.forward_cmp(a, b);
        match self.direction {
            Direction::Forward => o == Ordering::Less,
            Direction::Backward => o == Ordering::Greater,
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let left = 2 * i + 1;
            if left >= n {
                return;
            }
            let right = left + 1;
            let mut best = left;
            if right < n && self.before(self.heap[right], self.heap[left]) {
                best = right;
            }
            if !self.before(self.heap[best], self.heap[i]) {
                return;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }

    /// Collect the valid children and heapify for `direction`.
    fn rebuild(&mut self, direction: Direction) {
        self.direction = direction;
        self.heap.clear();
        self.heap
            .extend((0..self.children.len()).filter(|&i| self.children[i].valid()));
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    /// Run `op` on every child, then rebuild the heap; on error leave the iterator invalid.
    fn position_all(
        &mut self,
        direction: Direction,
        mut op: impl FnMut(&mut dyn InternalIterator) -> Result<()>,
    ) -> Result<()> {
        for child in &mut self.children {
            if let Err(e) = op(&mut **child) {
                self.heap.clear();
                return Err(e);
            }
        }
        self.rebuild(direction);
        Ok(())
    }

    /// After the top child moved: restore heap order, dropping it if it ran off its end.
    fn fix_top(&mut self) {
        let top = self.heap[0];
        if self.children[top].valid() {
            self.sift_down(0);
        } else {
            self.heap.swap_remove(0);
            self.sift_down(0);
        }
    }

    /// Move the top child with `step`, clearing the heap on error.
    fn step_top(&mut self, step: fn(&mut dyn InternalIterator) -> Result<()>) -> Result<()> {
        let top = self.heap[0];
        if let Err(e) = step(&mut *self.children[top]) {
            self.heap.clear();
            return Err(e);
        }
        self.fix_top();
        Ok(())
    }

    /// Place every non-current child on the far side of the current entry for `to`, then move
    /// the current child one step that way. Requires `valid()`.
    fn switch_direction(&mut self, to: Direction) -> Result<()> {
        let cur = self.heap[0];
        let key = self.children[cur].key().to_vec();
        let version = self.children[cur].version();
        let result = self.reposition_others(cur, &key, version, to);
        let result = result.and_then(|()| match to {
            Direction::Forward => self.children[cur].next(),
            Direction::Backward => self.children[cur].prev(),
        });
        if let Err(e) = result {
            self.heap.clear();
            return Err(e);
        }
        self.rebuild(to);
        Ok(())
    }

    fn reposition_others(
        &mut self,
        cur: usize,
        key: &[u8],
        version: Version,
        to: Direction,
    ) -> Result<()> {
        for (i, child) in self.children.iter_mut().enumerate() {
            if i == cur {
                continue;
            }
            let at_current =
                |c: &dyn InternalIterator| c.valid() && c.version() == version && c.key() == key;
            match to {
                Direction::Forward => {
                    child.seek(key, version)?;
                    while i < cur && at_current(&**child) {
                        child.next()?;
                    }
                }
                Direction::Backward => {
                    child.seek_for_prev(key, version)?;
                    while i > cur && at_current(&**child) {
                        child.prev()?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        !self.heap.is_empty()
    }
    fn key(&self) -> &[u8] {
        self.current().key()
    }
    fn version(&self) -> Version {
        self.current().version()
    }
    fn kind(&self) -> ValueKind {
        self.current().kind()
    }
    fn value(&self) -> &[u8] {
        self.current().value()
    }
    fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        if self.direction == Direction::Backward {
            return self.switch_direction(Direction::Forward);
        }
        self.step_top(|c| c.next())
    }
    fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        if self.direction == Direction::Forward {
            return self.switch_direction(Direction::Backward);
        }
        self.step_top(|c| c.prev())
    }
    fn seek(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.position_all(Direction::Forward, |c| c.seek(key, version))
    }
    fn seek_for_prev(&mut self, key: &[u8], version: Version) -> Result<()> {
        self.position_all(Direction::Backward, |c| c.seek_for_prev(key, version))
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.position_all(Direction::Forward, |c| c.seek_to_first())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.position_all(Direction::Backward, |c| c.seek_to_last())
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
