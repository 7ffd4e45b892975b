//! [`Engine`] (one per server) and [`Session`] (one per connection): statement dispatch and
//! transaction control.
//!
//! A session is either idle, inside an explicit transaction block, or in a failed block:
//!
//! ```text
//!   Idle --BEGIN--> InTransaction --error--> Failed
//!    ^                 |  COMMIT/ROLLBACK       |  ROLLBACK (or COMMIT, reported as ROLLBACK)
//!    +-----------------+------------------------+
//! ```
//!
//! Outside a block every statement is its own transaction run by `Database::transact`,
//! which retries it on a KV conflict. Inside a block statements share one
//! [`Transaction`] (and so see each other's writes, DDL included); a conflict at COMMIT is
//! 40001 and the block is gone. In a failed block everything but ROLLBACK/COMMIT (and
//! ROLLBACK TO a savepoint, [`crate::savepoint`]) is 25P02.
//!
//! A session works in one database ([`Engine::session_for`], [`crate::database`]) as one
//! user ([`Engine::session_as`], [`crate::roles`]; `postgres` unless said). Long
//! statements run on a thread with a large stack (`on_statement_stack`), so expressions
//! nested as deeply as PostgreSQL accepts cannot overflow the caller's. Besides
//! [`Session::execute`], the wire server uses [`Session::execute_params`] (typed `$n`),
//! [`Session::describe`] (parameter types and columns without running) and
//! [`Session::execute_all`] (results completed before an error).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrisdb_txn::{Database, Transaction, TxnError};
use sqlparser::ast::Statement;

use crate::bind::Column;
use crate::cancel::CancelHandle;
use crate::copy::CopyOutput;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::DEFAULT_MEMORY_LIMIT;
use crate::functions::EvalContext;
use crate::notice::Notice;
use crate::store::kv_err;
use crate::stream::{Collector, ResultSink, RowStream};
use crate::types::DataType;
use crate::{ddl, dml, query};

/// The result of one statement.
#[derive(Clone, Debug, PartialEq)]
pub enum StatementResult {
    Query {
        columns: Vec<Column>,
        rows: Vec<Vec<Datum>>,
        /// The command tag when it is not `SELECT n`: `INSERT 0 2`, `UPDATE 1`,
        /// `DELETE 3` for a statement with RETURNING.
        tag: Option<String>,
    },
    /// PostgreSQL's command tag: "CREATE TABLE", "INSERT 0 3", "UPDATE 2", "BEGIN", ...
    Command { tag: String },
}

impl StatementResult {
    pub fn command(tag: impl Into<String>) -> StatementResult {
        StatementResult::Command { tag: tag.into() }
    }

    /// The complete command tag PostgreSQL sends in CommandComplete.
    pub fn tag(&self) -> String {
        match self {
            StatementResult::Query { tag: Some(t), .. } | StatementResult::Command { tag: t } => {
                t.clone()
            }
            StatementResult::Query { rows, .. } => format!("SELECT {}", rows.len()),
        }
    }
}

/// What [`Session::describe`] learns about a statement without running it.
#[derive(Clone, Debug, PartialEq)]
pub struct Described {
    /// One type per parameter `$1 .. $n`: declared, else inferred from context, else text.
    pub param_types: Vec<DataType>,
    /// The result columns; `None` for a statement that returns no rows.
    pub columns: Option<Vec<Column>>,
}

/// The transaction state reported in ReadyForQuery (I / T / E).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    Idle,
    InTransaction,
    Failed,
}

/// The SQL engine of one database server; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) db: Database,
    memory_limit: usize,
    /// How CREATE/ALTER ROLE ... PASSWORD hashes a plaintext password.
    password_encryption: crate::auth::PasswordEncryption,
    statement_timeout: Option<Duration>,
    /// Sequence values taken but not yet handed out ([`crate::sequence`]).
    pub(crate) sequence_blocks: Arc<crate::sequence::Blocks>,
}

impl Engine {
    pub fn new(db: Database) -> Engine {
        Engine {
            db,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            password_encryption: crate::auth::PasswordEncryption::default(),
            statement_timeout: None,
            sequence_blocks: Arc::default(),
        }
    }

    /// Sets how plaintext passwords are hashed (PostgreSQL's `password_encryption`;
    /// SCRAM-SHA-256 by default).
    pub fn with_password_encryption(mut self, e: crate::auth::PasswordEncryption) -> Engine {
        self.password_encryption = e;
        self
    }

