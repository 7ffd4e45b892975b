//! The frontend decoder against pgwire's encoders, cut-off input and garbage.

use bytes::{BufMut, Bytes, BytesMut};
use pgwire::messages::extendedquery::{Bind, Describe, Execute, Parse, Sync};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::Startup;
use pgwire::messages::Message;
use proptest::prelude::*;

use super::*;

const MAX: usize = 1 << 20;

fn encoded(m: &impl Message) -> BytesMut {
    let mut b = BytesMut::new();
    m.encode(&mut b).unwrap();
    b
}

#[test]
fn decodes_what_pgwire_encodes() {
    let mut startup = Startup::new();
    startup.parameters.insert("user".into(), "postgres".into());
    let mut buf = encoded(&startup);
    let expected = Frontend::Startup {
        major: 3,
        minor: 0,
        params: vec![("user".into(), "postgres".into())],
    };
    assert_eq!(next_message(&mut buf, true, MAX).unwrap(), Some(expected));

    let mut buf = BytesMut::new();
    buf.extend(encoded(&Query::new("SELECT 1".into())));
    buf.extend(encoded(&Parse::new(
        Some("s".into()),
        "SELECT $1".into(),
        vec![23],
    )));
    buf.extend(encoded(&Bind::new(
        None,
        Some("s".into()),
        vec![1],
        vec![Some(Bytes::from_static(&[0, 0, 0, 7])), None],
        vec![1],
    )));
    buf.extend(encoded(&Describe::new(b'P', None)));
    buf.extend(encoded(&Execute::new(None, 10)));
    buf.extend(encoded(&Sync::new()));
    let mut all = Vec::new();
    while let Some(m) = next_message(&mut buf, false, MAX).unwrap() {
        all.push(m);
    }
    assert_eq!(
        all,
        vec![
            Frontend::Query("SELECT 1".into()),
            Frontend::Parse {
                name: "s".into(),
                sql: "SELECT $1".into(),
                param_oids: vec![23]
            },
            Frontend::Bind {
                portal: "".into(),
                statement: "s".into(),
                param_formats: vec![1],
                params: vec![Some(vec![0, 0, 0, 7]), None],
                result_formats: vec![1]
            },
            Frontend::Describe {
                target: Target::Portal,
                name: "".into()
            },
            Frontend::Execute {
                portal: "".into(),
                max_rows: 10
            },
            Frontend::Sync,
        ]
    );
}

#[test]
fn waits_for_the_whole_frame() {
    let whole = encoded(&Query::new("SELECT 1".into()));
    for cut in 0..whole.len() {
        let mut part = BytesMut::from(&whole[..cut]);
        assert_eq!(next_message(&mut part, false, MAX).unwrap(), None);
        assert_eq!(part.len(), cut, "nothing consumed");
    }
}

#[test]
fn ssl_and_gssenc_requests() {
    for (code, expected) in [
        (80_877_103, Frontend::SslRequest),
        (80_877_104, Frontend::GssEncRequest),
    ] {
        let mut b = BytesMut::new();
        b.put_i32(8);
        b.put_i32(code);
        assert_eq!(next_message(&mut b, true, MAX).unwrap(), Some(expected));
    }
}

#[test]
fn bad_lengths_are_refused_before_buffering() {
    let mut huge = BytesMut::new();
    huge.put_u8(b'Q');
    huge.put_i32(i32::MAX);
    assert!(matches!(
        next_message(&mut huge, false, MAX),
        Err(PgError::MessageLength { .. })
    ));
    let mut negative = BytesMut::new();
    negative.put_u8(b'Q');
    negative.put_i32(-5);
    assert!(next_message(&mut negative, false, MAX).is_err());
    let mut http = BytesMut::from(&b"GET / HTTP/1.1\r\n\r\n"[..]);
    assert!(next_message(&mut http, true, MAX).unwrap_err().is_fatal());
}

#[test]
fn counts_inside_a_message_are_checked_against_its_length() {
    // A Bind claiming one 1000-byte parameter in a few bytes.
    let mut b = BytesMut::new();
    b.put_u8(b'B');
    b.put_i32(4 + 2 + 2 + 2 + 4);
    b.put_slice(b"\0\0");
    b.put_i16(0);
    b.put_i16(1);
    b.put_i32(1000);
    assert!(matches!(
        next_message(&mut b, false, MAX),
        Err(PgError::Malformed { .. })
    ));
    // Trailing bytes after a Sync.
    let mut s = BytesMut::new();
    s.put_u8(b'S');
    s.put_i32(6);
    s.put_slice(b"xx");
    assert!(next_message(&mut s, false, MAX).is_err());
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), startup: bool) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = next_message(&mut buf, startup, 4096) {}
    }

    #[test]
    fn typed_garbage_bodies_never_panic(kind in prop::sample::select(b"QPBDECSHXpdcfF".to_vec()),
                                        body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = BytesMut::new();
        buf.put_u8(kind);
        buf.put_i32(4 + body.len() as i32);
        buf.put_slice(&body);
        let _ = next_message(&mut buf, false, 4096);
    }
}
