//! Compaction policy (pure) and the table-writing loop shared by flush and compaction.
//!
//! Policy is a pure function of the current [`Version`]: [`pick_compaction`] scores every level
//! and names the input tables; the engine's background thread executes the pick, records the
//! result in the manifest as one [`VersionEdit`](crate::version::VersionEdit), and installs it.
//! Recovery replays edits, so a crash mid-compaction leaves only unreferenced output files,
//! which open deletes.
//!
//! Scores (leveled, as in LevelDB/RocksDB):
//!
//! ```text
//!   L0:        number of tables / l0_compaction_trigger    (L0 tables overlap; reads pay per file)
//!   L1..Ln-1:  level bytes / target(level)                  target(1) = l1_target_size,
//!                                                          target(n+1) = target(n) * multiplier
//! ```
//!
//! The highest score >= 1 wins. L0 compacts *all* its tables (they overlap each other) with the
//! overlapping L1 tables; a deeper level compacts one table, chosen round-robin through the
//! key space, with the overlapping tables of the next level.
//!
//! Garbage collection ([`GcFilter`]) keeps, per user key, every version above the watermark
//! and the newest version at or below it, and drops that newest one too when it is a
//! tombstone and the output is bottommost (no deeper level overlaps: it shadows nothing) and
//! no *higher* source holds an older version of any key in range (versions are the caller's,
//! so a newer write may carry an older version; the tombstone must keep hiding it).

use std::path::PathBuf;
use std::sync::Arc;

use crate::iterator::InternalIterator;
use crate::options::Options;
use crate::sstable::{TableBuilder, TableOptions};
use crate::types::{ValueKind, Version as Ver};
use crate::version::{FileInfo, FileMeta, Version};
use crate::Result;

/// The work one compaction will do.
#[derive(Clone, Debug)]
pub struct CompactionPick {
    pub level: usize,
    pub inputs: Vec<Arc<FileMeta>>,
    /// Overlapping tables of `output_level`.
    pub next_inputs: Vec<Arc<FileMeta>>,
    /// `level + 1`, or `level` itself for a manual in-place rewrite of the last data level.
    pub output_level: usize,
    /// No level below `level + 1` overlaps the key range, so tombstones may be dropped.
    pub bottommost: bool,
}

impl CompactionPick {
    /// A single table moving to an empty key range of the next level can be moved instead of
    /// rewritten (no merge to do; garbage collection waits for a later compaction).
    pub fn is_trivial_move(&self) -> bool {
        self.level > 0
            && self.output_level == self.level + 1
            && self.inputs.len() == 1
            && self.next_inputs.is_empty()
            && !self.bottommost
    }

    /// Smallest and largest user key across every input.
    pub fn key_range(&self) -> (Vec<u8>, Vec<u8>) {
        let all = self.inputs.iter().chain(&self.next_inputs);
        let lo = all
            .clone()
            .map(|f| &f.info.smallest_key)
            .min()
            .cloned()
            .unwrap_or_default();
        let hi = all
            .map(|f| &f.info.largest_key)
            .max()
            .cloned()
            .unwrap_or_default();
        (lo, hi)
    }

    pub fn input_bytes(&self) -> u64 {
        self.inputs
            .iter()
            .chain(&self.next_inputs)
            .map(|f| f.info.size)
            .sum()
    }
}

/// Score of each level that can be compacted (all but the last).
pub fn level_scores(version: &Version, opts: &Options) -> Vec<f64> {
    let last = version.levels.len() - 1;
    (0..last)
        .map(|level| {
            if level == 0 {
                version.levels[0].len() as f64 / opts.l0_compaction_trigger as f64
            } else {
                version.level_bytes(level) as f64 / opts.level_target_size(level) as f64
            }
        })
        .collect()
}

