//! The resolver's memory of recent writes: which version last wrote each key, as a map of
//! non-overlapping half-open spans.
//!
//! `spans` maps a span's begin key to its end and version: `[begin, end)` was last written at
//! `version`. Spans never overlap (keys not covered were not written inside the window).
//! Because commit versions only grow, recording a write is *painting*: the new write's span
//! replaces whatever it covers (its version is the maximum there), cutting the spans at its
//! edges. A key's span version is therefore the newest commit that wrote it, exactly what the
//! conflict test needs.
//!
//! Pruning is lazy and in bulk. A span at or below the window start can never conflict
//! (every read version the resolver accepts is at least the window start), so forgetting
//! it is only about memory: [`History::prune`] sweeps the whole map once the writes recorded
//! since the last sweep number at least the spans the last sweep kept (and at least
//! [`SWEEP_MIN`]). Each sweep costs `O(n)` for `n` spans, paid for by as many recorded
//! writes, so `O(1)` amortized per write, and the map holds at most about three times
//! the live spans. It replaced a per-write prune (a map lookup for every write range that
//! left the window, with the ranges kept per batch to find them): with 64 clients writing
//! single keys, pruning and the copy of every batch's write ranges were a third of the
//! resolver's time.
//!
//! Complexity, with `n` spans in the map: a conflict test of one read range costs
//! `O(log n + k)` for the `k` spans it overlaps; painting a write costs `O((1 + k) log n)`
//! for the `k` spans it covers (each span is created once and removed once, so this is
//! amortized `O(log n)` per span). FoundationDB's skip list also keeps per-level maximum
//! versions to skip old spans inside a huge read range in `O(log n)`; our scans are linear
//! in such ranges.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};

use ferrisdb_kv::{KeyRange, Version};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    end: Vec<u8>,
    version: Version,
}

/// Fewest recorded writes between two sweeps (see the module doc).
#[cfg(not(test))]
const SWEEP_MIN: usize = 4096;
/// Small in tests, so that the property tests sweep often.
#[cfg(test)]
const SWEEP_MIN: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct History {
    spans: BTreeMap<Vec<u8>, Span>,
    /// Write ranges recorded since the last sweep.
    recorded: usize,
    /// Spans the last sweep kept.
    kept: usize,
}

impl History {
    /// Whether a write at a version above `read_version` touched any key of `r`.
    pub(crate) fn written_after(&self, r: &KeyRange, read_version: Version) -> bool {
        if r.is_empty() {
            return false;
        }
        let (b, e) = (r.begin.as_slice(), r.end.as_slice());
        // Spans never overlap, so their ends ascend with their begins: walking back from the
        // last span that begins before `e`, the spans that end after `b` are exactly those
        // meeting `r`. One descent of the map, where a lookup of the span before `b` and a
        // range scan from `b` took two.
        self.spans
            .range::<[u8], _>((Unbounded, Excluded(e)))
            .rev()
            .take_while(|(_, s)| s.end.as_slice() > b)
            .any(|(_, s)| s.version > read_version)
    }

    /// Record the write ranges committed at `version` (above every version recorded so far).
    pub(crate) fn record(&mut self, version: Version, writes: &[KeyRange]) {
        for r in writes.iter().filter(|r| !r.is_empty()) {
            self.paint(&r.begin, &r.end, version);
            self.recorded += 1;
        }
    }

    /// The window starts above `oldest`: spans at or below it may go (see the module doc
    /// for when they do).
    pub(crate) fn prune(&mut self, oldest: Version) {
        if self.recorded >= self.kept.max(SWEEP_MIN) {
            self.sweep(oldest);
        }
    }

    /// Forget every span at or below `oldest` now.
    pub(crate) fn sweep(&mut self, oldest: Version) {
        self.spans.retain(|_, s| s.version > oldest);
        self.recorded = 0;
        self.kept = self.spans.len();
    }

    pub(crate) fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// Replace whatever covers `[b, e)` by one span at `version`.
    fn paint(&mut self, b: &[u8], e: &[u8], version: Version) {
        // The common case, a key written again: its span is exactly `[b, e)`, so nothing
        // else overlaps it (spans never overlap) and only its version changes.
        if let Some(s) = self.spans.get_mut(b) {
            if s.end.as_slice() == e {
                s.version = version;
                return;
            }
        }
        // The part of a cut span that lies past `e` survives with its old version.
        let mut tail: Option<(Vec<u8>, Span)> = None;
        let before = self
            .spans
            .range_mut::<[u8], _>((Unbounded, Excluded(b)))
            .next_back();
        if let Some((_, s)) = before {
            if s.end.as_slice() > b {
                if s.end.as_slice() > e {
                    tail = Some((e.to_vec(), s.clone()));
                }
                s.end = b.to_vec();
            }
        }
        let covered: Vec<Vec<u8>> = self
            .spans
            .range::<[u8], _>((Included(b), Excluded(e)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in covered {
            if let Some(s) = self.spans.remove(&k) {
                if s.end.as_slice() > e {
                    tail = Some((e.to_vec(), s));
                }
            }
        }
        if let Some((k, s)) = tail {
            self.spans.insert(k, s);
        }
        let end = e.to_vec();
        self.spans.insert(b.to_vec(), Span { end, version });
    }

    /// Test hook: spans are non-empty, sorted and non-overlapping.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut prev_end: Option<&[u8]> = None;
        for (b, s) in &self.spans {
            assert!(b.as_slice() < s.end.as_slice(), "empty span at {b:?}");
            if let Some(pe) = prev_end {
                assert!(pe <= b.as_slice(), "overlap at {b:?}");
            }
            prev_end = Some(&s.end);
        }
    }
}
