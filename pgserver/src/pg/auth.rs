//! Client authentication: which clients need a password, and the password exchanges
//! (SCRAM-SHA-256 and MD5) as steps of the connection's state machine.
//!
//! # Policy (PostgreSQL's pg_hba.conf, fixed)
//!
//! ```text
//!   --auth trust      every client is accepted as the user it names, as before roles
//!                     existed (nothing is looked up)
//!   --auth password   (the default)
//!     role with a SCRAM verifier   AuthenticationSASL, SCRAM-SHA-256 only
//!     role with an MD5 verifier    AuthenticationMD5Password
//!     role without a password      loopback client: trusted;
//!                                  other clients: a mock SCRAM exchange -> 28P01
//!     no such role                 loopback client: FATAL 28000 role "x" does not exist;
//!                                  other clients: a mock SCRAM exchange -> 28P01
//! ```
//!
//! So `psql -h 127.0.0.1 -U postgres` works with no password on a fresh cluster (the
//! bootstrap superuser has none), and a remote client learns nothing about which roles
//! exist: every failure there is the same 28P01 after the same exchange, as in
//! PostgreSQL with a `scram-sha-256` rule. A wrong password is always 28P01
//! `password authentication failed for user "x"` and nothing else. A NOLOGIN role is
//! refused after authenticating (28000 `role "x" is not permitted to log in`), as in
//! PostgreSQL.
//!
//! Randomness comes from the caller ([`AuthConfig`]: the connection's nonce bytes and
//! the server's secret for mock salts), so the exchange is deterministic under test.

use ferrisdb_sql::auth::scram::{self, ScramAwaitingFinal, ScramServer};
use ferrisdb_sql::auth::{constant_time_eq, md5_response};
use ferrisdb_sql::{RoleInfo, StoredPassword};
use pgwire::messages::startup::Authentication;

use super::errors::PgError;
use super::frontend;

/// The `--auth` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// Accept everyone.
    Trust,
    /// The policy in the module doc.
    #[default]
    Password,
}

/// What one connection's authentication needs from outside.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Whether the client connects from a loopback address.
    pub loopback: bool,
    /// Fresh random bytes for this connection's nonce (SCRAM) or salt (MD5).
    pub nonce: [u8; 18],
    /// A server-wide random secret: mock SCRAM salts derive from it.
    pub mock_secret: [u8; 32],
}

impl Default for AuthConfig {
    /// Trust: what a connection does when the server did not configure it.
    fn default() -> AuthConfig {
        AuthConfig {
            mode: AuthMode::Trust,
            loopback: true,
            nonce: [0; 18],
            mock_secret: [0; 32],
        }
    }
}

/// What to do right after the startup message.
pub enum Begin {
    /// No password needed. `None`: trust mode, nothing looked up.
    Accept(Option<RoleInfo>),
    /// Send this request and wait for the client's answer.
    Challenge(Authentication, Box<Pending>),
    Refuse(PgError),
}

/// An exchange waiting for the client.
pub struct Pending {
    user: String,
    /// `None` for a mock exchange (it never succeeds).
    role: Option<RoleInfo>,
    state: State,
}

enum State {
    ScramFirst(ScramServer),
    ScramFinal(ScramAwaitingFinal),
    Md5 { expected: String },
}

/// The outcome of one client message.
pub enum Step {
    /// Send this and wait again.
    Continue(Authentication, Box<Pending>),
    /// Authenticated: send the messages (if any) and carry on with the login.
    Done(Vec<Authentication>, RoleInfo),
}

/// Decides how `user`, whose role is `role` (looked up only in password mode), logs in.
pub fn begin(config: &AuthConfig, user: &str, role: Option<RoleInfo>) -> Begin {
    if config.mode == AuthMode::Trust {
        return Begin::Accept(role);
    }
    let nonce = scram::nonce_text(&config.nonce);
    let password = role.as_ref().and_then(|r| r.password.clone());
    let state = match (&password, &role, config.loopback) {
        (Some(StoredPassword::Md5(stored)), _, _) => {
            let salt = [
                config.nonce[0],
                config.nonce[1],
                config.nonce[2],
                config.nonce[3],
            ];
            let pending = Pending {
                user: user.to_string(),
                role,
                state: State::Md5 {
                    expected: md5_response(stored, salt),
                },
            };
            return Begin::Challenge(
                Authentication::MD5Password(salt.to_vec()),
                Box::new(pending),
            );
        }
        (Some(p), _, _) => match ScramServer::new(p, &nonce) {
            Some(s) => s,
            None => ScramServer::mock(user, &config.mock_secret, &nonce),
        },
        (None, Some(r), true) => return Begin::Accept(Some(r.clone())),
        (None, None, true) => {
            return Begin::Refuse(PgError::InvalidAuthorization(format!(
                "role \"{user}\" does not exist"
            )))
        }
        (None, _, false) => ScramServer::mock(user, &config.mock_secret, &nonce),
    };
    let role = role.filter(|_| password.is_some());
    Begin::Challenge(
        Authentication::SASL(vec![scram::MECHANISM.to_string()]),
        Box::new(Pending {
            user: user.to_string(),
            role,
            state: State::ScramFirst(state),
        }),
    )
}

impl Pending {
    /// Takes the body of the client's next password-family message.
    pub fn step(self, body: &[u8]) -> Result<Step, PgError> {
        let failed = || PgError::PasswordFailed {
            user: self.user.clone(),
        };
        match self.state {
            State::Md5 { ref expected } => {
                let given = frontend::password_message(body)?;
                match &self.role {
                    Some(r) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
                        Ok(Step::Done(Vec::new(), r.clone()))
                    }
                    _ => Err(failed()),
                }
            }
            State::ScramFirst(server) => {
                let (mechanism, data) = frontend::sasl_initial_response(body)?;
                if mechanism != scram::MECHANISM {
                    return Err(PgError::Malformed {
                        message: "SASLInitialResponse",
                        reason: "client selected an invalid SASL authentication mechanism",
                    });
                }
                let data = data.ok_or(PgError::Malformed {
                    message: "SASLInitialResponse",
                    reason: "no initial client message",
                })?;
                let (next, server_first) = server.client_first(&data)?;
                Ok(Step::Continue(
                    Authentication::SASLContinue(server_first.into_bytes().into()),
                    Box::new(Pending {
                        state: State::ScramFinal(next),
                        ..self
                    }),
                ))
            }
            State::ScramFinal(server) => {
                let body = frontend::sasl_response(body);
                let server_final = match server.client_final(&body) {
                    Err(scram::ScramError::WrongProof) => return Err(failed()),
                    r => r?,
                };
                let role = self.role.clone().ok_or_else(failed)?;
                let last = Authentication::SASLFinal(server_final.into_bytes().into());
                Ok(Step::Done(vec![last], role))
            }
        }
    }
}

/// Whether `ip` is a loopback address (IPv4-mapped IPv6 included).
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
