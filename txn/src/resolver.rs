//! The resolver: optimistic conflict detection over key ranges within a bounded window.
//!
//! ## The life of a commit, part 2 of 3
//!
//! A transaction read at its read version (from the [sequencer](crate::sequencer)) without
//! taking locks, and recorded what it read as **read conflict ranges** and what it wants to
//! write as **write conflict ranges** (half-open [`KeyRange`]s). The commit pipeline gives a
//! batch of such transactions one commit version and hands the batch to [`Resolver::resolve`],
//! which decides, per transaction, in batch order:
//!
//! - [`Outcome::TooOld`] if it has reads and its read version is below the window start
//!   ([`Resolver::oldest`]): the writes that could conflict with it are forgotten, so the
//!   resolver cannot vouch for it.
//! - [`Outcome::Conflict`] if any read range intersects a write range committed at a version
//!   above its read version: someone changed what it read after it read it, so committing it
//!   would not be serializable. The first such read range (in the order given) is reported.
//! - [`Outcome::Committed`] otherwise; its write ranges are then recorded at the commit
//!   version.
//!
//! Transactions in one batch share the commit version but are serialized in batch order: a
//! later transaction that read a key an earlier (committed) one writes conflicts with it,
//! because the earlier one's writes are recorded before the later one is checked, and every
//! read version is below the batch's commit version. A rejected transaction records nothing.
//! The committed ones go on to the [commit log](crate::commit_log).
//!
//! Blind writes (no read ranges) are never `TooOld`, as in FoundationDB: with nothing read,
//! nothing can have been overwritten under them.
//!
//! ## The window
//!
//! History is kept only for the last `max_window` versions ([`DEFAULT_MAX_WINDOW`], ~5 s of
//! versions) or since [`Resolver::set_oldest`], whichever starts later; older writes are
//! discarded. The window start only moves forward; it advances to
//! `commit_version - max_window` at the start of each batch. Storage servers keep the same
//! ~5 s of MVCC history, so a read version the resolver still accepts is one they can serve.
//! After a restart a new resolver must start its window at the sequencer's read version (no
//! history survives a restart).
//!
//! ## Data structure and cost
//!
//! Recent writes live in `history::History`: a `BTreeMap` from span begin to `(end, newest
//! commit version)`, spans non-overlapping. Checking a read range costs `O(log n + k)` for
//! the `k` spans it overlaps, recording a write `O((1 + k) log n)` amortized, pruning
//! `O(1)` amortized per write, in bulk sweeps (details in that module). The resolver is a pure state machine:
//! no clock, no I/O, no threads.

mod history;

#[cfg(test)]
mod tests;

use ferrisdb_kv::{KeyRange, Version};

use crate::error::{Error, Result};
use history::History;

/// Versions of history kept by default: ~5 s at one version per microsecond.
pub const DEFAULT_MAX_WINDOW: u64 = 5_000_000;

/// One transaction to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRequest {
    /// The version the transaction read at (below the batch's commit version).
    pub read_version: Version,
    /// Ranges whose contents the transaction's result depends on.
    pub reads: Vec<KeyRange>,
    /// Ranges the transaction writes.
    pub writes: Vec<KeyRange>,
}

/// The verdict on one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    /// `range` is the first read range written by a transaction after the read version.
    Conflict {
        range: KeyRange,
    },
    /// The read version is below the window start.
    TooOld,
}

impl Outcome {
    /// Whether the client should retry the transaction at a new read version.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Outcome::Committed)
    }
}

/// Conflict detection over a window of recent writes; see the module docs.
#[derive(Debug)]
pub struct Resolver {
    history: History,
    /// Window start: read versions below it are too old.
    oldest: Version,
    /// The last commit version resolved (or the starting window start).
    last_version: Version,
    max_window: u64,
}

impl Resolver {
    /// A resolver with no history whose window starts at `oldest` (the first commit version it
    /// accepts is above it).
    pub fn new(oldest: Version) -> Resolver {
        Resolver::with_max_window(oldest, DEFAULT_MAX_WINDOW)
    }

    /// Like [`Resolver::new`], keeping `max_window` versions of history.
    pub fn with_max_window(oldest: Version, max_window: u64) -> Resolver {
        Resolver {
            history: History::default(),
            oldest,
            last_version: oldest,
            max_window,
        }
    }

    /// Decide a batch at `commit_version` (above every earlier batch's; every read version
    /// below it). Errors leave the resolver unchanged.
    pub fn resolve(
        &mut self,
        commit_version: Version,
        txns: &[ResolveRequest],
    ) -> Result<Vec<Outcome>> {
        self.check_batch(commit_version, txns)?;
        self.set_oldest(commit_version.saturating_sub(self.max_window));
        let mut outcomes = Vec::with_capacity(txns.len());
        let mut committed = 0usize;
        for t in txns {
            let outcome = self.decide(t);
            if outcome == Outcome::Committed {
                // Recorded now, so later transactions of this batch see these writes.
                self.history.record(commit_version, &t.writes);
                committed += 1;
            }
            outcomes.push(outcome);
        }
        self.last_version = commit_version;
        tracing::trace!(
            commit_version,
            txns = txns.len(),
            committed,
            "resolved batch"
        );
        Ok(outcomes)
    }

    /// Move the window start up to `v` (never down); history at or below it is forgotten
    /// in bulk, every so often (see `history`).
    pub fn set_oldest(&mut self, v: Version) {
        if v > self.oldest {
            self.oldest = v;
            self.history.prune(v);
        }
    }

    /// Forget the history below the window start now, rather than at the next sweep.
    pub fn forget_expired(&mut self) {
        self.history.sweep(self.oldest);
    }

    /// The window start: read versions below it are too old.
    pub fn oldest(&self) -> Version {
        self.oldest
    }

    /// The last commit version resolved.
    pub fn last_version(&self) -> Version {
        self.last_version
    }

    /// Spans of write history held (a memory measure).
    pub fn span_count(&self) -> usize {
        self.history.span_count()
    }

    fn decide(&self, t: &ResolveRequest) -> Outcome {
        let reads = || t.reads.iter().filter(|r| !r.is_empty());
        if t.read_version < self.oldest && reads().next().is_some() {
            return Outcome::TooOld;
        }
        match reads().find(|r| self.history.written_after(r, t.read_version)) {
            Some(r) => Outcome::Conflict { range: r.clone() },
            None => Outcome::Committed,
        }
    }

    fn check_batch(&self, commit_version: Version, txns: &[ResolveRequest]) -> Result<()> {
        if commit_version <= self.last_version {
            return Err(Error::VersionOrder {
                version: commit_version,
                last: self.last_version,
            });
        }
        if let Some(t) = txns.iter().find(|t| t.read_version >= commit_version) {
            return Err(Error::InvalidArgument(format!(
                "read version {} is not below the commit version {commit_version}",
                t.read_version
            )));
        }
        Ok(())
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        self.history.check_invariants();
    }
}
