//! Opening an engine: lock the directory, replay the manifest, replay the WAL, clean up.
//!
//! ```text
//!   1. lock DIR/LOCK (a second process gets a clear error)
//!   2. manifest: CURRENT -> MANIFEST-n -> live tables, log number, counters
//!   3. WAL: replay every segment numbered >= log number, in order, into memtables; each full
//!      memtable, and the last one, is written to an L0 table right away
//!   4. a new WAL segment and a new manifest (one snapshot record); CURRENT switched atomically
//!   5. delete what the new manifest does not reference: older manifests, replayed WAL
//!      segments, orphan tables left by a crash mid-flush or mid-compaction, temp files
//! ```
//!
//! A crash anywhere in 3-5 leaves the old manifest and WAL in charge, so open is idempotent.
//! A torn record can only end the newest WAL segment (older ones are synced when rotated);
//! anywhere else it is corruption and open fails naming the file and offset.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use super::{Core, Inner, State, TableDeleter};
use crate::cache::BlockCache;
use crate::compaction::{write_tables, GcFilter, TableSink};
use crate::fs::{lock_dir, parse_file_name, sync_dir, table_file_name, FileKind};
use crate::iterator::InternalIterator;
use crate::manifest::{snapshot_edit, Manifest};
use crate::memtable::Memtable;
use crate::options::Options;
use crate::stats::Counters;
use crate::table_cache::TableCache;
use crate::version::{FileInfo, Version, VersionEdit};
use crate::wal::{list_wal_segments, read_log, wal_file_name, RecordWriter};
use crate::{Error, IoResultExt, Result, WriteBatch};

struct CounterSink<'a> {
    dir: &'a Path,
    next: &'a mut u64,
}

impl TableSink for CounterSink<'_> {
    fn new_table(&mut self) -> Result<(u64, PathBuf)> {
        let n = *self.next;
        *self.next += 1;
        Ok((n, table_file_name(self.dir, n)))
    }
}

pub(super) fn open_inner(dir: PathBuf, opts: Options) -> Result<Inner> {
    opts.validate()?;
    std::fs::create_dir_all(&dir).with_path(&dir)?;
    let dir_lock = lock_dir(&dir)?;
    let recovered = Manifest::recover(&dir, opts.num_levels)?;
    let (mut version, log_number, mut next_file, watermark) = match recovered {
        Some(r) => (r.version, r.log_number, r.next_file_number, r.gc_watermark),
        None => (Version::new(opts.num_levels), 0, 1, 0),
    };
    next_file = next_file.max(max_file_number(&dir)? + 1);

    let flushed = replay_wal(&dir, &opts, log_number, watermark, &mut next_file)?;
    if !flushed.is_empty() {
        sync_dir(&dir)?;
        let edit = VersionEdit {
            added: flushed.into_iter().map(|f| (0, f)).collect(),
            ..VersionEdit::default()
        };
        version = version.apply(&edit).0;
    }

    let wal_number = next_file;
    let manifest_number = next_file + 1;
    next_file += 2;
    let wal = RecordWriter::create_preallocated(
        &wal_file_name(&dir, wal_number),
        opts.wal_preallocate_bytes(),
    )?;
    let manifest = Manifest::create(
        &dir,
        manifest_number,
        &snapshot_edit(&version, wal_number, next_file, watermark),
    )?;
    remove_obsolete_files(&dir, &version, wal_number, manifest_number)?;

    let tables = Arc::new(TableCache::new(
        dir.clone(),
        Arc::new(BlockCache::new(opts.block_cache_size).with_row_cache(opts.row_cache_size)),
        opts.max_open_tables,
    ));
    let state = State {
        mem: Arc::new(Memtable::new()),
        mem_log: wal_number,
        imm: Vec::new(),
        version: Arc::new(version),
    };
    tracing::info!(dir = %dir.display(), wal = wal_number, manifest = manifest_number, "storage engine opened");
    Ok(Inner {
        deleter: Arc::new(TableDeleter {
            dir: dir.clone(),
            tables: tables.clone(),
        }),
        core: Mutex::new(Core {
            manifest,
            next_file_number: next_file,
            log_number: wal_number,
            pointers: vec![Vec::new(); opts.num_levels],
            bg_error: None,
            flush_running: false,
            compaction_running: false,
        }),
        dir,
        _lock: dir_lock,
        state: RwLock::new(Arc::new(state)),
        bg_cond: Condvar::new(),
        queue: Mutex::new(VecDeque::new()),
        wal: Mutex::new(wal),
        seq: AtomicU64::new(0),
        active_writers: std::sync::atomic::AtomicUsize::new(0),
        queued: std::sync::atomic::AtomicUsize::new(0),
        visible_seq: AtomicU64::new(0),
        tables,
        counters: Counters::default(),
        shutdown: AtomicBool::new(false),
        failed: AtomicBool::new(false),
        snapshots: Mutex::new(BTreeMap::new()),
        gc_watermark: AtomicU64::new(watermark),
        compaction_lock: Mutex::new(()),
        gc_gate: RwLock::new(()),
        opts,
    })
}

