//! The sequencer: the cluster's one clock, handing out read versions and commit versions.
//!
//! ## The life of a commit, part 1 of 3
//!
//! A transaction starts by asking the sequencer for a **read version** ([`Sequencer::read_version`]):
//! the newest version whose commit is known to be durable. Reading at it, the transaction sees
//! every commit ever acknowledged to a client, and nothing that might still be lost. When the
//! client commits, the commit pipeline takes a batch of transactions, asks the sequencer for
//! one **commit version** for the whole batch ([`Sequencer::next_commit_version`]), sends the
//! batch to the [resolver](crate::resolver) (conflict check), appends the survivors to the
//! [commit log](crate::commit_log), syncs it, and only then reports the version back with
//! [`Sequencer::set_committed`], which lets later read versions see it.
//!
//! ## Versions advance with time
//!
//! As in FoundationDB, versions are tied to wall time: about [`VERSIONS_PER_SECOND`] (one per
//! microsecond). A commit version is `max(last + 1, now_micros)`, so versions strictly
//! increase even when the clock stalls or steps back, and a version gap measures elapsed time:
//! the resolver's ~5 s MVCC window is ~5,000,000 versions. The caller passes the clock in
//! (`now_micros`), so a simulator can drive the sequencer deterministically; the sequencer owns
//! no clock and no thread.
//!
//! ## Never reissuing a version
//!
//! If a commit version were handed out twice (once before a crash, once after), two different
//! batches could claim the same place in history. So before issuing any version `v`, the
//! sequencer makes durable a **reservation** `N > v`: "every version issued so far is below
//! N". On open it starts at `N` (the next version is at least `N`), whatever happened before
//! the crash. Reservations are made in blocks ([`DEFAULT_RESERVE_BLOCK`] versions, one second
//! of time) so the file is rewritten about once a block rather than per commit; a restart skips
//! at most one block. [`Sequencer::reserve_ahead`] lets the pipeline extend the reservation
//! between batches, off the latency path of a commit; `next_commit_version` still reserves
//! itself when it must.
//!
//! Invariants: `committed <= last_issued < reserved_below` (the last strictly once anything
//! was issued), and `reserved_below` on disk is never below the one in memory.
//!
//! After a restart the read version starts at `N - 1`: every commit made before the crash is
//! below `N`, and no future commit can be at or below `N - 1`, so a snapshot there is stable.
//! The caller may then raise it with `set_committed` once the commit log is recovered; it must
//! also start the resolver's window at that version (no conflict history survives a restart).
//!
//! ## The `sequencer` file, byte by byte (20 bytes, replaced with `fs::write_file_atomic`)
//!
//! ```text
//!   offset  size  field
//!   0       4     magic: the ASCII bytes "FSEQ"
//!   4       4     format: u32 LE, 1
//!   8       8     reserved_below: u64 LE   every version issued so far is below this
//!   16      4     crc: u32 LE, CRC-32 (IEEE) over bytes 0..16
//! ```
//!
//! A missing file means a fresh sequencer (`reserved_below = 0`, the first version is 1 or
//! later). Any other size, magic, format or CRC is corruption: guessing would risk reissuing.

use std::path::{Path, PathBuf};

use ferrisdb_kv::Version;
use ferrisdb_storage::error::IoResultExt;
use ferrisdb_storage::fs::write_file_atomic;
use ferrisdb_storage::wal::record::record_crc;

use crate::error::{Error, Result};

/// Versions per second of wall time (one per microsecond).
pub const VERSIONS_PER_SECOND: u64 = 1_000_000;
/// Versions reserved per write of the `sequencer` file.
pub const DEFAULT_RESERVE_BLOCK: u64 = 1_000_000;
/// Name of the reservation file inside the sequencer's directory.
pub const SEQUENCER_FILE: &str = "sequencer";

const MAGIC: [u8; 4] = *b"FSEQ";
const FORMAT: u32 = 1;
const FILE_LEN: usize = 20;

/// Hands out read and commit versions; see the module docs.
#[derive(Debug)]
pub struct Sequencer {
    path: PathBuf,
    /// The last commit version handed out (or the floor after a restart).
    last_issued: Version,
    /// The newest version reported durable: what readers get.
    committed: Version,
    /// Durable bound: every version ever issued is below it.
    reserved_below: Version,
    block: u64,
}

impl Sequencer {
    /// Open (or create) the sequencer whose reservation lives in `dir`.
    pub fn open(dir: &Path) -> Result<Sequencer> {
        Sequencer::open_with_block(dir, DEFAULT_RESERVE_BLOCK)
    }

