//! The I/O shell around one [`Connection`]: read bytes, cut them into messages, hand a
//! batch to the state machine on a blocking thread, write back what it produced.
//!
//! Batching: every complete message already buffered is handled in one blocking call, so
//! a pipelined Parse/Bind/Describe/Execute/Sync costs one thread hand-off, not five. In
//! the startup phase messages go one at a time, because whether the next frame has a type
//! byte depends on the state the previous one leaves.
//!
//! The SQL session is synchronous and may block on the KV layer, so it never runs on a
//! runtime worker: the connection (with its session) moves into `spawn_blocking` and
//! back. If the client disconnects, the loop ends and the connection, session and any
//! open transaction are dropped; an uncommitted KV transaction simply never commits.
//!
//! A frame that cannot be decoded (bad length, garbage, oversized) is answered with a
//! FATAL error and closes this connection only. A client that does not finish its startup
//! within the configured timeout is dropped.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::frontend::{self, Frontend};
use super::protocol::Connection;
use super::session::SessionFactory;

/// Serves one client until it leaves, errs fatally, or the startup times out.
pub async fn serve_connection<F: SessionFactory>(
    mut stream: TcpStream,
    mut conn: Connection<F>,
    max_message: usize,
    startup_timeout: Duration,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + startup_timeout;
    let mut input = BytesMut::with_capacity(8 * 1024);
    loop {
        let (batch, error) = take_messages(&mut input, conn.in_startup(), max_message);
        if !batch.is_empty() || error.is_some() {
            let (back, output) = tokio::task::spawn_blocking(move || {
                for message in batch {
                    conn.handle(message);
                }
                if let Some(e) = error {
                    conn.fail(e);
                }
                let output = conn.take_output();
                (conn, output)
            })
            .await
            .map_err(|e| io::Error::other(format!("connection handler failed: {e}")))?;
            conn = back;
            stream.write_all(&output).await?;
            if conn.is_closed() {
                break;
            }
            continue;
        }
        let read = if conn.awaiting_login() {
            match tokio::time::timeout_at(deadline, stream.read_buf(&mut input)).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::debug!("client did not finish its startup in time");
                    break;
                }
            }
        } else {
            stream.read_buf(&mut input).await?
        };
        if read == 0 {
            break;
        }
    }
    let _ = stream.shutdown().await;
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
