//! One client connection, multiplexed: many calls in flight at once, matched by request id.
//!
//! A connection is a background task driving a reader (responses in, decoded, handed to the
//! waiting call through a oneshot) and a writer (encoded requests out, in submission order).
//! The table of pending calls records, for each request id, whether its frame has been handed
//! to the socket yet. That one bit is what lets a dying connection report each waiting call
//! honestly: [`TransportError::ConnectionClosed`] when its request never left (safe to retry),
//! [`TransportError::MaybeDelivered`] when it did (result unknown).
//!
//! Invariants:
//! - The writer marks a request as sent, under the table lock, before writing it, and skips
//!   requests whose caller already gave up (timed out or dropped): a late write cannot happen
//!   for a call reported as not sent.
//! - Once the connection is marked closed, no call can register on it, and every call that was
//!   registered has received its error; the table lock makes the two exclusive.
//! - A response for an unknown id (a call that timed out meanwhile) is dropped; a response
//!   that does not decode, or any framing violation, closes the connection.
//! - Deadlines: each call registers with its deadline, and the connection task's sweeper
//!   fails the calls past theirs with [`TransportError::Timeout`] (saying whether the request
//!   was sent), every [`SWEEP_EVERY`] while any call is pending. That costs one timer per
//!   connection instead of a timer-wheel entry per call (5% of the CPU of a loopback read);
//!   a deadline is met up to one sweep late.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::wire::{decode_payload, offer_hello, read_frame, FrameKind};
use super::{AbortOnDrop, Result, TransportError};

/// Requests queued for the writer before callers wait for room.
const OUTBOUND_QUEUE: usize = 1024;

/// How often the sweeper looks for calls past their deadline while any call is pending.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_millis(20);

/// A live (or dead) connection. Dropping it aborts its task and closes the socket.
pub(crate) struct Conn<Resp> {
    out: mpsc::Sender<(u64, Vec<u8>)>,
    table: Arc<Table<Resp>>,
    task: JoinHandle<()>,
}

impl<Resp> Drop for Conn<Resp> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<Resp: DeserializeOwned + Send + 'static> Conn<Resp> {
    /// Connects and handshakes (the caller bounds the time), then starts the connection task.
    pub(crate) async fn open(addr: SocketAddr, max_frame_len: u32) -> Result<Conn<Resp>> {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| TransportError::Io {
                kind: e.kind(),
                message: format!("connecting to {addr}: {e}"),
            })?;
        stream.set_nodelay(true)?;
        offer_hello(&mut stream).await?;
        let (rd, wr) = stream.into_split();
        let table = Arc::new(Table::new());
        let (out, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let task = tokio::spawn(drive(
            rd,
            wr,
            Arc::clone(&table),
            out_rx,
            max_frame_len,
            addr,
        ));
        Ok(Conn { out, table, task })
    }
}

impl<Resp> Conn<Resp> {
    pub(crate) fn is_closed(&self) -> bool {
        self.table.dead.load(Ordering::Acquire)
    }

    /// Sends request `id` (already encoded as `frame`) and waits for its answer, or fails with
    /// [`TransportError::Timeout`] once `deadline` has passed. If this future is dropped, the
    /// call is forgotten.
    pub(crate) async fn call(&self, id: u64, frame: Vec<u8>, deadline: Instant) -> Result<Resp> {
        let (tx, rx) = oneshot::channel();
        self.table.register(id, tx, deadline)?;
        let _forget = Forget {
            table: &self.table,
            id,
        };
        let queued = match self.out.try_send((id, frame)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
            // The writer is behind: wait for room, but not past the deadline (the sweeper
            // answers the call, but this task is not listening yet).
            Err(mpsc::error::TrySendError::Full(item)) => {
                match tokio::time::timeout_at(deadline.into(), self.out.send(item)).await {
                    Ok(sent) => sent.map_err(|_| ()),
                    Err(_) => return Err(TransportError::Timeout { sent: false }),
                }
            }
        };
        if queued.is_err() {
            return Err(TransportError::ConnectionClosed(
                "connection task has ended".into(),
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(TransportError::MaybeDelivered(
                "connection task has ended".into(),
            ))
        })
    }
}

/// Removes a call from the table when its future ends, whichever way.
struct Forget<'a, Resp> {
    table: &'a Table<Resp>,
    id: u64,
}

impl<Resp> Drop for Forget<'_, Resp> {
    fn drop(&mut self) {
        self.table.lock().pending.remove(&self.id);
    }
}

struct Pending<Resp> {
    sent: bool,
    deadline: Instant,
    reply: oneshot::Sender<Result<Resp>>,
}

struct State<Resp> {
    /// Why the connection died; `None` while it is usable.
    closed: Option<String>,
    pending: HashMap<u64, Pending<Resp>>,
}

/// The pending-call table shared by callers and the connection task.
struct Table<Resp> {
    state: Mutex<State<Resp>>,
    /// Set once `state.closed` is: lets callers check for a dead connection without the lock.
    dead: AtomicBool,
    /// Wakes the sweeper when a call registers while none was pending.
    first_pending: Notify,
}

impl<Resp> Table<Resp> {
    fn new() -> Table<Resp> {
        Table {
            state: Mutex::new(State {
                closed: None,
                pending: HashMap::new(),
            }),
            dead: AtomicBool::new(false),
            first_pending: Notify::new(),
        }
    }

