//! Background work: the flush thread and the compaction thread, and their manual triggers.
//!
//! Both threads sleep on `bg_cond` (paired with `core`) and re-check their condition under the
//! `core` lock, so no wake-up is lost: every state change happens under `core` and is
//! followed by `notify_all`. Work itself (reading and writing tables) runs without any lock;
//! only the final manifest append and state install take `core`.
//!
//! The flush thread always flushes the *oldest* immutable memtable first, so L0 tables keep
//! the order of the writes. The compaction thread runs `compaction::pick_compaction` on the
//! current version and executes it. A failure in either is kept in `bg_error`: the engine
//! then refuses writes (reads keep working) rather than risk building on a bad state.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{lock, Imm, Inner, State};
use crate::compaction::{
    pick_compaction, pick_in_place, pick_whole_level, write_tables, CompactionPick, GcFilter,
    TableSink,
};
use crate::fs::{sync_dir, table_file_name};
use crate::iterator::InternalIterator;
use crate::level_iter::LevelIterator;
use crate::merge::MergingIterator;
use crate::stats::Counters;
use crate::version::{FileInfo, VersionEdit};
use crate::wal::list_wal_segments;
use crate::{Error, IoResultExt, Result};

/// Hands out table file numbers from `core`.
struct CoreSink<'a>(&'a Inner);

impl TableSink for CoreSink<'_> {
    fn new_table(&mut self) -> Result<(u64, PathBuf)> {
        let mut core = self.0.core();
        let n = core.next_file_number;
        core.next_file_number += 1;
        Ok((n, table_file_name(&self.0.dir, n)))
    }
}

/// A background thread's body.
type Loop = fn(&Inner);

pub(super) fn spawn(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    let loops: [(&str, Loop); 2] = [
        ("ferrisdb-flush", flush_loop),
        ("ferrisdb-compact", compaction_loop),
    ];
    loops
        .into_iter()
        .map(|(name, body)| {
            let i = inner.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || body(&i))
                .with_path(&inner.dir)
        })
        .collect()
}

fn record_failure(inner: &Inner, what: &str, e: Error) {
    tracing::error!(error = %e, "{what} failed; the engine stops accepting writes");
    inner.fail(&mut inner.core(), e);
}

fn flush_loop(inner: &Inner) {
    loop {
        let imm = {
            let mut core = inner.core();
            loop {
                if inner.shutdown.load(Ordering::Acquire) {
                    return;
                }
                if core.bg_error.is_none() {
                    if let Some(last) = inner.current().imm.last() {
                        core.flush_running = true;
                        break last.clone();
                    }
                }
                core = inner.bg_cond.wait(core).expect("engine core lock poisoned");
            }
        };
        let r = inner.flush_imm(&imm);
        inner.core().flush_running = false;
        if let Err(e) = r {
            record_failure(inner, "memtable flush", e);
        }
        let _core = inner.core();
        inner.bg_cond.notify_all();
    }
}

fn compaction_loop(inner: &Inner) {
    loop {
        {
            let mut core = inner.core();
            loop {
                if inner.shutdown.load(Ordering::Acquire) {
                    return;
                }
                if core.bg_error.is_none()
                    && pick_compaction(&inner.current().version, &inner.opts, &core.pointers)
                        .is_some()
                {
                    break;
                }
                core = inner
                    .bg_cond
                    .wait_timeout(core, Duration::from_secs(1))
                    .expect("engine core lock poisoned")
                    .0;
            }
        }
        let _g = lock(&inner.compaction_lock);
        let pick = {
            let core = inner.core();
            pick_compaction(&inner.current().version, &inner.opts, &core.pointers)
        };
        if let Some(pick) = pick {
            if let Err(e) = inner.run_compaction(&pick) {
                record_failure(inner, "compaction", e);
            }
        }
    }
}