    /// The role called `name` (the wire server's login check), read in a fresh
    /// transaction.
    pub fn role(&self, name: &str) -> Result<Option<crate::roles::RoleInfo>, SqlError> {
        crate::roles::get_role(&mut self.db.begin(), name)
    }

    /// A session in `database` (3D000 if it does not exist) as `user`, whom the caller
    /// has authenticated.
    pub fn session_as(&self, database: &str, user: &str) -> Result<Session, SqlError> {
        let mut session = self.session_for(database)?;
        session.user = user.to_string();
        Ok(session)
    }

    /// Sets the `statement_timeout` new sessions start with (`None`: no limit).
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Engine {
        self.statement_timeout = timeout;
        self
    }

    /// Sets the bytes a statement's sorts and hash tables may hold (53200 beyond).
    pub fn with_memory_limit(mut self, bytes: usize) -> Engine {
        self.memory_limit = bytes;
        self
    }

    /// A session in the `postgres` database.
    pub fn session(&self) -> Session {
        self.new_session(crate::catalog::DEFAULT_DATABASE)
    }

    /// A session in `database` (3D000 if it does not exist).
    pub fn session_for(&self, database: &str) -> Result<Session, SqlError> {
        let mut txn = self.db.begin();
        if !crate::catalog::database_exists(&mut txn, database)? {
            return Err(SqlError::UndefinedDatabase {
                name: database.to_string(),
            });
        }
        Ok(self.new_session(database))
    }

    fn new_session(&self, database: &str) -> Session {
        let mut session = Session {
            database: database.to_string(),
            user: crate::roles::BOOTSTRAP_SUPERUSER.to_string(),
            engine: self.clone(),
            txn: None,
            failed: false,
            savepoints: Vec::new(),
            journal: Vec::new(),
            parsed: ParseCache::default(),
            plans: Default::default(),
            settings: Default::default(),
            fresh: Default::default(),
            cancel: CancelHandle::new(),
            notices: Vec::new(),
            cursors: Default::default(),
            prepared: Vec::new(),
            sequences: Default::default(),
            copy_in: None,
            copy_out: Vec::new(),
            pending_copy_out: None,
        };
        session.set_statement_timeout(self.statement_timeout);
        session
    }
}

/// What a statement needs besides its transaction.
#[derive(Clone, Copy, Debug)]
pub struct StatementEnv {
    pub eval: EvalContext,
    pub memory_limit: usize,
}

/// One client connection's state.
pub struct Session {
    pub(crate) engine: Engine,
    /// The database whose names statements resolve in.
    pub(crate) database: String,
    /// The session user (PostgreSQL's `session_user`).
    user: String,
    pub(crate) txn: Option<Transaction>,
    pub(crate) failed: bool,
    /// Open savepoints of the block, oldest first, with their journal positions.
    pub(crate) savepoints: Vec<(String, usize)>,
    /// Writes made while a savepoint is open ([`crate::undo`]).
    pub(crate) journal: Vec<crate::undo::Undo>,
    /// Statements parsed before, by text: a client repeats the same few statements
    /// (prepared ones especially), and parsing was a tenth of a point query's CPU.
    parsed: ParseCache,
    /// Generic plans of prepared queries ([`crate::plan_cache`]).
    plans: crate::plan_cache::PlanCache,
    /// SET values ([`crate::settings`]); installed for the statement while one runs.
    pub(crate) settings: crate::settings::Settings,
    /// Tables created or truncated in the block, for COPY's side writes ([`crate::fresh`]).
    pub(crate) fresh: crate::fresh::Fresh,
    /// Raised by a CancelRequest ([`crate::cancel`]).
    pub(crate) cancel: CancelHandle,
    /// Notices of the last script, by statement position ([`crate::notice`]).
    notices: Vec<(usize, Notice)>,
    /// The COPY FROM STDIN waiting for data ([`crate::copy`]).
    pub(crate) copy_in: Option<Box<crate::copy::load::CopyIn>>,
    /// COPY TO STDOUT outputs of the last script, by statement position.
    pub(crate) copy_out: Vec<(usize, CopyOutput)>,
    /// The output of the COPY TO statement running now.
    pub(crate) pending_copy_out: Option<CopyOutput>,
    /// Open cursors ([`crate::cursor`]).
    cursors: crate::cursor::Cursors,
    /// Named prepared statements, for `pg_prepared_statements` ([`crate::prepared`]).
    pub(crate) prepared: Vec<crate::prepared::PreparedStatement>,
    /// `currval` / `lastval` state ([`crate::sequence`]); installed while a statement runs.
    pub(crate) sequences: crate::sequence::SessionSequences,
}

