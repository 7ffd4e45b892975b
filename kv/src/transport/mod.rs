//! # Transport: request/response RPC between FerrisDB roles
//!
//! Roles (sequencer, resolvers, commit log, storage servers, SQL front ends) talk by sending a
//! request and awaiting its response. This module gives them one interface with two
//! implementations, generic over the message types so each higher crate defines its own
//! request and response enums:
//!
//! - [`Handler`]: the server side, an async function from request to response.
//! - [`Transport`]: the client side, `call(req) -> Result<Resp, TransportError>`.
//! - [`InProcTransport`]: calls a handler in the same process (tests, single-process clusters,
//!   and later the deterministic simulator's stand-in for the network).
//! - [`serve`] / [`TcpTransport`]: the same over TCP with tokio: length-framed messages
//!   serialized with postcard, many concurrent calls multiplexed on one connection by request
//!   id (responses may come back in any order), per-call deadlines and reconnection.
//!
//! The wire format is documented byte by byte in [`wire`]. The failure model, in particular
//! the difference between a request that certainly did not arrive and one whose result is
//! unknown, is documented on [`TransportError`].
//!
//! ## Invariants
//!
//! - Every frame is validated before use (length within the limit, known kind, a payload that
//!   decodes to exactly one message). A violation closes *that* connection only, with a
//!   `tracing` warning; the server keeps serving every other connection.
//! - A call resolves exactly once: with its own response (matched by request id), or with an
//!   error saying whether the request may have been delivered.
//! - Handlers run in their own tokio tasks, so a slow handler never holds up other calls on
//!   the same connection and a panicking handler becomes a [`TransportError::Remote`] answer
//!   instead of taking the connection (or the server) down. The exception is a request the
//!   handler answers at once ([`Handler::handle_now`]): the TCP server answers it on the
//!   connection's own task, with its panics caught the same way.

mod client;
mod error;
mod inproc;
mod mux;
mod server;
pub mod wire;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::marker::PhantomData;

pub use client::{ClientConfig, TcpTransport};
pub use error::{Result, TransportError};
pub use inproc::InProcTransport;
pub use server::{serve, ServerHandle};
pub use wire::{FrameLimits, DEFAULT_MAX_FRAME_LEN, PROTOCOL_VERSION};

/// The server side of an RPC service: answers one request. Called concurrently, once per
/// request, each call in its own task.
#[async_trait::async_trait]
pub trait Handler<Req, Resp>: Send + Sync + 'static {
    async fn handle(&self, req: Req) -> Resp;

    /// The answer to `req` if it can be given at once, without waiting for anything (a read
    /// of data already in memory, say); otherwise `req` back, to go to [`Handler::handle`].
    /// The TCP server calls this on its connection task, so a quick request costs no task
    /// spawn; it must not block. A panic here is caught and answered like one in `handle`.
    fn handle_now(&self, req: Req) -> std::result::Result<Resp, Req> {
        Err(req)
    }
}

/// Aborts a task when dropped: a connection's writer task ends with its connection.
pub(crate) struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The client side of an RPC service.
#[async_trait::async_trait]
pub trait Transport<Req, Resp>: Send + Sync {
    async fn call(&self, req: Req) -> Result<Resp, TransportError>;
}

/// A [`Handler`] made from an async closure; see [`handler_fn`].
pub struct FnHandler<F, Req, Resp> {
    f: F,
    _types: PhantomData<fn(Req) -> Resp>,
}

/// Wraps `f` (a closure returning a future) as a handler.
pub fn handler_fn<F, Fut, Req, Resp>(f: F) -> FnHandler<F, Req, Resp>
where
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    FnHandler {
        f,
        _types: PhantomData,
    }
}

#[async_trait::async_trait]
impl<F, Fut, Req, Resp> Handler<Req, Resp> for FnHandler<F, Req, Resp>
where
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
    Req: Send + 'static,
    Resp: Send + 'static,
{
    async fn handle(&self, req: Req) -> Resp {
        (self.f)(req).await
    }
}
