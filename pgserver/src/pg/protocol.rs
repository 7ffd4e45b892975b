//! [`Connection`]: the PostgreSQL protocol of one client as a synchronous state machine.
//!
//! The socket shell (`socket`) decodes frames and calls [`Connection::handle_to`] once
//! per message; the connection appends its answers to an output buffer the shell writes
//! out. No clock or runtime in here, and no I/O but the writer the shell lends for a long
//! result (`stream`; tests lend none, or one that records), so tests drive it message by
//! message and a simulator could too. The shell runs it on the connection's thread
//! because the session's SQL blocks.
//!
//! ```text
//!            SSLRequest -> 'S' with TLS configured (then the handshake), else 'N';
//!            GSSENCRequest -> 'N'
//!   Startup ─────────────────────────────────┐
//!      │ StartupMessage: [password request ──> Authenticating ── 'p' messages (auth)]
//!      │ then AuthenticationOk, ParameterStatus*, BackendKeyData, Z
//!      v                                      │ refused (too many clients, bad encoding,
//!    Ready <───────── Sync: Z ──────┐          │ 28000/28P01/3D000): FATAL ErrorResponse
//!      │ Query: results, Z          │          v
//!      │ Parse/Bind/Describe/       │        Closed <── Terminate, fatal error
//!      │ Execute/Close: no Z        │
//!      ├── error in extended ──> SkipToSync (messages ignored until Sync)
//!      └── COPY FROM STDIN ──> CopyIn (CopyData*, then CopyDone/CopyFail; see `copy`)
//!
//!   CancelRequest (startup) -> raise the matching session's cancel flag, close
//! ```
//!
//! Invariants: every simple Query and every Sync is answered by exactly one
//! ReadyForQuery, whose status is the session's ([`SqlSession::txn_state`]), never a
//! guess; after an extended-protocol error nothing but Sync is processed; once Closed,
//! nothing more is written; no session exists before authentication has succeeded.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use bytes::BytesMut;
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey,
};
use pgwire::messages::PgWireBackendMessage as Msg;

use super::auth::{self, AuthConfig, AuthMode, Begin, Pending, Step};
use super::cancel::CancelRegistry;
use super::deallocate::{self, Deallocate};
use super::errors::PgError;
use super::extended::{Portal, Prepared};
use super::frontend::Frontend;
use super::rows;
use super::session::{Outcome, SessionFactory, SqlSession, TxnState};
use super::stream::{Streamed, Writer};

/// The run-time parameters of a startup packet: every pair but the connection's own
/// (`user`, `database`, `replication`, `options`, protocol extensions `_pq_.*`), then the
/// `-c name=value` / `--name=value` switches of `options` (libpq's PGOPTIONS).
fn startup_settings(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "user" | "database" | "replication" | "options")
                && !k.starts_with("_pq_.")
        })
        .cloned()
        .collect();
    let options = params.iter().find(|(k, _)| k == "options").map(|(_, v)| v);
    let mut words = options.map(|o| o.split_whitespace()).into_iter().flatten();
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" => words.next(),
            w => w.strip_prefix("--").or_else(|| w.strip_prefix("-c")),
        };
        if let Some((name, value)) = setting.and_then(|s| s.split_once('=')) {
            out.push((name.replace('-', "_"), value.to_string()));
        }
    }
    out
}

/// Prepared statements and portals by name. Looked up several times per query (the
/// unnamed portal, `""`, most of all), and cleared at every Sync outside a block: a hash
/// map keeps its table across clears, and FNV-1a hashes a short name in a few cycles.
type NameMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// FNV-1a, for [`NameMap`]: names come from the connection's own client, so a hash the
/// client can predict costs it nothing but its own time.
pub(super) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The parameters a SET can change that PostgreSQL reports by ParameterStatus
/// (`GUC_REPORT`); the others it reports are fixed for the session.
const REPORTED: &[&str] = &[
    "application_name",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "client_encoding",
    "standard_conforming_strings",
];

/// The `server_version` we report: psql and drivers choose their catalog queries by it.
pub const SERVER_VERSION: &str = "15.0";

