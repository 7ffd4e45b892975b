//! The TCP server: accepts connections and answers each request with its handler.
//!
//! Structure: one accept task owns the listener and a `JoinSet` of connection tasks, so
//! shutting down (or dropping the [`ServerHandle`]) aborts every connection and, through each
//! connection's own `JoinSet`, every handler still running. A connection task drives, with
//! `select!`, a reader future (frames in, validated and decoded) and the handler tasks; a
//! writer task sends answers out in completion order (that is why responses carry the request
//! id), on another worker while the reader goes on. The reader is a single long-lived future
//! rather than per-iteration calls, because reading a frame is not cancel-safe. A request the
//! handler can answer at once ([`Handler::handle_now`]: a read of data in memory) is answered
//! by the reader itself and goes straight to the writer, with no task spawned for it.
//!
//! Invariants:
//! - A frame that is oversized, truncated, of an unknown or client-illegal kind, or whose
//!   payload does not decode, and a duplicate in-flight request id, close that connection
//!   (with a `tracing` warning). Other connections are untouched.
//! - At most `max_in_flight` requests per connection are being handled or waiting to be
//!   written; the reader takes a permit before reading a frame, so at the limit it stops
//!   reading and TCP flow control pushes back on the client.
//! - A client that ends its stream cleanly still gets every answer it is owed before the
//!   server closes its side.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{self, JoinError, JoinHandle, JoinSet};
use tracing::{debug, warn};

use super::inproc::panic_text;
use super::wire::{
    accept_hello, decode_payload, encode_error_frame, encode_frame, read_frame, FrameKind,
    FrameLimits,
};
use super::{AbortOnDrop, Handler, Result, TransportError};

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Decoded requests waiting for the connection task to start their handler.
const INBOUND_QUEUE: usize = 16;

/// A running server. Dropping it aborts the server without waiting; [`ServerHandle::shutdown`]
/// also waits until the listening socket is closed.
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection (handlers still running are aborted, so their
    /// callers see a retryable, unknown-result error) and returns once the port is free.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Serves `handler` on `listener` until the returned handle shuts it down.
pub async fn serve<Req, Resp>(
    listener: TcpListener,
    handler: Arc<dyn Handler<Req, Resp>>,
    limits: FrameLimits,
) -> Result<ServerHandle>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let local_addr = listener.local_addr()?;
    let limits = FrameLimits {
        max_in_flight: limits.max_in_flight.max(1),
        ..limits
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, handler, limits, stop_rx));
    Ok(ServerHandle {
        local_addr,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

async fn accept_loop<Req, Resp>(
    listener: TcpListener,
    handler: Arc<dyn Handler<Req, Resp>>,
    limits: FrameLimits,
    mut stop: oneshot::Receiver<()>,
) where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(connection(stream, peer, Arc::clone(&handler), limits));
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// One accepted connection, from handshake to close.
async fn connection<Req, Resp>(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<dyn Handler<Req, Resp>>,
    limits: FrameLimits,
) where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    match tokio::time::timeout(limits.handshake_timeout, accept_hello(&mut stream)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return warn!(%peer, error = %e, "rejected connection"),
        Err(_) => return warn!(%peer, "rejected connection: no hello in time"),
    }
    debug!(%peer, "connection accepted");
    let (rd, wr) = stream.into_split();
    match run_connection(rd, wr, peer, handler, limits).await {
        Ok(()) => debug!(%peer, "connection closed"),
        Err(e) => warn!(%peer, error = %e, "closing connection"),
    }
}

/// A decoded request with the in-flight permit it holds until its answer is written.
type Inbound<Req> = (u64, Req, OwnedSemaphorePermit);
/// An encoded answer with the permit of its request.
type Outbound = (Vec<u8>, OwnedSemaphorePermit);

async fn run_connection<Req, Resp>(
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    peer: SocketAddr,
    handler: Arc<dyn Handler<Req, Resp>>,
    limits: FrameLimits,
) -> Result<()>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_in_flight));
    let (in_tx, mut in_rx) = mpsc::channel::<Inbound<Req>>(INBOUND_QUEUE);
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Outbound>();
    let reader = read_requests(
        rd,
        limits.max_frame_len,
        permits,
        in_tx,
        Quick {
            handler: Arc::clone(&handler),
            out: out_tx.clone(),
            peer,
        },
    );
    // The writer is its own task, so answers go out from the other worker while this one
    // is still reading and answering the rest of a batch of requests.
    let mut writer = AbortOnDrop(tokio::spawn(write_answers(wr, out_rx)));
    tokio::pin!(reader);
    let mut handlers = JoinSet::new();
    let mut running: HashMap<task::Id, (u64, OwnedSemaphorePermit)> = HashMap::new();
    let mut ids_in_flight = HashSet::new();
    let mut reading = true;
    loop {
        if !reading && in_rx.is_empty() && handlers.is_empty() {
            break;
        }
        tokio::select! {
            r = &mut reader, if reading => {
                reading = false;
                r?;
            }
            Some((id, req, permit)) = in_rx.recv() => {
                if !ids_in_flight.insert(id) {
                    return Err(TransportError::Protocol(format!(
                        "request id {id} is already in flight"
                    )));
                }
                let h = Arc::clone(&handler);
                let task = handlers.spawn(async move { h.handle(req).await });
                running.insert(task.id(), (id, permit));
            }
            Some(joined) = handlers.join_next_with_id() => {
                let (task_id, outcome) = match joined {
                    Ok((task_id, resp)) => (task_id, Ok(resp)),
                    Err(e) => (e.id(), Err(task_failure(e))),
                };
                let Some((id, permit)) = running.remove(&task_id) else { continue };
                ids_in_flight.remove(&id);
                let frame = answer_frame(id, outcome, limits.max_frame_len, peer);
                if out_tx.send((frame, permit)).is_err() {
                    break;
                }
            }
            r = &mut writer.0 => return r.unwrap_or_else(|e| Err(writer_failure(e))),
        }
    }
    drop(out_tx);
    (&mut writer.0)
        .await
        .unwrap_or_else(|e| Err(writer_failure(e)))
}