/// Parsed scripts by their text, for one session. Bounded: it is emptied when full.
#[derive(Default)]
struct ParseCache {
    scripts: std::collections::HashMap<String, std::sync::Arc<Vec<Statement>>>,
}

impl ParseCache {
    const MAX_SCRIPTS: usize = 256;
    const MAX_TEXT: usize = 4096;

    fn parse(&mut self, sql: &str) -> Result<std::sync::Arc<Vec<Statement>>, SqlError> {
        if let Some(stmts) = self.scripts.get(sql) {
            return Ok(stmts.clone());
        }
        let stmts = std::sync::Arc::new(crate::copy::parse_script(sql)?);
        if sql.len() <= Self::MAX_TEXT {
            if self.scripts.len() >= Self::MAX_SCRIPTS {
                self.scripts.clear();
            }
            self.scripts.insert(sql.to_string(), stmts.clone());
        }
        Ok(stmts)
    }
}

impl Session {
    /// Runs every statement in `sql`, in order; stops at the first error.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<StatementResult>, SqlError> {
        match self.execute_all(sql) {
            (_, Some(e)) => Err(e),
            (out, None) => Ok(out),
        }
    }

    /// Runs every statement in `sql`, in order, until the first error; returns the
    /// results of the statements that completed and that error. A simple-protocol
    /// server sends the completed results before the ErrorResponse, as PostgreSQL does.
    pub fn execute_all(&mut self, sql: &str) -> (Vec<StatementResult>, Option<SqlError>) {
        self.collect(sql, None)
    }

    /// Runs every statement in `sql` (with `$1 .. $n` bound to `params` when given, as
    /// [`Session::execute_params`] does) until the first error, handing each statement's
    /// result to `sink` as it completes and a long query's rows while it runs
    /// ([`crate::stream`]). Returns the error that stopped the script; its notices (and
    /// those of a COPY FROM STDIN left waiting for data) stay for [`Session::take_notices`].
    pub fn execute_to(
        &mut self,
        sql: &str,
        params: Option<&[(Datum, DataType)]>,
        sink: &mut (dyn ResultSink + Send),
    ) -> Option<SqlError> {
        let db = self.database.clone();
        let Some(params) = params else {
            return on_statement_stack(sql, || {
                self.with_settings(|me| {
                    crate::catalog::with_database(&db, || me.run_script(sql, sink))
                })
            });
        };
        let mut plans = std::mem::take(&mut self.plans);
        let err = on_statement_stack(sql, || {
            self.with_settings(|me| {
                crate::catalog::with_database(&db, || {
                    crate::plan_cache::with_cache(&mut plans, &db, sql, || {
                        crate::bind::params::with_values(params, || me.run_script(sql, sink))
                    })
                })
            })
        });
        self.plans = plans;
        err
    }

    /// Runs `sql` collecting every result; notices and COPY outputs wait in the session.
    fn collect(
        &mut self,
        sql: &str,
        params: Option<&[(Datum, DataType)]>,
    ) -> (Vec<StatementResult>, Option<SqlError>) {
        let mut c = Collector::default();
        let err = self.execute_to(sql, params, &mut c);
        let failing = std::mem::take(&mut self.notices);
        self.notices = c.notices;
        self.notices.extend(failing);
        self.copy_out = c.copies;
        (c.results, err)
    }

    /// The database this session is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The user this session runs as (`session_user`, and `current_user` as long as
    /// there is no SET ROLE).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The handle that cancels this session's running statement (57014), from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Sets `statement_timeout` for the session, as `SET statement_timeout` does:
    /// statements running longer fail with 57014.
    pub fn set_statement_timeout(&mut self, timeout: Option<Duration>) {
        let ms = timeout.map_or(0, |d| d.as_millis().max(1));
        if let Err(e) = self.set_parameter("statement_timeout", &ms.to_string()) {
            tracing::warn!(error = %e, "statement_timeout refused");
        }
    }

    /// The notices the last script emitted, with the position of their statement in it
    /// (a notice of a failing statement has the position of the error).
    pub fn take_notices(&mut self) -> Vec<(usize, Notice)> {
        std::mem::take(&mut self.notices)
    }

    fn run_script(&mut self, sql: &str, sink: &mut dyn ResultSink) -> Option<SqlError> {
        self.cancel.reset();
        self.notices.clear();
        self.copy_out.clear();
        if self.copy_in.is_some() {
            return Some(self.abort_copy(crate::copy::busy()));
        }
        let stmts = match self.parsed.parse(sql) {
            Ok(s) => s,
            Err(e) => {
                self.fail();
                return Some(e);
            }
        };
        let streams = sink.streams();
        for (i, s) in stmts.iter().enumerate() {
            crate::plan_cache::set_statement(i);
            // The settings are installed for the script (Session::with_settings), so
            // read them there: a SET earlier in the script counts.
            let timeout = crate::settings::with_current(|s| s.statement_timeout());
            let deadline = timeout.map(|d| Instant::now() + d);
            let cancel = self.cancel.clone();
            let mut out = streams.then(|| RowStream::new(&mut *sink));
            let (r, notices) = crate::notice::collect(|| {
                crate::cancel::scope(&cancel, deadline, || self.run_with(s, out.as_mut()))
            });
            drop(out);
            let copy_out = self.pending_copy_out.take();
            match r {
                Ok(_) if self.copy_in.is_some() => {
                    self.notices.extend(notices.into_iter().map(|n| (i, n)));
                    if i + 1 < stmts.len() {
                        return Some(self.abort_copy(crate::copy::not_last()));
                    }
                    return None;
                }
                Ok(r) => {
                    if let Err(e) = sink.completed(i, r, notices, copy_out) {
                        self.fail();
                        return Some(e);
                    }
                }
                Err(e) => {
                    self.notices.extend(notices.into_iter().map(|n| (i, n)));
                    return Some(self.name_conflict(e));
                }
            }
        }
        None
    }

    /// How many generic plans of prepared queries this session keeps
    /// ([`crate::plan_cache`]).
    pub fn generic_plans(&self) -> usize {
        self.plans.generic_plans()
    }

    /// Runs `sql` with `$1 .. $n` bound to `params` as typed values (a value of type
    /// `unknown` is an untyped literal its context types, like `'42'`).
    pub fn execute_params(
        &mut self,
        sql: &str,
        params: &[(Datum, DataType)],
    ) -> Result<Vec<StatementResult>, SqlError> {
        let (out, err) = self.collect(sql, Some(params));
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The parameter types and result columns of the single statement `sql`, found by
    /// binding it without running it (extended protocol Parse/Describe).
    /// `param_types[i]` is the client's declared type of `$i+1`, if any.
    pub fn describe(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Described, SqlError> {
        let db = self.database.clone();
        let r = on_statement_stack(sql, || {
            self.with_settings(|me| {
                crate::catalog::with_database(&db, || me.describe_inner(sql, param_types))
            })
        });
        if r.is_err() {
            self.fail();
        }
        r
    }

    fn describe_inner(
        &mut self,
        sql: &str,
        declared: &[Option<DataType>],
    ) -> Result<Described, SqlError> {
        let stmts = self.parsed.parse(sql)?;
        if stmts.len() > 1 {
            return Err(SqlError::Syntax {
                message: "cannot insert multiple commands into a prepared statement".into(),
                position: None,
            });
        }
        let Some(stmt) = stmts.first() else {
            let (_, param_types) = crate::bind::params::describing(declared, || ());
            return Ok(Described {
                param_types,
                columns: None,
            });
        };
        let control = matches!(
            stmt,
            Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
        );
        if self.failed && !control {
            return Err(SqlError::InFailedTransaction);
        }
        if let Statement::Fetch { name, .. } = stmt {
            if crate::parse::is_move(stmt) {
                return Ok(Described {
                    param_types: Vec::new(),
                    columns: None,
                });
            }
            let (columns, param_types) =
                crate::bind::params::describing(declared, || self.cursors.columns(name));
            return Ok(Described {
                param_types,
                columns: Some(columns?),
            });
        }
        let db = self.engine.db.clone();
        // Every parameter typed, and a generic plan cached for these types (the statement
        // ran before): its columns, without binding (libpq describes every portal).
        if let Some(types) = declared.iter().copied().collect::<Option<Vec<DataType>>>() {
            let columns = match self.txn.as_mut() {
                Some(t) => self.plans.columns(&self.database, sql, &types, t),
                None => self
                    .plans
                    .columns(&self.database, sql, &types, &mut db.begin()),
            };
            if let Some(columns) = columns {
                return Ok(Described {
                    param_types: types,
                    columns: Some(columns),
                });
            }
        }
        let txn = &mut self.txn;
        let (columns, param_types) = crate::bind::params::describing(declared, || match txn {
            Some(t) => describe_statement(t, stmt),
            None => describe_statement(&mut db.begin(), stmt),
        });
        Ok(Described {
            param_types,
            columns: columns?,
        })
    }

    /// The wire server prepared statement `name` (a Parse with a name).
    pub fn note_prepared(
        &mut self,
        name: &str,
        statement: &str,
        parameter_types: Vec<Option<DataType>>,
    ) {
        self.note_closed(name);
        let prepare_time = self.env().eval.statement_timestamp;
        self.prepared.push(crate::prepared::PreparedStatement {
            name: name.to_string(),
            statement: statement.to_string(),
            prepare_time,
            parameter_types,
        });
    }

    /// The wire server closed prepared statement `name`.
    pub fn note_closed(&mut self, name: &str) {
        self.prepared.retain(|p| p.name != name);
    }

    pub fn transaction_status(&self) -> TxnStatus {
        match (&self.txn, self.failed) {
            (Some(_), true) => TxnStatus::Failed,
            (Some(_), false) => TxnStatus::InTransaction,
            (None, _) => TxnStatus::Idle,
        }
    }

    fn fail(&mut self) {
        if self.txn.is_some() {
            self.failed = true;
        }
    }

    pub(crate) fn env(&self) -> StatementEnv {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        StatementEnv {
            eval: EvalContext {
                statement_timestamp: micros - 946_684_800_000_000,
            },
            memory_limit: self.engine.memory_limit,
        }
    }

    /// Runs one statement; a query's rows (and a COPY TO's lines) go to `out` when given.
    pub(crate) fn run_with(
        &mut self,
        stmt: &Statement,
        out: Option<&mut RowStream>,
    ) -> Result<StatementResult, SqlError> {
        if let Some(r) = self.savepoint_statement(stmt) {
            return r;
        }
        if let Some(cmd) = crate::database::DatabaseCommand::of(stmt) {
            return self.database_command(cmd);
        }
        match stmt {
            Statement::StartTransaction { .. } => {
                if self.txn.is_none() {
                    let mut txn = self.engine.db.begin();
                    // A block may sit idle past the MVCC window: keep its reads so it can
                    // still move its read version forward.
                    txn.keep_reads();
                    self.txn = Some(txn);
                    self.fresh_committed();
                    self.failed = false;
                    self.end_savepoints();
                    self.settings_begin(stmt);
                }
                let tag = if stmt.to_string().to_uppercase().starts_with("START") {
                    "START TRANSACTION"
                } else {
                    "BEGIN"
                };
                return Ok(StatementResult::command(tag));
            }
            Statement::Commit { .. } => return self.commit(),
            Statement::Rollback { .. } => {
                if self.txn.is_some() {
                    self.settings_end(false);
                    self.fresh_discarded();
                    self.cursors.end_block(false);
                }
                self.txn = None;
                self.failed = false;
                self.end_savepoints();
                return Ok(StatementResult::command("ROLLBACK"));
            }
            _ => {}
        }
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        if let Some(cmd) = crate::roles::RoleCommand::of(stmt) {
            return self.role_command(cmd);
        }
        match stmt {
            Statement::Declare { stmts, .. } => return self.declare_cursor(stmts),
            Statement::Fetch {
                name, direction, ..
            } => {
                return self
                    .cursors
                    .fetch(name, direction, crate::parse::is_move(stmt))
                    .inspect_err(|_| self.fail())
            }
            Statement::Close { cursor } => {
                return self.cursors.close(cursor).inspect_err(|_| self.fail())
            }
            _ => {}
        }
        if let Statement::Truncate(tr) = stmt {
            if self.txn.is_some()
                && matches!(
                    tr.identity,
                    Some(sqlparser::ast::TruncateIdentityOption::Restart)
                )
            {
                self.failed = true;
                return Err(SqlError::unsupported(
                    "TRUNCATE ... RESTART IDENTITY inside a transaction block (sequences are \
                     restarted outside transactions here); run it on its own, or TRUNCATE \
                     and then setval()",
                ));
            }
        }
        if let Statement::CreateSequence {
            sequence_options, ..
        } = stmt
        {
            let restarts = crate::parse::is_alter_sequence(stmt)
                && sequence_options
                    .iter()
                    .any(|o| crate::parse::as_restart(o).is_some());
            if restarts && self.txn.is_some() {
                self.failed = true;
                return Err(SqlError::unsupported(
                    "ALTER SEQUENCE ... RESTART inside a transaction block (a sequence's value \
                     moves outside transactions here); run it on its own, or use setval()",
                ));
            }
        }
        if matches!(stmt, Statement::Vacuum(_)) && self.txn.is_some() {
            self.failed = true;
            return Err(SqlError::InvalidTransactionState {
                message: "VACUUM cannot run inside a transaction block".into(),
            });
        }
        if let Some(r) = self.setting_statement(stmt) {
            return r;
        }
        if let Statement::Copy { .. } = stmt {
            return self.copy_statement(stmt, out);
        }
        if self.txn.is_some() {
            if let Err(e) = self.fresh.check_statement() {
                self.failed = true;
                return Err(e);
            }
        }
        let env = self.env();
        // A query with somewhere to stream to hands its rows over as they come.
        let streamed = match stmt {
            Statement::Query(q) => out.map(|o| (q, o)),
            _ => None,
        };
        if let Some(txn) = self.txn.as_mut() {
            let run = |txn: &mut Transaction| match streamed {
                Some((q, out)) => query::stream_query(txn, q, env, out),
                None => execute_statement(txn, stmt, env),
            };
            let r = if self.savepoints.is_empty() {
                run(txn)
            } else {
                crate::undo::with_journal(&mut self.journal, || run(txn))
            };
            match &r {
                Ok(_) => self.note_block_statement(stmt),
                Err(_) => self.failed = true,
            }
            return r;
        }
        match streamed {
            Some((q, out)) => autocommit_stream(&self.engine.db, q, env, out),
            None => autocommit(&self.engine.db, stmt, env),
        }
    }

    /// DECLARE name CURSOR: runs the query now, in the block (or, WITH HOLD outside one, in
    /// its own transaction), and keeps the result for FETCH ([`crate::cursor`]).
    fn declare_cursor(
        &mut self,
        stmts: &[sqlparser::ast::Declare],
    ) -> Result<StatementResult, SqlError> {
        let r = self.declare_cursor_inner(stmts);
        if r.is_err() {
            self.fail();
        }
        r
    }

    fn declare_cursor_inner(
        &mut self,
        stmts: &[sqlparser::ast::Declare],
    ) -> Result<StatementResult, SqlError> {
        let d = crate::cursor::declaration(stmts)?;
        self.cursors.check_free(&d.name)?;
        let env = self.env();
        let in_block = self.txn.is_some();
        let result = match self.txn.as_mut() {
            Some(txn) => query::run_query(txn, d.query, env)?,
            None if d.hold => {
                in_own_transaction(&self.engine.db, |txn| query::run_query(txn, d.query, env))?
            }
            None => {
                return Err(SqlError::NoActiveTransaction {
                    message: "DECLARE CURSOR can only be used in transaction blocks".into(),
                })
            }
        };
        self.cursors.declare(d.name, d.hold, in_block, result)
    }

    /// CREATE / DROP DATABASE: never inside a block, always its own transaction.
    fn database_command(
        &mut self,
        cmd: Result<crate::database::DatabaseCommand, SqlError>,
    ) -> Result<StatementResult, SqlError> {
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        let cmd = cmd?;
        if self.txn.is_some() {
            self.failed = true;
            return Err(SqlError::InvalidTransactionState {
                message: format!("{} cannot run inside a transaction block", cmd.verb()),
            });
        }
        let current = self.database.clone();
        in_own_transaction(&self.engine.db, |txn| cmd.run(txn, &current))
    }

    /// CREATE / ALTER / DROP ROLE: transactional, in the block or on their own.
    fn role_command(
        &mut self,
        cmd: Result<crate::roles::RoleCommand, SqlError>,
    ) -> Result<StatementResult, SqlError> {
        let (user, encryption) = (self.user.clone(), self.engine.password_encryption);
        let cmd = cmd.inspect_err(|_| self.fail())?;
        let body = |txn: &mut Transaction| cmd.run(txn, &user, encryption);
        let Some(txn) = self.txn.as_mut() else {
            return in_own_transaction(&self.engine.db, body);
        };
        let r = if self.savepoints.is_empty() {
            body(txn)
        } else {
            crate::undo::with_journal(&mut self.journal, || body(txn))
        };
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    /// Names the table of a serialization failure, read in a fresh transaction:
    /// `could not serialize access due to concurrent update on table "t"`.
    fn name_conflict(&self, e: SqlError) -> SqlError {
        let SqlError::SerializationFailure {
            reason,
            conflict_key: Some(key),
        } = &e
        else {
            return e;
        };
        let mut txn = self.engine.db.begin();
        match crate::catalog::relation_of_key(&mut txn, key) {
            Ok(Some(table)) => SqlError::SerializationFailure {
                reason: format!("{reason} on table \"{table}\""),
                conflict_key: Some(key.clone()),
            },
            _ => e,
        }
    }

    fn commit(&mut self) -> Result<StatementResult, SqlError> {
        self.end_savepoints();
        let failed = std::mem::take(&mut self.failed);
        let Some(mut txn) = self.txn.take() else {
            return Ok(StatementResult::command("COMMIT"));
        };
        if failed {
            self.settings_end(false);
            self.fresh_discarded();
            self.cursors.end_block(false);
            return Ok(StatementResult::command("ROLLBACK"));
        }
        let committed = txn.commit().map_err(kv_err);
        self.settings_end(committed.is_ok());
        self.cursors.end_block(committed.is_ok());
        match committed {
            Ok(_) => self.fresh_committed(),
            Err(_) => self.fresh_discarded(),
        }
        committed?;
        Ok(StatementResult::command("COMMIT"))
    }
}

/// The stack a statement runs on: enough for [`crate::parse::MAX_PARSE_DEPTH`] and
/// [`crate::bind::MAX_EXPR_DEPTH`] levels in every recursive pass (parse, bind, fold,
/// evaluate, drop) of an unoptimized build. Only the pages a statement touches are
/// committed, so a shallow statement costs no more than on any thread.
const STATEMENT_STACK_BYTES: usize = 256 << 20;

/// Statements with at most this many tokens run on the caller's thread: every pass
/// recurses at most once per token, and 400 levels fit in 2 MiB even unoptimized.
const INLINE_TOKENS: usize = 200;

/// An upper bound on the tokens of `sql` (and so on how deeply it can nest): words plus
/// punctuation characters.
fn token_bound(sql: &str) -> usize {
    let punct = sql.bytes().filter(|b| b.is_ascii_punctuation()).count();
    punct + sql.split_ascii_whitespace().count()
}

/// Runs `f`, the execution of `sql`, on a thread of its own with
/// [`STATEMENT_STACK_BYTES`] of stack when `sql` is long enough to nest deeply, so deep
/// expressions (which PostgreSQL accepts up to its own limits) cannot overflow the
/// caller's stack, whatever thread the caller runs on (a 2 MiB test or tokio blocking
/// thread). Short statements run inline: starting a thread costs more than most
/// statements (tens of microseconds). If no thread can be started, `f` runs inline.
fn on_statement_stack<R: Send>(sql: &str, f: impl FnOnce() -> R + Send) -> R {
    if token_bound(sql) <= INLINE_TOKENS {
        return f();
    }
    let mut f = Some(f);
    let r = std::thread::scope(|scope| {
        let job = &mut f;
        let spawned = std::thread::Builder::new()
            .name("ferrisdb-statement".into())
            .stack_size(STATEMENT_STACK_BYTES)
            .spawn_scoped(scope, move || job.take().map(|f| f()));
        spawned.ok().and_then(|h| match h.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    });
    match (r, f) {
        (Some(r), _) => r,
        (None, Some(f)) => f(),
        (None, None) => unreachable!("the statement thread either ran the job or never started"),
    }
}

/// How often a statement waiting for a table's schema change looks again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs one statement in its own transaction, retried on conflict by `transact`. A
/// schema change too large for one transaction runs as a batched job
/// ([`crate::backfill`]); a statement that finds its table locked by one waits for it.
fn autocommit(
    db: &Database,
    stmt: &Statement,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    loop {
        match in_own_transaction(db, |txn| execute_statement(txn, stmt, env)) {
            Err(SqlError::RelationLocked { .. }) => std::thread::sleep(LOCK_POLL),
            Err(e @ SqlError::TransactionTooLarge { .. }) => loop {
                match crate::backfill::run_statement(db, stmt) {
                    Some(Err(SqlError::RelationLocked { .. })) => std::thread::sleep(LOCK_POLL),
                    Some(r) => return r,
                    None => return Err(e),
                }
            },
            r => return r,
        }
    }
}

/// A query streamed outside a block: `autocommit` for a query whose rows go to `out`. Its
/// transaction is retried only while no row has gone out; after that a retryable failure
/// (of the query or of its commit) goes to the client, after the rows it has.
fn autocommit_stream(
    db: &Database,
    q: &sqlparser::ast::Query,
    env: StatementEnv,
    out: &mut RowStream,
) -> Result<StatementResult, SqlError> {
    loop {
        let r = in_own_transaction_with(db, |txn| {
            if out.began() {
                // Called again after rows went out: the commit failed and asks for a retry.
                let e = SqlError::SerializationFailure {
                    reason: "could not serialize access: the transaction had to restart after \
                             part of the result was sent"
                        .into(),
                    conflict_key: None,
                };
                return Err((e, false));
            }
            out.discard();
            query::stream_query(txn, q, env, out).map_err(|e| {
                let retryable = e.is_retryable() && !out.began();
                (e, retryable)
            })
        });
        match r {
            Err(SqlError::RelationLocked { .. }) if !out.began() => std::thread::sleep(LOCK_POLL),
            r => return r,
        }
    }
}

/// Runs `body` in a transaction of its own, retried from scratch while it fails with a
/// retryable error (KV conflicts included); the error is the SQL one when `body` failed.
pub(crate) fn in_own_transaction<T>(
    db: &Database,
    mut body: impl FnMut(&mut Transaction) -> Result<T, SqlError>,
) -> Result<T, SqlError> {
    in_own_transaction_with(db, |txn| {
        body(txn).map_err(|e| {
            let retryable = e.is_retryable();
            (e, retryable)
        })
    })
}

/// [`in_own_transaction`] with `body` saying which of its errors may be retried.
fn in_own_transaction_with<T>(
    db: &Database,
    mut body: impl FnMut(&mut Transaction) -> Result<T, (SqlError, bool)>,
) -> Result<T, SqlError> {
    let mut sql_error = None;
    let mark = crate::notice::mark();
    let r = db.transact(|txn| {
        sql_error = None;
        crate::notice::truncate(mark);
        body(txn).map_err(|(e, retryable)| {
            sql_error = Some(e);
            TxnError::Remote {
                message: String::new(),
                retryable,
            }
        })
    });
    match r {
        Ok((v, _)) => Ok(v),
        Err(e) => Err(sql_error.take().unwrap_or_else(|| kv_err(e))),
    }
}

/// Runs one statement (not transaction control) inside `txn`.
pub fn execute_statement(
    txn: &mut Transaction,
    stmt: &Statement,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    match stmt {
        Statement::Query(q) => query::run_query(txn, q, env),
        Statement::Explain {
            analyze, statement, ..
        } => query::explain(txn, statement, *analyze, env),
        Statement::Insert(i) => dml::insert(txn, i, env),
        Statement::Update(u) => dml::update(txn, u, env),
        Statement::Delete(d) => dml::delete(txn, d, env),
        Statement::CreateTable(c) => ddl::create_table(txn, c),
        Statement::CreateIndex(c) => ddl::create_index(txn, c),
        Statement::CreateView(v) => ddl::create_view(txn, v),
        Statement::CreateSequence {
            if_not_exists: if_exists,
            name,
            sequence_options,
            ..
        } if crate::parse::is_alter_sequence(stmt) => {
            crate::sequence::alter_sequence(txn, *if_exists, name, &sequence_options[1..])
        }
        Statement::CreateSequence {
            temporary: false,
            if_not_exists,
            name,
            sequence_options,
        } => crate::sequence::create_sequence(txn, *if_not_exists, name, sequence_options),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => crate::drop::drop(txn, *object_type, *if_exists, names, *cascade),
        Statement::Truncate(t) => ddl::truncate(txn, t),
        Statement::AlterTable(a) => crate::alter::alter_table(txn, a, env),
        Statement::Vacuum(v) => ddl::maintain(txn, v.table_name.as_ref(), "VACUUM"),
        Statement::Analyze(a) => ddl::maintain(txn, a.table_name.as_ref(), "ANALYZE"),
        other => Err(SqlError::unsupported(format!(
            "statement not supported: {}",
            first_words(&other.to_string())
        ))),
    }
}

/// The result columns of `stmt`, bound in `txn` but not run.
fn describe_statement(
    txn: &mut Transaction,
    stmt: &Statement,
) -> Result<Option<Vec<Column>>, SqlError> {
    match stmt {
        Statement::Query(q) => Ok(Some(crate::bind::Binder::new(txn).bind_query(q)?.columns)),
        Statement::Explain { .. } => Ok(Some(vec![Column {
            name: "QUERY PLAN".into(),
            data_type: DataType::Text,
        }])),
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            dml::describe(txn, stmt)
        }
        _ => Ok(crate::settings::show_columns(stmt)),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