/// The key a client would quote in a CancelRequest.
#[derive(Clone, Copy, Debug)]
pub struct BackendKey {
    pub pid: i32,
    pub secret: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Startup,
    /// A password exchange is under way (`auth`).
    Authenticating,
    Ready,
    SkipToSync,
    /// A COPY FROM STDIN takes CopyData; `extended`: it was started by Execute.
    CopyIn {
        extended: bool,
    },
    Closed,
}

/// What the startup message asked for.
struct Login {
    user: String,
    database: String,
    /// Run-time parameters of the startup packet (and of its `options`' `-c name=value`),
    /// applied to the session once it opens.
    settings: Vec<(String, String)>,
}

/// One client's protocol state; see the module doc.
pub struct Connection<F: SessionFactory> {
    factory: Arc<F>,
    key: BackendKey,
    /// Set when the connection must be refused once the client has said hello.
    refusal: Option<PgError>,
    pub(super) phase: Phase,
    auth: AuthConfig,
    /// Set while Authenticating.
    pending: Option<Box<Pending>>,
    /// The startup's user, database and application name, until the session opens.
    login: Option<Login>,
    /// Where this connection's session is registered for CancelRequests.
    cancels: Option<Arc<CancelRegistry>>,
    pub(super) session: Option<F::Session>,
    pub(super) statements: NameMap<Prepared>,
    pub(super) portals: NameMap<Portal>,
    /// The reported parameters' values as the client last heard them (ParameterStatus).
    reported: Vec<(&'static str, Option<String>)>,
    /// The session's settings fingerprint when `reported` was last brought up to date.
    reported_fingerprint: Option<u64>,
    /// Whether an SSLRequest may be answered `S` (TLS is configured and not yet started).
    tls_available: bool,
    /// Set when `S` was just queued: the socket must start TLS once it is sent.
    tls_requested: bool,
    /// TLS was started: another SSLRequest is a protocol violation.
    encrypted: bool,
    out: BytesMut,
}

impl<F: SessionFactory> Connection<F> {
    pub fn new(factory: Arc<F>, key: BackendKey, refusal: Option<PgError>) -> Connection<F> {
        Connection {
            factory,
            key,
            refusal,
            cancels: None,
            phase: Phase::Startup,
            auth: AuthConfig::default(),
            pending: None,
            login: None,
            session: None,
            statements: NameMap::default(),
            portals: NameMap::default(),
            reported: Vec::new(),
            reported_fingerprint: None,
            tls_available: false,
            tls_requested: false,
            encrypted: false,
            out: BytesMut::new(),
        }
    }

    /// Sets how clients authenticate (the default is trust).
    pub fn with_auth(mut self, auth: AuthConfig) -> Connection<F> {
        self.auth = auth;
        self
    }

    /// Lets an SSLRequest be answered `S` (the socket layer has a TLS configuration).
    pub fn with_tls(mut self, available: bool) -> Connection<F> {
        self.tls_available = available;
        self
    }

    /// Whether the output just taken ends with `S`: the socket must now run the TLS
    /// handshake, with nothing else read in plain text meanwhile.
    pub fn take_tls_request(&mut self) -> bool {
        std::mem::take(&mut self.tls_requested)
    }

    /// Whether the client has yet to log in (the startup timeout applies).
    pub fn awaiting_login(&self) -> bool {
        matches!(self.phase, Phase::Startup | Phase::Authenticating)
    }

    /// Registers the session in `registry` once it opens, and serves CancelRequests
    /// from it.
    pub fn with_cancel_registry(mut self, registry: Arc<CancelRegistry>) -> Connection<F> {
        self.cancels = Some(registry);
        self
    }

