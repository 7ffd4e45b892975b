//! One transaction: reads at a fixed read version, a read-your-writes buffer, conflict ranges.
//!
//! Writes never leave the client before `commit`. They are kept twice: in order, as the
//! mutation list the commit sends, and as a per-key *local view* that reads consult first:
//!
//! ```text
//!   local:   key -> Value(v) | Cleared | Add(delta on a base not yet read)
//!   cleared: range clears; a key inside one, with no later local write, reads as absent
//! ```
//!
//! Conflict ranges: every non-snapshot read adds the keys (or the part of a range) it
//! observed to the read set; every write adds its key (or range) to the write set. Atomic adds
//! write without reading, so two transactions adding to the same counter never conflict.
//!
//! Limits (as FoundationDB's): keys up to 10,000 bytes, values up to 100,000 bytes, a
//! transaction's mutations and conflict ranges up to 10,000,000 bytes, and a lifetime of 5 s
//! from its read version (after that the MVCC window may have moved past it: `TooOld`).
//! A transaction whose reads are all single keys moves its read version forward past
//! 2.5 s when they are unchanged (`refresh`), which restarts that clock.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrisdb_kv::{key_after, KeyRange, Mutation, Version, METADATA_VERSION_KEY};

use super::locks::{Acquired, MAX_LOCKS_PER_TRANSACTION, WAIT_LIMIT};
use super::{block_on, AsyncTxnBackend, CommitRequest, KeyValue, Shared, TxnError};

pub const MAX_KEY_SIZE: usize = 10_000;
pub const MAX_VALUE_SIZE: usize = 100_000;
pub const MAX_TRANSACTION_SIZE: usize = 10_000_000;
const MAX_DURATION: Duration = Duration::from_secs(5);
/// A transaction older than this tries to move its read version forward ([`Transaction::refresh`])
/// at its next operation, so one whose reads are all single keys lives past `MAX_DURATION`.
const REFRESH_AFTER: Duration = Duration::from_millis(2500);
/// Bytes of read values kept to re-check reads by value after the MVCC window has moved
/// past the read version; reads beyond it are re-checked by reading at that version.
const MAX_KEPT_READS: usize = 1 << 20;
/// Keys fetched from storage per round trip of a range read.
const RANGE_PAGE: usize = 256;

#[derive(Clone, Debug)]
enum Local {
    Value(Vec<u8>),
    Cleared,
    /// An atomic add whose base has not been read: the storage value plus this delta.
    Add(i64),
}

/// A transaction; see the module doc. Created by [`super::Database::begin`].
pub struct Transaction {
    /// The database handle's backend, metadata cache and lock table (one `Arc` to clone
    /// per transaction: every session shares it, so each clone is a contended atomic).
    shared: Arc<Shared>,
    /// This transaction's id in the lock table, taken at its first lock.
    lock_id: Option<u64>,
    read_version: Option<Version>,
    started: Instant,
    local: BTreeMap<Vec<u8>, Local>,
    cleared: Vec<KeyRange>,
    mutations: Vec<Mutation>,
    read_ranges: Vec<KeyRange>,
    write_ranges: Vec<KeyRange>,
    size: usize,
    done: bool,
    /// The metadata version as of `read_version`, when the backend reported it with it.
    metadata_version: Option<Version>,
    /// This transaction wrote the metadata version: it reads metadata from storage.
    metadata_written: bool,
    /// Keys read with `get_cached` at a known metadata version, in order.
    metadata_reads: Vec<Vec<u8>>,
    /// Keys this transaction holds locked.
    held: Vec<Vec<u8>>,
    /// False once a read cannot be re-checked by value (a range, a hand-added conflict).
    refreshable: bool,
    /// What single-key reads returned (while under `MAX_KEPT_READS` bytes), so a refresh
    /// can re-check them without reading at the old read version.
    read_values: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    read_values_bytes: usize,
    /// Whether reads are kept at all ([`Transaction::keep_reads`]).
    keeps_reads: bool,
    /// Reads and the commit go through the database's asynchronous backend (an
    /// [`super::AsyncTransaction`] of a database that has one).
    uses_async: bool,
}

