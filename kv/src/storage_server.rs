//! The storage-server role: owns shards, applies the commit log in version order, and serves
//! reads at a version.
//!
//! Every key is stored in the LSM engine at the commit version that wrote it, so a read at
//! version `v` is the engine's `get(key, v)`: the newest write at or below `v`.
//!
//! ```text
//!   commit log ──pull──► apply(entries)                      one engine batch per pull:
//!                         for each (version, mutations):     every mutation at its version,
//!                           Set / Clear        -> put / delete     plus the applied version,
//!                           ClearRange         -> delete each visible key  fsynced together
//!                           AtomicAdd          -> read (version-1 + this batch), add, put
//!   get(key, v) ─► wait until applied >= v (bounded, else FutureVersion, retryable)
//!                  v < oldest readable -> TransactionTooOld (retryable)
//!                  engine.get(key, v)
//! ```
//!
//! Invariants:
//! - Entries are applied strictly in version order; an entry at or below the applied version
//!   is skipped (a re-pull after restart is idempotent), one that skips ahead of what the
//!   caller says follows is the caller's business (the log is gap-free by construction).
//! - The applied version is stored under [`APPLIED_KEY`] in the same atomic engine batch as
//!   the data. With `sync_apply` (the default) the engine syncs that batch: after `apply`
//!   returns, everything up to the applied version survives a crash (so
//!   `durable_version == applied_version`), and the commit log may be truncated below it.
//!   Without it, batches reach the OS unsynced and `durable_version` is what the last
//!   [`StorageServer::sync`] covered; the engine's WAL loses at most a suffix in a crash,
//!   so the recovered applied version always matches the recovered data.
//! - Reads at versions in `[oldest_readable, applied]` are stable: the engine's GC watermark
//!   is `oldest_readable`, which trails the applied version by the MVCC window.
//! - Keys from `ff ff` on are this server's own metadata ([`APPLIED_KEY`]), never written by
//!   log mutations nor served; the cluster's key space is `["", ff ff)` ([`KEY_SPACE_END`]),
//!   of which `[ff, ff ff)` is the system keyspace.
//! - A server applies and serves only the shards it owns ([`shards`]); mutations of other
//!   keys are skipped. Ownership changes under the apply lock, so each shard's history on
//!   this server is gap-free from its `since` version to the applied version.

mod ownership;
mod shards;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use ferrisdb_storage::{Direction, Engine, Options, SyncMode, WriteBatch};

use crate::error::KvError;
use crate::types::{KeyRange, Mutation, Version};

pub use ownership::{ApplyPause, Reconciled, ShardStats};
pub use shards::OwnedShard;

/// The end of the cluster's key space; this server's own metadata lives from here on.
pub const KEY_SPACE_END: &[u8] = b"\xff\xff";
const LOCAL_SPACE: &[u8] = KEY_SPACE_END;

/// FoundationDB's `\xff/metadataVersion`: a transaction that changes cached metadata (the
/// SQL catalog) also writes this key, and the commit pipeline remembers the newest version
/// that wrote it. Clients key their metadata caches by that version (see the txn crate's
/// `Transaction::get_cached`). Its value means nothing; only the versions that write it do.
pub const METADATA_VERSION_KEY: &[u8] = b"\xff/metadataVersion";

/// A key and its value, as range reads return them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Where a storage server records the version it has applied (system keyspace).
pub const APPLIED_KEY: &[u8] = b"\xff\xff/storage/applied_version";

/// Tuning of a storage server.
#[derive(Clone, Debug)]
pub struct StorageServerOptions {
    /// How long a read waits for its version to be applied before `FutureVersion`.
    pub read_wait: Duration,
    /// Versions kept readable below the applied version (about 5 s at 1M versions/s).
    pub mvcc_window: Version,
    /// Whether each applied batch is fsynced before `apply` returns. Without it the engine
    /// writes unsynced (`SyncMode::None`), and [`StorageServer::sync`] makes the applied
    /// versions durable on demand: right for a server whose log is durable and kept
    /// until [`StorageServer::durable_version`] (the embedded cluster, where a commit
    /// would otherwise wait for a second fsync), since a crash then loses only an applied
    /// suffix that the log replays.
    pub sync_apply: bool,
    /// Options of the underlying engine (its sync mode is set by `sync_apply`).
    pub engine: Options,
}