impl Inner {
    /// Write the oldest immutable memtable `imm` to an L0 table and drop it from the state.
    pub(crate) fn flush_imm(&self, imm: &Imm) -> Result<()> {
        let mut it = imm.mem.iter();
        it.seek_to_first()?;
        let mut filter = GcFilter::new(self.effective_watermark(), false);
        let files = write_tables(
            &mut it,
            &mut filter,
            &mut CoreSink(self),
            &self.opts.table_options(),
            u64::MAX,
        )?;
        if !files.is_empty() {
            sync_dir(&self.dir)?;
        }
        let written: u64 = files.iter().map(|f| f.size).sum();
        let mut core = self.core();
        let cur = self.current();
        let pos = cur.imm.iter().position(|i| Arc::ptr_eq(&i.mem, &imm.mem));
        let pos = pos.ok_or_else(|| {
            Error::InvalidArgument("flushed memtable vanished from the state".into())
        })?;
        let log_number = if pos > 0 {
            cur.imm[pos - 1].log
        } else {
            cur.mem_log
        };
        let edit = VersionEdit {
            log_number: Some(log_number),
            next_file_number: Some(core.next_file_number),
            gc_watermark: Some(self.gc_watermark.load(Ordering::Acquire)),
            added: files.into_iter().map(|f| (0, f)).collect(),
            ..VersionEdit::default()
        };
        core.manifest.append(&edit)?;
        core.log_number = log_number;
        let mut imms = cur.imm.clone();
        imms.remove(pos);
        let st = State {
            mem: cur.mem.clone(),
            mem_log: cur.mem_log,
            imm: imms,
            version: Arc::new(cur.version.apply(&edit).0),
        };
        self.install(&core, st);
        drop(core);
        self.delete_old_wal_segments(log_number);
        Counters::add(&self.counters.flushes, 1);
        Counters::add(&self.counters.flush_bytes, written);
        Counters::add(&self.counters.gc_dropped_entries, filter.dropped);
        tracing::debug!(bytes = written, "memtable flushed to L0");
        Ok(())
    }

    fn delete_old_wal_segments(&self, below: u64) {
        let Ok(segments) = list_wal_segments(&self.dir) else {
            return;
        };
        let mut deleted = false;
        for (n, path) in segments.into_iter().filter(|(n, _)| *n < below) {
            match std::fs::remove_file(&path) {
                Ok(()) => deleted = true,
                Err(e) => {
                    tracing::warn!(wal = n, error = %e, "could not delete a flushed WAL segment")
                }
            }
        }
        if deleted {
            if let Err(e) = sync_dir(&self.dir) {
                tracing::warn!(error = %e, "could not sync the directory after deleting WAL segments");
            }
        }
    }

    /// Execute `pick` and install its result. The caller holds `compaction_lock`.
    pub(crate) fn run_compaction(&self, pick: &CompactionPick) -> Result<()> {
        self.core().compaction_running = true;
        let r = self.run_compaction_inner(pick);
        self.core().compaction_running = false;
        r
    }

    fn run_compaction_inner(&self, pick: &CompactionPick) -> Result<()> {
        let (files, dropped) = if pick.is_trivial_move() {
            (vec![pick.inputs[0].info.clone()], 0)
        } else {
            self.merge_inputs(pick)?
        };
        let written: u64 = if pick.is_trivial_move() {
            0
        } else {
            files.iter().map(|f| f.size).sum()
        };
        let mut core = self.core();
        let edit = VersionEdit {
            next_file_number: Some(core.next_file_number),
            gc_watermark: Some(self.gc_watermark.load(Ordering::Acquire)),
            deleted: pick
                .inputs
                .iter()
                .map(|f| (pick.level, f.info.number))
                .chain(
                    pick.next_inputs
                        .iter()
                        .map(|f| (pick.output_level, f.info.number)),
                )
                .collect(),
            added: files
                .iter()
                .map(|f| (pick.output_level, f.clone()))
                .collect(),
            ..VersionEdit::default()
        };
        core.manifest.append(&edit)?;
        let cur = self.current();
        let (version, removed) = cur.version.apply(&edit);
        for f in removed {
            f.mark_obsolete(self.deleter.clone());
        }
        if pick.level > 0 {
            if let Some(last) = pick.inputs.iter().map(|f| &f.info.largest_key).max() {
                core.pointers[pick.level] = last.clone();
            }
        }
        let st = State {
            mem: cur.mem.clone(),
            mem_log: cur.mem_log,
            imm: cur.imm.clone(),
            version: Arc::new(version),
        };
        self.install(&core, st);
        self.bg_cond.notify_all();
        drop(core);
        let c = &self.counters;
        Counters::add(&c.compactions, 1);
        Counters::add(
            &c.compaction_bytes_read,
            if pick.is_trivial_move() {
                0
            } else {
                pick.input_bytes()
            },
        );
        Counters::add(&c.compaction_bytes_written, written);
        Counters::add(&c.gc_dropped_entries, dropped);
        tracing::debug!(
            level = pick.level,
            inputs = pick.inputs.len() + pick.next_inputs.len(),
            outputs = files.len(),
            "compaction done"
        );
        Ok(())
    }

