//! The one error type of the transport family, and how a caller should react to each case.
//!
//! The distinction that matters most is *whether the request may have run*:
//!
//! - [`TransportError::ConnectionClosed`], [`TransportError::Io`] and
//!   [`TransportError::Timeout`] with `sent: false` mean the request never left this process
//!   (or never reached a peer that speaks the protocol): retrying is always safe.
//! - [`TransportError::MaybeDelivered`] and [`TransportError::Timeout`] with `sent: true` mean
//!   the request was handed to the socket and no answer came back. The server may have run it,
//!   may still be running it, or may never have seen it. A commit reported this way has an
//!   *unknown result* (FoundationDB's `commit_unknown_result`): retrying is only correct when the
//!   request is idempotent or the caller can find out what happened.
//! - [`TransportError::Remote`] means the server read the request but its handler failed
//!   (panicked, or its answer could not be encoded): it ran at least partly. A
//!   [`TransportError::Decode`] seen by a caller means an answer came back but was unreadable:
//!   the request ran, with an unknown outcome.
//!
//! [`TransportError::is_retryable`] answers "can trying again succeed"; [`TransportError::
//! is_unknown_result`] answers "might the request have taken effect". Errors are `Clone`
//! because one dying connection fails every call waiting on it with the same reason.

use std::io;

/// Everything a transport call, a connection or a server can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// A local socket operation failed (connect refused, bind failed, reset while connecting).
    #[error("I/O error ({kind:?}): {message}")]
    Io {
        kind: io::ErrorKind,
        message: String,
    },

    /// The call did not finish within its deadline. `sent` tells whether the request had been
    /// written to the connection by then (if so, its result is unknown).
    #[error("call timed out (request sent: {sent})")]
    Timeout { sent: bool },

    /// The connection was already dead, or died before this request was written to it: the
    /// request certainly did not reach the server.
    #[error("connection closed before the request was sent: {0}")]
    ConnectionClosed(String),

    /// The request was written but the connection died before its response arrived: the
    /// server may or may not have executed it.
    #[error("connection lost after the request was sent (result unknown): {0}")]
    MaybeDelivered(String),

    /// A frame is longer than the configured maximum (`len` counts the bytes after the length
    /// prefix). Raised locally for an outgoing request, or for a peer's frame (which also closes
    /// that connection).
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: u64, max: u64 },

    /// A message could not be serialized.
    #[error("cannot encode message: {0}")]
    Encode(String),

    /// A peer's payload did not decode as the expected message type.
    #[error("cannot decode message: {0}")]
    Decode(String),

    /// The peer broke the framing rules (short or truncated frame, unknown or unexpected kind,
    /// duplicate request id).
    #[error("protocol violation: {0}")]
    Protocol(String),

    /// The peer is not a FerrisDB transport endpoint, or speaks another protocol version.
    #[error("handshake failed: {0}")]
    Handshake(String),

    /// The server read the request but could not answer it (its handler panicked, or the
    /// response could not be encoded or was too large).
    #[error("remote error: {0}")]
    Remote(String),
}

impl TransportError {
    /// Whether trying the same call again (on a new or repaired connection) can succeed.
    /// True for transient failures, including those with an unknown result: check
    /// [`TransportError::is_unknown_result`] before retrying a non-idempotent request.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Io { .. }
                | TransportError::Timeout { .. }
                | TransportError::ConnectionClosed(_)
                | TransportError::MaybeDelivered(_)
        )
    }

    /// Whether the request may have taken effect on the server although no response arrived.
    pub fn is_unknown_result(&self) -> bool {
        matches!(
            self,
            TransportError::MaybeDelivered(_)
                | TransportError::Timeout { sent: true }
                | TransportError::Remote(_)
                | TransportError::Decode(_)
        )
    }
}

impl From<io::Error> for TransportError {
    fn from(e: io::Error) -> TransportError {
        TransportError::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Result alias of the transport family.
pub type Result<T, E = TransportError> = std::result::Result<T, E>;
