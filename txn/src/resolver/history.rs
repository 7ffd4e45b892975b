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
//! `batches` lists, oldest first, the write ranges recorded at each version. Pruning walks it
//! from the front: every span still left from a write at version `w <= oldest` lies inside
//! that write's range (painting only cuts spans, it never moves them), so a range scan there
//! finds and removes them without scanning the whole map.
//!
//! Complexity, with `n` spans in the map: a conflict test of one read range costs
//! `O(log n + k)` for the `k` spans it overlaps; painting a write costs `O((1 + k) log n)`
//! for the `k` spans it covers (each span is created once and removed once, so this is
//! amortized `O(log n)` per span); pruning costs `O(k log n)` per pruned write range for the
//! spans inside it. FoundationDB's skip list also keeps per-level maximum versions to skip
//! old spans inside a huge read range in `O(log n)`; our scans are linear in such ranges.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound::{Excluded, Included, Unbounded};

use ferrisdb_kv::{KeyRange, Version};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    end: Vec<u8>,
    version: Version,
}

#[derive(Debug, Default)]
pub(crate) struct History {
    spans: BTreeMap<Vec<u8>, Span>,
    batches: VecDeque<(Version, Vec<KeyRange>)>,
}

impl History {
    /// Whether a write at a version above `read_version` touched any key of `r`.
    pub(crate) fn written_after(&self, r: &KeyRange, read_version: Version) -> bool {
        if r.is_empty() {
            return false;
        }
        let (b, e) = (r.begin.as_slice(), r.end.as_slice());
        let before = self
            .spans
            .range::<[u8], _>((Unbounded, Excluded(b)))
            .next_back();
        if let Some((_, s)) = before {
            if s.end.as_slice() > b && s.version > read_version {
                return true;
            }
        }
        self.spans
            .range::<[u8], _>((Included(b), Excluded(e)))
            .any(|(_, s)| s.version > read_version)
    }

    /// Record the write ranges committed at `version` (above every version recorded so far).
    pub(crate) fn record(&mut self, version: Version, writes: Vec<KeyRange>) {
        let writes: Vec<KeyRange> = writes.into_iter().filter(|r| !r.is_empty()).collect();
        if writes.is_empty() {
            return;
        }
        for r in &writes {
            self.paint(&r.begin, &r.end, version);
        }
        self.batches.push_back((version, writes));
    }

    /// Forget every write at or below `oldest` (no read version the resolver still accepts
    /// can conflict with one).
    pub(crate) fn prune(&mut self, oldest: Version) {
        while self.batches.front().is_some_and(|(v, _)| *v <= oldest) {
            let Some((_, ranges)) = self.batches.pop_front() else {
                break;
            };
            for r in ranges {
                // The common case, one key's own span: nothing else lies inside it.
                if let Some(s) = self.spans.get(r.begin.as_slice()) {
                    if s.end == r.end {
                        if s.version <= oldest {
                            self.spans.remove(r.begin.as_slice());
                        }
                        continue;
                    }
                }
                let old: Vec<Vec<u8>> = self
                    .spans
                    .range::<[u8], _>((Included(r.begin.as_slice()), Excluded(r.end.as_slice())))
                    .filter(|(_, s)| s.version <= oldest)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in old {
                    self.spans.remove(&k);
                }
            }
        }
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