impl Default for StorageServerOptions {
    fn default() -> Self {
        StorageServerOptions {
            read_wait: Duration::from_secs(1),
            mvcc_window: 5_000_000,
            sync_apply: true,
            engine: Options::default(),
        }
    }
}

/// One storage server: an engine, the shards it owns, and its applied version.
pub struct StorageServer {
    engine: Engine,
    dir: PathBuf,
    opts: StorageServerOptions,
    shards: RwLock<Vec<OwnedShard>>,
    /// Held while applying log entries or changing the owned shards.
    apply_lock: Mutex<()>,
    /// The applied version when a shard was last dropped: an install at that same version
    /// could collide with the dropped shard's last writes, so it waits for the next one.
    last_drop: AtomicU64,
    applied: AtomicU64,
    oldest_readable: AtomicU64,
    /// The applied version as of the last `sync` (only kept without `sync_apply`).
    durable: AtomicU64,
    /// Readers waiting for a version sleep here; `apply` wakes them.
    progress: (Mutex<()>, Condvar),
}

impl StorageServer {
    /// Open (or create) a storage server in `dir`. It owns the shards its `SHARDS` file
    /// records, or `shards` (since version 0) when it has none.
    pub fn open(
        dir: &Path,
        shards: Vec<KeyRange>,
        opts: StorageServerOptions,
    ) -> Result<StorageServer, KvError> {
        let engine_opts = Options {
            sync_mode: if opts.sync_apply {
                SyncMode::GroupCommit
            } else {
                SyncMode::None
            },
            ..opts.engine.clone()
        };
        let engine = Engine::open(dir, engine_opts)?;
        let applied = match engine.get(APPLIED_KEY, Version::MAX)? {
            Some(v) => decode_version(&v).ok_or_else(|| {
                KvError::Storage(ferrisdb_storage::Error::corruption(
                    dir,
                    0,
                    "bad applied-version record",
                ))
            })?,
            None => 0,
        };
        let oldest = engine.gc_watermark();
        let owned = match shards::load(dir)? {
            Some(owned) => owned,
            None => shards
                .into_iter()
                .map(|range| OwnedShard { range, since: 0 })
                .collect(),
        };
        tracing::info!(dir = %dir.display(), applied, shards = owned.len(), "storage server opened");
        Ok(StorageServer {
            engine,
            dir: dir.to_path_buf(),
            opts,
            shards: RwLock::new(owned),
            apply_lock: Mutex::new(()),
            last_drop: AtomicU64::new(0),
            applied: AtomicU64::new(applied),
            durable: AtomicU64::new(applied),
            oldest_readable: AtomicU64::new(oldest),
            progress: (Mutex::new(()), Condvar::new()),
        })
    }

    /// The options this server was opened with.
    pub fn options(&self) -> &StorageServerOptions {
        &self.opts
    }

    pub fn applied_version(&self) -> Version {
        self.applied.load(Ordering::Acquire)
    }

    /// Everything up to this version survives a crash (see the invariants): the applied
    /// version with `sync_apply`, else the applied version as of the last [`Self::sync`].
    pub fn durable_version(&self) -> Version {
        if self.opts.sync_apply {
            return self.applied_version();
        }
        self.durable.load(Ordering::Acquire)
    }

    /// Makes everything applied so far durable (one WAL fsync) and returns the durable
    /// version.
    pub fn sync(&self) -> Result<Version, KvError> {
        let applied = self.applied_version();
        if !self.opts.sync_apply {
            self.engine.sync_wal()?;
            self.durable.fetch_max(applied, Ordering::AcqRel);
        }
        Ok(self.durable_version())
    }

    pub fn oldest_readable_version(&self) -> Version {
        self.oldest_readable.load(Ordering::Acquire)
    }

    /// The shards this server owns, in key order.
    pub fn shards(&self) -> Vec<OwnedShard> {
        self.shards
            .read()
            .expect("shard list lock poisoned")
            .clone()
    }

    /// Whether log mutations of `key` are applied here.
    fn applies(owned: &[OwnedShard], key: &[u8]) -> bool {
        if key >= LOCAL_SPACE {
            return false;
        }
        owned.iter().any(|s| s.range.contains(key))
    }

