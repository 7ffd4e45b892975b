//! The I/O shell around one [`Connection`]: read bytes, cut them into messages, hand a
//! batch to the state machine, write back what it produced, all on one thread.
//!
//! Threads: every connection has an OS thread of its own for its whole life (PostgreSQL
//! has a process), doing blocking socket I/O and running its SQL session, which is
//! synchronous and may block on the KV layer. A statement then costs its two system
//! calls and no thread hand-off: with a tokio task per connection and the session on a
//! blocking-pool thread, every message crossed threads twice, and at 16 clients half of
//! the server's CPU went to waking threads (measured with perf under pgbench -S).
//! Connections are capped (`max_connections`), so the threads are too.
//!
//! Batching: every complete message already buffered is handled in one go, so a
//! pipelined Parse/Bind/Describe/Execute/Sync is answered with one write. In the startup
//! phase messages go one at a time, because whether the next frame has a type byte
//! depends on the state the previous one leaves.
//!
//! If the client disconnects, the loop ends and the connection, session and any open
//! transaction are dropped; an uncommitted KV transaction simply never commits. The
//! server shuts a connection down by shutting its socket down, which ends a blocked read.
//!
//! A frame that cannot be decoded (bad length, garbage, oversized) is answered with a
//! FATAL error and closes this connection only. A client that does not finish its startup
//! within the configured timeout is dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::frontend::{self, Frontend};
use super::protocol::Connection;
use super::session::SessionFactory;
use super::tls::Stream;

/// Serves one client on the calling thread until it leaves, errs fatally, or the startup
/// times out.
pub fn serve_connection<F: SessionFactory>(
    stream: TcpStream,
    mut conn: Connection<F>,
    max_message: usize,
    startup_timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut stream = Stream::Plain(stream);
    conn = conn.with_tls(tls.is_some());
    let deadline = Instant::now() + startup_timeout;
    let mut input = BytesMut::with_capacity(8 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut timed = true;
    loop {
        let (batch, error) = take_messages(&mut input, conn.in_startup(), max_message);
        if !batch.is_empty() || error.is_some() {
            for message in batch {
                conn.handle_to(message, Some(&mut stream));
            }
            if let Some(e) = error {
                conn.fail(e);
            }
            stream.write_all(&conn.take_output())?;
            stream.flush()?;
            if conn.is_closed() {
                break;
            }
            if conn.take_tls_request() {
                if !input.is_empty() {
                    // Read in plain text, so not trusted to come from the client that will
                    // hold the keys (CVE-2021-23214).
                    tracing::warn!("client sent data after its SSLRequest, before the handshake");
                    break;
                }
                if let Some(config) = &tls {
                    stream = stream.upgrade(config)?;
                }
            }
            continue;
        }
        if conn.awaiting_login() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::debug!("client did not finish its startup in time");
                break;
            }
            stream.tcp().set_read_timeout(Some(left))?;
        } else if timed {
            stream.tcp().set_read_timeout(None)?;
            timed = false;
        }
        let read = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                tracing::debug!("client did not finish its startup in time");
                break;
            }
            Err(e) => return Err(e),
        };
        if read == 0 {
            break;
        }
        input.extend_from_slice(&chunk[..read]);
    }
    let _ = stream.tcp().shutdown(Shutdown::Both);
    Ok(())
}

/// Every complete message in `input` (at most one in the startup phase), and the decode
/// error that stopped the cut, if any.
fn take_messages(
    input: &mut BytesMut,
    startup: bool,
    max_message: usize,
) -> (Vec<Frontend>, Option<super::errors::PgError>) {
    let mut batch = Vec::new();
    loop {
        if startup && !batch.is_empty() {
            return (batch, None);
        }
        match frontend::next_message(input, startup, max_message) {
            Ok(Some(message)) => batch.push(message),
            Ok(None) => return (batch, None),
            Err(e) => return (batch, Some(e)),
        }
    }
}
