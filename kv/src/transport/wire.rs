//! The bytes on a transport connection: the handshake, the frame layout, and the codec.
//!
//! Everything read here comes from an untrusted peer: every length is checked against the
//! configured limit before anything is allocated for it, a frame is read through a `take`
//! so memory grows only with bytes that actually arrived, and a payload must decode to exactly
//! one message with no trailing bytes. Any violation is an error the connection owner answers
//! by closing that connection; nothing here panics on input.
//!
//! ## Handshake (once, at connection start; the client speaks first)
//!
//! ```text
//!   offset 0  8 bytes  magic: ASCII "FERRISKV"
//!   offset 8  4 bytes  protocol version: u32 big-endian (PROTOCOL_VERSION, now 1)
//! ```
//!
//! The server reads the 8 magic bytes first, on their own, so a client that sends a short
//! greeting and then waits (a PostgreSQL `SSLRequest` is exactly 8 bytes) is rejected at once
//! instead of hanging; an HTTP request fails the same check. On a wrong magic the server closes
//! without writing a byte. It then reads the version and answers with its own 12-byte hello;
//! if the versions differ it closes right after, so the client can report the mismatch. The
//! client checks the reply's magic and version the same way.
//!
//! ## Frames (after the handshake, both directions)
//!
//! ```text
//!   offset 0   4 bytes  len: u32 big-endian, the number of bytes after this field
//!                       (= 9 + payload length); 9 <= len <= max_frame_len
//!   offset 4   8 bytes  request id: u64 big-endian, chosen by the client, echoed in the answer
//!   offset 12  1 byte   kind: 0 = request (client -> server)
//!                             1 = response (server -> client)
//!                             2 = error (server -> client: the handler failed)
//!   offset 13  len - 9  payload: kinds 0 and 1: the message in postcard's format;
//!                       kind 2: a UTF-8 description
//! ```
//!
//! Big-endian because it is the network convention and reads naturally in a hex dump.
//! Postcard (varint integers, length-prefixed sequences, enum variants as varint indices) is
//! used for payloads rather than bincode 1 because its wire format is specified and promised
//! stable across its 1.x releases, it is actively maintained (bincode 1 is a superseded major
//! version), it is compact for the small integer-heavy messages the roles exchange, and
//! decoding from a slice never pre-allocates more than the bytes present. Message types must not be recursive: postcard has no nesting limit, so a recursive
//! type would let a peer exhaust the stack.

use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::{Result, TransportError};

/// The 8 bytes every connection starts with.
pub const MAGIC: [u8; 8] = *b"FERRISKV";
/// The framing protocol version carried in the handshake.
pub const PROTOCOL_VERSION: u32 = 1;
/// Length of a hello: magic then version.
pub const HELLO_LEN: usize = 12;
/// Bytes after the length prefix that are not payload: request id and kind.
pub const FRAME_OVERHEAD: usize = 9;
/// The default largest `len` accepted: 16 MiB.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 16 << 20;

/// Limits a connection enforces on its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest accepted value of a frame's `len` field (bytes after the prefix).
    pub max_frame_len: u32,
    /// Server only: requests of one connection being handled or waiting to be written back.
    /// At the limit the server stops reading that socket, so a flooding client is slowed by
    /// TCP flow control instead of growing memory. Worst-case memory per connection is about
    /// `max_in_flight * max_frame_len`.
    pub max_in_flight: usize,
    /// Server only: how long a new connection may take to send its hello.
    pub handshake_timeout: Duration,
}

impl Default for FrameLimits {
    fn default() -> FrameLimits {
        FrameLimits {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_in_flight: 256,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Request = 0,
    Response = 1,
    Error = 2,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<FrameKind> {
        match b {
            0 => Some(FrameKind::Request),
            1 => Some(FrameKind::Response),
            2 => Some(FrameKind::Error),
            _ => None,
        }
    }
}

/// One frame as read off the wire; the payload is still undecoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub id: u64,
    pub kind: FrameKind,
    pub payload: Vec<u8>,
}

/// The 12-byte hello for `version`.
pub fn hello(version: u32) -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&version.to_be_bytes());
    h
}

/// Encodes a whole frame (prefix included) carrying `msg` in postcard's format, refusing one
/// whose `len` would exceed `max_frame_len`.
pub fn encode_frame<T: Serialize>(
    id: u64,
    kind: FrameKind,
    msg: &T,
    max_frame_len: u32,
) -> Result<Vec<u8>> {
    // Room for a typical KV message (a key and a 100-byte value) without regrowing.
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&id.to_be_bytes());
    buf.push(kind as u8);
    let buf = postcard::to_extend(msg, buf).map_err(|e| TransportError::Encode(e.to_string()))?;
    seal(buf, max_frame_len)
}

/// Encodes an error frame whose payload is `text` as UTF-8, truncated (at a character
/// boundary) to fit the limit: the description must never be the reason an answer is lost.
pub fn encode_error_frame(id: u64, text: &str, max_frame_len: u32) -> Vec<u8> {
    let room = (max_frame_len as usize).saturating_sub(FRAME_OVERHEAD);
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut buf = Vec::with_capacity(4 + FRAME_OVERHEAD + end);
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&id.to_be_bytes());
    buf.push(FrameKind::Error as u8);
    buf.extend_from_slice(&text.as_bytes()[..end]);
    let len = (buf.len() - 4) as u32; // bounded by max_frame_len above, so it fits a u32
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf
}