impl Transaction {
    pub(crate) fn new(shared: Arc<Shared>) -> Transaction {
        Transaction {
            shared,
            lock_id: None,
            held: Vec::new(),
            refreshable: true,
            read_values: BTreeMap::new(),
            read_values_bytes: 0,
            keeps_reads: false,
            metadata_version: None,
            metadata_written: false,
            metadata_reads: Vec::new(),
            read_version: None,
            started: Instant::now(),
            local: BTreeMap::new(),
            cleared: Vec::new(),
            mutations: Vec::new(),
            read_ranges: Vec::new(),
            write_ranges: Vec::new(),
            size: 0,
            done: false,
            uses_async: false,
        }
    }

    /// A transaction whose reads and commit await the database's asynchronous backend.
    pub(crate) fn new_async(shared: Arc<Shared>) -> Transaction {
        let mut tx = Transaction::new(shared);
        tx.uses_async = tx.shared.async_backend.is_some();
        tx
    }

    /// The asynchronous backend, when this transaction uses it; else the synchronous one
    /// answers (its calls complete without suspending).
    fn async_backend(&self) -> Option<&dyn AsyncTxnBackend> {
        match &self.shared.async_backend {
            Some(b) if self.uses_async => Some(b.as_ref()),
            _ => None,
        }
    }

    async fn backend_get(&self, key: &[u8], rv: Version) -> Result<Option<Vec<u8>>, TxnError> {
        match self.async_backend() {
            Some(b) => b.get(key, rv).await,
            None => self.shared.backend.get(key, rv),
        }
    }

    async fn backend_get_range(
        &self,
        range: &KeyRange,
        rv: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        match self.async_backend() {
            Some(b) => b.get_range(range, rv, limit, reverse).await,
            None => self.shared.backend.get_range(range, rv, limit, reverse),
        }
    }

    /// The read version, fetched on first use.
    pub fn read_version(&mut self) -> Result<Version, TxnError> {
        block_on(self.read_version_io())
    }

    pub(crate) async fn read_version_io(&mut self) -> Result<Version, TxnError> {
        self.live()?;
        if let Some(v) = self.read_version {
            return Ok(v);
        }
        let v = match self.async_backend() {
            Some(b) => b.read_version().await?,
            None => self.shared.backend.read_version()?,
        };
        self.read_version = Some(v);
        self.started = Instant::now();
        Ok(v)
    }

    fn live(&mut self) -> Result<(), TxnError> {
        if self.done {
            return Err(TxnError::Used);
        }
        // An old read version moves forward when every read so far is unchanged at a
        // fresh one (an idle interactive block, a long bulk load beside it). The async
        // path never blocks on the sync backend here.
        if self.read_version.is_some()
            && !self.uses_async
            && self.refreshable
            && self.started.elapsed() > REFRESH_AFTER
        {
            // A read that changed stays changed: no second attempt (each re-reads the
            // whole read set).
            match self.refresh() {
                Ok(true) => {}
                Ok(false) => self.refreshable = false,
                Err(e) => {
                    tracing::debug!(error = %e, "read version refresh failed");
                    self.refreshable = false;
                }
            }
        }
        match self.read_version {
            Some(v) if self.started.elapsed() > MAX_DURATION => {
                Err(TxnError::TooOld { read_version: v })
            }
            _ => Ok(()),
        }
    }