    /// Like [`Sequencer::open`] with `block` versions reserved per file write (at least 1).
    pub fn open_with_block(dir: &Path, block: u64) -> Result<Sequencer> {
        if block == 0 {
            return Err(Error::InvalidArgument(
                "the reservation block must be at least one version".into(),
            ));
        }
        std::fs::create_dir_all(dir).with_path(dir)?;
        let path = dir.join(SEQUENCER_FILE);
        let reserved_below = read_reservation(&path)?;
        // Versions below the reservation may have been issued before a crash: start above them.
        let floor = reserved_below.saturating_sub(1);
        tracing::info!(path = %path.display(), reserved_below, "sequencer opened");
        Ok(Sequencer {
            path,
            last_issued: floor,
            committed: floor,
            reserved_below,
            block,
        })
    }

    /// The next commit version: `max(last + 1, now_micros)`, reserved durably before it is
    /// returned. On an error nothing was issued and the sequencer is unchanged.
    pub fn next_commit_version(&mut self, now_micros: u64) -> Result<Version> {
        let v = self.candidate(now_micros)?;
        if v >= self.reserved_below {
            self.reserve_from(v)?;
        }
        self.last_issued = v;
        Ok(v)
    }

    /// Extend the reservation now if the next version would land in the last half of the
    /// current block, so `next_commit_version` rarely has to write the file itself. Returns
    /// whether the file was written.
    pub fn reserve_ahead(&mut self, now_micros: u64) -> Result<bool> {
        let v = self.candidate(now_micros)?;
        if v.saturating_add(self.block / 2) < self.reserved_below {
            return Ok(false);
        }
        self.reserve_from(v)?;
        Ok(true)
    }

    /// The read version: the newest version reported durable with `set_committed`.
    pub fn read_version(&self) -> Version {
        self.committed
    }

    /// Report that every commit up to `v` is durable. Lower reports are ignored (the read
    /// version never goes back); a version never issued is rejected.
    pub fn set_committed(&mut self, v: Version) -> Result<()> {
        if v > self.last_issued {
            return Err(Error::InvalidArgument(format!(
                "version {v} reported committed but the last version issued is {}",
                self.last_issued
            )));
        }
        self.committed = self.committed.max(v);
        Ok(())
    }

    /// The last commit version issued (after a restart: the floor below the reservation).
    pub fn last_commit_version(&self) -> Version {
        self.last_issued
    }

    /// The durable reservation: every version issued so far is below it.
    pub fn reserved_below(&self) -> Version {
        self.reserved_below
    }

    fn candidate(&self, now_micros: u64) -> Result<Version> {
        let next = self
            .last_issued
            .checked_add(1)
            .ok_or(Error::VersionsExhausted)?;
        let by_time = now_micros.saturating_mul(VERSIONS_PER_SECOND / 1_000_000);
        Ok(next.max(by_time))
    }

    /// Persist `reserved_below = v + block`; memory changes only once the file is durable.
    fn reserve_from(&mut self, v: Version) -> Result<()> {
        let target = v.checked_add(self.block).ok_or(Error::VersionsExhausted)?;
        write_file_atomic(&self.path, &encode(target))
            .map_err(|source| Error::Reserve { source })?;
        tracing::debug!(reserved_below = target, "sequencer reservation extended");
        self.reserved_below = target;
        Ok(())
    }
}