/// Choose the next compaction, if any level needs one. `pointers[level]` is the largest key
/// of the previous compaction at that level (round-robin position).
pub fn pick_compaction(
    version: &Version,
    opts: &Options,
    pointers: &[Vec<u8>],
) -> Option<CompactionPick> {
    let scores = level_scores(version, opts);
    let (level, score) = scores
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if score < 1.0 {
        return None;
    }
    let inputs = if level == 0 {
        version.levels[0].clone()
    } else {
        let files = &version.levels[level];
        let ptr = pointers.get(level).map(Vec::as_slice).unwrap_or(&[]);
        let f = files
            .iter()
            .find(|f| f.info.smallest_key.as_slice() > ptr)
            .or_else(|| files.first())?;
        vec![f.clone()]
    };
    Some(with_next_level(version, level, inputs))
}

/// Compaction of every table of `level` into `level + 1` (manual compaction).
pub fn pick_whole_level(version: &Version, level: usize) -> Option<CompactionPick> {
    if level + 1 >= version.levels.len() || version.levels[level].is_empty() {
        return None;
    }
    Some(with_next_level(
        version,
        level,
        version.levels[level].clone(),
    ))
}

/// Manual rewrite of every table of `level` in place (used to collect garbage at the bottom).
pub fn pick_in_place(version: &Version, level: usize) -> Option<CompactionPick> {
    if level == 0 || version.levels.get(level)?.is_empty() {
        return None;
    }
    let mut pick = CompactionPick {
        level,
        inputs: version.levels[level].clone(),
        next_inputs: Vec::new(),
        output_level: level,
        bottommost: false,
    };
    let (lo, hi) = pick.key_range();
    pick.bottommost =
        (level + 1..version.levels.len()).all(|l| version.overlapping(l, &lo, &hi).is_empty());
    Some(pick)
}

fn with_next_level(version: &Version, level: usize, inputs: Vec<Arc<FileMeta>>) -> CompactionPick {
    let mut pick = CompactionPick {
        level,
        inputs,
        next_inputs: Vec::new(),
        output_level: level + 1,
        bottommost: false,
    };
    let (lo, hi) = pick.key_range();
    pick.next_inputs = version.overlapping(level + 1, &lo, &hi);
    let (lo, hi) = pick.key_range();
    pick.bottommost =
        (level + 2..version.levels.len()).all(|l| version.overlapping(l, &lo, &hi).is_empty());
    pick
}

/// Decides, entry by entry in internal order, what survives a flush or compaction.
#[derive(Debug)]
pub struct GcFilter {
    watermark: Ver,
    bottommost: bool,
    key: Vec<u8>,
    last_version: Option<Ver>,
    kept_at_or_below: bool,
    /// Bottom tombstones are dropped only at or below this version: a higher source (memtable,
    /// shallower table) may hold an *older* version of the key, which the tombstone must keep
    /// hiding. Callers pass the lowest version any higher source holds.
    tombstone_floor: Ver,
    pub dropped: u64,
}

impl GcFilter {
    pub fn new(watermark: Ver, bottommost: bool) -> GcFilter {
        GcFilter {
            watermark,
            bottommost,
            key: Vec::new(),
            last_version: None,
            kept_at_or_below: false,
            tombstone_floor: Ver::MAX,
            dropped: 0,
        }
    }

    /// See the `tombstone_floor` field.
    pub fn with_tombstone_floor(mut self, floor: Ver) -> GcFilter {
        self.tombstone_floor = floor;
        self
    }

    /// Whether to keep this entry. Must be called for every entry, in internal order, with
    /// duplicates of an equal (key, version) newest first (the first one wins).
    pub fn keep(&mut self, key: &[u8], version: Ver, kind: ValueKind) -> bool {
        let keep = self.decide(key, version, kind);
        if !keep {
            self.dropped += 1;
        }
        keep
    }

