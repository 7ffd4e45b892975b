use super::*;
use ferrisdb_sql::auth::{md5_verifier, PasswordEncryption};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

fn config(loopback: bool) -> AuthConfig {
    AuthConfig {
        mode: AuthMode::Password,
        loopback,
        nonce: [9; 18],
        mock_secret: [3; 32],
    }
}

fn role(password: Option<StoredPassword>, can_login: bool) -> RoleInfo {
    RoleInfo {
        name: "alice".into(),
        can_login,
        superuser: false,
        create_db: false,
        create_role: false,
        password,
    }
}

fn scram_role(password: &str) -> RoleInfo {
    let stored = StoredPassword::from_input(password, "alice", PasswordEncryption::ScramSha256);
    role(Some(stored), true)
}

fn sasl_initial(data: &[u8]) -> Vec<u8> {
    let mut b = b"SCRAM-SHA-256\0".to_vec();
    b.extend_from_slice(&(data.len() as i32).to_be_bytes());
    b.extend_from_slice(data);
    b
}

/// Runs a SCRAM exchange with postgres-protocol's client; the error code if it fails.
fn scram_login(begin: Begin, password: &str) -> Result<RoleInfo, &'static str> {
    let Begin::Challenge(Authentication::SASL(mechs), pending) = begin else {
        panic!("expected a SASL challenge");
    };
    assert_eq!(mechs, vec!["SCRAM-SHA-256".to_string()]);
    let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
    let Ok(Step::Continue(Authentication::SASLContinue(first), pending)) =
        pending.step(&sasl_initial(client.message()))
    else {
        panic!("expected server-first");
    };
    client.update(&first).unwrap();
    match pending.step(client.message()) {
        Ok(Step::Done(last, role)) => {
            let [Authentication::SASLFinal(v)] = last.as_slice() else {
                panic!("expected server-final")
            };
            client.finish(v).unwrap();
            Ok(role)
        }
        Ok(Step::Continue(..)) => panic!("a third step"),
        Err(e) => Err(e.sqlstate()),
    }
}

#[test]
fn scram_roles_need_their_password_even_on_loopback() {
    let r = scram_role("secret");
    assert_eq!(
        scram_login(begin(&config(true), "alice", Some(r.clone())), "secret"),
        Ok(r.clone())
    );
    assert_eq!(
        scram_login(begin(&config(true), "alice", Some(r)), "wrong"),
        Err("28P01")
    );
}

#[test]
fn remote_clients_without_a_password_or_role_get_a_mock_exchange_and_28p01() {
    let no_password = role(None, true);
    assert_eq!(
        scram_login(begin(&config(false), "alice", Some(no_password)), ""),
        Err("28P01")
    );
    assert_eq!(
        scram_login(begin(&config(false), "ghost", None), "x"),
        Err("28P01")
    );
}

#[test]
fn loopback_trusts_password_less_roles_and_names_unknown_ones() {
    assert!(matches!(
        begin(&config(true), "alice", Some(role(None, true))),
        Begin::Accept(Some(_))
    ));
    let Begin::Refuse(e) = begin(&config(true), "ghost", None) else {
        panic!()
    };
    assert_eq!(
        (e.sqlstate(), e.to_string().as_str()),
        ("28000", "role \"ghost\" does not exist")
    );
    let trust = AuthConfig::default();
    assert!(matches!(begin(&trust, "anyone", None), Begin::Accept(None)));
}

