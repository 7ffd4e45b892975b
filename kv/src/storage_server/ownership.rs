//! Changing which shards a storage server owns: installing a shard fetched from another
//! server, dropping one that moved away, following the cluster controller's assignment, and
//! the per-shard statistics the controller balances by. See [`super::shards`] for the order
//! of writes that keeps each change crash-safe.

use std::sync::MutexGuard;

use ferrisdb_storage::{Direction, WriteBatch};

use super::shards::{self, OwnedShard};
use super::{KeyValue, StorageServer};
use crate::error::KvError;
use crate::types::{KeyRange, Version};

/// Log application paused (the apply lock held), at a fixed applied version.
pub struct ApplyPause<'a> {
    _lock: MutexGuard<'a, ()>,
    version: Version,
}

impl ApplyPause<'_> {
    /// The applied version, which cannot move while the pause lasts.
    pub fn version(&self) -> Version {
        self.version
    }
}

/// Size of one owned shard, as the cluster controller sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardStats {
    pub range: KeyRange,
    /// Keys counted (capped at the scan limit).
    pub keys: u64,
    pub bytes: u64,
    /// A key near the middle, where a split would halve the shard.
    pub split_key: Option<Vec<u8>>,
}

/// What following an assignment changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Assigned ranges this server does not hold (they need a fetch, or a bootstrap).
    pub missing: Vec<KeyRange>,
    /// Owned ranges the assignment no longer lists, now dropped.
    pub dropped: Vec<KeyRange>,
}

impl StorageServer {
    /// Stop applying the log until the pause is dropped (for installing a shard whose data is
    /// fetched at exactly this version).
    pub fn pause_apply(&self) -> ApplyPause<'_> {
        let lock = self.apply_lock.lock().expect("apply lock poisoned");
        ApplyPause {
            _lock: lock,
            version: self.applied_version(),
        }
    }

    /// Take ownership of `range` with its contents `rows` as of `pause.version()` (fetched
    /// from the previous owner at that version). Whatever this server still holds of the
    /// range from an earlier ownership is deleted at that version.
    pub fn install_shard(
        &self,
        pause: &ApplyPause<'_>,
        range: &KeyRange,
        rows: &[KeyValue],
    ) -> Result<(), KvError> {
        let v = pause.version;
        if v == self.last_drop.load(std::sync::atomic::Ordering::Acquire) && v != 0 {
            // The dropped shard's writes at `v` would collide with ours at the same version.
            return Err(KvError::FutureVersion {
                requested: v + 1,
                applied: v,
            });
        }
        if rows.iter().any(|(k, _)| !range.contains(k)) {
            return Err(KvError::InvalidArgument(
                "fetched rows outside the shard".into(),
            ));
        }
        let mut batch = WriteBatch::new();
        let bounds = range.bounds();
        let incoming: std::collections::HashSet<&[u8]> =
            rows.iter().map(|(k, _)| k.as_slice()).collect();
        for kv in self.engine.scan(bounds, v, Direction::Forward)? {
            let (k, _) = kv?;
            if !incoming.contains(k.as_slice()) {
                batch.delete(&k, v)?;
            }
        }
        for (k, val) in rows {
            batch.put(k, v, val)?;
        }
        self.engine.write(batch)?;
        let mut owned = shards::subtract(&self.shards(), range);
        owned.push(OwnedShard {
            range: range.clone(),
            since: v,
        });
        owned.sort_by(|a, b| a.range.begin.cmp(&b.range.begin));
        self.set_owned(owned)?;
        tracing::info!(?range, version = v, rows = rows.len(), "installed shard");
        Ok(())
    }

    /// Own `range` from the beginning of the log: only for a server that has applied nothing
    /// yet (the cluster's first shard assignment).
    pub fn bootstrap_shard(&self, range: &KeyRange) -> Result<(), KvError> {
        let pause = self.pause_apply();
        if pause.version != 0 {
            return Err(KvError::InvalidArgument(format!(
                "cannot take {range:?} from the log's start: applied version is {}",
                pause.version
            )));
        }
        let mut owned = shards::subtract(&self.shards(), range);
        owned.push(OwnedShard {
            range: range.clone(),
            since: 0,
        });
        owned.sort_by(|a, b| a.range.begin.cmp(&b.range.begin));
        self.set_owned(owned)
    }

    /// Follow an assignment: keep (re-split as listed) the assigned ranges this server holds,
    /// drop the owned ranges no longer assigned, and report the assigned ranges it lacks.
    pub fn reconcile(&self, assigned: &[KeyRange]) -> Result<Reconciled, KvError> {
        let pause = self.pause_apply();
        let owned = self.shards();
        let mut next = Vec::new();
        let mut out = Reconciled::default();
        for r in assigned {
            match shards::covered(&owned, r) {
                Some(since) => next.push(OwnedShard {
                    range: r.clone(),
                    since,
                }),
                None => out.missing.push(r.clone()),
            }
        }
        let mut rest = owned.clone();
        for s in &next {
            rest = shards::subtract(&rest, &s.range);
        }
        out.dropped = rest.into_iter().map(|s| s.range).collect();
        next.sort_by(|a, b| a.range.begin.cmp(&b.range.begin));
        if next != owned {
            self.set_owned(next)?;
            if !out.dropped.is_empty() {
                self.last_drop
                    .store(pause.version, std::sync::atomic::Ordering::Release);
                tracing::info!(dropped = ?out.dropped, "dropped shards");
            }
        }
        Ok(out)
    }

    /// Record the owned set durably, then switch to it (callers hold the apply lock).
    fn set_owned(&self, owned: Vec<OwnedShard>) -> Result<(), KvError> {
        shards::store(&self.dir, &owned)?;
        *self.shards.write().expect("shard list lock poisoned") = owned;
        Ok(())
    }

    /// Key count, bytes and a middle key of every owned shard, at the applied version;
    /// counting stops at `max_keys` per shard.
    pub fn shard_stats(&self, max_keys: u64) -> Result<Vec<ShardStats>, KvError> {
        let v = self.applied_version();
        let mut out = Vec::new();
        for s in self.shards() {
            let (keys, bytes) = self.count(&s.range, v, max_keys, None)?;
            let mut split_key = None;
            if keys >= 2 {
                let mut middle = None;
                self.count(&s.range, v, keys / 2 + 1, Some(&mut middle))?;
                split_key = middle.filter(|k| *k > s.range.begin);
            }
            out.push(ShardStats {
                range: s.range,
                keys,
                bytes,
                split_key,
            });
        }
        Ok(out)
    }

    /// Count up to `max` keys of `range` at `v`; `last` receives the last key counted.
    fn count(
        &self,
        range: &KeyRange,
        v: Version,
        max: u64,
        mut last: Option<&mut Option<Vec<u8>>>,
    ) -> Result<(u64, u64), KvError> {
        let bounds = range.bounds();
        let (mut keys, mut bytes) = (0u64, 0u64);
        for kv in self.engine.scan(bounds, v, Direction::Forward)? {
            let (k, val) = kv?;
            keys += 1;
            bytes += (k.len() + val.len()) as u64;
            if keys >= max {
                if let Some(l) = last.as_mut() {
                    **l = Some(k);
                }
                break;
            }
        }
        Ok((keys, bytes))
    }
}
