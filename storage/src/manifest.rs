//! The manifest: a durable log of [`VersionEdit`]s, from which open rebuilds the live file set.
//!
//! ```text
//!   CURRENT            "MANIFEST-000012\n"  (replaced atomically: temp file, fsync, rename, fsync dir)
//!   MANIFEST-000012    record, record, ...  (CRC-framed records, see `wal`; each = one VersionEdit)
//! ```
//!
//! The first record of a manifest is a full snapshot (every live table plus the counters);
//! every later record is an incremental edit, appended and fsynced before the change it
//! describes becomes visible to readers. Open replays the manifest and then starts a *new*
//! manifest holding one snapshot record, so a manifest never grows without bound across
//! restarts and never needs appending after a torn tail.
//!
//! A torn final record is an edit that was never acknowledged (its tables become orphans that
//! open deletes); any other damage is reported as corruption with file and offset.

use std::path::{Path, PathBuf};

use crate::fs::{current_file_name, manifest_file_name, sync_dir, write_file_atomic};
use crate::version::{Version, VersionEdit};
use crate::wal::{read_log, RecordWriter};
use crate::{Error, IoResultExt, Result};

/// State rebuilt from a manifest.
#[derive(Debug)]
pub struct Recovered {
    pub version: Version,
    pub log_number: u64,
    pub next_file_number: u64,
    pub gc_watermark: u64,
    pub manifest_number: u64,
}

/// The open manifest, appended to by flush and compaction.
pub struct Manifest {
    writer: RecordWriter,
    number: u64,
}

impl Manifest {
    /// Start manifest `number` with `snapshot` as its first record and point CURRENT at it.
    pub fn create(dir: &Path, number: u64, snapshot: &VersionEdit) -> Result<Manifest> {
        let path = manifest_file_name(dir, number);
        let mut writer = RecordWriter::create(&path)?;
        writer.append(&snapshot.encode())?;
        writer.sync()?;
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            Error::InvalidArgument(format!("bad manifest path {}", path.display()))
        })?;
        write_file_atomic(&current_file_name(dir), format!("{name}\n").as_bytes())?;
        sync_dir(dir)?;
        Ok(Manifest { writer, number })
    }

    pub fn number(&self) -> u64 {
        self.number
    }

    /// Durably record `edit`.
    pub fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        self.writer.append(&edit.encode())?;
        self.writer.sync()
    }

    /// Rebuild the state named by CURRENT; `None` for a directory with no database yet.
    pub fn recover(dir: &Path, num_levels: usize) -> Result<Option<Recovered>> {
        let current = current_file_name(dir);
        let contents = match std::fs::read(&current) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&current, e)),
        };
        let (path, number) = parse_current(dir, &current, &contents)?;
        let log = read_log(&path)?;
        if let Some(at) = log.torn_tail_at {
            tracing::warn!(file = %path.display(), offset = at, "manifest has a torn final record; ignoring it");
        }
        let mut st = Recovered {
            version: Version::new(num_levels),
            log_number: 0,
            next_file_number: number + 1,
            gc_watermark: 0,
            manifest_number: number,
        };
        for (offset, rec) in &log.records {
            let edit = VersionEdit::decode(rec, num_levels)
                .map_err(|r| Error::corruption(&path, *offset, r))?;
            st.log_number = edit.log_number.unwrap_or(st.log_number);
            st.next_file_number = st.next_file_number.max(edit.next_file_number.unwrap_or(0));
            st.gc_watermark = edit.gc_watermark.unwrap_or(st.gc_watermark);
            st.version = st.version.apply(&edit).0;
            st.version
                .check_invariants()
                .map_err(|r| Error::corruption(&path, *offset, r))?;
        }
        if log.records.is_empty() {
            return Err(Error::corruption(&path, 0, "manifest holds no records"));
        }
        let max_file = st.version.live_files().max().unwrap_or(0);
        st.next_file_number = st
            .next_file_number
            .max(max_file + 1)
            .max(st.log_number + 1)
            .max(number + 1);
        Ok(Some(st))
    }
}

fn parse_current(dir: &Path, current: &Path, contents: &[u8]) -> Result<(PathBuf, u64)> {
    let bad = || Error::corruption(current, 0, "CURRENT does not name a manifest");
    let text = std::str::from_utf8(contents).map_err(|_| bad())?;
    let name = text.strip_suffix('\n').ok_or_else(bad)?;
    let number: u64 = name
        .strip_prefix("MANIFEST-")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    let path = manifest_file_name(dir, number);
    if !path.exists() {
        return Err(Error::corruption(
            current,
            0,
            format!("CURRENT names {name}, which does not exist"),
        ));
    }
    std::fs::metadata(&path).with_path(&path)?;
    Ok((path, number))
}

/// A snapshot edit describing `version` and the counters, for a manifest's first record.
pub fn snapshot_edit(
    version: &Version,
    log_number: u64,
    next_file_number: u64,
    gc_watermark: u64,
) -> VersionEdit {
    VersionEdit {
        log_number: Some(log_number),
        next_file_number: Some(next_file_number),
        gc_watermark: Some(gc_watermark),
        deleted: Vec::new(),
        added: version
            .levels
            .iter()
            .enumerate()
            .flat_map(|(l, files)| files.iter().map(move |f| (l, f.info.clone())))
            .collect(),
    }
}
