//! The TCP client: a [`Transport`] that keeps multiplexed connections to a server.
//!
//! Design choice: one connection per client by default, or a few
//! ([`ClientConfig::connections`]; clone the [`TcpTransport`] to share them), each opened on
//! first need and replaced after it dies; many calls run on each concurrently (see [`super::
//! mux`]). There is no automatic retry here: whether a failed call may be repeated depends on
//! the request (see [`TransportError::is_unknown_result`]), which only the caller knows. A
//! call after a failure simply opens a new connection, so the caller's retry loop (with its
//! backoff) is all it takes to ride out a server restart.
//!
//! Every call has a deadline covering connecting, queueing, sending and waiting (met up to
//! one sweep, 20 ms, late: see [`super::mux`]). A call that times out is forgotten; its late
//! response, if any, is dropped, and the connection stays up.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::Mutex;
use tokio::time::{timeout_at, Instant};

use super::mux::Conn;
use super::wire::{encode_frame, FrameKind, DEFAULT_MAX_FRAME_LEN};
use super::{Result, Transport, TransportError};

/// Client settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Deadline of a call made through [`Transport::call`].
    pub call_timeout: Duration,
    /// Bound on opening a connection (TCP connect plus handshake).
    pub connect_timeout: Duration,
    /// Largest frame `len` sent or accepted; should match the server's limit.
    pub max_frame_len: u32,
    /// Connections to keep to the server (at least one); calls are spread over them by
    /// request id. More than one lets the server, and this client's runtime, work on one
    /// client's calls on several cores at once, since each connection's reading and answering
    /// is one task at either end.
    pub connections: usize,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            connections: 1,
        }
    }
}

/// A [`Transport`] over TCP to one server address. Cheap to clone; clones share the
/// connection.
pub struct TcpTransport<Req, Resp> {
    inner: Arc<Client<Resp>>,
    _req: PhantomData<fn(Req)>,
}

impl<Req, Resp> Clone for TcpTransport<Req, Resp> {
    fn clone(&self) -> Self {
        TcpTransport {
            inner: Arc::clone(&self.inner),
            _req: PhantomData,
        }
    }
}

struct Client<Resp> {
    addr: SocketAddr,
    config: ClientConfig,
    next_id: AtomicU64,
    lanes: Vec<Lane<Resp>>,
}

/// One of the client's connections.
struct Lane<Resp> {
    /// The connection calls use; read on every call without waiting.
    current: StdMutex<Option<Arc<Conn<Resp>>>>,
    /// Held while (re)connecting, so concurrent callers share one reconnect.
    opening: Mutex<()>,
}

impl<Resp> Lane<Resp> {
    /// The lane's connection if it is up.
    fn live(&self) -> Option<Arc<Conn<Resp>>> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }
}

impl<Req, Resp> TcpTransport<Req, Resp>
where
    Req: Serialize + Send + 'static,
    Resp: DeserializeOwned + Send + 'static,
{
    /// Connects to `addr` with the default [`ClientConfig`].
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        Self::connect_with(addr, ClientConfig::default()).await
    }

    /// Connects to `addr` now (so a wrong address or a peer that is not a FerrisDB server is
    /// reported at once); later calls reconnect as needed.
    pub async fn connect_with(addr: SocketAddr, config: ClientConfig) -> Result<Self> {
        let transport = Self::lazy(addr, config);
        let deadline = Instant::now() + config.connect_timeout;
        for lane in &transport.inner.lanes {
            transport.inner.connection(lane, deadline).await?;
        }
        Ok(transport)
    }

    /// A client that connects on its first call.
    pub fn lazy(addr: SocketAddr, config: ClientConfig) -> Self {
        TcpTransport {
            inner: Arc::new(Client {
                addr,
                config,
                next_id: AtomicU64::new(1),
                lanes: (0..config.connections.max(1))
                    .map(|_| Lane {
                        current: StdMutex::new(None),
                        opening: Mutex::new(()),
                    })
                    .collect(),
            }),
            _req: PhantomData,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Calls with an explicit deadline instead of the configured one.
    pub async fn call_timeout(&self, req: Req, timeout: Duration) -> Result<Resp> {
        let deadline = Instant::now() + timeout;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(
            id,
            FrameKind::Request,
            &req,
            self.inner.config.max_frame_len,
        )?;
        let lane = &self.inner.lanes[(id % self.inner.lanes.len() as u64) as usize];
        let conn = match lane.live() {
            Some(conn) => conn,
            None => self.inner.connection(lane, deadline).await?,
        };
        // The connection enforces the deadline (one sweeper per connection, not a timer per
        // call).
        conn.call(id, frame, deadline.into_std()).await
    }
}

impl<Resp: DeserializeOwned + Send + 'static> Client<Resp> {
    /// The live connection, opening a new one if there is none or the last one died.
    async fn connection(&self, lane: &Lane<Resp>, deadline: Instant) -> Result<Arc<Conn<Resp>>> {
        let opened = timeout_at(deadline, async {
            let _opening = lane.opening.lock().await;
            if let Some(conn) = lane.live() {
                return Ok(conn);
            }
            let open = Conn::open(self.addr, self.config.max_frame_len);
            let conn = tokio::time::timeout(self.config.connect_timeout, open)
                .await
                .map_err(|_| TransportError::Timeout { sent: false })??;
            let conn = Arc::new(conn);
            *lane.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&conn));
            Ok(conn)
        });
        opened
            .await
            .unwrap_or(Err(TransportError::Timeout { sent: false }))
    }
}

#[async_trait::async_trait]
impl<Req, Resp> Transport<Req, Resp> for TcpTransport<Req, Resp>
where
    Req: Serialize + Send + 'static,
    Resp: DeserializeOwned + Send + 'static,
{
    async fn call(&self, req: Req) -> Result<Resp> {
        self.call_timeout(req, self.inner.config.call_timeout).await
    }
}
