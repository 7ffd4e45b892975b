//! SAVEPOINT, ROLLBACK TO [SAVEPOINT] and RELEASE [SAVEPOINT] inside a transaction block,
//! as PostgreSQL runs them:
//!
//! ```text
//!   BEGIN; ... SAVEPOINT a; ... SAVEPOINT b; ... error (block failed)
//!   ROLLBACK TO b     undoes everything since b, keeps b open, leaves the failed state
//!   RELEASE a         forgets a and every savepoint after it; their writes stay
//! ```
//!
//! Savepoint names may repeat; the newest one of a name wins. Outside a block all three
//! are 25P01; a name not open is 3B001; in a failed block only ROLLBACK TO gets through
//! (25P02 otherwise). The writes are undone through the journal of [`crate::undo`].

use sqlparser::ast::Statement;

use crate::bind::ident_name;
use crate::error::SqlError;
use crate::session::{Session, StatementResult};

impl Session {
    /// Runs `stmt` if it is a savepoint statement.
    pub(crate) fn savepoint_statement(
        &mut self,
        stmt: &Statement,
    ) -> Option<Result<StatementResult, SqlError>> {
        let r = match stmt {
            Statement::Savepoint { name } => self.savepoint(ident_name(name)),
            Statement::ReleaseSavepoint { name } => self.release(&ident_name(name)),
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => self.rollback_to(&ident_name(name)),
            _ => return None,
        };
        if r.is_err() && self.txn.is_some() {
            self.failed = true;
        }
        Some(r)
    }

    /// Forgets every savepoint (the block ended).
    pub(crate) fn end_savepoints(&mut self) {
        self.savepoints.clear();
        self.journal.clear();
    }

    fn in_block(&self, what: &str) -> Result<(), SqlError> {
        if self.txn.is_none() {
            return Err(SqlError::NoActiveTransaction {
                message: format!("{what} can only be used in transaction blocks"),
            });
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Result<usize, SqlError> {
        self.savepoints
            .iter()
            .rposition(|(n, _)| n == name)
            .ok_or_else(|| SqlError::InvalidSavepoint {
                name: name.to_string(),
            })
    }

    fn savepoint(&mut self, name: String) -> Result<StatementResult, SqlError> {
        self.in_block("SAVEPOINT")?;
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        crate::settings::with_current(|s| s.savepoint(self.savepoints.len()));
        self.savepoints.push((name, self.journal.len()));
        Ok(StatementResult::command("SAVEPOINT"))
    }

    fn release(&mut self, name: &str) -> Result<StatementResult, SqlError> {
        self.in_block("RELEASE SAVEPOINT")?;
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        let i = self.find(name)?;
        self.savepoints.truncate(i);
        if self.savepoints.is_empty() {
            self.journal.clear();
        }
        Ok(StatementResult::command("RELEASE"))
    }

    fn rollback_to(&mut self, name: &str) -> Result<StatementResult, SqlError> {
        self.in_block("ROLLBACK TO SAVEPOINT")?;
        let i = self.find(name)?;
        let mark = self.savepoints[i].1;
        self.savepoints.truncate(i + 1);
        let Some(txn) = self.txn.as_mut() else {
            return Err(SqlError::internal(
                "a transaction block without a transaction",
            ));
        };
        crate::undo::rollback_to(txn, &mut self.journal, mark)?;
        crate::settings::with_current(|s| s.rollback_to(i));
        self.failed = false;
        Ok(StatementResult::command("ROLLBACK"))
    }
}
