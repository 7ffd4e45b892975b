//! `ferrisdb-sql`'s [`Engine`] and [`Session`] behind the wire server's session boundary.
//!
//! A straight translation: statement results become [`Outcome`]s, the engine's
//! transaction status becomes [`TxnState`]. The engine has no describe-without-running
//! entry point, so [`SqlSession::describe`] keeps its default (`None`) and the extended
//! protocol falls back as `extended` explains.

use ferrisdb_sql::{Engine, Session, SqlError, StatementResult, TxnStatus};

use super::session::{Outcome, OutputColumn, SessionFactory, SqlSession, TxnState};

impl SessionFactory for Engine {
    type Session = Session;

    fn open(&self) -> Session {
        self.session()
    }
}

impl SqlSession for Session {
    fn execute(&mut self, sql: &str) -> Result<Vec<Outcome>, SqlError> {
        let results = Session::execute(self, sql)?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                StatementResult::Query { columns, rows } => Outcome::Rows {
                    columns: columns
                        .into_iter()
                        .map(|c| OutputColumn {
                            name: c.name,
                            data_type: c.data_type,
                        })
                        .collect(),
                    rows,
                },
                StatementResult::Command { tag } => Outcome::Command { tag },
            })
            .collect())
    }

    fn txn_state(&self) -> TxnState {
        match self.transaction_status() {
            TxnStatus::Idle => TxnState::Idle,
            TxnStatus::InTransaction => TxnState::InTransaction,
            TxnStatus::Failed => TxnState::Failed,
        }
    }
}