fn writer_failure(e: JoinError) -> TransportError {
    TransportError::Protocol(format!("connection writer failed: {}", task_failure(e)))
}

/// Reads, validates and decodes requests until the client ends its stream (`Ok`) or breaks
/// the protocol (`Err`).
async fn read_requests<Req, Resp>(
    rd: OwnedReadHalf,
    max_frame_len: u32,
    permits: Arc<Semaphore>,
    tx: mpsc::Sender<Inbound<Req>>,
    quick: Quick<Req, Resp>,
) -> Result<()>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let mut rd = BufReader::new(rd);
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return Ok(());
        };
        let Some(frame) = read_frame(&mut rd, max_frame_len).await? else {
            return Ok(());
        };
        if frame.kind != FrameKind::Request {
            return Err(TransportError::Protocol(format!(
                "client sent a {:?} frame",
                frame.kind
            )));
        }
        let req = decode_payload::<Req>(&frame.payload)?;
        let Some((req, permit)) = quick.try_answer(frame.id, req, permit, max_frame_len) else {
            continue;
        };
        if tx.send((frame.id, req, permit)).await.is_err() {
            return Ok(());
        }
    }
}

/// What the reader needs to answer a quick request itself ([`Handler::handle_now`]).
struct Quick<Req, Resp> {
    handler: Arc<dyn Handler<Req, Resp>>,
    out: mpsc::UnboundedSender<Outbound>,
    peer: SocketAddr,
}

impl<Req: Send + 'static, Resp: Serialize + Send + 'static> Quick<Req, Resp> {
    /// Answers `req` now if its handler can; otherwise hands it (and its permit) back. The
    /// permit travels with the answer, so the in-flight bound still covers unwritten answers.
    fn try_answer(
        &self,
        id: u64,
        req: Req,
        permit: OwnedSemaphorePermit,
        max_frame_len: u32,
    ) -> Option<(Req, OwnedSemaphorePermit)> {
        let handler = &self.handler;
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.handle_now(req)
        })) {
            Ok(Err(req)) => return Some((req, permit)),
            Ok(Ok(resp)) => Ok(resp),
            Err(panic) => Err(format!("handler panicked: {}", panic_text(panic))),
        };
        let frame = answer_frame(id, outcome, max_frame_len, self.peer);
        // The writer is gone only when the connection is closing; the answer has nowhere to go.
        let _ = self.out.send((frame, permit));
        None
    }
}

async fn write_answers(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
) -> Result<()> {
    let mut wr = BufWriter::new(wr);
    while let Some((frame, permit)) = rx.recv().await {
        // As the client's writer does: let the handlers already runnable finish first, so
        // their answers share the system call.
        if rx.is_empty() {
            tokio::task::yield_now().await;
        }
        wr.write_all(&frame).await?;
        drop(permit);
        while let Ok((frame, permit)) = rx.try_recv() {
            wr.write_all(&frame).await?;
            drop(permit);
        }
        wr.flush().await?;
    }
    wr.shutdown().await?;
    Ok(())
}

/// The frame answering request `id`: its response, or an error frame when the handler
/// panicked or the response cannot be sent (unencodable or over the limit).
fn answer_frame<Resp: Serialize>(
    id: u64,
    outcome: std::result::Result<Resp, String>,
    max_frame_len: u32,
    peer: SocketAddr,
) -> Vec<u8> {
    let text = match outcome {
        Ok(resp) => match encode_frame(id, FrameKind::Response, &resp, max_frame_len) {
            Ok(frame) => return frame,
            Err(e) => format!("response not sent: {e}"),
        },
        Err(failure) => failure,
    };
    warn!(%peer, id, error = %text, "request failed");
    encode_error_frame(id, &text, max_frame_len)
}

/// Why a handler task did not return an answer, as the error text the client receives.
fn task_failure(e: JoinError) -> String {
    if e.is_panic() {
        format!("handler panicked: {}", panic_text(e.into_panic()))
    } else {
        "handler was cancelled".to_string()
    }
}
