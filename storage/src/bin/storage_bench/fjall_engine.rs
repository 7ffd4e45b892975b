//! fjall (v3) behind [`BenchEngine`]: the pure-Rust LSM we compare against.
//!
//! Configuration mirrors the db_bench parameters: one keyspace, data and index blocks
//! uncompressed (`CompressionPolicy::disabled()`), journal uncompressed, block cache
//! `cache_bytes`, everything else fjall's default (64 MiB memtable, leveled compaction,
//! min(cores, 4) worker threads). fjall's default journal mode hands every write to the OS,
//! the equivalent of db_bench's `--sync=0` with the WAL on. For synced phases each insert is
//! followed by `Database::persist(PersistMode::SyncData)`: fjall has no group commit, so
//! concurrent writers take turns fsyncing the journal (an fsync still covers everything
//! written before it, so later writers often find little left to do).
//!
//! Write amplification: fjall's public API has no counter of bytes written by flushes and
//! compactions (its `metrics` only cover reads), so [`BenchEngine::write_amp`] is `None`.
//!
//! Waiting for compactions: fjall has no "wait until idle" call. [`FjallEngine::wait_idle`]
//! rotates and flushes the memtable, then polls until no flush is queued, no compaction is
//! running and the L0 table count and completed-compaction counter have been stable for a
//! few polls: db_bench's `waitforcompaction` is likewise "until compaction is (probably) done".

use std::path::Path;
use std::time::{Duration, Instant};

use fjall::config::CompressionPolicy;
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use crate::engine::{BenchEngine, BenchResult, EngineConfig};

pub struct FjallEngine {
    db: Database,
    keyspace: Keyspace,
    synced: bool,
}

impl FjallEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> BenchResult<Self> {
        let db = Database::builder(dir)
            .cache_size(cfg.cache_bytes)
            .journal_compression(CompressionType::None)
            .open()?;
        let keyspace = db.keyspace("bench", || {
            KeyspaceCreateOptions::default()
                .data_block_compression_policy(CompressionPolicy::disabled())
                .index_block_compression_policy(CompressionPolicy::disabled())
        })?;
        Ok(FjallEngine {
            db,
            keyspace,
            synced: cfg.synced,
        })
    }

    /// One snapshot of the counters that move while background work is pending.
    fn activity(&self) -> (usize, usize, usize, usize) {
        (
            self.db.outstanding_flushes(),
            self.db.active_compactions(),
            self.db.compactions_completed(),
            self.keyspace.l0_table_count(),
        )
    }
}

impl BenchEngine for FjallEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> BenchResult<()> {
        self.keyspace.insert(key, value)?;
        if self.synced {
            self.db.persist(PersistMode::SyncData)?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8], found: &mut dyn FnMut(&[u8])) -> BenchResult<bool> {
        match self.keyspace.get(key)? {
            Some(v) => {
                found(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        each: &mut dyn FnMut(&[u8], &[u8]),
    ) -> BenchResult<usize> {
        let mut seen = 0;
        for guard in self.keyspace.range(start..).take(n) {
            let (k, v) = guard.into_inner()?;
            each(&k, &v);
            seen += 1;
        }
        Ok(seen)
    }

    fn scan_all(&self, each: &mut dyn FnMut(&[u8], &[u8])) -> BenchResult<usize> {
        let mut seen = 0;
        for guard in self.keyspace.iter() {
            let (k, v) = guard.into_inner()?;
            each(&k, &v);
            seen += 1;
        }
        Ok(seen)
    }

    fn write_amp(&self) -> Option<f64> {
        None
    }

    fn wait_idle(&self) -> BenchResult<()> {
        self.keyspace.rotate_memtable_and_wait()?;
        const POLL: Duration = Duration::from_millis(25);
        const STABLE_POLLS: u32 = 8;
        let deadline = Instant::now() + Duration::from_secs(1800);
        let mut last = self.activity();
        let mut stable = 0;
        while stable < STABLE_POLLS {
            if Instant::now() > deadline {
                return Err("fjall: compactions did not settle within 30 minutes".into());
            }
            std::thread::sleep(POLL);
            let now = self.activity();
            let idle = now.0 == 0 && now.1 == 0;
            stable = if idle && now == last { stable + 1 } else { 0 };
            last = now;
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> BenchResult<()> {
        self.db.persist(PersistMode::SyncAll)?;
        // Dropping the last handle stops fjall's workers and releases the directory lock.
        drop(self);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        crate::workloads::encode_key(n, &mut k);
        k
    }

    #[test]
    fn adapter_reads_back_writes_across_a_reopen() -> BenchResult<()> {
        let dir = tempfile::tempdir()?;
        let cfg = EngineConfig {
            synced: false,
            cache_bytes: 1 << 20,
        };
        let e: Box<dyn BenchEngine> = Box::new(FjallEngine::open(dir.path(), &cfg)?);
        for n in 0..100 {
            e.put(&key(n), &n.to_le_bytes())?;
        }
        e.wait_idle()?;
        assert_eq!(e.write_amp(), None);
        e.close()?;

        let e: Box<dyn BenchEngine> = Box::new(FjallEngine::open(dir.path(), &cfg)?);
        let mut value = Vec::new();
        assert!(e.get(&key(42), &mut |v| value = v.to_vec())?);
        assert_eq!(value, 42u64.to_le_bytes());
        assert!(!e.get(&key(100), &mut |_| {})?);
        let mut keys = Vec::new();
        assert_eq!(
            e.scan_from(&key(95), 10, &mut |k, _| keys.push(k.to_vec()))?,
            5
        );
        assert_eq!(keys.first().map(Vec::as_slice), Some(&key(95)[..]));
        assert_eq!(e.scan_all(&mut |_, _| {})?, 100);
        e.close()
    }
}
