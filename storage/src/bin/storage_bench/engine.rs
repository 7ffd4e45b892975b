//! The engine-neutral interface every benchmarked key-value engine implements.
//!
//! It is deliberately tiny: the workloads need a put, a point get, a bounded forward scan from
//! a key, a full scan, "settle down" (flush the memtable and wait for compactions, untimed)
//! and, where the engine exposes it, its write amplification. Each adapter calls its engine's
//! native API with no extra copies beyond what that API itself makes: `get` and the scans
//! hand out borrowed slices through callbacks instead of returning owned buffers, so fjall's
//! zero-copy slices are not penalized and FerrisDB's `Vec` results are not copied twice.
//!
//! Durability is chosen when the engine is opened ([`EngineConfig::synced`]) because that is
//! where FerrisDB takes it (`Options::sync_mode`); fjall, which decides per write, reads the
//! same flag in its adapter.

use std::path::Path;

pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
pub type BenchResult<T> = Result<T, BenchError>;

/// Per-open configuration, identical for every engine.
// Read only by adapters; a build with no engine compiled in has none.
#[cfg_attr(not(feature = "bench-fjall"), allow(dead_code))]
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Every put is durable before it returns (group commit where the engine has it).
    pub synced: bool,
    /// Block cache capacity in bytes.
    pub cache_bytes: u64,
}

pub trait BenchEngine: Send + Sync {
    /// Writes one entry. Durability follows [`EngineConfig::synced`].
    fn put(&self, key: &[u8], value: &[u8]) -> BenchResult<()>;

    /// Looks `key` up; calls `found` with the value if present and says whether it was.
    fn get(&self, key: &[u8], found: &mut dyn FnMut(&[u8])) -> BenchResult<bool>;

    /// Visits up to `n` entries with key >= `start`, in order; returns how many it visited.
    fn scan_from(
        &self,
        start: &[u8],
        n: usize,
        each: &mut dyn FnMut(&[u8], &[u8]),
    ) -> BenchResult<usize>;

    /// Visits every entry in key order; returns how many it visited.
    fn scan_all(&self, each: &mut dyn FnMut(&[u8], &[u8])) -> BenchResult<usize>;

    /// Table bytes written (flush + compaction) / user bytes written since open, if exposed.
    fn write_amp(&self) -> Option<f64>;

    /// Flushes the memtable and waits until background compactions are done.
    fn wait_idle(&self) -> BenchResult<()>;

    /// Shuts the engine down cleanly so the next phase can reopen the same directory.
    fn close(self: Box<Self>) -> BenchResult<()>;
}

/// Names of the engines compiled into this binary, in table order.
pub const ENGINES: &[&str] = &[
    "ferrisdb",
    #[cfg(feature = "bench-fjall")]
    "fjall",
];

/// Opens engine `name` on `dir` (created if missing).
pub fn open(name: &str, dir: &Path, cfg: &EngineConfig) -> BenchResult<Box<dyn BenchEngine>> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    match name {
        "ferrisdb" => Ok(Box::new(crate::ferris::FerrisEngine::open(dir, cfg)?)),
        #[cfg(feature = "bench-fjall")]
        "fjall" => Ok(Box::new(crate::fjall_engine::FjallEngine::open(dir, cfg)?)),
        _ => {
            let _ = cfg;
            Err(format!("engine {name:?} is not compiled in").into())
        }
    }
}
