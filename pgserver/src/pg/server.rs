//! The listener: accepts PostgreSQL clients, enforces the connection limit, and stops on
//! request.
//!
//! Each accepted socket gets its own thread (a tokio blocking-pool thread, for the
//! connection's whole life) running `socket::serve_connection`. A client
//! beyond `max_connections` is still answered properly: its task runs the startup
//! exchange (so libpq can show the message) and then sends FATAL 53300 "sorry, too many
//! clients already", as PostgreSQL does; refused clients do not count against the limit.
//!
//! Every connection's session is registered for CancelRequests under its key (`cancel`).
//!
//! Shutdown stops accepting and shuts every client socket down, which ends each
//! connection thread's read and drops its session: open transactions are abandoned, never
//! half-committed.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::auth::AuthConfig;
use super::cancel::CancelRegistry;
use super::errors::PgError;
use super::protocol::{BackendKey, Connection};
use super::session::SessionFactory;
use super::socket::serve_connection;

/// Limits of the PostgreSQL server.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// Clients served at once; more are refused with 53300.
    pub max_connections: usize,
    /// The largest message a client may send (a Query or Bind), in bytes.
    pub max_message_bytes: usize,
    /// Time a new client has to complete its startup.
    pub startup_timeout: Duration,
    /// How clients authenticate (`super::auth`).
    pub auth: super::auth::AuthMode,
    /// `statement_timeout` of new sessions (`None`: no limit); applied by the caller
    /// when it builds the engine (`Engine::with_statement_timeout`).
    pub statement_timeout: Option<Duration>,
    /// Memory a statement's sorts and hash tables may hold; applied by the caller when it
    /// builds the engine (`Engine::with_memory_limit`).
    pub work_mem_bytes: usize,
    /// TLS for clients that ask (`super::tls`); `None`: SSLRequest is answered `N`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for PgConfig {
    fn default() -> PgConfig {
        PgConfig {
            max_connections: 100,
            max_message_bytes: 64 << 20,
            startup_timeout: Duration::from_secs(60),
            auth: super::auth::AuthMode::default(),
            statement_timeout: None,
            work_mem_bytes: ferrisdb_sql::DEFAULT_MEMORY_LIMIT,
            tls: None,
        }
    }
}

/// The accepted socket as a blocking std socket, for its connection thread.
fn blocking_socket(stream: tokio::net::TcpStream) -> io::Result<std::net::TcpStream> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// A running PostgreSQL listener.
pub struct PgServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl PgServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection (abandoning open transactions) and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves the PostgreSQL protocol on `listener`, one session from `factory` per client.
pub fn serve<F: SessionFactory>(
    listener: TcpListener,
    factory: Arc<F>,
    config: PgConfig,
) -> io::Result<PgServer> {
    let local_addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let next_pid = AtomicI32::new(1);
        let keys = std::collections::hash_map::RandomState::new();
        let mock_secret = ferrisdb_sql::auth::random_bytes::<32>();
        let cancels = Arc::new(CancelRegistry::new());
        let mut connections = JoinSet::new();
        let open_sockets: Arc<Mutex<HashMap<i32, std::net::TcpStream>>> = Arc::default();
        loop {
            let accepted = tokio::select! {
                _ = stopped.changed() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a PostgreSQL client failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let pid = next_pid.fetch_add(1, Ordering::Relaxed);
            let key = BackendKey {
                pid,
                secret: keys.hash_one(pid) as i32,
            };
            let permit = slots.clone().try_acquire_owned().ok();
            let refusal = permit.is_none().then_some(PgError::TooManyConnections);
            let conn = Connection::new(factory.clone(), key, refusal)
                .with_auth(AuthConfig {
                    mode: config.auth,
                    loopback: super::auth::is_loopback(peer.ip()),
                    nonce: ferrisdb_sql::auth::random_bytes(),
                    mock_secret,
                })
                .with_cancel_registry(cancels.clone());
            let (max_message, timeout) = (config.max_message_bytes, config.startup_timeout);
            let tls = config.tls.clone();
            let stream = match blocking_socket(stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "could not set up a PostgreSQL client socket");
                    continue;
                }
            };
            if let Ok(handle) = stream.try_clone() {
                open_sockets
                    .lock()
                    .expect("socket registry poisoned")
                    .insert(pid, handle);
            }
            let sockets = open_sockets.clone();
            connections.spawn_blocking(move || {
                let _permit = permit;
                if let Err(e) = serve_connection(stream, conn, max_message, timeout, tls) {
                    tracing::debug!(%peer, error = %e, "PostgreSQL connection ended");
                }
                sockets
                    .lock()
                    .expect("socket registry poisoned")
                    .remove(&pid);
            });
        }
        // Each connection thread is blocked reading its socket: shutting the sockets down
        // ends those reads, and the threads return.
        for socket in open_sockets
            .lock()
            .expect("socket registry poisoned")
            .values()
        {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        while connections.join_next().await.is_some() {}
    });
    Ok(PgServer {
        local_addr,
        stop,
        task,
    })
}
