//! The SQL session as the wire server sees it: a small boundary trait, so the protocol
//! state machine can be driven by a scripted fake in tests and by `ferrisdb-sql`'s
//! `Session` in the server.
//!
//! A session is synchronous (it reads and commits through the KV layer while it runs);
//! the connection runs it on a blocking thread (see `socket`). It is owned by exactly one
//! connection and dropped with it, which abandons any open transaction: a KV transaction
//! that is never committed leaves no trace.

use ferrisdb_sql::{
    CancelHandle, CopyInInfo, CopyOutput, DataType, Datum, Notice, ResultSink, RoleInfo, SqlError,
};

/// One result column.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub data_type: DataType,
}

/// What one statement produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A row-returning statement.
    Rows {
        columns: Vec<OutputColumn>,
        rows: Vec<Vec<Datum>>,
        /// The command tag of a data-changing statement with RETURNING (`INSERT 0 2`);
        /// `None` for a query (`SELECT n`).
        tag: Option<String>,
    },
    /// Any other statement, with its command tag (`INSERT 0 3`, `BEGIN`, ...).
    Command { tag: String },
}

/// The transaction state `ReadyForQuery` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: in a transaction block.
    InTransaction,
    /// `E`: in a failed transaction block (only ROLLBACK gets through).
    Failed,
}

/// Parameter types and result columns of a statement, or why it cannot be described.
pub type DescribedParams = Result<(Vec<DataType>, Option<Vec<OutputColumn>>), SqlError>;

/// A SQL session; see the module doc.
pub trait SqlSession: Send + 'static {
    /// Runs every statement of `sql` in order, stopping at the first error.
    fn execute(&mut self, sql: &str) -> Result<Vec<Outcome>, SqlError>;

    /// Like `execute`, but also returns what the statements before a failing one produced
    /// (they may have committed: the client must see their results before the error).
    fn execute_all(&mut self, sql: &str) -> (Vec<Outcome>, Option<SqlError>) {
        match self.execute(sql) {
            Ok(outcomes) => (outcomes, None),
            Err(e) => (Vec::new(), Some(e)),
        }
    }

    /// The result columns `sql` would produce (`None`: it returns no rows), without
    /// running it. `None` from the outer option: this session cannot describe without
    /// running (the caller then falls back; see `extended`).
    fn describe(&mut self, _sql: &str) -> Option<Result<Option<Vec<OutputColumn>>, SqlError>> {
        None
    }

    /// The parameter types of `sql` (inferred from context where `declared` has `None`) and
    /// its result columns, without running it. `None`: not supported (see `describe`).
    fn describe_params(
        &mut self,
        _sql: &str,
        _declared: &[Option<DataType>],
    ) -> Option<DescribedParams> {
        None
    }

    /// Runs `sql` with `$n` bound to `params[n-1]` as typed values (`DataType::Unknown`: an
    /// untyped literal the engine types from context). `None`: this session cannot bind
    /// parameters, and the caller substitutes them as literals instead (see `params`).
    fn execute_params(
        &mut self,
        _sql: &str,
        _params: &[(Datum, DataType)],
    ) -> Option<Result<Vec<Outcome>, SqlError>> {
        None
    }

    /// Runs `sql` (with `$n` bound to `params` when given, as `execute_params` does),
    /// handing each statement's result to `sink` as it completes and a long query's rows
    /// while it runs (see `stream`); returns the error that stopped it. `None`: this
    /// session cannot stream, and the caller uses `execute_all` / `execute_params`.
    fn execute_streaming(
        &mut self,
        _sql: &str,
        _params: Option<&[(Datum, DataType)]>,
        _sink: &mut (dyn ResultSink + Send),
    ) -> Option<Option<SqlError>> {
        None
    }

    fn txn_state(&self) -> TxnState;

    /// The value SHOW prints for parameter `name` (`None`: unknown, or a session without
    /// settings), for the ParameterStatus messages that report a change (`protocol`).
    fn setting(&self, _name: &str) -> Option<String> {
        None
    }

    /// Applies a run-time parameter the client sent in its startup packet (as PostgreSQL
    /// does with `application_name`, `DateStyle`, ... there). A session without settings
    /// ignores it.
    fn set_startup_parameter(&mut self, _name: &str, _value: &str) -> Result<(), SqlError> {
        Ok(())
    }

    /// A named prepared statement was created (Parse) or is gone (Close, or `None` for
    /// `statement`), for the session's `pg_prepared_statements`.
    fn note_prepared(
        &mut self,
        _name: &str,
        _statement: Option<(&str, Vec<Option<ferrisdb_sql::DataType>>)>,
    ) {
    }

    /// A value that changes whenever any setting's value does (`None`: unknown, so every
    /// ReadyForQuery re-reads the reported parameters).
    fn settings_fingerprint(&self) -> Option<u64> {
        None
    }

    /// The notices of the last `execute*` call, each with the position of its statement
    /// (the index into the outcomes; the error's position for a failing statement).
    fn take_notices(&mut self) -> Vec<(usize, Notice)> {
        Vec::new()
    }

    /// The COPY TO STDOUT outputs of the last `execute*` call, by statement position: sent
    /// as CopyOutResponse / CopyData / CopyDone before that statement's CommandComplete.
    fn take_copy_out(&mut self) -> Vec<(usize, CopyOutput)> {
        Vec::new()
    }

    /// A COPY FROM STDIN started by the last `execute*` call and waiting for data.
    fn copy_in_info(&self) -> Option<CopyInInfo> {
        None
    }

    /// One CopyData message of the COPY FROM STDIN in progress.
    fn copy_data(&mut self, _data: &[u8]) -> Result<(), SqlError> {
        Err(SqlError::unsupported("COPY"))
    }

    /// CopyDone: the COPY's command tag (`COPY n`).
    fn copy_done(&mut self) -> Result<String, SqlError> {
        Err(SqlError::unsupported("COPY"))
    }

    /// CopyFail (or a protocol error during COPY): ends the COPY; the error to report.
    fn copy_fail(&mut self, message: &str) -> SqlError {
        SqlError::CopyFailed {
            message: message.to_string(),
        }
    }

    /// What a CancelRequest with this connection's key raises (`None`: not cancellable).
    fn cancel_handle(&self) -> Option<CancelHandle> {
        None
    }
}

/// Opens sessions, one per connection.
pub trait SessionFactory: Send + Sync + 'static {
    type Session: SqlSession;

    fn open(&self) -> Self::Session;

    /// The role `user` logs in as (`None`: no such role), for password authentication
    /// (`auth`). The default knows no roles.
    fn role(&self, _user: &str) -> Result<Option<RoleInfo>, SqlError> {
        Ok(None)
    }

    /// A session in `database` for the authenticated `user` (3D000 if the database does
    /// not exist). The default ignores both.
    fn open_as(&self, _database: &str, _user: &str) -> Result<Self::Session, SqlError> {
        Ok(self.open())
    }
}