fn encode(reserved_below: Version) -> [u8; FILE_LEN] {
    let mut b = [0u8; FILE_LEN];
    b[0..4].copy_from_slice(&MAGIC);
    b[4..8].copy_from_slice(&FORMAT.to_le_bytes());
    b[8..16].copy_from_slice(&reserved_below.to_le_bytes());
    let crc = record_crc(MAGIC, &b[4..16]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The persisted reservation, 0 when there is no file yet.
fn read_reservation(path: &Path) -> Result<Version> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(ferrisdb_storage::Error::io(path, e).into()),
    };
    let bad = |offset: u64, reason: String| Err(Error::corruption(path, offset, reason));
    let Ok(b) = <[u8; FILE_LEN]>::try_from(bytes.as_slice()) else {
        return bad(0, format!("{} bytes, expected {FILE_LEN}", bytes.len()));
    };
    let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let stored = word(16);
    let actual = record_crc(MAGIC, &b[4..16]);
    if b[0..4] != MAGIC {
        return bad(0, "bad magic".into());
    }
    if stored != actual {
        return bad(
            16,
            format!("crc stored {stored:#010x}, computed {actual:#010x}"),
        );
    }
    if word(4) != FORMAT {
        return bad(4, format!("unknown format {}", word(4)));
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[8..16]);
    Ok(u64::from_le_bytes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_versions_strictly_increase_and_follow_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open(dir.path()).unwrap();
        assert_eq!(s.next_commit_version(0).unwrap(), 1);
        assert_eq!(
            s.next_commit_version(0).unwrap(),
            2,
            "a stalled clock still advances"
        );
        assert_eq!(s.next_commit_version(5_000_000).unwrap(), 5_000_000);
        assert_eq!(
            s.next_commit_version(4_000_000).unwrap(),
            5_000_001,
            "clock went back"
        );
    }

    #[test]
    fn read_version_follows_committed_reports_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open(dir.path()).unwrap();
        let a = s.next_commit_version(10).unwrap();
        let b = s.next_commit_version(20).unwrap();
        assert_eq!(s.read_version(), 0, "nothing durable yet");
        s.set_committed(b).unwrap();
        assert_eq!(s.read_version(), b);
        s.set_committed(a).unwrap();
        assert_eq!(s.read_version(), b, "read version never goes back");
        let err = s.set_committed(b + 1).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    }

    #[test]
    fn versions_are_never_reissued_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut issued = Vec::new();
        for round in 0..5u64 {
            let mut s = Sequencer::open_with_block(dir.path(), 100).unwrap();
            for i in 0..250 {
                // The clock restarts low every time (a monotonic clock of a new process).
                issued.push(s.next_commit_version(i % 3 + round).unwrap());
            }
            // Dropped without any shutdown: a crash.
        }
        assert!(issued.windows(2).all(|w| w[0] < w[1]), "{issued:?}");
    }

    #[test]
    fn restart_starts_at_the_reservation_and_reads_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open_with_block(dir.path(), 1000).unwrap();
        let v = s.next_commit_version(7).unwrap();
        assert_eq!(s.reserved_below(), v + 1000);
        let s2 = Sequencer::open_with_block(dir.path(), 1000).unwrap();
        assert_eq!(s2.read_version(), v + 999);
        let mut s2 = s2;
        assert_eq!(s2.next_commit_version(0).unwrap(), v + 1000);
    }

    #[test]
    fn reservation_is_written_once_per_block() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open_with_block(dir.path(), 10).unwrap();
        let mut reservations = vec![];
        for _ in 0..30 {
            s.next_commit_version(0).unwrap();
            reservations.push(s.reserved_below());
        }
        reservations.dedup();
        assert_eq!(reservations, vec![11, 21, 31]);
    }

    #[test]
    fn reserve_ahead_extends_only_in_the_second_half_of_a_block() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open_with_block(dir.path(), 100).unwrap();
        s.next_commit_version(1).unwrap(); // reserved below 101
        assert!(!s.reserve_ahead(30).unwrap());
        assert!(s.reserve_ahead(60).unwrap());
        assert_eq!(s.reserved_below(), 160);
        let before = s.reserved_below();
        assert_eq!(s.next_commit_version(60).unwrap(), 60);
        assert_eq!(s.reserved_below(), before, "no write on the commit path");
    }

    #[test]
    fn damaged_reservation_file_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open(dir.path()).unwrap();
        s.next_commit_version(1).unwrap();
        let path = dir.path().join(SEQUENCER_FILE);
        let good = std::fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x40;
            std::fs::write(&path, &b).unwrap();
            let err = Sequencer::open(dir.path()).unwrap_err();
            assert!(err.is_corruption(), "byte {i}: {err}");
        }
        std::fs::write(&path, &good[..19]).unwrap();
        assert!(Sequencer::open(dir.path()).unwrap_err().is_corruption());
    }

    #[test]
    fn version_space_exhaustion_is_an_error_not_a_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open_with_block(dir.path(), 10).unwrap();
        let err = s.next_commit_version(u64::MAX - 5).unwrap_err();
        assert!(matches!(err, Error::VersionsExhausted), "{err}");
        assert_eq!(s.last_commit_version(), 0, "nothing issued");
        assert_eq!(s.next_commit_version(u64::MAX - 20).unwrap(), u64::MAX - 20);
    }

    #[test]
    fn failed_reservation_is_retryable_and_issues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sequencer::open(dir.path()).unwrap();
        // A directory where the file must go makes the atomic rename fail.
        std::fs::create_dir(dir.path().join(SEQUENCER_FILE)).unwrap();
        std::fs::write(dir.path().join(SEQUENCER_FILE).join("x"), b"x").unwrap();
        let err = s.next_commit_version(5).unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(s.last_commit_version(), 0);
        std::fs::remove_dir_all(dir.path().join(SEQUENCER_FILE)).unwrap();
        assert_eq!(s.next_commit_version(5).unwrap(), 5);
    }
}