    fn merge_inputs(&self, pick: &CompactionPick) -> Result<(Vec<FileInfo>, u64)> {
        let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
        if pick.level == 0 {
            for f in &pick.inputs {
                children.push(Box::new(
                    self.tables.get(f.info.number)?.iter_without_cache_fill(),
                ));
            }
        } else {
            children.push(Box::new(LevelIterator::without_cache_fill(
                pick.inputs.clone(),
                self.tables.clone(),
            )));
        }
        if !pick.next_inputs.is_empty() {
            children.push(Box::new(LevelIterator::without_cache_fill(
                pick.next_inputs.clone(),
                self.tables.clone(),
            )));
        }
        let mut merged = MergingIterator::new(children);
        merged.seek_to_first()?;
        let (watermark, floor) = {
            let _gate = self.gc_gate.write().expect("gc gate poisoned");
            (
                self.effective_watermark(),
                self.higher_sources_min_version(pick),
            )
        };
        let mut filter = GcFilter::new(watermark, pick.bottommost).with_tombstone_floor(floor);
        let files = write_tables(
            &mut merged,
            &mut filter,
            &mut CoreSink(self),
            &self.opts.table_options(),
            self.opts.target_file_size,
        )?;
        if !files.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok((files, filter.dropped))
    }

    /// Lowest version held by any source above `pick`'s output (memtables, and the tables of
    /// shallower levels that overlap its key range and are not its inputs).
    fn higher_sources_min_version(&self, pick: &CompactionPick) -> u64 {
        let st = self.current();
        let (lo, hi) = pick.key_range();
        let is_input = |n: u64| {
            pick.inputs
                .iter()
                .chain(&pick.next_inputs)
                .any(|f| f.info.number == n)
        };
        let mems = std::iter::once(&st.mem).chain(st.imm.iter().map(|i| &i.mem));
        let mem_min = mems.filter_map(|m| m.version_range()).map(|r| r.0).min();
        let table_min = st.version.levels[..pick.output_level]
            .iter()
            .flatten()
            .filter(|f| !is_input(f.info.number) && f.overlaps(&lo, &hi))
            .map(|f| f.info.min_version)
            .min();
        mem_min
            .into_iter()
            .chain(table_min)
            .min()
            .unwrap_or(u64::MAX)
    }

    pub(crate) fn flush_and_wait(&self) -> Result<()> {
        {
            let mut wal = lock(&self.wal);
            if let Some(e) = self.closed_error() {
                return Err(e);
            }
            if !self.current().mem.is_empty() {
                self.rotate(&mut wal)?;
            }
        }
        let mut core = self.core();
        loop {
            if let Some(e) = &core.bg_error {
                return Err(Error::Closed {
                    reason: Some(format!("a background operation failed: {e}")),
                });
            }
            if self.current().imm.is_empty() {
                return Ok(());
            }
            core = self.bg_cond.wait(core).expect("engine core lock poisoned");
        }
    }

    pub(crate) fn wait_idle(&self) -> Result<()> {
        let mut core = self.core();
        loop {
            if let Some(e) = &core.bg_error {
                return Err(Error::Closed {
                    reason: Some(format!("a background operation failed: {e}")),
                });
            }
            let st = self.current();
            let pending = pick_compaction(&st.version, &self.opts, &core.pointers).is_some();
            if st.imm.is_empty() && !pending && !core.flush_running && !core.compaction_running {
                return Ok(());
            }
            core = self
                .bg_cond
                .wait_timeout(core, Duration::from_millis(50))
                .expect("engine core lock poisoned")
                .0;
        }
    }

    pub(crate) fn compact_all(&self) -> Result<()> {
        let _g = lock(&self.compaction_lock);
        let deepest = {
            let v = self.current().version.clone();
            (1..v.levels.len())
                .rev()
                .find(|&l| !v.levels[l].is_empty())
                .unwrap_or(1)
        };
        for level in 0..deepest {
            if let Some(p) = pick_whole_level(&self.current().version, level) {
                self.run_compaction(&p)?;
            }
        }
        if let Some(p) = pick_in_place(&self.current().version, deepest) {
            self.run_compaction(&p)?;
        }
        Ok(())
    }
}
