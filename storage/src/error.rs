//! The engine's one error type.
//!
//! Every failure the engine can report is a variant here, with enough structure for a caller
//! to act on it: corruption names the file and byte offset where it was found, checksum
//! mismatches carry both sums, I/O errors keep their source and the path involved. Nothing read
//! from disk may cause a panic; it becomes one of these instead.

use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout the engine.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong inside the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Bytes on disk do not decode as the format says they must.
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A CRC32 stored beside some bytes does not match the bytes.
    #[error(
        "checksum mismatch in {} at offset {offset}: expected {expected:#010x}, actual {actual:#010x}",
        file.display()
    )]
    ChecksumMismatch {
        file: PathBuf,
        offset: u64,
        expected: u32,
        actual: u32,
    },
    /// The caller passed something outside the documented limits.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The engine was closed, or a background thread failed and the engine stopped accepting
    /// writes to protect the data already on disk.
    #[error("storage engine is closed{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed { reason: Option<String> },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Corruption found in `file` at byte `offset`.
    pub fn corruption(file: impl AsRef<Path>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            file: file.as_ref().to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }

    /// True for errors that mean the data on disk is damaged.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corruption { .. } | Error::ChecksumMismatch { .. }
        )
    }

    /// Errors are not `Clone` (io::Error is not); background threads keep a copy of the first
    /// failure to report to every later caller, so this makes a faithful description of it.
    pub fn duplicate(&self) -> Error {
        match self {
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::Corruption {
                file,
                offset,
                reason,
            } => Error::Corruption {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Error::ChecksumMismatch {
                file,
                offset,
                expected,
                actual,
            } => Error::ChecksumMismatch {
                file: file.clone(),
                offset: *offset,
                expected: *expected,
                actual: *actual,
            },
            Error::InvalidArgument(s) => Error::InvalidArgument(s.clone()),
            Error::Closed { reason } => Error::Closed {
                reason: reason.clone(),
            },
        }
    }
}

/// Attach a path to a bare `io::Result`.
pub trait IoResultExt<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