    /// The value of `key`, seeing this transaction's own writes; conflicts on `key`.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        block_on(self.get_io(key, false))
    }

    /// Like `get`, but adds no read conflict (a snapshot read).
    pub fn snapshot_get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        block_on(self.get_io(key, true))
    }

    pub(crate) async fn get_io(
        &mut self,
        key: &[u8],
        snapshot: bool,
    ) -> Result<Option<Vec<u8>>, TxnError> {
        check_key(key, true)?;
        self.live()?;
        match self.local.get(key).cloned() {
            Some(Local::Value(v)) => Ok(Some(v)),
            Some(Local::Cleared) => Ok(None),
            Some(Local::Add(delta)) => {
                let base = self.storage_get(key, snapshot).await?;
                Ok(Some(Mutation::add_le(base.as_deref(), delta).to_vec()))
            }
            None => self.storage_get(key, snapshot).await,
        }
    }

    /// The stored value under the local range clears (not the local point writes).
    async fn storage_get(
        &mut self,
        key: &[u8],
        snapshot: bool,
    ) -> Result<Option<Vec<u8>>, TxnError> {
        if self.cleared.iter().any(|r| r.contains(key)) {
            return Ok(None);
        }
        if !snapshot {
            self.add_read_range(KeyRange::single(key))?;
        }
        if self.read_version.is_none() {
            // The first read: one round trip fetches the read version and the value.
            let (v, value) = match self.async_backend() {
                Some(b) => b.get_with_read_version(key).await?,
                None => self.shared.backend.get_with_read_version(key)?,
            };
            self.read_version = Some(v);
            self.started = Instant::now();
            if !snapshot {
                self.keep_read(key, &value);
            }
            return Ok(value);
        }
        let rv = self.read_version_io().await?;
        let value = self.backend_get(key, rv).await?;
        if !snapshot {
            self.keep_read(key, &value);
        }
        Ok(value)
    }

    /// Keep what single-key reads return from now on, so the transaction can refresh its
    /// read version even after the MVCC window has passed it (for a transaction that may
    /// sit idle, such as an interactive SQL block). Without it a refresh re-reads at the
    /// old version, which works within the window; each kept read costs a copy.
    pub fn keep_reads(&mut self) {
        self.keeps_reads = true;
    }

    /// Remembers what a single-key read returned at the current read version.
    fn keep_read(&mut self, key: &[u8], value: &Option<Vec<u8>>) {
        if !self.keeps_reads || self.uses_async || self.read_values.contains_key(key) {
            return;
        }
        let bytes = key.len() + value.as_ref().map_or(0, Vec::len);
        if self.read_values_bytes + bytes <= MAX_KEPT_READS {
            self.read_values_bytes += bytes;
            self.read_values.insert(key.to_vec(), value.clone());
        }
    }

    /// Take the advisory write lock on `key` ([`super::locks`]): wait (bounded) while
    /// another transaction of this database holds it, then move this transaction's read
    /// version past that holder's commit if everything read so far is unchanged. Call it
    /// before reading a key about to be rewritten. Returns whether the lock is held (it is
    /// not after the wait limit, or beyond the per-transaction lock count); either way the
    /// commit is validated as usual.
    pub fn lock_for_update(&mut self, key: &[u8]) -> Result<bool, TxnError> {
        self.live()?;
        if self.held.len() >= MAX_LOCKS_PER_TRANSACTION {
            return Ok(false);
        }
        let id = *self
            .lock_id
            .get_or_insert_with(|| self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        match self.shared.locks.acquire(key, id, WAIT_LIMIT) {
            Acquired::Already => return Ok(true),
            Acquired::TimedOut => return Ok(false),
            Acquired::Now { .. } => self.held.push(key.to_vec()),
        }
        self.refresh()?;
        Ok(true)
    }

    /// Move to a fresh read version if every read so far returns the same at it (see
    /// [`super::locks`]); returns whether the read version is now fresh.
    fn refresh(&mut self) -> Result<bool, TxnError> {
        let Some(rv) = self.read_version else {
            return Ok(true);
        };
        if !self.refreshable {
            return Ok(false);
        }
        let Some((fresh, mv)) = self.shared.backend.read_version_and_metadata()? else {
            return Ok(false);
        };
        if fresh <= rv {
            return Ok(true);
        }
        if self.metadata_version.is_some() && (mv > fresh || Some(mv) != self.metadata_version) {
            return Ok(false);
        }
        // Every read so far is a single key (else not refreshable). What it returned was
        // kept (`read_values`) unless the kept reads outgrew their budget: those are read
        // again at the old version, which fails once the MVCC window has moved past it.
        let mut keys: Vec<&[u8]> = Vec::with_capacity(self.read_ranges.len());
        for r in &self.read_ranges {
            let single = r.end.len() == r.begin.len() + 1
                && r.end.last() == Some(&0)
                && r.end.starts_with(&r.begin);
            if !single {
                return Ok(false);
            }
            keys.push(&r.begin);
        }
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let now = self.shared.backend.get(key, fresh)?;
            let same = match self.read_values.get(key) {
                Some(then) => *then == now,
                None => self.shared.backend.get(key, rv)? == now,
            };
            if !same {
                return Ok(false);
            }
        }
        // The kept values stay right: each key reads the same at the fresh version.
        self.read_version = Some(fresh);
        self.started = Instant::now();
        Ok(true)
    }

    fn release_locks(&mut self) {
        if !self.held.is_empty() {
            if let Some(id) = self.lock_id {
                self.shared.locks.release(&self.held, id);
            }
            self.held.clear();
        }
    }

    /// Keys this transaction holds locked (tests).
    pub fn locked_keys(&self) -> &[Vec<u8>] {
        &self.held
    }

    /// `get` of a metadata key, answered from the database handle's [`MetadataCache`] when
    /// it can be. Correct only for keys that every changing transaction changes together
    /// with [`Self::touch_metadata_version`]. Conflicts on `key` like `get`.
    pub fn get_cached(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        check_key(key, true)?;
        self.live()?;
        let local = self.local.contains_key(key) || self.cleared.iter().any(|r| r.contains(key));
        let mv = match self.metadata_version()? {
            Some(mv) if !local => mv,
            _ => return self.get(key),
        };
        self.metadata_reads.push(key.to_vec());
        if let Some(value) = self.shared.metadata.get(mv, key) {
            self.add_read_range(KeyRange::single(key))?;
            // The cache's value is the key's value at this read version.
            self.keep_read(key, &value);
            return Ok(value);
        }
        let value = self.get(key)?;
        self.shared.metadata.put(mv, key, value.as_deref());
        Ok(value)
    }

    /// The keys read so far with [`Self::get_cached`] while the metadata version was known:
    /// what a client caching something derived from them (a query plan) must conflict on
    /// when it reuses that, instead of reading them again.
    pub fn metadata_reads(&self) -> &[Vec<u8>] {
        &self.metadata_reads
    }

    /// The metadata version as of this transaction's read version (fetching both if this is
    /// its first read), or `None` when it is unknown or this transaction changed metadata.
    pub fn metadata_version(&mut self) -> Result<Option<Version>, TxnError> {
        self.live()?;
        if self.metadata_written {
            return Ok(None);
        }
        if self.read_version.is_none() {
            if let Some((rv, mv)) = self.shared.backend.read_version_and_metadata()? {
                self.read_version = Some(rv);
                self.started = Instant::now();
                // A newer commit being published meanwhile: the epoch of `rv` is unknown.
                self.metadata_version = (mv <= rv).then_some(mv);
            }
        }
        Ok(self.metadata_version)
    }

    /// Record that this transaction changes cached metadata: at commit it writes
    /// [`METADATA_VERSION_KEY`], which starts a new cache epoch for everyone. A blind write,
    /// so concurrent metadata changes do not conflict over it.
    pub fn touch_metadata_version(&mut self) -> Result<(), TxnError> {
        if self.metadata_written {
            return Ok(());
        }
        self.write(
            Mutation::Set {
                key: METADATA_VERSION_KEY.to_vec(),
                value: Vec::new(),
            },
            KeyRange::single(METADATA_VERSION_KEY),
        )?;
        self.metadata_written = true;
        Ok(())
    }

    /// Up to `limit` pairs of `range` (0 = no limit), ascending or `reverse`, seeing this
    /// transaction's writes; conflicts on the part of the range it observed.
    pub fn get_range(
        &mut self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        block_on(self.get_range_io(range, limit, reverse, false))
    }

    /// Like `get_range`, without a read conflict.
    pub fn snapshot_get_range(
        &mut self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        block_on(self.get_range_io(range, limit, reverse, true))
    }

    pub(crate) async fn get_range_io(
        &mut self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
        snapshot: bool,
    ) -> Result<Vec<KeyValue>, TxnError> {
        self.live()?;
        let limit = if limit == 0 { usize::MAX } else { limit };
        if range.is_empty() {
            return Ok(Vec::new());
        }
        if !snapshot {
            // A range's observed part is not kept, so it cannot be re-checked.
            self.refreshable = false;
        }
        let rv = self.read_version_io().await?;
        let mut stored = StoredCursor::new(range.clone(), reverse);
        let mut locals: Vec<(Vec<u8>, Local)> = self
            .local
            .range::<[u8], _>((
                Bound::Included(range.begin.as_slice()),
                Bound::Excluded(range.end.as_slice()),
            ))
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect();
        if reverse {
            locals.reverse();
        }
        let mut locals = locals.into_iter().peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let next_stored = stored.peek(self, rv).await?;
            let take_local = match (locals.peek(), next_stored) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((lk, _)), Some(sk)) => {
                    (lk.as_slice() <= sk) != reverse || lk.as_slice() == sk
                }
            };
            if !take_local {
                if let Some(kv) = stored.pop() {
                    out.push(kv);
                }
                continue;
            }
            let Some((k, l)) = locals.next() else { break };
            let base = stored.take_if_key(&k);
            match l {
                Local::Value(v) => out.push((k, v)),
                Local::Cleared => {}
                Local::Add(delta) => {
                    let base = match base {
                        Some(v) => Some(v),
                        None if self.cleared.iter().any(|r| r.contains(&k)) => None,
                        None => self.backend_get(&k, rv).await?,
                    };
                    out.push((k, Mutation::add_le(base.as_deref(), delta).to_vec()));
                }
            }
        }
        if !snapshot {
            let observed = stored.observed(
                range,
                out.len() >= limit,
                out.last().map(|kv| kv.0.as_slice()),
            );
            self.add_read_range(observed)?;
        }
        Ok(out)
    }

    /// Store `value` under `key`.
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), TxnError> {
        check_key(key, false)?;
        if value.len() > MAX_VALUE_SIZE {
            return Err(TxnError::ValueTooLarge {
                len: value.len(),
                max: MAX_VALUE_SIZE,
            });
        }
        self.write(
            Mutation::Set {
                key: key.to_vec(),
                value: value.to_vec(),
            },
            KeyRange::single(key),
        )?;
        self.local
            .insert(key.to_vec(), Local::Value(value.to_vec()));
        Ok(())
    }

    /// Delete `key`.
    pub fn clear(&mut self, key: &[u8]) -> Result<(), TxnError> {
        check_key(key, false)?;
        self.write(Mutation::Clear { key: key.to_vec() }, KeyRange::single(key))?;
        self.local.insert(key.to_vec(), Local::Cleared);
        Ok(())
    }

    /// Delete every key in `range`.
    pub fn clear_range(&mut self, range: &KeyRange) -> Result<(), TxnError> {
        check_key(&range.begin, false)?;
        check_key(&range.end, true)?;
        if range.is_empty() {
            return Ok(());
        }
        self.write(
            Mutation::ClearRange {
                range: range.clone(),
            },
            range.clone(),
        )?;
        let inside: Vec<Vec<u8>> = self
            .local
            .range::<[u8], _>((
                Bound::Included(range.begin.as_slice()),
                Bound::Excluded(range.end.as_slice()),
            ))
            .map(|(k, _)| k.clone())
            .collect();
        for k in inside {
            self.local.remove(&k);
        }
        self.cleared.push(range.clone());
        Ok(())
    }

    /// Add `delta` to the little-endian i64 stored at `key` (0 if absent), without reading it:
    /// no read conflict, so concurrent adders never conflict.
    pub fn atomic_add(&mut self, key: &[u8], delta: i64) -> Result<(), TxnError> {
        check_key(key, false)?;
        self.write(
            Mutation::AtomicAdd {
                key: key.to_vec(),
                delta,
            },
            KeyRange::single(key),
        )?;
        let in_cleared = self.cleared.iter().any(|r| r.contains(key));
        let next = match self.local.get(key) {
            Some(Local::Value(v)) => Local::Value(Mutation::add_le(Some(v), delta).to_vec()),
            Some(Local::Cleared) => Local::Value(Mutation::add_le(None, delta).to_vec()),
            Some(Local::Add(d)) => Local::Add(d.wrapping_add(delta)),
            None if in_cleared => Local::Value(Mutation::add_le(None, delta).to_vec()),
            None => Local::Add(delta),
        };
        self.local.insert(key.to_vec(), next);
        Ok(())
    }

    /// Conflict as if `range` had been read.
    pub fn add_read_conflict_range(&mut self, range: KeyRange) -> Result<(), TxnError> {
        self.refreshable = false;
        self.add_read_range(range)
    }

    /// Conflict as if metadata `key` had been read through [`Self::get_cached`] at this
    /// transaction's metadata version (for a client reusing something derived from it).
    pub fn add_metadata_read_conflict(&mut self, key: &[u8]) -> Result<(), TxnError> {
        if self.metadata_version.is_none() {
            self.refreshable = false;
        }
        self.add_read_range(KeyRange::single(key))
    }

    /// Conflict as if `range` had been written (other readers of it will conflict).
    pub fn add_write_conflict_range(&mut self, range: KeyRange) -> Result<(), TxnError> {
        self.grow(range.begin.len() + range.end.len())?;
        self.write_ranges.push(range);
        Ok(())
    }

    fn add_read_range(&mut self, range: KeyRange) -> Result<(), TxnError> {
        self.grow(range.begin.len() + range.end.len())?;
        self.read_ranges.push(range);
        Ok(())
    }

    fn write(&mut self, m: Mutation, range: KeyRange) -> Result<(), TxnError> {
        self.live()?;
        self.grow(m.size() + range.begin.len() + range.end.len())?;
        self.mutations.push(m);
        self.write_ranges.push(range);
        Ok(())
    }

    fn grow(&mut self, bytes: usize) -> Result<(), TxnError> {
        let size = self.size.saturating_add(bytes);
        if size > MAX_TRANSACTION_SIZE {
            return Err(TxnError::TransactionTooLarge {
                size,
                max: MAX_TRANSACTION_SIZE,
            });
        }
        self.size = size;
        Ok(())
    }

    /// Commit; returns the commit version (the read version for a read-only transaction).
    pub fn commit(&mut self) -> Result<Version, TxnError> {
        block_on(self.commit_io())
    }

    pub(crate) async fn commit_io(&mut self) -> Result<Version, TxnError> {
        self.live()?;
        if self.mutations.is_empty() && self.write_ranges.is_empty() {
            let v = self.read_version_io().await?;
            self.done = true;
            self.release_locks();
            return Ok(v);
        }
        // A blind write (nothing read) needs no read version: the resolver checks nothing
        // for it, so it skips the round trip that would fetch one.
        let read_version = match (self.read_version, self.read_ranges.is_empty()) {
            (None, true) => 0,
            _ => self.read_version_io().await?,
        };
        self.done = true;
        let req = CommitRequest {
            read_version,
            read_ranges: std::mem::take(&mut self.read_ranges),
            write_ranges: std::mem::take(&mut self.write_ranges),
            mutations: std::mem::take(&mut self.mutations),
        };
        let r = match self.async_backend() {
            Some(b) => b.commit(req).await,
            None => self.shared.backend.commit(req),
        };
        // Only now: a waiter's fresh read version must include this commit.
        self.release_locks();
        r
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.release_locks();
    }
}

