//! The TCP client: a [`Transport`] that keeps one multiplexed connection to a server.
//!
//! Design choice: one connection per client (clone the [`TcpTransport`] to share it), opened
//! on first need and replaced after it dies; many calls run on it concurrently (see [`super::
//! mux`]). There is no automatic retry here: whether a failed call may be repeated depends on
//! the request (see [`TransportError::is_unknown_result`]), which only the caller knows. A
//! call after a failure simply opens a new connection, so the caller's retry loop (with its
//! backoff) is all it takes to ride out a server restart.
//!
//! Every call has a deadline covering connecting, queueing, sending and waiting. A call that
//! times out is forgotten; its late response, if any, is dropped, and the connection stays up.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
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
    /// The current connection; the async lock makes concurrent callers share one reconnect.
    conn: Mutex<Option<Arc<Conn<Resp>>>>,
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
        transport.inner.connection(deadline).await?;
        Ok(transport)
    }

    /// A client that connects on its first call.
    pub fn lazy(addr: SocketAddr, config: ClientConfig) -> Self {
        TcpTransport {
            inner: Arc::new(Client {
                addr,
                config,
                next_id: AtomicU64::new(1),
                conn: Mutex::new(None),
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
        let conn = self.inner.connection(deadline).await?;
        match timeout_at(deadline, conn.call(id, frame)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout {
                sent: conn.abandon(id),
            }),
        }
    }
}

impl<Resp: DeserializeOwned + Send + 'static> Client<Resp> {
    /// The live connection, opening a new one if there is none or the last one died.
    async fn connection(&self, deadline: Instant) -> Result<Arc<Conn<Resp>>> {
        let opened = timeout_at(deadline, async {
            let mut slot = self.conn.lock().await;
            if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
                return Ok(Arc::clone(conn));
            }
            *slot = None;
            let open = Conn::open(self.addr, self.config.max_frame_len);
            let conn = tokio::time::timeout(self.config.connect_timeout, open)
                .await
                .map_err(|_| TransportError::Timeout { sent: false })??;
            let conn = Arc::new(conn);
            *slot = Some(Arc::clone(&conn));
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