#[test]
fn md5_roles_get_an_md5_challenge() {
    let r = role(Some(StoredPassword::Md5(md5_verifier("pw", "alice"))), true);
    let answer = |password: &str| {
        let Begin::Challenge(Authentication::MD5Password(salt), pending) =
            begin(&config(true), "alice", Some(r.clone()))
        else {
            panic!("expected an MD5 challenge")
        };
        let salt: [u8; 4] = salt.try_into().unwrap();
        let mut body =
            postgres_protocol::authentication::md5_hash(b"alice", password.as_bytes(), salt)
                .into_bytes();
        body.push(0);
        pending.step(&body).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(answer("pw"), Ok(()));
    assert_eq!(
        answer("nope"),
        Err("password authentication failed for user \"alice\"".into())
    );
}

#[test]
fn malformed_password_messages_are_fatal_protocol_errors() {
    let pending = || match begin(&config(true), "alice", Some(scram_role("s"))) {
        Begin::Challenge(_, p) => p,
        _ => panic!(),
    };
    for body in [
        &b""[..],
        b"SCRAM-SHA-256\0\x00\x00\x00\x09short",
        b"SCRAM-SHA-1\0\xff\xff\xff\xff",
    ] {
        let e = pending().step(body).err().unwrap();
        assert!(e.is_fatal() && e.sqlstate() == "08P01", "{body:?}: {e}");
    }
    let e = pending()
        .step(&sasl_initial(b"p=tls-server-end-point,,n=,r=x"))
        .err()
        .unwrap();
    assert_eq!(e.sqlstate(), "08P01");
    assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
    assert!(is_loopback("::1".parse().unwrap()));
    assert!(!is_loopback("10.0.0.1".parse().unwrap()));
}

mod connection {
    use std::sync::Arc;

    use bytes::BytesMut;
    use ferrisdb_sql::SqlError;
    use pgwire::messages::{DecodeContext, PgWireBackendMessage as Msg, ProtocolVersion};

    use super::*;
    use crate::pg::frontend::Frontend;
    use crate::pg::protocol::{BackendKey, Connection};
    use crate::pg::session::{Outcome, SessionFactory, SqlSession, TxnState};

    struct Nothing;
    impl SqlSession for Nothing {
        fn execute(&mut self, _sql: &str) -> Result<Vec<Outcome>, SqlError> {
            Ok(Vec::new())
        }
        fn txn_state(&self) -> TxnState {
            TxnState::Idle
        }
    }

    /// Knows one role, alice, with a SCRAM password "secret".
    struct Roles;
    impl SessionFactory for Roles {
        type Session = Nothing;
        fn open(&self) -> Nothing {
            Nothing
        }
        fn role(&self, user: &str) -> Result<Option<RoleInfo>, SqlError> {
            Ok((user == "alice").then(|| scram_role("secret")))
        }
    }

    fn connection() -> Connection<Roles> {
        Connection::new(Arc::new(Roles), BackendKey { pid: 1, secret: 2 }, None)
            .with_auth(config(true))
    }

    fn startup(user: &str) -> Frontend {
        Frontend::Startup {
            major: 3,
            minor: 0,
            params: vec![("user".into(), user.into())],
        }
    }

    fn decode(mut out: BytesMut) -> Vec<Msg> {
        let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
        ctx.awaiting_frontend_ssl = false;
        ctx.awaiting_frontend_startup = false;
        std::iter::from_fn(|| Msg::decode(&mut out, &ctx).unwrap()).collect()
    }

    #[test]
    fn the_exchange_is_more_startup_states_and_ends_ready() {
        let mut conn = connection();
        conn.handle(startup("alice"));
        let out = decode(conn.take_output());
        assert!(matches!(
            out.as_slice(),
            [Msg::Authentication(Authentication::SASL(_))]
        ));
        assert!(conn.awaiting_login() && !conn.in_startup());
        let mut client = ScramSha256::new(b"secret", ChannelBinding::unsupported());
        conn.handle(Frontend::Password(sasl_initial(client.message())));
        let Some(Msg::Authentication(Authentication::SASLContinue(first))) =
            decode(conn.take_output()).pop()
        else {
            panic!("expected server-first");
        };
        client.update(&first).unwrap();
        conn.handle(Frontend::Password(client.message().to_vec()));
        let out = decode(conn.take_output());
        assert!(matches!(
            out[0],
            Msg::Authentication(Authentication::SASLFinal(_))
        ));
        assert!(matches!(out[1], Msg::Authentication(Authentication::Ok)));
        assert!(matches!(out.last(), Some(Msg::ReadyForQuery(_))));
        assert!(!conn.awaiting_login());
    }

    #[test]
    fn anything_but_a_password_message_during_the_exchange_is_fatal() {
        let mut conn = connection();
        conn.handle(startup("alice"));
        conn.take_output();
        conn.handle(Frontend::Query("SELECT 1".into()));
        let out = decode(conn.take_output());
        let [Msg::ErrorResponse(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert!(e.fields.contains(&(b'C', "08P01".into())));
        assert!(e.fields.contains(&(b'S', "FATAL".into())));
        assert!(conn.is_closed());
        let mut conn = connection();
        conn.handle(Frontend::Startup {
            major: 3,
            minor: 0,
            params: vec![],
        });
        let out = decode(conn.take_output());
        let [Msg::ErrorResponse(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert!(e.fields.contains(&(b'C', "28000".into())));
        assert!(conn.is_closed());
    }

    #[test]
    fn password_messages_are_bounds_checked() {
        assert!(crate::pg::frontend::password_message(b"no terminator").is_err());
        assert!(crate::pg::frontend::password_message(b"pw\0trailing").is_err());
        assert_eq!(
            crate::pg::frontend::password_message(b"pw\0").unwrap(),
            "pw"
        );
        assert!(
            crate::pg::frontend::sasl_initial_response(b"SCRAM-SHA-256\0\xff\xff\xff\xfe").is_err()
        );
        assert_eq!(
            crate::pg::frontend::sasl_initial_response(b"M\0\xff\xff\xff\xff").unwrap(),
            ("M".to_string(), None)
        );
    }
}
