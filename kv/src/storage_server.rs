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
//!   the data, and the engine syncs that batch: after `apply` returns, everything up to the
//!   applied version survives a crash (so `durable_version == applied_version`), and the
//!   commit log may be truncated below it.
//! - Reads at versions in `[oldest_readable, applied]` are stable: the engine's GC watermark
//!   is `oldest_readable`, which trails the applied version by the MVCC window.
//! - Keys starting with 0xff are the system keyspace; the server's own metadata lives there.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use ferrisdb_storage::{Direction, Engine, Options, SyncMode, WriteBatch};

use crate::error::KvError;
use crate::types::{KeyRange, Mutation, Version};

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
    /// Options of the underlying engine (its sync mode is forced to group commit).
    pub engine: Options,
}

impl Default for StorageServerOptions {
    fn default() -> Self {
        StorageServerOptions {
            read_wait: Duration::from_secs(1),
            mvcc_window: 5_000_000,
            engine: Options::default(),
        }
    }
}

/// One storage server: an engine, the shards it owns, and its applied version.
pub struct StorageServer {
    engine: Engine,
    opts: StorageServerOptions,
    shards: RwLock<Vec<KeyRange>>,
    applied: AtomicU64,
    oldest_readable: AtomicU64,
    /// Readers waiting for a version sleep here; `apply` wakes them.
    progress: (Mutex<()>, Condvar),
}

impl StorageServer {
    /// Open (or create) a storage server in `dir`, owning `shards`.
    pub fn open(
        dir: &Path,
        shards: Vec<KeyRange>,
        opts: StorageServerOptions,
    ) -> Result<StorageServer, KvError> {
        let engine_opts = Options {
            sync_mode: SyncMode::GroupCommit,
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
        tracing::info!(dir = %dir.display(), applied, "storage server opened");
        Ok(StorageServer {
            engine,
            opts,
            shards: RwLock::new(shards),
            applied: AtomicU64::new(applied),
            oldest_readable: AtomicU64::new(oldest),
            progress: (Mutex::new(()), Condvar::new()),
        })
    }

    pub fn applied_version(&self) -> Version {
        self.applied.load(Ordering::Acquire)
    }

    /// Everything up to this version survives a crash (see the invariants).
    pub fn durable_version(&self) -> Version {
        self.applied_version()
    }

    pub fn oldest_readable_version(&self) -> Version {
        self.oldest_readable.load(Ordering::Acquire)
    }

    pub fn shards(&self) -> Vec<KeyRange> {
        self.shards
            .read()
            .expect("shard list lock poisoned")
            .clone()
    }

    pub fn set_shards(&self, shards: Vec<KeyRange>) {
        *self.shards.write().expect("shard list lock poisoned") = shards;
    }

    fn check_owned(&self, key: &[u8]) -> Result<(), KvError> {
        if key.first() == Some(&0xff)
            || self
                .shards
                .read()
                .expect("shard list lock poisoned")
                .iter()
                .any(|r| r.contains(key))
        {
            return Ok(());
        }
        Err(KvError::WrongShard { key: key.to_vec() })
    }

    /// Apply log entries (increasing versions) in one durable engine batch.
    pub fn apply(&self, entries: &[(Version, Vec<Mutation>)]) -> Result<(), KvError> {
        let applied = self.applied_version();
        let fresh: Vec<_> = entries.iter().filter(|(v, _)| *v > applied).collect();
        let Some(last) = fresh.last().map(|(v, _)| *v) else {
            return Ok(());
        };
        if fresh.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(KvError::InvalidArgument(
                "log entries must have increasing versions".into(),
            ));
        }
        let mut batch = WriteBatch::new();
        let mut overlay = std::collections::BTreeMap::new();
        for (version, mutations) in fresh {
            for m in mutations {
                self.apply_one(&mut batch, &mut overlay, *version, m)?;
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
        batch: &mut WriteBatch,
        overlay: &mut std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        version: Version,
        m: &Mutation,
    ) -> Result<(), KvError> {
        match m {
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
                if range.is_empty() {
                    return Ok(());
                }
                let mut keys: Vec<Vec<u8>> = Vec::new();
                let bounds = (
                    Bound::Included(range.begin.as_slice()),
                    Bound::Excluded(range.end.as_slice()),
                );
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
            }
        }
        Ok(())
    }

    /// Block until `version` is applied (bounded by `read_wait`), or fail retryably.
    fn wait_for(&self, version: Version) -> Result<(), KvError> {
        let oldest = self.oldest_readable_version();
        if version < oldest {
            return Err(KvError::TransactionTooOld {
                requested: version,
                oldest,
            });
        }
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

    /// The value of `key` at `version`.
    pub fn get(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, KvError> {
        self.check_owned(key)?;
        self.wait_for(version)?;
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
        self.check_owned(&range.begin)?;
        self.wait_for(version)?;
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let bounds = (
            Bound::Included(range.begin.as_slice()),
            Bound::Excluded(range.end.as_slice()),
        );
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
