//! FerrisDB's own engine behind [`BenchEngine`].
//!
//! Configuration mirrors the db_bench parameters: `SyncMode::None` for the fill phases (the
//! WAL is written on every put, not fsynced: db_bench's `--sync=0`), `SyncMode::GroupCommit`
//! for the fillsync phases (each put durable before it returns, concurrent writers share an
//! fsync), compression off, block cache `cfg.cache_bytes`. `Stats::write_amplification()` is
//! (flush + compaction table bytes) / user bytes since open, WAL excluded, the definition the
//! table prints for every engine.
//!
//! GC watermark: in the single-writer fill phases the adapter advances it to each written
//! version (see `put`), so compaction keeps only the newest version of a key, like the other
//! two engines.
//!
//! Versions: FerrisDB stores caller-supplied versions and reads see the newest at or below the
//! read version, so every put needs a strictly larger version than any before it, *across
//! reopens* too (overwrite reopens fillrandom's database). A process-wide counter does that:
//! all phases of one engine run in the same child process.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrisdb_storage::{Compression, Direction, Engine, Options, SyncMode};

use crate::engine::{BenchEngine, BenchResult, EngineConfig};

/// The last version handed out in this process; see the module docs.
static LAST_VERSION: AtomicU64 = AtomicU64::new(0);

/// Reads see every write: the newest version of each key.
const LATEST: u64 = u64::MAX;

pub struct FerrisEngine {
    engine: Engine,
    /// Advance the GC watermark on every put (single-writer phases only; see `put`).
    advance_watermark: bool,
}

impl FerrisEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> BenchResult<Self> {
        let sync_mode = if cfg.synced {
            SyncMode::GroupCommit
        } else {
            SyncMode::None
        };
        // db_bench runs with --compression_type=none --cache_size=cache_bytes.
        let options = Options {
            sync_mode,
            compression: Compression::None,
            block_cache_size: usize::try_from(cfg.cache_bytes).unwrap_or(usize::MAX),
            ..Options::default()
        };
        let engine = Engine::open(dir, options)?;
        // The synced phases are the multi-threaded ones: there a writer's version can be older
        // than another writer's newer version that already raised the watermark, and the engine
        // rightly refuses writes below it. They are small; GC does not matter there.
        Ok(FerrisEngine {
            engine,
            advance_watermark: !cfg.synced,
        })
    }
}

impl BenchEngine for FerrisEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> BenchResult<()> {
        let version = LAST_VERSION.fetch_add(1, Ordering::Relaxed) + 1;
        self.engine.put(key, version, value)?;
        // Every read here is at the latest version, so no older version is needed: advance
        // the GC watermark as a FerrisDB storage server does (it keeps only its MVCC window).
        // Without it the engine keeps every overwritten version, which RocksDB and fjall do
        // not, and scans would step over twice the data.
        if self.advance_watermark {
            self.engine.set_gc_watermark(version);
        }
        Ok(())
    }

    fn get(&self, key: &[u8], found: &mut dyn FnMut(&[u8])) -> BenchResult<bool> {
        match self.engine.get(key, LATEST)? {
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
        let range = (Bound::Included(start), Bound::Unbounded);
        let mut scan = self.engine.scan(range, LATEST, Direction::Forward)?;
        let mut seen = 0;
        while seen < n && scan.advance()? {
            each(scan.key(), scan.value());
            seen += 1;
        }
        Ok(seen)
    }

    fn scan_all(&self, each: &mut dyn FnMut(&[u8], &[u8])) -> BenchResult<usize> {
        let range: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Unbounded, Bound::Unbounded);
        let mut scan = self.engine.scan(range, LATEST, Direction::Forward)?;
        let mut seen = 0;
        while scan.advance()? {
            each(scan.key(), scan.value());
            seen += 1;
        }
        Ok(seen)
    }

    fn write_amp(&self) -> Option<f64> {
        let wa = self.engine.stats().write_amplification();
        // No user bytes yet gives 0/0; report that as "not available" rather than NaN.
        wa.is_finite().then_some(wa)
    }

    fn wait_idle(&self) -> BenchResult<()> {
        self.engine.flush()?;
        self.engine.wait_for_compactions()?;
        Ok(())
    }

    fn close(self: Box<Self>) -> BenchResult<()> {
        self.engine.close()?;
        Ok(())
    }
}