fn check_key(key: &[u8], allow_system_end: bool) -> Result<(), TxnError> {
    if key.len() > MAX_KEY_SIZE {
        return Err(TxnError::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_SIZE,
        });
    }
    // 0xff itself is allowed as a range end ("the end of the user keyspace").
    if key.first() == Some(&0xff) && !(allow_system_end && key == [0xff]) {
        return Err(TxnError::SystemKey { key: key.to_vec() });
    }
    Ok(())
}

/// Pages of stored pairs of a range in scan order, minus keys the local view decides.
struct StoredCursor {
    remaining: KeyRange,
    reverse: bool,
    buf: std::collections::VecDeque<KeyValue>,
    exhausted: bool,
    /// The last key storage returned (bounds the observed part of the range).
    last_fetched: Option<Vec<u8>>,
}

impl StoredCursor {
    fn new(range: KeyRange, reverse: bool) -> StoredCursor {
        StoredCursor {
            remaining: range,
            reverse,
            buf: Default::default(),
            exhausted: false,
            last_fetched: None,
        }
    }

    /// The next stored key not hidden by a local range clear, fetching as needed.
    async fn peek(&mut self, tx: &Transaction, rv: Version) -> Result<Option<&[u8]>, TxnError> {
        loop {
            while let Some((k, _)) = self.buf.front() {
                if tx.cleared.iter().any(|r| r.contains(k)) && !tx.local.contains_key(k) {
                    self.buf.pop_front();
                } else {
                    break;
                }
            }
            if !self.buf.is_empty() || self.exhausted {
                return Ok(self.buf.front().map(|kv| kv.0.as_slice()));
            }
            let page = tx
                .backend_get_range(&self.remaining, rv, RANGE_PAGE, self.reverse)
                .await?;
            self.exhausted = page.len() < RANGE_PAGE;
            if let Some((last, _)) = page.last() {
                if self.reverse {
                    self.remaining.end = last.clone();
                } else {
                    self.remaining.begin = key_after(last);
                }
                self.last_fetched = Some(last.clone());
            }
            self.buf.extend(page);
        }
    }