/// Fills in the length prefix of an encoded frame after checking it against the limit.
fn seal(mut buf: Vec<u8>, max_frame_len: u32) -> Result<Vec<u8>> {
    let len = buf.len() - 4;
    if len > max_frame_len as usize {
        return Err(TransportError::FrameTooLarge {
            len: len as u64,
            max: u64::from(max_frame_len),
        });
    }
    // len <= max_frame_len, which is a u32, so the cast is exact.
    buf[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(buf)
}

/// Decodes a postcard payload that must hold exactly one `T`.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T> {
    let (msg, rest) = postcard::take_from_bytes::<T>(payload)
        .map_err(|e| TransportError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(TransportError::Decode(format!(
            "{} trailing bytes after the message",
            rest.len()
        )));
    }
    Ok(msg)
}

/// Reads one frame. `Ok(None)` is a clean end of stream at a frame boundary; a stream that
/// ends inside a frame, a `len` below the fixed header or above `max_frame_len`, and an unknown
/// kind are errors after which the stream must be abandoned.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_frame_len: u32,
) -> Result<Option<Frame>> {
    let mut prefix = [0u8; 4];
    let got = read_full(r, &mut prefix).await?;
    if got == 0 {
        return Ok(None);
    }
    if got < prefix.len() {
        return Err(TransportError::Protocol(format!(
            "stream ended inside a length prefix ({got} of 4 bytes)"
        )));
    }
    let len = u32::from_be_bytes(prefix);
    if len > max_frame_len {
        return Err(TransportError::FrameTooLarge {
            len: u64::from(len),
            max: u64::from(max_frame_len),
        });
    }
    if (len as usize) < FRAME_OVERHEAD {
        return Err(TransportError::Protocol(format!(
            "frame length {len} is shorter than the {FRAME_OVERHEAD}-byte header"
        )));
    }
    let mut header = [0u8; FRAME_OVERHEAD];
    let got = read_full(r, &mut header).await?;
    if got < header.len() {
        return Err(TransportError::Protocol(format!(
            "stream ended inside a frame ({got} of {len} bytes)"
        )));
    }
    let id = u64::from_be_bytes(header[..8].try_into().expect("8 bytes"));
    let kind = FrameKind::from_byte(header[8])
        .ok_or_else(|| TransportError::Protocol(format!("unknown frame kind {}", header[8])))?;
    let payload_len = len as usize - FRAME_OVERHEAD;
    // Room for the whole payload up front (no regrowth, no copy) when it is small; a large
    // one grows only as bytes arrive, so a peer announcing a large frame and sending little
    // costs little.
    let mut payload = Vec::with_capacity(payload_len.min(PREALLOCATE_MAX));
    r.take(payload_len as u64).read_to_end(&mut payload).await?;
    if payload.len() != payload_len {
        return Err(TransportError::Protocol(format!(
            "stream ended inside a frame ({} of {len} bytes)",
            FRAME_OVERHEAD + payload.len()
        )));
    }
    Ok(Some(Frame { id, kind, payload }))
}

/// The largest payload [`read_frame`] allocates room for before its bytes arrive.
const PREALLOCATE_MAX: usize = 64 << 10;

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = r.read(&mut buf[got..]).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// Server side of the handshake. `Ok(())` when the client is accepted; any error means the
/// connection must be closed (for a version mismatch the server's hello was already sent).
pub async fn accept_hello<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Result<()> {
    let mut magic = [0u8; 8];
    let got = read_full(s, &mut magic).await?;
    if got < magic.len() || magic != MAGIC {
        return Err(TransportError::Handshake(format!(
            "client did not send the FerrisDB magic (got {:02x?})",
            &magic[..got]
        )));
    }
    let mut version = [0u8; 4];
    if read_full(s, &mut version).await? < version.len() {
        return Err(TransportError::Handshake(
            "stream ended inside the hello".into(),
        ));
    }
    s.write_all(&hello(PROTOCOL_VERSION)).await?;
    s.flush().await?;
    let version = u32::from_be_bytes(version);
    if version != PROTOCOL_VERSION {
        return Err(TransportError::Handshake(format!(
            "client speaks protocol version {version}, this server {PROTOCOL_VERSION}"
        )));
    }
    Ok(())
}

/// Client side of the handshake: sends the hello and checks the server's answer.
pub async fn offer_hello<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Result<()> {
    s.write_all(&hello(PROTOCOL_VERSION)).await?;
    s.flush().await?;
    let mut reply = [0u8; HELLO_LEN];
    let got = read_full(s, &mut reply).await?;
    if got < HELLO_LEN || reply[..8] != MAGIC {
        return Err(TransportError::Handshake(format!(
            "peer is not a FerrisDB transport endpoint (answered {:02x?})",
            &reply[..got]
        )));
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&reply[8..]);
    let version = u32::from_be_bytes(version);
    if version != PROTOCOL_VERSION {
        return Err(TransportError::Handshake(format!(
            "server speaks protocol version {version}, this client {PROTOCOL_VERSION}"
        )));
    }
    Ok(())
}