    fn decide(&mut self, key: &[u8], version: Ver, kind: ValueKind) -> bool {
        if self.last_version.is_none() || key != self.key.as_slice() {
            self.key.clear();
            self.key.extend_from_slice(key);
            self.kept_at_or_below = false;
        } else if self.last_version == Some(version) {
            return false;
        }
        self.last_version = Some(version);
        if version > self.watermark {
            return true;
        }
        if self.kept_at_or_below {
            return false;
        }
        self.kept_at_or_below = true;
        !(kind == ValueKind::Tombstone && self.bottommost && version <= self.tombstone_floor)
    }
}

/// Where new table files go: hands out (file number, path) pairs.
pub trait TableSink {
    fn new_table(&mut self) -> Result<(u64, PathBuf)>;
}

/// Write the surviving entries of `iter` (positioned by the caller, or at the start) into one
/// or more tables of about `target_size` bytes, never splitting a user key across tables.
/// On error every file created so far is deleted.
pub fn write_tables(
    iter: &mut dyn InternalIterator,
    filter: &mut GcFilter,
    sink: &mut dyn TableSink,
    opts: &TableOptions,
    target_size: u64,
) -> Result<Vec<FileInfo>> {
    let mut done: Vec<(FileInfo, PathBuf)> = Vec::new();
    let result = write_tables_inner(iter, filter, sink, opts, target_size, &mut done);
    match result {
        Ok(()) => Ok(done.into_iter().map(|(i, _)| i).collect()),
        Err(e) => {
            for (_, path) in done {
                let _ = std::fs::remove_file(path);
            }
            Err(e)
        }
    }
}

fn write_tables_inner(
    iter: &mut dyn InternalIterator,
    filter: &mut GcFilter,
    sink: &mut dyn TableSink,
    opts: &TableOptions,
    target_size: u64,
    done: &mut Vec<(FileInfo, PathBuf)>,
) -> Result<()> {
    let mut current: Option<(u64, PathBuf, TableBuilder)> = None;
    let mut last_key: Vec<u8> = Vec::new();
    while iter.valid() {
        let (key, version, kind) = (iter.key(), iter.version(), iter.kind());
        if filter.keep(key, version, kind) {
            let cut = matches!(&current, Some((_, _, b)) if b.estimated_size() >= target_size && key != last_key.as_slice());
            if cut {
                if let Some((n, p, b)) = current.take() {
                    finish(n, p, b, done)?;
                }
            }
            if current.is_none() {
                let (n, p) = sink.new_table()?;
                let b = TableBuilder::create(&p, opts.clone())?;
                current = Some((n, p, b));
            }
            if let Some((_, _, b)) = current.as_mut() {
                if let Err(e) = b.add(key, version, kind, iter.value()) {
                    if let Some((_, _, b)) = current.take() {
                        let _ = b.abandon();
                    }
                    return Err(e);
                }
            }
            last_key.clear();
            last_key.extend_from_slice(key);
        }
        if let Err(e) = iter.next() {
            if let Some((_, _, b)) = current.take() {
                let _ = b.abandon();
            }
            return Err(e);
        }
    }
    if let Some((n, p, b)) = current.take() {
        finish(n, p, b, done)?;
    }
    Ok(())
}

