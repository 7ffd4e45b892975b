//! The in-process transport: a call runs the handler in this process, with no serialization.
//!
//! Design choice: each call runs the handler in its own tokio task rather than inline in the
//! caller's future. That keeps the failure model of the network: a panicking handler becomes a
//! [`TransportError::Remote`] answer instead of unwinding through the caller, and a caller who
//! gives up (timeout, dropped future) does not cancel a request that has already been
//! "delivered" — it runs to completion, as it would on a remote server. The cost is one task
//! spawn per call. Messages are moved, not encoded, so this transport does not check that they
//! are serializable; the TCP tests do.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinError;

use super::{Handler, Result, Transport, TransportError};

/// A [`Transport`] that calls a [`Handler`] in the same process.
pub struct InProcTransport<Req, Resp> {
    handler: Arc<dyn Handler<Req, Resp>>,
}

impl<Req, Resp> Clone for InProcTransport<Req, Resp> {
    fn clone(&self) -> Self {
        InProcTransport {
            handler: Arc::clone(&self.handler),
        }
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> InProcTransport<Req, Resp> {
    pub fn new(handler: Arc<dyn Handler<Req, Resp>>) -> Self {
        InProcTransport { handler }
    }

    /// Like [`Transport::call`] but gives up after `timeout`; the handler keeps running.
    pub async fn call_timeout(&self, req: Req, timeout: Duration) -> Result<Resp> {
        tokio::time::timeout(timeout, self.call(req))
            .await
            .unwrap_or(Err(TransportError::Timeout { sent: true }))
    }
}

#[async_trait::async_trait]
impl<Req: Send + 'static, Resp: Send + 'static> Transport<Req, Resp>
    for InProcTransport<Req, Resp>
{
    async fn call(&self, req: Req) -> Result<Resp> {
        let handler = Arc::clone(&self.handler);
        let task = tokio::spawn(async move { handler.handle(req).await });
        task.await.map_err(handler_failure)
    }
}

/// The error a caller sees when a handler task did not return normally.
pub(crate) fn handler_failure(err: JoinError) -> TransportError {
    if err.is_panic() {
        TransportError::Remote(format!(
            "handler panicked: {}",
            panic_text(err.into_panic())
        ))
    } else {
        // Only a runtime shutting down cancels a handler task here; it may have run partly.
        TransportError::MaybeDelivered("handler task was cancelled".into())
    }
}

/// The message of a panic payload, when it is a string.
pub(crate) fn panic_text(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
