//! End-to-end behaviour of the TCP server and client.

use std::time::Duration;

use tokio::net::TcpListener;

use super::{start, Req, Resp, Rng, Toy};
use crate::transport::{serve, ClientConfig, FrameLimits, TcpTransport, Transport, TransportError};

type Client = TcpTransport<Req, Resp>;

#[tokio::test]
async fn tcp_roundtrip() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    assert_eq!(client.call(Req::Echo(42)).await.unwrap(), Resp::Echo(42));
    assert_eq!(
        client.call(Req::Big(100_000)).await.unwrap(),
        Resp::Bytes(vec![7; 100_000])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_on_one_connection_are_matched() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let mut rng = Rng::from_time();
    let mut tasks = Vec::new();
    for id in 0..300u64 {
        let client = client.clone();
        let micros = rng.next() % 20_000;
        tasks.push(tokio::spawn(async move {
            let resp = client.call(Req::Sleep { id, micros }).await;
            (id, resp)
        }));
    }
    for t in tasks {
        let (id, resp) = t.await.unwrap();
        assert_eq!(resp.unwrap(), Resp::Done(id));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_later_response_can_overtake_an_earlier_one() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    // The first call cannot finish before the second one has run on the server, so the
    // second's response must come back first, on the same connection.
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.call(Req::Wait(9)).await }
    });
    assert_eq!(client.call(Req::Release(9)).await.unwrap(), Resp::Done(9));
    assert_eq!(first.await.unwrap().unwrap(), Resp::Done(9));
    server.shutdown().await;
}

/// In a handler task or answering at once on the connection task (`handle_now`), alike.
#[tokio::test]
async fn handler_panic_is_a_remote_error_and_the_connection_survives() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    for (req, text) in [
        (Req::Panic, "handler panicked: toy handler asked to panic"),
        (
            Req::PanicNow,
            "handler panicked: toy handler asked to panic now",
        ),
    ] {
        let err = client.call(req).await.unwrap_err();
        assert!(
            matches!(&err, TransportError::Remote(m) if m.contains(text)),
            "{err}"
        );
        assert!(!err.is_retryable());
        assert!(err.is_unknown_result());
        assert_eq!(client.call(Req::Echo(1)).await.unwrap(), Resp::Echo(1));
        assert_eq!(client.call(Req::Quick(2)).await.unwrap(), Resp::Echo(2));
    }
    server.shutdown().await;
}

/// A request the handler answers at once is answered on the connection task, while a slow
/// one on the same connection is still waiting.
#[tokio::test]
async fn a_quick_answer_does_not_wait_for_a_slow_call_on_the_same_connection() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.call(Req::Wait(4)).await }
    });
    for x in 0..100 {
        assert_eq!(client.call(Req::Quick(x)).await.unwrap(), Resp::Echo(x));
    }
    assert!(!slow.is_finished());
    assert_eq!(client.call(Req::Release(4)).await.unwrap(), Resp::Done(4));
    assert_eq!(slow.await.unwrap().unwrap(), Resp::Done(4));
    server.shutdown().await;
}