fn finish(
    number: u64,
    path: PathBuf,
    b: TableBuilder,
    done: &mut Vec<(FileInfo, PathBuf)>,
) -> Result<()> {
    done.push((FileInfo::from_properties(number, b.finish()?), path));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::VersionEdit;

    fn info(number: u64, lo: &str, hi: &str, size: u64) -> FileInfo {
        FileInfo {
            number,
            size,
            num_entries: 1,
            smallest_key: lo.into(),
            smallest_version: 1,
            largest_key: hi.into(),
            largest_version: 1,
            min_version: 1,
            max_version: 1,
        }
    }

    fn version(files: Vec<(usize, FileInfo)>) -> Version {
        Version::new(4)
            .apply(&VersionEdit {
                added: files,
                ..Default::default()
            })
            .0
    }

    #[test]
    fn nothing_to_do_below_thresholds() {
        let opts = Options::default();
        let v = version(vec![(0, info(1, "a", "b", 10)), (1, info(2, "a", "z", 10))]);
        assert!(pick_compaction(&v, &opts, &[]).is_none());
    }

    #[test]
    fn l0_by_file_count_takes_all_l0_and_overlapping_l1() {
        let opts = Options {
            l0_compaction_trigger: 2,
            ..Options::default()
        };
        let v = version(vec![
            (0, info(5, "c", "f", 10)),
            (0, info(6, "e", "h", 10)),
            (1, info(2, "a", "b", 10)),
            (1, info(3, "d", "g", 10)),
            (1, info(4, "x", "z", 10)),
        ]);
        let p = pick_compaction(&v, &opts, &[]).unwrap();
        assert_eq!(p.level, 0);
        assert_eq!(p.inputs.len(), 2);
        assert_eq!(
            p.next_inputs
                .iter()
                .map(|f| f.info.number)
                .collect::<Vec<_>>(),
            vec![3]
        );
        assert!(p.bottommost);
    }

    #[test]
    fn deeper_level_by_size_round_robin() {
        let opts = Options {
            l1_target_size: 100,
            ..Options::default()
        };
        let v = version(vec![
            (1, info(1, "a", "c", 80)),
            (1, info(2, "d", "f", 80)),
            (2, info(3, "e", "e", 10)),
            (3, info(4, "a", "b", 10)),
        ]);
        let p = pick_compaction(&v, &opts, &[]).unwrap();
        assert_eq!((p.level, p.inputs[0].info.number), (1, 1));
        assert!(p.next_inputs.is_empty());
        assert!(!p.bottommost, "L3 overlaps a..c");
        let ptrs = vec![vec![], b"c".to_vec()];
        let p = pick_compaction(&v, &opts, &ptrs).unwrap();
        assert_eq!(p.inputs[0].info.number, 2);
        assert_eq!(p.next_inputs[0].info.number, 3);
        assert!(p.bottommost);
    }

    fn run(filter: &mut GcFilter, entries: &[(&str, u64, ValueKind)]) -> Vec<(String, u64)> {
        entries
            .iter()
            .filter(|(k, v, kind)| filter.keep(k.as_bytes(), *v, *kind))
            .map(|(k, v, _)| (k.to_string(), *v))
            .collect()
    }

    #[test]
    fn gc_keeps_versions_above_watermark_and_newest_at_or_below() {
        use ValueKind::*;
        let mut f = GcFilter::new(10, false);
        let kept = run(
            &mut f,
            &[
                ("a", 12, Value),
                ("a", 10, Value),
                ("a", 7, Value),
                ("a", 3, Tombstone),
                ("b", 5, Value),
                ("b", 5, Value),
                ("b", 4, Value),
            ],
        );
        assert_eq!(
            kept,
            vec![("a".into(), 12), ("a".into(), 10), ("b".into(), 5)]
        );
        assert_eq!(f.dropped, 4);
    }

    #[test]
    fn gc_drops_shadowing_tombstone_only_at_bottom() {
        use ValueKind::*;
        let entries = [
            ("a", 12, Value),
            ("a", 8, Tombstone),
            ("a", 3, Value),
            ("b", 2, Tombstone),
        ];
        let kept_mid = run(&mut GcFilter::new(10, false), &entries);
        assert_eq!(
            kept_mid,
            vec![("a".into(), 12), ("a".into(), 8), ("b".into(), 2)]
        );
        let kept_bottom = run(&mut GcFilter::new(10, true), &entries);
        assert_eq!(kept_bottom, vec![("a".into(), 12)]);
        let above = run(&mut GcFilter::new(1, true), &entries);
        assert_eq!(
            above.len(),
            4,
            "tombstones above the watermark stay: {above:?}"
        );
        let floor = run(
            &mut GcFilter::new(10, true).with_tombstone_floor(7),
            &entries,
        );
        assert_eq!(
            floor,
            vec![("a".into(), 12), ("a".into(), 8)],
            "a higher source holds version 7: a@8 stays, b@2 goes"
        );
    }
}
