use super::scram::{ScramError, ScramServer};
use super::*;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

/// RFC 7677 section 3: user "user", password "pencil".
const SALT_B64: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_verifier() -> StoredPassword {
    scram_verifier("pencil", &B64.decode(SALT_B64).unwrap(), 4096)
}

#[test]
fn rfc7677_exchange_is_reproduced_byte_for_byte() {
    let server = ScramServer::new(&rfc_verifier(), SERVER_NONCE).unwrap();
    let (waiting, first) = server.client_first(CLIENT_FIRST.as_bytes()).unwrap();
    assert_eq!(first, SERVER_FIRST);
    assert_eq!(
        waiting.client_final(CLIENT_FINAL.as_bytes()).unwrap(),
        SERVER_FINAL
    );
}

#[test]
fn a_wrong_proof_or_a_mock_exchange_fails_only_at_the_end() {
    let server = ScramServer::new(&scram_verifier("pen", &[1; 16], 4096), SERVER_NONCE).unwrap();
    let (waiting, _) = server.client_first(CLIENT_FIRST.as_bytes()).unwrap();
    let salt_of = |s: ScramServer| s.client_first(CLIENT_FIRST.as_bytes()).unwrap().1;
    assert_eq!(
        waiting.client_final(CLIENT_FINAL.as_bytes()),
        Err(ScramError::WrongProof)
    );
    // The mock's salt is stable per user, so retries cannot tell it from a real role.
    let a = salt_of(ScramServer::mock("ghost", b"k", "n1"));
    let b = salt_of(ScramServer::mock("ghost", b"k", "n1"));
    assert_eq!(a, b);
    let (waiting, _) = ScramServer::mock("user", b"k", SERVER_NONCE)
        .client_first(CLIENT_FIRST.as_bytes())
        .unwrap();
    assert_eq!(
        waiting.client_final(CLIENT_FINAL.as_bytes()),
        Err(ScramError::WrongProof)
    );
}

#[test]
fn malformed_messages_channel_binding_and_authzid_are_refused() {
    let first = |m: &str| {
        ScramServer::new(&rfc_verifier(), SERVER_NONCE)
            .unwrap()
            .client_first(m.as_bytes())
            .err()
    };
    assert_eq!(
        first("p=tls-server-end-point,,n=,r=abc"),
        Some(ScramError::ChannelBinding)
    );
    assert_eq!(first("n,a=bob,n=,r=abc"), Some(ScramError::Authzid));
    for bad in [
        "",
        "n",
        "n,",
        "x,,n=,r=a",
        "n,,r=abc",
        "n,,n=,r=",
        "n,,n=",
        "n,,m=x,n=,r=a",
    ] {
        assert!(
            matches!(first(bad), Some(ScramError::Malformed(_))),
            "{bad:?}"
        );
    }
    assert!(first("n,,n=,r=abc").is_none());
    let finals = [
        "c=biws,r=wrong,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "\u{ff}",
    ];
    for bad in finals {
        let (waiting, _) = ScramServer::new(&rfc_verifier(), SERVER_NONCE)
            .unwrap()
            .client_first(CLIENT_FIRST.as_bytes())
            .unwrap();
        assert!(
            matches!(
                waiting.client_final(bad.as_bytes()),
                Err(ScramError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}

/// tokio-postgres's client (postgres-protocol) against our server, through our verifier
/// and through one it made.
#[test]
fn postgres_protocol_client_authenticates_and_checks_the_server_signature() {
    for (password, stored) in [
        (
            "s3cret pässword",
            StoredPassword::from_input("s3cret pässword", "u", PasswordEncryption::ScramSha256),
        ),
        (
            "x",
            StoredPassword::parse(&postgres_protocol::password::scram_sha_256(b"x")).unwrap(),
        ),
    ] {
        let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let server = ScramServer::new(&stored, "srvnonce").unwrap();
        let (waiting, first) = server.client_first(client.message()).unwrap();
        client.update(first.as_bytes()).unwrap();
        let last = waiting.client_final(client.message()).unwrap();
        client.finish(last.as_bytes()).unwrap();
    }
    let stored = StoredPassword::from_input("right", "u", PasswordEncryption::ScramSha256);
    let mut client = ScramSha256::new(b"wrong", ChannelBinding::unsupported());
    let (waiting, first) = ScramServer::new(&stored, "n")
        .unwrap()
        .client_first(client.message())
        .unwrap();
    client.update(first.as_bytes()).unwrap();
    assert_eq!(
        waiting.client_final(client.message()),
        Err(ScramError::WrongProof)
    );
}

#[test]
fn verifiers_round_trip_and_inputs_in_stored_form_are_kept() {
    let v = rfc_verifier();
    let text = v.to_text();
    assert!(
        text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"),
        "{text}"
    );
    assert_eq!(StoredPassword::parse(&text), Some(v.clone()));
    assert_eq!(
        StoredPassword::from_input(&text, "x", PasswordEncryption::Md5),
        v
    );
    for bad in [
        "SCRAM-SHA-256$0:AAAA$AAAA:AAAA",
        "SCRAM-SHA-256$4096:AAAA$AAAA:AAAA",
        "SCRAM-SHA-256$4096:W22Z",
        "md5ABCDEF0123456789abcdef0123456789",
        "md5abc",
    ] {
        assert_eq!(StoredPassword::parse(bad), None, "{bad}");
    }
    // Two hashes of one password differ by their random salts.
    let a = StoredPassword::from_input("pw", "u", PasswordEncryption::ScramSha256);
    let b = StoredPassword::from_input("pw", "u", PasswordEncryption::ScramSha256);
    assert_ne!(a, b);
    assert!(!format!("{a:?}").contains(&a.to_text()[20..]));
}

#[test]
fn md5_verifier_and_response_match_postgres_protocol() {
    let stored = md5_verifier("pw", "bob");
    assert_eq!(stored, postgres_protocol::password::md5(b"pw", "bob"));
    assert_eq!(
        StoredPassword::parse(&stored),
        Some(StoredPassword::Md5(stored.clone()))
    );
    assert_eq!(
        StoredPassword::from_input("pw", "bob", PasswordEncryption::Md5),
        StoredPassword::Md5(stored.clone())
    );
    // What libpq computes: md5(md5(password || user) || salt), hex, "md5" prefix.
    let salt = [1, 2, 3, 4];
    let mut h = Md5::new();
    h.update(&stored.as_bytes()[3..]);
    h.update(salt);
    assert_eq!(
        md5_response(&stored, salt),
        format!("md5{}", hex(&h.finalize()))
    );
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}