    /// The version from which this server can serve all of `range` (a range inside one owned
    /// shard), or `WrongShard`.
    fn servable_since(&self, range: &KeyRange) -> Result<Version, KvError> {
        if range.end.as_slice() > LOCAL_SPACE {
            return Err(KvError::WrongShard {
                key: range.begin.clone(),
            });
        }
        let owned = self.shards.read().expect("shard list lock poisoned");
        match shards::covering(&owned, range) {
            Some(s) => Ok(s.since),
            None => Err(KvError::WrongShard {
                key: range.begin.clone(),
            }),
        }
    }

    /// Apply log entries (increasing versions) in one durable engine batch.
    pub fn apply(&self, entries: &[(Version, Vec<Mutation>)]) -> Result<(), KvError> {
        let through = entries.last().map(|e| e.0).unwrap_or(0);
        self.apply_through(entries, through)
    }

    /// Apply log entries and then record the server as applied through `through`: the log
    /// holds no other entries up to it (versions without mutations are never logged, so an
    /// idle cluster's read version still becomes readable here).
    pub fn apply_through(
        &self,
        entries: &[(Version, Vec<Mutation>)],
        through: Version,
    ) -> Result<(), KvError> {
        let _lock = self.apply_lock.lock().expect("apply lock poisoned");
        let applied = self.applied_version();
        let fresh: Vec<_> = entries.iter().filter(|(v, _)| *v > applied).collect();
        let last = fresh.last().map(|(v, _)| *v).unwrap_or(0).max(through);
        if last <= applied {
            return Ok(());
        }
        if fresh.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(KvError::InvalidArgument(
                "log entries must have increasing versions".into(),
            ));
        }
        let owned = self.shards();
        let mut batch = WriteBatch::new();
        let mut overlay = std::collections::BTreeMap::new();
        for (version, mutations) in fresh {
            for m in mutations {
                self.apply_one(&owned, &mut batch, &mut overlay, *version, m)?;
            }
        }
        batch.put(APPLIED_KEY, last, &last.to_le_bytes())?;
        self.engine.write(batch)?;
        self.applied.store(last, Ordering::Release);
        let oldest = last.saturating_sub(self.opts.mvcc_window);
        if oldest > self.oldest_readable.load(Ordering::Acquire) {
            self.oldest_readable.store(oldest, Ordering::Release);
            self.engine.set_gc_watermark(oldest);
        }
        let _g = self.progress.0.lock().expect("progress lock poisoned");
        self.progress.1.notify_all();
        Ok(())
    }

    /// Add one mutation to `batch`. `overlay` holds this batch's writes (key -> value or
    /// deleted), so atomic adds and range clears see earlier mutations of the same batch.
    fn apply_one(
        &self,
        owned: &[OwnedShard],
        batch: &mut WriteBatch,
        overlay: &mut std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        version: Version,
        m: &Mutation,
    ) -> Result<(), KvError> {
        match m {
            Mutation::Set { key, .. }
            | Mutation::Clear { key }
            | Mutation::AtomicAdd { key, .. }
                if !Self::applies(owned, key) => {}
            Mutation::Set { key, value } => {
                batch.put(key, version, value)?;
                overlay.insert(key.clone(), Some(value.clone()));
            }
            Mutation::Clear { key } => {
                batch.delete(key, version)?;
                overlay.insert(key.clone(), None);
            }
            Mutation::AtomicAdd { key, delta } => {
                let current = match overlay.get(key) {
                    Some(v) => v.clone(),
                    None => self.engine.get(key, version.saturating_sub(1))?,
                };
                let sum = Mutation::add_le(current.as_deref(), *delta);
                batch.put(key, version, &sum)?;
                overlay.insert(key.clone(), Some(sum.to_vec()));
            }
            Mutation::ClearRange { range } => {
                for piece in Self::owned_pieces(owned, range) {
                    self.clear_range(batch, overlay, version, &piece)?;
                }
            }
        }
        Ok(())
    }

    /// The parts of `range` this server applies: its intersections with the owned shards
    /// (never the local metadata space).
    fn owned_pieces(owned: &[OwnedShard], range: &KeyRange) -> Vec<KeyRange> {
        let range = range.intersection(&KeyRange::new(Vec::new(), LOCAL_SPACE.to_vec()));
        owned
            .iter()
            .map(|s| s.range.intersection(&range))
            .filter(|piece| !piece.is_empty())
            .collect()
    }

    fn clear_range(
        &self,
        batch: &mut WriteBatch,
        overlay: &mut std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        version: Version,
        range: &KeyRange,
    ) -> Result<(), KvError> {
        if range.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let bounds = range.bounds();
        for kv in self
            .engine
            .scan(bounds, version.saturating_sub(1), Direction::Forward)?
        {
            keys.push(kv?.0);
        }
        let in_overlay = overlay.range::<[u8], _>(bounds).map(|(k, _)| k.clone());
        keys.extend(in_overlay);
        keys.sort();
        keys.dedup();
        for k in keys {
            batch.delete(&k, version)?;
            overlay.insert(k, None);
        }
        Ok(())
    }

    /// Make a read at `version` safe: wait until the version is applied (bounded by
    /// `read_wait`, then a retryable error), then check with `servable` (which returns the
    /// owning shard's `since`) that the data is still owned, and that the version is neither
    /// below the shard's `since` nor below the GC horizon.
    ///
    /// Ownership is checked after the version is applied, never only before: a shard dropped
    /// while a reader waits is no longer applied, so the versions applied after the drop are
    /// missing from its data. A shard owned now was owned while every version up to the
    /// applied one was applied (a drop and a later install would give it a new `since`).
    fn ready_to_read(
        &self,
        version: Version,
        servable: impl Fn() -> Result<Version, KvError>,
    ) -> Result<(), KvError> {
        if self.applied_version() < version {
            // Refuse a key this server does not own without waiting for it.
            servable()?;
            self.wait_for(version)?;
        }
        let oldest = self.oldest_readable_version().max(servable()?);
        if version < oldest {
            return Err(KvError::TransactionTooOld {
                requested: version,
                oldest,
            });
        }
        Ok(())
    }

    /// Block until `version` is applied (bounded by `read_wait`), or fail retryably.
    fn wait_for(&self, version: Version) -> Result<(), KvError> {
        if self.applied_version() >= version {
            return Ok(());
        }
        let deadline = Instant::now() + self.opts.read_wait;
        let mut g = self.progress.0.lock().expect("progress lock poisoned");
        while self.applied_version() < version {
            let now = Instant::now();
            if now >= deadline {
                return Err(KvError::FutureVersion {
                    requested: version,
                    applied: self.applied_version(),
                });
            }
            g = self
                .progress
                .1
                .wait_timeout(g, deadline - now)
                .expect("progress lock poisoned")
                .0;
        }
        Ok(())
    }

    /// The version from which this server can serve `key`, or `WrongShard` (the point
    /// form of `servable_since`, without building a range for every read).
    fn servable_since_key(&self, key: &[u8]) -> Result<Version, KvError> {
        let owned = self.shards.read().expect("shard list lock poisoned");
        match owned.iter().find(|s| s.range.contains(key)) {
            Some(s) if key < LOCAL_SPACE => Ok(s.since),
            _ => Err(KvError::WrongShard { key: key.to_vec() }),
        }
    }

    /// The value of `key` at `version`.
    pub fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, KvError> {
        self.ready_to_read(version, || self.servable_since_key(key))?;
        Ok(self.engine.get(key, version)?)
    }

    /// Up to `limit` key-value pairs of `range` at `version`, ascending or (`reverse`)
    /// descending. The caller pages by narrowing the range past the last key returned.
    pub fn get_range(
        &self,
        range: &KeyRange,
        version: Version,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, KvError> {
        self.ready_to_read(version, || self.servable_since(range))?;
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let bounds = range.bounds();
        let direction = if reverse {
            Direction::Reverse
        } else {
            Direction::Forward
        };
        let mut out = Vec::new();
        for kv in self.engine.scan(bounds, version, direction)? {
            out.push(kv?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Engine statistics, for `status` output.
    pub fn engine_stats(&self) -> ferrisdb_storage::Stats {
        self.engine.stats()
    }
}

fn decode_version(b: &[u8]) -> Option<Version> {
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests;
