//! The in-process transport.

use std::sync::Arc;
use std::time::Duration;

use super::{Req, Resp, Toy};
use crate::transport::{handler_fn, InProcTransport, Transport, TransportError};

#[tokio::test]
async fn inproc_roundtrip() {
    let t = InProcTransport::new(Toy::new());
    assert_eq!(t.call(Req::Echo(7)).await.unwrap(), Resp::Echo(7));
}

#[tokio::test]
async fn inproc_panic_is_a_remote_error() {
    let t = InProcTransport::new(Toy::new());
    let err = t.call(Req::Panic).await.unwrap_err();
    assert!(
        matches!(&err, TransportError::Remote(m) if m.contains("asked to panic")),
        "{err}"
    );
    assert_eq!(t.call(Req::Echo(1)).await.unwrap(), Resp::Echo(1));
}

#[tokio::test]
async fn inproc_calls_run_concurrently() {
    let t = InProcTransport::new(Toy::new());
    let first = tokio::spawn({
        let t = t.clone();
        async move { t.call(Req::Wait(3)).await }
    });
    assert_eq!(t.call(Req::Release(3)).await.unwrap(), Resp::Done(3));
    assert_eq!(first.await.unwrap().unwrap(), Resp::Done(3));
}

#[tokio::test]
async fn inproc_timeout_leaves_the_handler_running() {
    let toy = Toy::new();
    let t = InProcTransport::new(toy.clone());
    let err = t
        .call_timeout(Req::Hang, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::Timeout { sent: true });
    // The handler started and was not cancelled by the caller giving up.
    toy.hanging.acquire().await.unwrap().forget();
}

#[tokio::test]
async fn handler_fn_wraps_a_closure() {
    let t: InProcTransport<u32, u32> =
        InProcTransport::new(Arc::new(handler_fn(|x: u32| async move { x * 2 })));
    assert_eq!(t.call(21).await.unwrap(), 42);
}