    /// The state; a panic elsewhere while holding the lock leaves it consistent (every update
    /// is a single map operation), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State<Resp>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(
        &self,
        id: u64,
        reply: oneshot::Sender<Result<Resp>>,
        deadline: Instant,
    ) -> Result<()> {
        let mut state = self.lock();
        if let Some(reason) = &state.closed {
            return Err(TransportError::ConnectionClosed(reason.clone()));
        }
        let first = state.pending.is_empty();
        state.pending.insert(
            id,
            Pending {
                sent: false,
                deadline,
                reply,
            },
        );
        drop(state);
        if first {
            self.first_pending.notify_one();
        }
        Ok(())
    }

    /// Fails every call past its deadline; returns whether any call is still pending.
    fn expire(&self, now: Instant) -> bool {
        let (expired, more): (Vec<Pending<Resp>>, bool) = {
            let mut state = self.lock();
            let ids: Vec<u64> = state
                .pending
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(id, _)| *id)
                .collect();
            let expired = ids
                .iter()
                .filter_map(|id| state.pending.remove(id))
                .collect();
            (expired, !state.pending.is_empty())
        };
        for p in expired {
            let _ = p.reply.send(Err(TransportError::Timeout { sent: p.sent }));
        }
        more
    }

    /// Marks `id` as sent; false when the call is gone (so its frame must not be written).
    fn mark_sent(&self, id: u64) -> bool {
        let mut state = self.lock();
        if state.closed.is_some() {
            return false;
        }
        match state.pending.get_mut(&id) {
            Some(p) => {
                p.sent = true;
                true
            }
            None => false,
        }
    }

    fn complete(&self, id: u64, result: Result<Resp>) {
        let Some(p) = self.lock().pending.remove(&id) else {
            debug!(id, "response for a call no longer waiting");
            return;
        };
        let _ = p.reply.send(result);
    }

    /// Marks the connection dead and fails every waiting call according to whether its
    /// request was sent.
    fn fail_all(&self, reason: &str) {
        let drained: Vec<Pending<Resp>> = {
            let mut state = self.lock();
            state.closed = Some(reason.to_string());
            self.dead.store(true, Ordering::Release);
            state.pending.drain().map(|(_, p)| p).collect()
        };
        for p in drained {
            let err = if p.sent {
                TransportError::MaybeDelivered(reason.to_string())
            } else {
                TransportError::ConnectionClosed(reason.to_string())
            };
            let _ = p.reply.send(Err(err));
        }
    }
}

/// Fails calls past their deadline: every [`SWEEP_EVERY`] while any is pending, otherwise
/// asleep until one registers. Never returns.
async fn sweep<Resp>(table: &Table<Resp>) -> TransportError {
    loop {
        table.first_pending.notified().await;
        while table.expire(Instant::now()) {
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    }
}

/// The connection task: runs reader and writer until either stops, then fails what is left.
async fn drive<Resp: DeserializeOwned + Send + 'static>(
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    table: Arc<Table<Resp>>,
    out_rx: mpsc::Receiver<(u64, Vec<u8>)>,
    max_frame_len: u32,
    addr: SocketAddr,
) {
    // The writer is its own task, so requests go out from one worker while the other is
    // handing answers to their callers.
    let mut writer = AbortOnDrop(tokio::spawn(write_requests(wr, Arc::clone(&table), out_rx)));
    let reason = tokio::select! {
        e = read_responses(rd, &table, max_frame_len) => e,
        e = sweep(&table) => e,
        e = &mut writer.0 => e.unwrap_or_else(|e| {
            TransportError::ConnectionClosed(format!("connection writer failed: {e}"))
        }),
    };
    match &reason {
        TransportError::Decode(_)
        | TransportError::Protocol(_)
        | TransportError::FrameTooLarge { .. } => {
            warn!(%addr, error = %reason, "closing connection")
        }
        _ => debug!(%addr, error = %reason, "connection ended"),
    }
    table.fail_all(&reason.to_string());
}

/// Reads answers and hands each to its call; returns why it stopped.
async fn read_responses<Resp: DeserializeOwned>(
    rd: OwnedReadHalf,
    table: &Table<Resp>,
    max_frame_len: u32,
) -> TransportError {
    let mut rd = BufReader::new(rd);
    loop {
        let frame = match read_frame(&mut rd, max_frame_len).await {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                return TransportError::ConnectionClosed("server closed the connection".into())
            }
            Err(e) => return e,
        };
        let result = match frame.kind {
            FrameKind::Response => decode_payload::<Resp>(&frame.payload),
            FrameKind::Error => match String::from_utf8(frame.payload) {
                Ok(text) => Err(TransportError::Remote(text)),
                Err(_) => Err(TransportError::Decode("error text is not UTF-8".into())),
            },
            FrameKind::Request => {
                return TransportError::Protocol("server sent a request frame".into())
            }
        };
        if let Err(e @ TransportError::Decode(_)) = &result {
            let e = e.clone();
            table.complete(frame.id, result);
            return e;
        }
        table.complete(frame.id, result);
    }
}

/// Writes queued requests, flushing whenever the queue runs dry; returns why it stopped.
async fn write_requests<Resp: Send + 'static>(
    wr: OwnedWriteHalf,
    table: Arc<Table<Resp>>,
    mut rx: mpsc::Receiver<(u64, Vec<u8>)>,
) -> TransportError {
    let mut wr = BufWriter::new(wr);
    while let Some(first) = rx.recv().await {
        // Let the tasks already woken (by the answers just read) queue their requests
        // first, so one system call carries many frames instead of one each.
        if rx.is_empty() {
            tokio::task::yield_now().await;
        }
        let mut next = Some(first);
        while let Some((id, frame)) = next {
            if table.mark_sent(id) {
                if let Err(e) = wr.write_all(&frame).await {
                    return e.into();
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = wr.flush().await {
            return e.into();
        }
    }
    TransportError::ConnectionClosed("client dropped".into())
}
