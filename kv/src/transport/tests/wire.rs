//! The frame layout and codec, byte by byte, and robustness against arbitrary input.

use proptest::prelude::*;

use super::{raw_frame, Req};
use crate::transport::wire::{
    accept_hello, decode_payload, encode_error_frame, encode_frame, hello, offer_hello, read_frame,
    Frame, FrameKind, PROTOCOL_VERSION,
};
use crate::transport::TransportError;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn read_all(mut bytes: &[u8], max: u32) -> Vec<Result<Option<Frame>, TransportError>> {
    block_on(async {
        let mut out = Vec::new();
        loop {
            let r = read_frame(&mut bytes, max).await;
            let stop = !matches!(r, Ok(Some(_)));
            out.push(r);
            if stop {
                return out;
            }
        }
    })
}

#[test]
fn frame_layout_is_as_documented() {
    let frame = encode_frame(
        0x0102_0304_0506_0708,
        FrameKind::Request,
        &Req::Echo(5),
        1024,
    )
    .unwrap();
    // Echo is variant 0 of Req; 5 is one varint byte.
    assert_eq!(
        frame,
        vec![0, 0, 0, 11, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 5],
        "len, id, kind, payload"
    );
    assert_eq!(frame, raw_frame(0x0102_0304_0506_0708, 0, &[0, 5]));
    assert_eq!(&hello(1), b"FERRISKV\x00\x00\x00\x01");
}

#[test]
fn frames_roundtrip_and_a_clean_end_is_none() {
    let mut bytes = encode_frame(1, FrameKind::Request, &Req::Big(9), 1024).unwrap();
    bytes.extend(encode_error_frame(2, "boom", 1024));
    let got = read_all(&bytes, 1024);
    assert_eq!(got.len(), 3);
    let Ok(Some(first)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!((first.id, first.kind), (1, FrameKind::Request));
    assert_eq!(decode_payload::<Req>(&first.payload).unwrap(), Req::Big(9));
    let Ok(Some(second)) = &got[1] else {
        panic!("{got:?}")
    };
    assert_eq!(
        (second.id, second.kind, &second.payload[..]),
        (2, FrameKind::Error, &b"boom"[..])
    );
    assert!(matches!(got[2], Ok(None)));
}

#[test]
fn malformed_frames_are_errors() {
    let too_big = read_all(&raw_frame(1, 0, &[0; 20]), 28);
    assert_eq!(
        too_big,
        vec![Err(TransportError::FrameTooLarge { len: 29, max: 28 })]
    );
    for bytes in [
        vec![0, 0],                                 // partial prefix
        vec![0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],   // len below the header
        raw_frame(1, 3, &[]),                       // unknown kind
        raw_frame(1, 0, &[1, 2, 3])[..10].to_vec(), // truncated
    ] {
        let got = read_all(&bytes, 1024);
        assert!(
            matches!(got[..], [Err(TransportError::Protocol(_))]),
            "{bytes:?}: {got:?}"
        );
    }
}

#[test]
fn encoding_refuses_frames_over_the_limit() {
    let err = encode_frame(1, FrameKind::Response, &vec![0u8; 100], 50).unwrap_err();
    assert!(matches!(err, TransportError::FrameTooLarge { max: 50, .. }));
    // Error text is cut, at a character boundary, to fit.
    let frame = encode_error_frame(1, "ééééé", 9 + 3);
    assert_eq!(&frame[13..], "é".as_bytes());
}

#[test]
fn handshake_accepts_the_same_version() {
    block_on(async {
        let (mut a, mut b) = tokio::io::duplex(64);
        let (server, client) = tokio::join!(accept_hello(&mut a), offer_hello(&mut b));
        server.unwrap();
        client.unwrap();
    });
}

#[test]
fn handshake_rejects_a_wrong_magic() {
    block_on(async {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\n";
        let mut output = Vec::new();
        let mut stream = tokio::io::join(&mut input, &mut output);
        let err = accept_hello(&mut stream).await.unwrap_err();
        assert!(matches!(err, TransportError::Handshake(_)));
        assert!(output.is_empty(), "nothing is sent to a stranger");
    });
}

#[test]
fn handshake_version_mismatch_is_reported_by_both_sides() {
    block_on(async {
        let mut input: &[u8] = &hello(PROTOCOL_VERSION + 1);
        let mut output = Vec::new();
        let mut stream = tokio::io::join(&mut input, &mut output);
        let err = accept_hello(&mut stream).await.unwrap_err();
        assert!(matches!(err, TransportError::Handshake(_)));
        assert_eq!(output, hello(PROTOCOL_VERSION));

        let mut input: &[u8] = &hello(PROTOCOL_VERSION + 1);
        let mut output = Vec::new();
        let mut stream = tokio::io::join(&mut input, &mut output);
        let err = offer_hello(&mut stream).await.unwrap_err();
        assert!(matches!(err, TransportError::Handshake(_)));
    });
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let got = read_all(&bytes, 128);
        // Every frame but possibly the last read fine; the last is an end or an error.
        for r in &got[..got.len() - 1] {
            prop_assert!(matches!(r, Ok(Some(_))));
        }
        for frame in got.iter().flatten().flatten() {
            let _ = decode_payload::<Req>(&frame.payload);
        }
    }

    #[test]
    fn requests_roundtrip(id in any::<u64>(), x in any::<u64>(), n in any::<u32>()) {
        for req in [Req::Echo(x), Req::Big(n), Req::Sleep { id: x, micros: u64::from(n) }] {
            let bytes = encode_frame(id, FrameKind::Request, &req, 1024).unwrap();
            let got = read_all(&bytes, 1024);
            let Ok(Some(frame)) = &got[0] else { panic!("{got:?}") };
            prop_assert_eq!(frame.id, id);
            prop_assert_eq!(decode_payload::<Req>(&frame.payload).unwrap(), req);
        }
    }
}