/// A client with several connections spreads its calls over them; every answer still
/// reaches its own caller, quick and slow alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_several_connections_are_matched() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let config = ClientConfig {
        connections: 3,
        ..ClientConfig::default()
    };
    let client = Client::connect_with(server.local_addr(), config)
        .await
        .unwrap();
    let mut rng = Rng::from_time();
    let mut tasks = Vec::new();
    for id in 0..600u64 {
        let client = client.clone();
        let req = match id % 3 {
            0 => Req::Quick(id),
            1 => Req::Echo(id),
            _ => Req::Sleep {
                id,
                micros: rng.next() % 5_000,
            },
        };
        tasks.push(tokio::spawn(async move { (id, client.call(req).await) }));
    }
    for t in tasks {
        let (id, resp) = t.await.unwrap();
        let want = if id % 3 == 2 {
            Resp::Done(id)
        } else {
            Resp::Echo(id)
        };
        assert_eq!(resp.unwrap(), want);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_call_times_out_and_the_connection_keeps_working() {
    let toy = Toy::new();
    let server = start(toy.clone(), FrameLimits::default()).await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let err = client
        .call_timeout(Req::Hang, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::Timeout { sent: true });
    assert!(err.is_retryable() && err.is_unknown_result());
    assert_eq!(client.call(Req::Echo(5)).await.unwrap(), Resp::Echo(5));
    server.shutdown().await;
}

#[tokio::test]
async fn configured_call_timeout_applies_to_call() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let config = ClientConfig {
        call_timeout: Duration::from_millis(100),
        ..ClientConfig::default()
    };
    let client = Client::connect_with(server.local_addr(), config)
        .await
        .unwrap();
    let err = client.call(Req::Hang).await.unwrap_err();
    assert_eq!(err, TransportError::Timeout { sent: true });
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shutdown_fails_pending_calls_with_a_retryable_error() {
    let toy = Toy::new();
    let server = start(toy.clone(), FrameLimits::default()).await;
    let addr = server.local_addr();
    let client = Client::connect(addr).await.unwrap();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.call(Req::Hang).await }
    });
    toy.hanging.acquire().await.unwrap().forget(); // the handler is running
    server.shutdown().await;
    let err = pending.await.unwrap().unwrap_err();
    assert!(matches!(err, TransportError::MaybeDelivered(_)), "{err}");
    assert!(err.is_retryable() && err.is_unknown_result());
    // Nobody listens any more: the next call fails to connect, also retryably, and certainly
    // undelivered.
    let err = client.call(Req::Echo(1)).await.unwrap_err();
    assert!(err.is_retryable() && !err.is_unknown_result(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reconnects_after_the_server_restarts_on_the_same_port() {
    reconnects_after_restart(1).await;
}

/// Every one of a client's connections dies with the server; each is replaced on its next use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_several_connections_reconnects_each_after_a_restart() {
    reconnects_after_restart(3).await;
}

async fn reconnects_after_restart(connections: usize) {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let addr = server.local_addr();
    let config = ClientConfig {
        connections,
        ..ClientConfig::default()
    };
    let client = Client::connect_with(addr, config).await.unwrap();
    for x in 0..connections as u64 {
        assert_eq!(client.call(Req::Echo(x)).await.unwrap(), Resp::Echo(x));
    }
    server.shutdown().await;

    let listener = TcpListener::bind(addr).await.unwrap();
    let server = serve(listener, Toy::new(), FrameLimits::default())
        .await
        .unwrap();
    // A call may still meet an old, dead connection; every failure must be retryable, and
    // a bounded number of retries must get each call through.
    for x in 0..3 * connections as u64 {
        let mut answer = None;
        for _ in 0..5 {
            match client.call(Req::Echo(x)).await {
                Ok(resp) => {
                    answer = Some(resp);
                    break;
                }
                Err(e) => assert!(e.is_retryable(), "{e}"),
            }
        }
        assert_eq!(answer, Some(Resp::Echo(x)));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn lazy_client_connects_on_first_call() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let client = Client::lazy(server.local_addr(), ClientConfig::default());
    assert_eq!(client.call(Req::Echo(3)).await.unwrap(), Resp::Echo(3));
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_request_is_refused_locally_without_harming_the_connection() {
    let server = start(Toy::new(), FrameLimits::default()).await;
    let config = ClientConfig {
        max_frame_len: 64,
        ..ClientConfig::default()
    };
    let client: TcpTransport<Vec<u8>, Vec<u8>> =
        TcpTransport::connect_with(server.local_addr(), config)
            .await
            .unwrap();
    let err = client.call(vec![0u8; 100]).await.unwrap_err();
    assert!(
        matches!(err, TransportError::FrameTooLarge { max: 64, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    server.shutdown().await;
}

#[tokio::test]
async fn response_over_the_limit_becomes_a_remote_error() {
    let limits = FrameLimits {
        max_frame_len: 1024,
        ..FrameLimits::default()
    };
    let server = start(Toy::new(), limits).await;
    let config = ClientConfig {
        max_frame_len: 1024,
        ..ClientConfig::default()
    };
    let client = Client::connect_with(server.local_addr(), config)
        .await
        .unwrap();
    let err = client.call(Req::Big(5000)).await.unwrap_err();
    assert!(
        matches!(&err, TransportError::Remote(m) if m.contains("exceeds")),
        "{err}"
    );
    assert_eq!(
        client.call(Req::Big(10)).await.unwrap(),
        Resp::Bytes(vec![7; 10])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_a_retryable_io_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Client::connect(addr).await.err().unwrap();
    assert!(matches!(err, TransportError::Io { .. }), "{err}");
    assert!(err.is_retryable() && !err.is_unknown_result());
}

#[tokio::test]
async fn a_client_that_ends_its_stream_still_gets_its_answers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::transport::wire::{decode_payload, encode_frame, read_frame, FrameKind};

    let server = start(Toy::new(), FrameLimits::default()).await;
    let mut s = super::raw_connect(server.local_addr()).await;
    let req = Req::Sleep {
        id: 8,
        micros: 20_000,
    };
    let frame = encode_frame(77, FrameKind::Request, &req, 1024).unwrap();
    s.write_all(&frame).await.unwrap();
    s.shutdown().await.unwrap();
    let answer = read_frame(&mut s, 1024).await.unwrap().unwrap();
    assert_eq!((answer.id, answer.kind), (77, FrameKind::Response));
    assert_eq!(
        decode_payload::<Resp>(&answer.payload).unwrap(),
        Resp::Done(8)
    );
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "the server closes after the last answer");
    server.shutdown().await;
}
