//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it inside
//! AuthenticationSASL: a two-step state machine over the client's two messages.
//!
//! ```text
//!   client-first   gs2-header client-first-bare
//!                  gs2-header = ("n" | "y") "," "," (no channel binding; "p=..." and an
//!                               authzid "a=..." are refused)
//!                  client-first-bare = "n=" user "," "r=" client-nonce ["," ext]*
//!   server-first   "r=" client-nonce server-nonce "," "s=" salt(b64) "," "i=" iterations
//!   client-final   "c=" b64(gs2-header) "," "r=" nonce ["," ext]* "," "p=" proof(b64)
//!   server-final   "v=" ServerSignature(b64)
//!
//!   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
//!   ClientSignature = HMAC(StoredKey, AuthMessage); ClientKey = proof XOR ClientSignature
//!   accepted iff SHA-256(ClientKey) == StoredKey; ServerSignature = HMAC(ServerKey, AuthMessage)
//! ```
//!
//! The user name inside the SCRAM messages is ignored, as in PostgreSQL (libpq sends it
//! empty): the startup packet's user is the one authenticated. Only `SCRAM-SHA-256` is
//! offered; without TLS there is nothing to bind a channel to.
//!
//! The caller supplies the server nonce (printable, no comma) so that the machine does no
//! I/O of its own. For a role that does not exist (or has no SCRAM verifier) the caller
//! runs a *mock* exchange over a made-up verifier ([`ScramServer::mock`]): the client
//! then sees the same messages as for a real role and fails only at the end, as
//! PostgreSQL does, so nothing tells whether the role exists.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{constant_time_eq, hmac, StoredPassword};

/// The only SASL mechanism offered.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A message that does not follow the grammar in the module doc.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The client asked for channel binding (`p=`), which needs TLS.
    #[error("malformed SCRAM message: the client requires channel binding, which is not supported without TLS")]
    ChannelBinding,
    /// An authorization identity (`a=`) in the gs2 header.
    #[error("client uses authorization identity, but it is not supported")]
    Authzid,
    /// The proof does not match: wrong password (or a mock exchange).
    #[error("SCRAM proof does not match")]
    WrongProof,
}

impl ScramError {
    /// PostgreSQL's SQLSTATE for the failure (the wire server reports a wrong proof as
    /// 28P01 `password authentication failed for user ...`).
    pub fn sqlstate(&self) -> &'static str {
        match self {
            ScramError::Malformed(_) | ScramError::ChannelBinding => "08P01",
            ScramError::Authzid => "0A000",
            ScramError::WrongProof => "28P01",
        }
    }
}

/// The verifier fields an exchange needs.
#[derive(Clone)]
struct Secret {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

/// Waiting for client-first.
pub struct ScramServer {
    secret: Secret,
    server_nonce: String,
    /// Doomed from the start: the proof is never accepted.
    mock: bool,
}

/// Waiting for client-final.
pub struct ScramAwaitingFinal {
    secret: Secret,
    mock: bool,
    gs2_header: String,
    nonce: String,
    /// `client-first-bare "," server-first`, the first part of AuthMessage.
    auth_prefix: String,
}

impl ScramServer {
    /// An exchange against `password`; `None` if it is not a SCRAM verifier.
    pub fn new(password: &StoredPassword, server_nonce: &str) -> Option<ScramServer> {
        match password {
            StoredPassword::Scram {
                iterations,
                salt,
                stored_key,
                server_key,
            } => Some(ScramServer {
                secret: Secret {
                    iterations: *iterations,
                    salt: salt.clone(),
                    stored_key: *stored_key,
                    server_key: *server_key,
                },
                server_nonce: server_nonce.to_string(),
                mock: false,
            }),
            StoredPassword::Md5(_) => None,
        }
    }

    /// An exchange that always fails at the end, with a salt derived from `user` and a
    /// server-wide `secret` so that it is stable across attempts, like a real one.
    pub fn mock(user: &str, secret: &[u8], server_nonce: &str) -> ScramServer {
        let salt = hmac(secret, user.as_bytes())[..super::SCRAM_SALT_LEN].to_vec();
        ScramServer {
            secret: Secret {
                iterations: super::SCRAM_ITERATIONS,
                salt,
                stored_key: hmac(secret, b"stored"),
                server_key: hmac(secret, b"server"),
            },
            server_nonce: server_nonce.to_string(),
            mock: true,
        }
    }

    /// Takes client-first; returns server-first and the state awaiting client-final.
    pub fn client_first(self, message: &[u8]) -> Result<(ScramAwaitingFinal, String), ScramError> {
        let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (gs2_header, bare) = split_gs2(text)?;
        let mut attrs = bare.split(',');
        match attrs.next() {
            Some(a) if a.starts_with("n=") => {}
            Some(a) if a.starts_with("m=") => {
                return Err(ScramError::Malformed(
                    "mandatory extensions are not supported",
                ))
            }
            _ => return Err(ScramError::Malformed("expected the user name attribute n=")),
        }
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(ScramError::Malformed("expected the nonce attribute r="))?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(ScramError::Malformed("the client nonce is not printable"));
        }
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&self.secret.salt),
            self.secret.iterations
        );
        Ok((
            ScramAwaitingFinal {
                auth_prefix: format!("{bare},{server_first}"),
                secret: self.secret,
                mock: self.mock,
                gs2_header: gs2_header.to_string(),
                nonce,
            },
            server_first,
        ))
    }
}

/// Splits `cbind-flag "," [authzid] ","` off the message.
fn split_gs2(text: &str) -> Result<(&str, &str), ScramError> {
    let flag = text.as_bytes().first().copied();
    match flag {
        Some(b'n' | b'y') => {}
        Some(b'p') => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("invalid channel binding flag")),
    }
    let rest = &text[1..];
    let rest = rest.strip_prefix(',').ok_or(ScramError::Malformed(
        "expected a comma after the channel binding flag",
    ))?;
    if rest.starts_with("a=") {
        return Err(ScramError::Authzid);
    }
    let bare = rest.strip_prefix(',').ok_or(ScramError::Malformed(
        "unexpected attribute in the gs2 header",
    ))?;
    Ok((&text[..3], bare))
}

impl ScramAwaitingFinal {
    /// Takes client-final; returns server-final if the proof is right.
    pub fn client_final(self, message: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("expected the proof attribute p="))?;
        let mut attrs = without_proof.split(',');
        let binding =
            attrs
                .next()
                .and_then(|a| a.strip_prefix("c="))
                .ok_or(ScramError::Malformed(
                    "expected the channel binding attribute c=",
                ))?;
        if binding != B64.encode(&self.gs2_header) {
            return Err(ScramError::Malformed("unexpected channel binding data"));
        }
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(ScramError::Malformed("expected the nonce attribute r="))?;
        if nonce != self.nonce {
            return Err(ScramError::Malformed("the nonce does not match"));
        }
        let proof: [u8; 32] = B64
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(ScramError::Malformed("invalid proof"))?;
        let auth_message = format!("{},{without_proof}", self.auth_prefix);
        let signature = hmac(&self.secret.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        client_key
            .iter_mut()
            .zip(signature)
            .for_each(|(k, s)| *k ^= s);
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        if self.mock || !constant_time_eq(&stored, &self.secret.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&self.secret.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

/// A server nonce from random bytes: base64, so printable and free of commas.
pub fn nonce_text(random: &[u8]) -> String {
    B64.encode(random)
}