    fn pop(&mut self) -> Option<KeyValue> {
        self.buf.pop_front()
    }

    /// If the next stored pair has key `k`, consume it and return its value.
    fn take_if_key(&mut self, k: &[u8]) -> Option<Vec<u8>> {
        if self.buf.front().is_some_and(|kv| kv.0 == k) {
            return self.buf.pop_front().map(|kv| kv.1);
        }
        None
    }

    /// The part of `range` this read observed: all of it, unless it stopped at the limit, in
    /// which case up to (and including) the furthest key it looked at.
    fn observed(&self, range: &KeyRange, hit_limit: bool, last_out: Option<&[u8]>) -> KeyRange {
        if !hit_limit {
            return range.clone();
        }
        let far = match (&self.last_fetched, last_out) {
            (Some(f), Some(o)) if self.reverse => std::cmp::min(f.as_slice(), o).to_vec(),
            (Some(f), Some(o)) => std::cmp::max(f.as_slice(), o).to_vec(),
            (Some(f), None) => f.clone(),
            (None, Some(o)) => o.to_vec(),
            (None, None) => return range.clone(),
        };
        if self.reverse {
            KeyRange::new(far, range.end.clone())
        } else {
            KeyRange::new(range.begin.clone(), key_after(&far))
        }
    }
}
