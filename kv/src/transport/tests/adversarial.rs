//! A misbehaving peer loses its own connection and nothing else.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{assert_closed, raw_connect, raw_frame, start, Req, Resp, Toy};
use crate::transport::wire::{hello, HELLO_LEN, PROTOCOL_VERSION};
use crate::transport::{FrameLimits, ServerHandle, TcpTransport, Transport, TransportError};

type Client = TcpTransport<Req, Resp>;

/// Starts a server with a healthy client connected to it, runs `attack` on a fresh raw socket
/// that must end up closed, then checks the healthy client still gets answers on its
/// original connection.
async fn attack_leaves_others_working<F, Fut>(limits: FrameLimits, attack: F)
where
    F: FnOnce(std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = TcpStream>,
{
    let server: ServerHandle = start(Toy::new(), limits).await;
    let good = Client::connect(server.local_addr()).await.unwrap();
    assert_eq!(good.call(Req::Echo(1)).await.unwrap(), Resp::Echo(1));
    let bad = attack(server.local_addr()).await;
    assert_closed(bad).await;
    assert_eq!(good.call(Req::Echo(2)).await.unwrap(), Resp::Echo(2));
    // And the server still accepts new clients.
    let fresh = Client::connect(server.local_addr()).await.unwrap();
    assert_eq!(fresh.call(Req::Echo(3)).await.unwrap(), Resp::Echo(3));
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_payload_closes_only_that_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        // Variant index 200 does not exist in `Req`.
        s.write_all(&raw_frame(1, 0, &[200, 1, 2, 3]))
            .await
            .unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn trailing_bytes_after_a_valid_message_close_the_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        let mut payload = postcard::to_allocvec(&Req::Echo(5)).unwrap();
        payload.push(0);
        s.write_all(&raw_frame(1, 0, &payload)).await.unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn oversized_length_prefix_closes_only_that_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        s.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn frame_just_over_a_small_limit_is_rejected() {
    let limits = FrameLimits {
        max_frame_len: 32,
        ..FrameLimits::default()
    };
    attack_leaves_others_working(limits, |addr| async move {
        let mut s = raw_connect(addr).await;
        s.write_all(&raw_frame(1, 0, &[0u8; 24])).await.unwrap(); // len 33
        s
    })
    .await;
}

#[tokio::test]
async fn truncated_frame_closes_only_that_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        let frame = raw_frame(1, 0, &postcard::to_allocvec(&Req::Big(3)).unwrap());
        s.write_all(&frame[..frame.len() - 1]).await.unwrap();
        s.shutdown().await.unwrap(); // end of stream inside the frame
        s
    })
    .await;
}

#[tokio::test]
async fn frame_shorter_than_its_header_closes_the_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        s.write_all(&[0, 0, 0, 3, 1, 2, 3]).await.unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn unknown_frame_kind_closes_the_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        let payload = postcard::to_allocvec(&Req::Echo(5)).unwrap();
        s.write_all(&raw_frame(1, 7, &payload)).await.unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn response_frame_from_a_client_closes_the_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        let payload = postcard::to_allocvec(&Resp::Echo(5)).unwrap();
        s.write_all(&raw_frame(1, 1, &payload)).await.unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn duplicate_in_flight_request_id_closes_the_connection() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = raw_connect(addr).await;
        let payload = postcard::to_allocvec(&Req::Hang).unwrap();
        s.write_all(&raw_frame(4, 0, &payload)).await.unwrap();
        s.write_all(&raw_frame(4, 0, &payload)).await.unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn http_request_is_rejected_without_an_answer() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn postgres_ssl_request_is_rejected_without_an_answer() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // SSLRequest: length 8, code 80877103; the client then waits for one byte.
        s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            .await
            .unwrap();
        s
    })
    .await;
}

#[tokio::test]
async fn silent_client_is_dropped_after_the_handshake_timeout() {
    let limits = FrameLimits {
        handshake_timeout: Duration::from_millis(100),
        ..FrameLimits::default()
    };
    attack_leaves_others_working(limits, |addr| async move {
        TcpStream::connect(addr).await.unwrap()
    })
    .await;
}

#[tokio::test]
async fn wrong_protocol_version_gets_the_server_hello_then_a_close() {
    attack_leaves_others_working(FrameLimits::default(), |addr| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&hello(PROTOCOL_VERSION + 1)).await.unwrap();
        let mut reply = [0u8; HELLO_LEN];
        s.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply, hello(PROTOCOL_VERSION));
        s
    })
    .await;
}

#[tokio::test]
async fn client_rejects_a_peer_that_is_not_a_ferrisdb_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; HELLO_LEN];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
    });
    let err = Client::connect(addr).await.err().unwrap();
    assert!(matches!(err, TransportError::Handshake(_)), "{err}");
    assert!(!err.is_retryable());
    fake.await.unwrap();
}

#[tokio::test]
async fn client_closes_its_connection_on_an_undecodable_response() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; HELLO_LEN];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&hello(PROTOCOL_VERSION)).await.unwrap();
        // Read the request header to learn its id, then answer with garbage.
        let mut header = [0u8; 13];
        s.read_exact(&mut header).await.unwrap();
        let len = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; len - 9];
        s.read_exact(&mut rest).await.unwrap();
        let id = u64::from_be_bytes(header[4..12].try_into().unwrap());
        s.write_all(&raw_frame(id, 1, &[250, 250])).await.unwrap();
        assert_closed(s).await;
    });
    let client = Client::connect(addr).await.unwrap();
    let err = client.call(Req::Echo(1)).await.unwrap_err();
    assert!(matches!(err, TransportError::Decode(_)), "{err}");
    fake.await.unwrap();
}