/// Highest number of any engine file in `dir` (0 when none), so numbers are never reused.
fn max_file_number(dir: &Path) -> Result<u64> {
    let mut max = 0;
    for entry in std::fs::read_dir(dir).with_path(dir)? {
        let entry = entry.with_path(dir)?;
        if let Some((_, n)) = entry.file_name().to_str().and_then(parse_file_name) {
            max = max.max(n);
        }
    }
    Ok(max)
}

/// Replay WAL segments `>= log_number` into memtables and write them out as L0 tables.
fn replay_wal(
    dir: &Path,
    opts: &Options,
    log_number: u64,
    watermark: u64,
    next_file: &mut u64,
) -> Result<Vec<FileInfo>> {
    let segments: Vec<_> = list_wal_segments(dir)?
        .into_iter()
        .filter(|(n, _)| *n >= log_number)
        .collect();
    let mut files = Vec::new();
    let mut mem = Arc::new(Memtable::new());
    let mut seq = 0u64;
    for (i, (number, path)) in segments.iter().enumerate() {
        let log = read_log(path)?;
        if let Some(at) = log.torn_tail_at {
            if i + 1 < segments.len() {
                return Err(Error::corruption(
                    path,
                    at,
                    "torn record in a WAL segment that is not the newest",
                ));
            }
            tracing::warn!(
                wal = number,
                offset = at,
                "WAL ends in a torn record (a write that was never acknowledged); dropping it"
            );
        }
        for (offset, rec) in log.records {
            let batch = WriteBatch::decode(rec).map_err(|r| Error::corruption(path, offset, r))?;
            for op in batch.iter() {
                mem.insert(op.key, op.version, seq, op.kind, op.value);
                seq += 1;
            }
            if mem.approximate_size() >= opts.memtable_size {
                files.extend(flush_recovered(dir, opts, &mem, watermark, next_file)?);
                mem = Arc::new(Memtable::new());
            }
        }
        tracing::info!(wal = number, "replayed WAL segment");
    }
    if !mem.is_empty() {
        files.extend(flush_recovered(dir, opts, &mem, watermark, next_file)?);
    }
    Ok(files)
}

fn flush_recovered(
    dir: &Path,
    opts: &Options,
    mem: &Arc<Memtable>,
    watermark: u64,
    next_file: &mut u64,
) -> Result<Vec<FileInfo>> {
    let mut it = mem.iter();
    it.seek_to_first()?;
    let mut filter = GcFilter::new(watermark, false);
    let mut sink = CounterSink {
        dir,
        next: next_file,
    };
    write_tables(
        &mut it,
        &mut filter,
        &mut sink,
        &opts.table_options(),
        u64::MAX,
    )
}

fn remove_obsolete_files(
    dir: &Path,
    version: &Version,
    wal_number: u64,
    manifest_number: u64,
) -> Result<()> {
    let live: std::collections::HashSet<u64> = version.live_files().collect();
    for entry in std::fs::read_dir(dir).with_path(dir)? {
        let entry = entry.with_path(dir)?;
        let name = entry.file_name();
        let Some((kind, n)) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        let obsolete = match kind {
            FileKind::Wal => n < wal_number,
            FileKind::Table => !live.contains(&n),
            FileKind::Manifest => n != manifest_number,
            FileKind::Temp => true,
            _ => false,
        };
        if obsolete {
            let path = entry.path();
            tracing::debug!(file = %path.display(), "removing obsolete file");
            std::fs::remove_file(&path).with_path(&path)?;
        }
    }
    sync_dir(dir)
}
