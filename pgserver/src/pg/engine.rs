//! `ferrisdb-sql`'s [`Engine`] and [`Session`] behind the wire server's session boundary.
//!
//! A straight translation: statement results become [`Outcome`]s, the engine's
//! transaction status becomes [`TxnState`]. Bound parameters go to
//! [`Session::execute_params`] as typed values, never spliced into the SQL text. Describe goes to [`Session::describe`], which
//! binds the statement without running it, so the extended protocol never runs a
//! statement to learn its columns (and `... RETURNING` describes like anything else).

use ferrisdb_sql::{
    CancelHandle, Column, CopyInInfo, CopyOutput, DataType, Datum, Engine, Notice, ResultSink,
    RoleInfo, Session, SqlError, StatementResult, TxnStatus,
};

use super::session::{
    DescribedParams, Outcome, OutputColumn, SessionFactory, SqlSession, TxnState,
};

impl SessionFactory for Engine {
    type Session = Session;

    fn open(&self) -> Session {
        self.session()
    }

    fn role(&self, user: &str) -> Result<Option<RoleInfo>, SqlError> {
        Engine::role(self, user)
    }

    fn open_as(&self, database: &str, user: &str) -> Result<Session, SqlError> {
        self.session_as(database, user)
    }
}

fn output_columns(columns: Vec<Column>) -> Vec<OutputColumn> {
    columns
        .into_iter()
        .map(|c| OutputColumn {
            name: c.name,
            data_type: c.data_type,
        })
        .collect()
}

fn outcomes(results: Vec<StatementResult>) -> Vec<Outcome> {
    results
        .into_iter()
        .map(|r| match r {
            StatementResult::Query { columns, rows, tag } => Outcome::Rows {
                columns: output_columns(columns),
                rows,
                tag,
            },
            StatementResult::Command { tag } => Outcome::Command { tag },
        })
        .collect()
}

impl SqlSession for Session {
    fn execute(&mut self, sql: &str) -> Result<Vec<Outcome>, SqlError> {
        Session::execute(self, sql).map(outcomes)
    }

    fn execute_all(&mut self, sql: &str) -> (Vec<Outcome>, Option<SqlError>) {
        let (results, error) = Session::execute_all(self, sql);
        (outcomes(results), error)
    }

    fn describe_params(
        &mut self,
        sql: &str,
        declared: &[Option<DataType>],
    ) -> Option<DescribedParams> {
        Some(
            Session::describe(self, sql, declared)
                .map(|d| (d.param_types, d.columns.map(output_columns))),
        )
    }

    fn execute_params(
        &mut self,
        sql: &str,
        params: &[(Datum, DataType)],
    ) -> Option<Result<Vec<Outcome>, SqlError>> {
        Some(Session::execute_params(self, sql, params).map(outcomes))
    }

    fn execute_streaming(
        &mut self,
        sql: &str,
        params: Option<&[(Datum, DataType)]>,
        sink: &mut (dyn ResultSink + Send),
    ) -> Option<Option<SqlError>> {
        Some(Session::execute_to(self, sql, params, sink))
    }

    fn describe(&mut self, sql: &str) -> Option<Result<Option<Vec<OutputColumn>>, SqlError>> {
        // Parameters arrive substituted (as typed NULLs while describing), so none is
        // left to declare here.
        Some(Session::describe(self, sql, &[]).map(|d| d.columns.map(output_columns)))
    }

    fn setting(&self, name: &str) -> Option<String> {
        Session::setting(self, name).ok()
    }

    fn set_startup_parameter(&mut self, name: &str, value: &str) -> Result<(), SqlError> {
        self.set_parameter(name, value).map(|_| ())
    }

    fn settings_fingerprint(&self) -> Option<u64> {
        Some(Session::settings_fingerprint(self))
    }

    fn note_prepared(
        &mut self,
        name: &str,
        statement: Option<(&str, Vec<Option<ferrisdb_sql::DataType>>)>,
    ) {
        match statement {
            Some((sql, types)) => Session::note_prepared(self, name, sql, types),
            None => Session::note_closed(self, name),
        }
    }

    fn txn_state(&self) -> TxnState {
        match self.transaction_status() {
            TxnStatus::Idle => TxnState::Idle,
            TxnStatus::InTransaction => TxnState::InTransaction,
            TxnStatus::Failed => TxnState::Failed,
        }
    }

    fn take_notices(&mut self) -> Vec<(usize, Notice)> {
        Session::take_notices(self)
    }

    fn take_copy_out(&mut self) -> Vec<(usize, CopyOutput)> {
        Session::take_copy_out(self)
    }

    fn copy_in_info(&self) -> Option<CopyInInfo> {
        Session::copy_in_info(self)
    }

    fn copy_data(&mut self, data: &[u8]) -> Result<(), SqlError> {
        Session::copy_data(self, data)
    }

    fn copy_done(&mut self) -> Result<String, SqlError> {
        Session::copy_done(self).map(|r| r.tag())
    }

    fn copy_fail(&mut self, message: &str) -> SqlError {
        Session::copy_fail(self, message)
    }

    fn cancel_handle(&self) -> Option<CancelHandle> {
        Some(Session::cancel_handle(self))
    }
}