    /// Whether the next frame is a startup-phase (untyped) one.
    pub fn in_startup(&self) -> bool {
        self.phase == Phase::Startup
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The bytes to send so far.
    pub fn take_output(&mut self) -> BytesMut {
        self.out.split()
    }

    /// Bytes waiting in the output buffer.
    pub(super) fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Processes one message from the client, keeping every answer in the output buffer.
    #[cfg(test)]
    pub fn handle(&mut self, message: Frontend) {
        self.handle_to(message, None);
    }

    /// Processes one message from the client; a long result is written to `writer` while
    /// its statement runs (see `stream`), the rest stays in the output buffer.
    pub fn handle_to(&mut self, message: Frontend, writer: Writer<'_>) {
        match self.phase {
            Phase::Closed => {}
            Phase::Startup => self.startup(message),
            Phase::Authenticating => self.authenticate(message),
            Phase::SkipToSync => match message {
                Frontend::Sync => {
                    self.phase = Phase::Ready;
                    self.sync();
                }
                Frontend::Terminate => self.phase = Phase::Closed,
                _ => {}
            },
            Phase::CopyIn { extended } => self.copy_message(message, extended),
            Phase::Ready => self.dispatch(message, writer),
        }
    }

    /// Reports an error that ends the connection (a frame that could not be decoded).
    pub fn fail(&mut self, error: PgError) {
        if self.phase != Phase::Closed {
            self.report(&error, &|p| p);
            self.phase = Phase::Closed;
        }
    }

    fn dispatch(&mut self, message: Frontend, writer: Writer<'_>) {
        let result = match message {
            Frontend::Query(sql) => {
                self.simple_query(&sql, writer);
                Ok(())
            }
            Frontend::Parse {
                name,
                sql,
                param_oids,
            } => self.parse(name, &sql, &param_oids),
            Frontend::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => self.bind(portal, &statement, &param_formats, params, result_formats),
            Frontend::Describe { target, name } => self.describe(target, &name),
            Frontend::Execute { portal, max_rows } => self.execute(&portal, max_rows, writer),
            Frontend::Close { target, name } => self.close(target, &name),
            Frontend::Sync => {
                self.sync();
                Ok(())
            }
            // Everything is written out after each batch of messages anyway.
            Frontend::Flush => Ok(()),
            Frontend::Terminate => {
                self.phase = Phase::Closed;
                Ok(())
            }
            Frontend::Unsupported(b'F') => Err(PgError::Unsupported("the function call message")),
            // Copy messages outside a COPY are ignored, as PostgreSQL does (they follow
            // a COPY that failed while the client was still sending).
            Frontend::CopyData(_) | Frontend::CopyDone | Frontend::CopyFail(_) => Ok(()),
            Frontend::Unsupported(kind) => Err(PgError::UnexpectedMessage(kind)),
            Frontend::Password(_) => Err(PgError::UnexpectedMessage(b'p')),
            Frontend::SslRequest
            | Frontend::GssEncRequest
            | Frontend::CancelRequest { .. }
            | Frontend::Startup { .. } => Err(PgError::Malformed {
                message: "startup",
                reason: "startup-phase message after startup",
            }),
        };
        if let Err(e) = result {
            if !matches!(e, PgError::Reported) {
                self.report(&e, &|p| p);
            }
            self.phase = if e.is_fatal() {
                Phase::Closed
            } else {
                Phase::SkipToSync
            };
        }
    }

    fn startup(&mut self, message: Frontend) {
        match message {
            Frontend::SslRequest if self.encrypted => self.fail(PgError::Malformed {
                message: "SSLRequest",
                reason: "SSL negotiation inside an encrypted connection",
            }),
            Frontend::SslRequest if self.tls_available => {
                self.tls_requested = true;
                self.encrypted = true;
                self.out.extend_from_slice(b"S");
            }
            Frontend::SslRequest | Frontend::GssEncRequest => self.out.extend_from_slice(b"N"),
            // The cancel connection gets no answer either way (see `cancel`).
            Frontend::CancelRequest { pid, secret } => {
                if let Some(r) = &self.cancels {
                    r.cancel(pid, &secret);
                }
                self.phase = Phase::Closed;
            }
            Frontend::Startup { minor, params, .. } => self.accept(minor, params),
            _ => self.fail(PgError::Malformed {
                message: "startup",
                reason: "expected a startup message",
            }),
        }
    }

    fn accept(&mut self, minor: u16, params: Vec<(String, String)>) {
        if let Some(refusal) = self.refusal.take() {
            return self.fail(refusal);
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(enc) = param("client_encoding") {
            let norm = enc.to_ascii_lowercase().replace(['-', '_', '\''], "");
            if !matches!(norm.as_str(), "utf8" | "unicode") {
                return self.fail(PgError::ClientEncoding(enc.to_string()));
            }
        }
        let unsupported: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.starts_with("_pq_."))
            .map(|(k, _)| k.clone())
            .collect();
        if minor > 0 || !unsupported.is_empty() {
            self.send(Msg::NegotiateProtocolVersion(
                NegotiateProtocolVersion::new(0, unsupported),
            ));
        }
        let Some(user) = param("user").filter(|u| !u.is_empty()).map(str::to_string) else {
            return self.fail(PgError::InvalidAuthorization(
                "no PostgreSQL user name specified in startup packet".into(),
            ));
        };
        let login = Login {
            database: param("database")
                .filter(|d| !d.is_empty())
                .unwrap_or(&user)
                .to_string(),
            settings: startup_settings(&params),
            user,
        };
        let role = match self.auth.mode {
            AuthMode::Trust => None,
            AuthMode::Password => match self.factory.role(&login.user) {
                Ok(r) => r,
                Err(e) => return self.fail(PgError::Startup(e)),
            },
        };
        let begin = auth::begin(&self.auth, &login.user, role);
        self.login = Some(login);
        match begin {
            Begin::Accept(role) => self.logged_in(role),
            Begin::Challenge(request, pending) => {
                self.send(Msg::Authentication(request));
                self.pending = Some(pending);
                self.phase = Phase::Authenticating;
            }
            Begin::Refuse(e) => self.fail(e),
        }
    }

    /// One client message of a password exchange.
    fn authenticate(&mut self, message: Frontend) {
        let (Frontend::Password(body), Some(pending)) = (&message, self.pending.take()) else {
            if message == Frontend::Terminate {
                self.phase = Phase::Closed;
                return;
            }
            return self.fail(PgError::ExpectedPassword);
        };
        match pending.step(body) {
            Ok(Step::Continue(request, next)) => {
                self.send(Msg::Authentication(request));
                self.pending = Some(next);
            }
            Ok(Step::Done(last, role)) => {
                last.into_iter()
                    .for_each(|m| self.send(Msg::Authentication(m)));
                self.logged_in(Some(role));
            }
            Err(e) => self.fail(e),
        }
    }

    /// Authenticated as the startup's user, whose role is `role` (`None`: trust mode,
    /// not looked up): opens the session and reports ready.
    fn logged_in(&mut self, role: Option<ferrisdb_sql::RoleInfo>) {
        let Some(login) = self.login.take() else {
            return self.fail(PgError::Unsupported("a login without a startup message"));
        };
        if role.as_ref().is_some_and(|r| !r.can_login) {
            return self.fail(PgError::InvalidAuthorization(format!(
                "role \"{}\" is not permitted to log in",
                login.user
            )));
        }
        let mut session = match self.factory.open_as(&login.database, &login.user) {
            Ok(s) => s,
            Err(e) => return self.fail(PgError::Startup(e)),
        };
        for (name, value) in &login.settings {
            match session.set_startup_parameter(name, value) {
                Ok(()) => {}
                // A bad value of a parameter we know fails the connection, as in PostgreSQL.
                Err(e) if e.sqlstate() == "22023" => return self.fail(PgError::Startup(e)),
                // One we do not know or cannot honour (a time zone other than UTC, say)
                // stays at its default; the ParameterStatus below tells the client.
                Err(e) => {
                    tracing::debug!(parameter = %name, error = %e, "startup parameter ignored")
                }
            }
        }
        let shown = |name: &str, default: &str| {
            session
                .setting(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        self.send(Msg::Authentication(Authentication::Ok));
        let superuser = role.is_none_or(|r| r.superuser);
        let statuses = [
            ("server_version", SERVER_VERSION.to_string()),
            ("server_encoding", "UTF8".into()),
            ("client_encoding", shown("client_encoding", "UTF8")),
            ("DateStyle", shown("DateStyle", "ISO, MDY")),
            ("IntervalStyle", shown("IntervalStyle", "postgres")),
            ("TimeZone", shown("TimeZone", "UTC")),
            ("integer_datetimes", "on".into()),
            ("standard_conforming_strings", "on".into()),
            ("is_superuser", if superuser { "on" } else { "off" }.into()),
            ("session_authorization", login.user),
            ("default_transaction_read_only", "off".into()),
            ("in_hot_standby", "off".into()),
            ("application_name", shown("application_name", "")),
        ];
        for (name, value) in statuses {
            self.send(Msg::ParameterStatus(ParameterStatus::new(
                name.into(),
                value,
            )));
        }
        self.send(Msg::BackendKeyData(BackendKeyData::new(
            self.key.pid,
            SecretKey::I32(self.key.secret),
        )));
        if let (Some(r), Some(h)) = (&self.cancels, session.cancel_handle()) {
            r.register(self.key, h);
        }
        self.reported = REPORTED.iter().map(|&n| (n, session.setting(n))).collect();
        self.reported_fingerprint = session.settings_fingerprint();
        self.session = Some(session);
        self.phase = Phase::Ready;
        self.ready_for_query();
    }

    fn simple_query(&mut self, sql: &str, writer: Writer<'_>) {
        // The unnamed statement and portal do not survive a simple Query.
        self.statements.remove("");
        self.portals.remove("");
        if sql
            .trim_matches(|c: char| c.is_whitespace() || c == ';')
            .is_empty()
        {
            self.send(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
        } else if let Some(d) = deallocate::parse(sql).filter(|_| self.deallocates()) {
            self.deallocate(d);
        } else {
            match self.run_streamed(sql, None, writer, None) {
                None if self.session.is_none() => {
                    self.report(&PgError::Unsupported("a query before startup"), &|p| p)
                }
                outcome => {
                    let copying = match outcome {
                        Some(streamed) => self.finish_streamed(streamed),
                        None => self.run_collected(sql),
                    };
                    if self.phase == Phase::Closed {
                        return;
                    }
                    if copying && self.start_copy_in(false) {
                        // ReadyForQuery comes after CopyDone / CopyFail.
                        return;
                    }
                }
            }
        }
        self.ready_for_query();
    }

    /// After a streamed simple Query: EmptyQueryResponse if nothing ran, the notices of a
    /// failing statement (or of a COPY FROM waiting for data), the error. Returns whether
    /// a COPY FROM STDIN waits for data.
    fn finish_streamed(&mut self, streamed: Streamed) -> bool {
        if self.phase == Phase::Closed {
            return false;
        }
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        let notices = session.take_notices();
        let copying = streamed.error.is_none() && session.copy_in_info().is_some();
        if streamed.completed == 0 && streamed.error.is_none() && !copying {
            self.send(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
        }
        for (_, n) in &notices {
            self.send_notice(n);
        }
        if let Some(e) = &streamed.error {
            self.report(e, &|p| p);
        }
        copying
    }

    /// A simple Query on a session that cannot stream: every result collected, then sent.
    /// Returns whether a COPY FROM STDIN waits for data.
    fn run_collected(&mut self, sql: &str) -> bool {
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        // Statements before a failing one have run (and may have committed): their
        // results go out first, then the error.
        let (outcomes, error) = session.execute_all(sql);
        let notices = session.take_notices();
        let copies = session.take_copy_out();
        let copying = error.is_none() && session.copy_in_info().is_some();
        if outcomes.is_empty() && error.is_none() && !copying {
            self.send(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
        }
        self.send_results(outcomes, notices, copies);
        if let Some(e) = error {
            self.report(&PgError::from(e), &|p| p);
        }
        copying
    }

    /// Whether a DEALLOCATE is ours to run: in a failed block it goes to the session,
    /// which refuses it with 25P02 as PostgreSQL does.
    fn deallocates(&self) -> bool {
        self.session.is_some() && self.txn_state() != TxnState::Failed
    }

    /// DEALLOCATE as SQL (see `deallocate`). Unlike PostgreSQL, an unknown name inside a
    /// transaction block does not fail the block.
    fn deallocate(&mut self, d: Deallocate) {
        let tag = match d {
            Deallocate::All => {
                self.statements.clear();
                "DEALLOCATE ALL"
            }
            Deallocate::Name(name) => match self.statements.remove(&name) {
                Some(_) => "DEALLOCATE",
                None => return self.report(&PgError::UnknownStatement(name), &|p| p),
            },
        };
        self.send(Msg::CommandComplete(CommandComplete::new(tag.into())));
    }

    /// Each statement's outcome, preceded by its notices and COPY TO output; notices of
    /// a failing (or COPY FROM) statement last.
    fn send_results(
        &mut self,
        outcomes: Vec<Outcome>,
        notices: Vec<(usize, ferrisdb_sql::Notice)>,
        copies: Vec<(usize, ferrisdb_sql::CopyOutput)>,
    ) {
        let mut notices = notices.into_iter().peekable();
        let mut copies = copies.into_iter().peekable();
        for (i, o) in outcomes.into_iter().enumerate() {
            while let Some((_, n)) = notices.next_if(|(at, _)| *at <= i) {
                self.send_notice(&n);
            }
            while let Some((_, c)) = copies.next_if(|(at, _)| *at <= i) {
                self.send_copy_out(c);
            }
            self.send_outcome(o);
        }
        for (_, n) in notices {
            self.send_notice(&n);
        }
    }

    /// Runs SQL on the session (which exists once startup is done).
    pub(super) fn run(&mut self, sql: &str) -> Result<Vec<Outcome>, PgError> {
        let session = self
            .session
            .as_mut()
            .ok_or(PgError::Unsupported("a query before startup"))?;
        Ok(session.execute(sql)?)
    }

    fn send_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Command { tag } => self.send(Msg::CommandComplete(CommandComplete::new(tag))),
            Outcome::Rows { columns, rows, tag } => {
                self.send(Msg::RowDescription(rows::row_description(&columns, &[])));
                let count = rows.len();
                for row in rows {
                    match rows::data_row(&row, &columns, &[]) {
                        Ok(r) => self.send(Msg::DataRow(r)),
                        Err(e) => return self.report(&e, &|p| p),
                    }
                }
                let tag = tag.unwrap_or_else(|| format!("SELECT {count}"));
                self.send(Msg::CommandComplete(CommandComplete::new(tag)));
            }
        }
    }

    fn sync(&mut self) {
        self.portals.remove("");
        // Portals live until their transaction ends.
        if self.txn_state() == TxnState::Idle {
            self.portals.clear();
        }
        self.ready_for_query();
    }

    fn txn_state(&self) -> TxnState {
        self.session
            .as_ref()
            .map_or(TxnState::Idle, SqlSession::txn_state)
    }

    pub(super) fn ready_for_query(&mut self) {
        self.report_changed_settings();
        let status = match self.txn_state() {
            TxnState::Idle => TransactionStatus::Idle,
            TxnState::InTransaction => TransactionStatus::Transaction,
            TxnState::Failed => TransactionStatus::Error,
        };
        self.send(Msg::ReadyForQuery(ReadyForQuery::new(status)));
    }

    /// A ParameterStatus for each reported parameter whose value changed (SET, RESET,
    /// `set_config`, a rollback undoing a SET), sent before ReadyForQuery as PostgreSQL
    /// 14+ does: drivers read `TimeZone`, `DateStyle` and `application_name` from these.
    fn report_changed_settings(&mut self) {
        let Some(session) = self.session.as_ref() else {
            return;
        };
        let fingerprint = session.settings_fingerprint();
        if fingerprint.is_some() && fingerprint == self.reported_fingerprint {
            return;
        }
        self.reported_fingerprint = fingerprint;
        let mut changed = Vec::new();
        for (name, told) in &mut self.reported {
            if let Some(now) = session.setting(name) {
                if told.as_deref() != Some(now.as_str()) {
                    changed.push((name.to_string(), now.clone()));
                    *told = Some(now);
                }
            }
        }
        for (name, value) in changed {
            self.send(Msg::ParameterStatus(ParameterStatus::new(name, value)));
        }
    }

    /// Sends an ErrorResponse; `position` maps engine positions to the client's text.
    pub(super) fn report(&mut self, error: &PgError, position: &dyn Fn(u32) -> u32) {
        tracing::debug!(%error, code = error.sqlstate(), "error response");
        self.send(Msg::ErrorResponse(error.to_response(position)));
    }

    /// Appends one message to the output. A message pgwire refuses to encode (over
    /// libpq's size limits) is replaced by an error, never left half-written.
    pub(super) fn send(&mut self, message: Msg) {
        let mark = self.out.len();
        if let Err(e) = message.encode(&mut self.out) {
            self.out.truncate(mark);
            let error = PgError::Encode(e.to_string());
            let fallback = Msg::ErrorResponse(error.to_response(|p| p));
            if fallback.encode(&mut self.out).is_err() {
                self.out.truncate(mark);
            }
        }
    }
}

impl<F: SessionFactory> Drop for Connection<F> {
    fn drop(&mut self) {
        if let (Some(r), Some(_)) = (&self.cancels, &self.session) {
            r.unregister(self.key);
        }
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
