//! Engine statistics: shape of the tree, bytes moved, cache behaviour, time spent stalled.
//!
//! Write amplification is reported as RocksDB reports it: bytes written to table files (by
//! flush and compaction) divided by the user bytes written (keys + values + 8 bytes of
//! version per entry). WAL bytes are counted separately.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters, bumped by the write path and the background threads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub user_bytes: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub writes: AtomicU64,
    pub write_groups: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub flushes: AtomicU64,
    pub flush_bytes: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_bytes_read: AtomicU64,
    pub compaction_bytes_written: AtomicU64,
    pub gc_dropped_entries: AtomicU64,
    pub stall_micros: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }
}

/// Files and bytes of one level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelStats {
    pub files: usize,
    pub bytes: u64,
}

/// A point-in-time copy of the engine's statistics.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub levels: Vec<LevelStats>,
    pub memtable_bytes: usize,
    pub immutable_memtables: usize,
    pub user_bytes_written: u64,
    pub wal_bytes_written: u64,
    pub writes: u64,
    /// Write groups committed (each one WAL append, and one fsync when syncing).
    pub write_groups: u64,
    pub wal_syncs: u64,
    pub flushes: u64,
    pub flush_bytes_written: u64,
    pub compactions: u64,
    pub compaction_bytes_read: u64,
    pub compaction_bytes_written: u64,
    /// Entries removed by garbage collection (old versions, shadowing tombstones, duplicates).
    pub gc_dropped_entries: u64,
    pub block_cache_hits: u64,
    pub block_cache_misses: u64,
    pub block_cache_usage: usize,
    pub block_cache_capacity: usize,
    /// Row cache lookups (zero when it is off; see `Options::row_cache_size`).
    pub row_cache_hits: u64,
    pub row_cache_misses: u64,
    pub row_cache_usage: usize,
    pub open_tables: usize,
    /// Total time writers spent delayed or waiting for flush/compaction.
    pub stall_micros: u64,
}

impl Stats {
    /// (flush + compaction bytes written) / user bytes written; 0 before any write.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.flush_bytes_written + self.compaction_bytes_written) as f64
            / self.user_bytes_written as f64
    }

    /// Block cache hits / lookups; 0 before any lookup.
    pub fn cache_hit_rate(&self) -> f64 {
        let total = self.block_cache_hits + self.block_cache_misses;
        if total == 0 {
            0.0
        } else {
            self.block_cache_hits as f64 / total as f64
        }
    }

    pub(crate) fn fill_counters(&mut self, c: &Counters) {
        self.user_bytes_written = c.user_bytes.load(Relaxed);
        self.wal_bytes_written = c.wal_bytes.load(Relaxed);
        self.writes = c.writes.load(Relaxed);
        self.write_groups = c.write_groups.load(Relaxed);
        self.wal_syncs = c.wal_syncs.load(Relaxed);
        self.flushes = c.flushes.load(Relaxed);
        self.flush_bytes_written = c.flush_bytes.load(Relaxed);
        self.compactions = c.compactions.load(Relaxed);
        self.compaction_bytes_read = c.compaction_bytes_read.load(Relaxed);
        self.compaction_bytes_written = c.compaction_bytes_written.load(Relaxed);
        self.gc_dropped_entries = c.gc_dropped_entries.load(Relaxed);
        self.stall_micros = c.stall_micros.load(Relaxed);
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, l) in self.levels.iter().enumerate() {
            writeln!(f, "L{i}: {} files, {} bytes", l.files, l.bytes)?;
        }
        writeln!(
            f,
            "writes {} in {} groups ({} fsyncs); user {} B, wal {} B",
            self.writes,
            self.write_groups,
            self.wal_syncs,
            self.user_bytes_written,
            self.wal_bytes_written
        )?;
        writeln!(
            f,
            "flushes {} ({} B); compactions {} (read {} B, wrote {} B); write amplification {:.2}",
            self.flushes,
            self.flush_bytes_written,
            self.compactions,
            self.compaction_bytes_read,
            self.compaction_bytes_written,
            self.write_amplification()
        )?;
        write!(
            f,
            "block cache {:.1}% hits, {}/{} B; row cache {} hits, {} misses, {} B; stalled {} us",
            self.cache_hit_rate() * 100.0,
            self.block_cache_usage,
            self.block_cache_capacity,
            self.row_cache_hits,
            self.row_cache_misses,
            self.row_cache_usage,
            self.stall_micros
        )
    }
}
