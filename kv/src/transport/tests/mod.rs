//! Tests of the transport: a toy request/response pair, a handler with hooks to make calls
//! block, release each other, hang or panic, and helpers to speak raw bytes to a server.

mod adversarial;
mod inproc;
mod tcp;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::wire::{hello, HELLO_LEN, PROTOCOL_VERSION};
use super::{serve, FrameLimits, Handler, ServerHandle};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Req {
    Echo(u64),
    /// Sleep, then answer `Done(id)`.
    Sleep {
        id: u64,
        micros: u64,
    },
    /// Block until `Release` of the same key, then answer `Done(key)`.
    Wait(u64),
    Release(u64),
    /// Never answer.
    Hang,
    Panic,
    /// Answered at once, on the connection task (`handle_now`), with `Echo`.
    Quick(u64),
    /// Panics in `handle_now`.
    PanicNow,
    /// Answer with this many bytes.
    Big(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Resp {
    Echo(u64),
    Done(u64),
    Bytes(Vec<u8>),
}

pub(super) struct Toy {
    gates: Mutex<HashMap<u64, Arc<Semaphore>>>,
    /// One permit per `Hang` request that has started.
    pub(super) hanging: Arc<Semaphore>,
}

impl Toy {
    pub(super) fn new() -> Arc<Toy> {
        Arc::new(Toy {
            gates: Mutex::new(HashMap::new()),
            hanging: Arc::new(Semaphore::new(0)),
        })
    }

    fn gate(&self, key: u64) -> Arc<Semaphore> {
        let mut gates = self.gates.lock().unwrap();
        Arc::clone(
            gates
                .entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(0))),
        )
    }
}

#[async_trait::async_trait]
impl Handler<Req, Resp> for Toy {
    async fn handle(&self, req: Req) -> Resp {
        match req {
            Req::Echo(x) => Resp::Echo(x),
            Req::Sleep { id, micros } => {
                tokio::time::sleep(Duration::from_micros(micros)).await;
                Resp::Done(id)
            }
            Req::Wait(key) => {
                self.gate(key).acquire().await.unwrap().forget();
                Resp::Done(key)
            }
            Req::Release(key) => {
                self.gate(key).add_permits(1);
                Resp::Done(key)
            }
            Req::Hang => {
                self.hanging.add_permits(1);
                std::future::pending().await
            }
            Req::Panic => panic!("toy handler asked to panic"),
            Req::Big(n) => Resp::Bytes(vec![7; n as usize]),
            // Only transports without a quick path get here.
            Req::Quick(x) => Resp::Echo(x),
            Req::PanicNow => panic!("toy handler asked to panic now"),
        }
    }

    fn handle_now(&self, req: Req) -> Result<Resp, Req> {
        match req {
            Req::Quick(x) => Ok(Resp::Echo(x)),
            Req::PanicNow => panic!("toy handler asked to panic now"),
            other => Err(other),
        }
    }
}

/// Starts a toy server on 127.0.0.1, port 0.
pub(super) async fn start(toy: Arc<Toy>, limits: FrameLimits) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, toy, limits).await.unwrap()
}

/// A raw socket that has completed the handshake.
pub(super) async fn raw_connect(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&hello(PROTOCOL_VERSION)).await.unwrap();
    let mut reply = [0u8; HELLO_LEN];
    s.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, hello(PROTOCOL_VERSION));
    s
}

/// Asserts the server closes `s` without sending anything more (a bounded wait, not a timing
/// assertion: it only turns a hang into a failure).
pub(super) async fn assert_closed(mut s: TcpStream) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
    match read.expect("server did not close the connection") {
        Ok(0) => {}
        Ok(n) => panic!(
            "server sent {n} bytes instead of closing: {:02x?}",
            &buf[..n]
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
            "unexpected read error {e}"
        ),
    }
}

/// A frame with the given header fields and raw payload.
pub(super) fn raw_frame(id: u64, kind: u8, payload: &[u8]) -> Vec<u8> {
    let len = (9 + payload.len()) as u32;
    let mut f = len.to_be_bytes().to_vec();
    f.extend_from_slice(&id.to_be_bytes());
    f.push(kind);
    f.extend_from_slice(payload);
    f
}

/// A small deterministic generator (splitmix64) for randomized tests; they print the seed.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn from_time() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        println!("rng seed: {seed}");
        Rng(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
