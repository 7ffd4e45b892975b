//! The error type shared by the transaction state machines (sequencer, resolver, commit log).
//!
//! One enum for the module family, with structured variants a caller can act on:
//!
//! - [`Error::Storage`] wraps the storage crate's errors (I/O with its path, record-log
//!   corruption with file and offset) raised by the record log and the file helpers.
//! - [`Error::Corruption`] is damage this crate finds itself: a commit-log record whose payload
//!   does not decode, versions out of order on disk, a malformed sequencer file. It always
//!   names the file and the byte offset.
//! - [`Error::VersionOrder`] and [`Error::InvalidArgument`] are caller bugs, rejected before
//!   any state changes.
//! - [`Error::Reserve`] is the only retryable failure: persisting a sequencer reservation
//!   failed, no version was issued, and the sequencer is unchanged.
//! - [`Error::Poisoned`]: a commit-log write or fsync failed earlier. After a failed fsync the
//!   kernel may have dropped the dirty pages, so retrying could claim durability that does not
//!   exist; the log must be reopened (recovered from its files) instead.

use std::path::PathBuf;

use ferrisdb_kv::Version;

/// Result alias for this crate's state machines.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything the sequencer, resolver and commit log can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the storage crate (I/O on a path, record-log corruption).
    #[error(transparent)]
    Storage(#[from] ferrisdb_storage::Error),
    /// Bytes on disk that do not mean what the format says they must.
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A version that must be strictly above the last one was not.
    #[error("version {version} is not above the last version {last}")]
    VersionOrder { version: Version, last: Version },
    /// No version is left below `u64::MAX` to hand out or reserve.
    #[error("the version space is exhausted")]
    VersionsExhausted,
    /// Persisting a sequencer reservation failed; nothing was issued, the call may be retried.
    #[error("could not persist the sequencer reservation: {source}")]
    Reserve {
        #[source]
        source: ferrisdb_storage::Error,
    },
    /// The commit log refused a call because an earlier write or fsync failed.
    #[error("commit log in {} is unusable after an earlier write or sync failure; reopen it", dir.display())]
    Poisoned { dir: PathBuf },
    /// The caller passed something outside the documented contract.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Corruption found in `file` at byte `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// True when the same call may succeed if simply repeated.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Reserve { .. })
    }

    /// True for errors meaning data on disk is damaged.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption { .. } => true,
            Error::Storage(e) => e.is_corruption(),
            _ => false,
        }
    }
}
