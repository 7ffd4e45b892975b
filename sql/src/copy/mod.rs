//! COPY: bulk load from the client (`COPY t FROM STDIN`) and bulk unload to it
//! (`COPY t TO STDOUT`, `COPY (SELECT ...) TO STDOUT`), in PostgreSQL's text and CSV
//! formats.
//!
//! ```text
//!   options   WITH (FORMAT, DELIMITER, NULL, HEADER, QUOTE, ESCAPE, FORCE_*, FREEZE)
//!             and the old WITH CSV HEADER spellings; PostgreSQL's checks
//!   decode    the input byte stream -> rows of text fields (streaming, pure)
//!   encode    rows of text -> output lines (pure)
//!   load      binding the target table, batches, casting, constraints, writes
//! ```
//!
//! ## How the wire server drives it
//!
//! COPY runs like any statement through [`Session::execute_all`]. `COPY ... TO STDOUT`
//! completes there (tag `COPY n`); its lines wait in the session for
//! [`Session::take_copy_out`], tagged with the statement's position in the script, so the
//! server can send CopyOutResponse / CopyData / CopyDone before that CommandComplete.
//! `COPY ... FROM STDIN` only *starts* there: the script stops (it must be the script's
//! last statement) and [`Session::copy_in_info`] says a COPY waits for data. The server
//! answers CopyInResponse and passes each CopyData to [`Session::copy_data`], then
//! CopyDone to [`Session::copy_done`] (the `COPY n` result) or CopyFail to
//! [`Session::copy_fail`] (57014 `COPY from stdin failed: ...`). Any error ends the COPY.
//! A script that carries its data inline (`COPY t FROM STDIN;` followed by rows and `\.`
//! in one string, as sqlparser captures it) loads at once.
//!
//! ## Transactions: atomic inside a block, batched outside (honest caveat)
//!
//! KV transactions hold at most 10 MB of writes, and a bulk load can be far larger (pgbench
//! -i -s 10 copies 1,000,000 rows, ~120 MB). So:
//!
//! - **Inside an explicit transaction block** COPY writes into the block's transaction
//!   and is atomic with it, as in PostgreSQL. A load beyond the limit fails with 54000
//!   `transaction is too large ...` and a hint to run COPY outside a block; the block is
//!   then failed and nothing of it is written.
//! - **Outside a block** COPY is *not atomic*: every [`load::BATCH_ROWS`] rows (or
//!   [`load::BATCH_BYTES`] of input) form one transaction that commits on its own,
//!   retried on a KV conflict like an autocommit statement. If a row fails, the batches
//!   before it stay committed and the error's DETAIL says how many rows that is. This is
//!   CockroachDB's non-atomic COPY mode, not PostgreSQL's behaviour; load into an empty
//!   table (or inside a block, when it fits) if all-or-nothing matters.
//!
//! The input is never held whole: rows are decoded as CopyData arrives and written a
//! batch at a time. Nor is a long output: through [`Session::execute_to`] COPY TO hands
//! its lines to the server in batches while its query runs ([`crate::stream`]); through
//! [`Session::execute_all`] they are collected.
//!
//! `FREEZE` is accepted and has no effect. COPY from or to a file or a PROGRAM is 0A000
//! (there is no server-side file access; psql's `\copy` sends STDIN/STDOUT).
//!
//! Cancellation and `statement_timeout` are checked per row while writing
//! ([`crate::cancel`]); the deadline of a COPY FROM counts from the COPY statement.

pub mod decode;
pub mod encode;
pub mod load;
pub mod options;

use sqlparser::ast::{CopySource, CopyTarget, Statement};

use crate::bind::object_name;
use crate::error::SqlError;
use crate::session::{Session, StatementResult};
use crate::stream::RowStream;
pub use load::CopyInInfo;
use load::{bind_target, insert_batch, CopyIn};
pub use options::{CopyFormat, CopyOptions};

/// The output of one COPY TO STDOUT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOutput {
    pub format: CopyFormat,
    pub columns: usize,
    /// One CopyData message each: the header line (with HEADER), then one per row.
    pub lines: Vec<Vec<u8>>,
    pub rows: u64,
}

/// Parses a script; a COPY whose `FREEZE on` / `HEADER off` sqlparser refuses is
/// retried with those spelled `TRUE`/`FALSE` ([`options::normalize_booleans`]).
pub(crate) fn parse_script(sql: &str) -> Result<Vec<Statement>, SqlError> {
    match crate::parse::parse_statements(sql) {
        Ok(s) => Ok(s),
        Err(e) => match options::normalize_booleans(sql) {
            Some(fixed) => crate::parse::parse_statements(&fixed).map_err(|_| e),
            None => Err(e),
        },
    }
}

fn file_unsupported() -> SqlError {
    SqlError::unsupported(
        "COPY to or from a file is not supported; use STDIN/STDOUT (psql's \\copy)",
    )
}

impl Session {
    /// Runs a COPY statement (from [`Session::execute_all`]): see the module doc.
    pub(crate) fn copy_statement(
        &mut self,
        stmt: &Statement,
        out: Option<&mut RowStream>,
    ) -> Result<StatementResult, SqlError> {
        let Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            payload,
        } = stmt
        else {
            return Err(SqlError::internal("not a COPY statement"));
        };
        match (target, to) {
            (CopyTarget::Stdout, true) | (CopyTarget::Stdin, false) => {}
            (CopyTarget::File { .. } | CopyTarget::Program { .. }, _) => {
                return Err(file_unsupported())
            }
            (_, true) => return Err(SqlError::unsupported("COPY TO STDIN is not valid")),
            (_, false) => return Err(SqlError::unsupported("COPY FROM STDOUT is not valid")),
        }
        let opts = options::parse_options(options, legacy_options, !to)?;
        if *to {
            return self.copy_to(source, &opts, out);
        }
        let CopySource::Table {
            table_name,
            columns,
        } = source
        else {
            return Err(SqlError::internal("COPY FROM a query"));
        };
        let name = object_name(table_name)?;
        let target = match self.txn.as_mut() {
            Some(txn) => bind_target(txn, &name, columns)?,
            None => bind_target(&mut self.engine.db.begin(), &name, columns)?,
        };
        let deadline = crate::settings::with_current(|s| s.statement_timeout())
            .map(|d| std::time::Instant::now() + d);
        let autocommit = self.txn.is_none();
        let copy = CopyIn::new(target, &opts, self.env(), deadline, autocommit)?;
        self.copy_in = Some(Box::new(copy));
        if let Some(p) = payload {
            self.copy_data(p.data.as_bytes())?;
            return self.copy_done();
        }
        Ok(StatementResult::command("COPY"))
    }

    /// The COPY FROM STDIN waiting for data, if any.
    pub fn copy_in_info(&self) -> Option<CopyInInfo> {
        self.copy_in.as_ref().map(|c| c.info())
    }

    /// The next piece of COPY FROM STDIN data (any split of the stream). Rows are written
    /// a batch at a time as they complete. An error ends the COPY.
    pub fn copy_data(&mut self, data: &[u8]) -> Result<(), SqlError> {
        self.copy_step(|c| c.push_data(data))
    }

    /// Rows given as text fields (`None` = NULL), one per column of the COPY, instead of
    /// encoded data: cast, checked and written exactly like decoded rows.
    pub fn copy_in_rows(&mut self, rows: Vec<Vec<Option<String>>>) -> Result<(), SqlError> {
        self.copy_step(|c| c.push_rows(rows))
    }

    /// The end of the data (CopyDone): writes what is left; `COPY n`.
    pub fn copy_done(&mut self) -> Result<StatementResult, SqlError> {
        self.copy_step(|c| c.finish_input())?;
        self.flush_copy(true).map_err(|e| self.abort_copy(e))?;
        let copy = self.copy_in.take().ok_or_else(no_copy)?;
        Ok(StatementResult::command(format!("COPY {}", copy.rows)))
    }

    /// The client gave up (CopyFail): ends the COPY with 57014 (a block becomes failed;
    /// outside one, batches already committed stay).
    pub fn copy_fail(&mut self, message: &str) -> SqlError {
        let e = SqlError::CopyFailed {
            message: message.to_string(),
        };
        self.abort_copy(e)
    }

    /// The COPY TO STDOUT outputs of the last script, with the position of their
    /// statement in it.
    pub fn take_copy_out(&mut self) -> Vec<(usize, CopyOutput)> {
        std::mem::take(&mut self.copy_out)
    }

    /// Ends the COPY in progress with `e`: a block fails, committed batches stay.
    pub(crate) fn abort_copy(&mut self, e: SqlError) -> SqlError {
        let committed = match self.copy_in.take() {
            Some(c) if c.autocommit && c.rows > 0 => Some(c.rows),
            _ => None,
        };
        if self.txn.is_some() {
            self.failed = true;
        }
        match committed {
            None => e,
            Some(n) => with_committed_detail(e, n),
        }
    }

    /// Runs `step` on the COPY in progress, then writes the batch if it is full.
    fn copy_step(
        &mut self,
        step: impl FnOnce(&mut CopyIn) -> Result<(), SqlError>,
    ) -> Result<(), SqlError> {
        let copy = self.copy_in.as_mut().ok_or_else(no_copy)?;
        let mut r = step(copy);
        if r.is_ok() && copy.batch_full() {
            r = self.flush_copy(false);
        }
        r.map_err(|e| self.abort_copy(e))
    }

    /// Writes the full batches (`all`: every open row), a batch at a time.
    fn flush_copy(&mut self, all: bool) -> Result<(), SqlError> {
        loop {
            let full = self.copy_in.as_ref().is_some_and(|c| c.batch_full());
            if !(all || full) || !self.flush_batch(all)? {
                return Ok(());
            }
        }
    }

    /// Writes one batch: into the block's transaction, or in one of its own. False when
    /// there was nothing to write.
    /// `last`: the COPY's input has ended.
    fn flush_batch(&mut self, last: bool) -> Result<bool, SqlError> {
        let Some(copy) = self.copy_in.as_mut() else {
            return Err(no_copy());
        };
        // Into a table fresh in this block, a COPY larger than one batch side-writes
        // (crate::fresh); one that fits a batch stays in the block's transaction.
        let first = copy.rows == 0 && !copy.side_write;
        if self.txn.is_some()
            && self.savepoints.is_empty()
            && self.fresh.allows(copy.target.table.id)
            && !(last && first)
        {
            copy.side_write = true;
        }
        let side_write = copy.side_write;
        let rows = copy.take_batch();
        if rows.is_empty() {
            return Ok(false);
        }
        let (target, env, n) = (&copy.target, copy.env, rows.len() as u64);
        let handle = self.cancel.clone();
        let db = self.database.clone();
        let deadline = copy.deadline;
        let txn = &mut self.txn;
        let (journal, savepoints) = (&mut self.journal, self.savepoints.is_empty());
        if side_write {
            self.fresh.side_written(target.table.id);
        }
        let engine_db = &self.engine.db;
        crate::cancel::scope(&handle, deadline, || {
            crate::catalog::with_database(&db, || {
                crate::cancel::check_now()?;
                match txn.as_mut() {
                    // A table fresh in this block: rows go in their own transactions
                    // (crate::fresh), invisible until the block commits.
                    Some(_) if side_write => commit_in_batches(engine_db, target, &rows, env),
                    Some(t) if savepoints => insert_batch(t, target, &rows, env),
                    Some(t) => crate::undo::with_journal(journal, || {
                        insert_batch(t, target, &rows, env)
                    }),
                    None => commit_in_batches(engine_db, target, &rows, env),
                }
            })
        })
        .map_err(|e| match (&e, self.txn.is_some()) {
            (SqlError::TransactionTooLarge { .. }, true) => {
                SqlError::ProgramLimitExceeded {
                    message: e.to_string(),
                    hint: Some(
                        "COPY inside a transaction block writes all its rows in that one transaction; run COPY outside a transaction block, where it commits in batches."
                            .into(),
                    ),
                }
            }
            _ => e,
        })?;
        if let Some(c) = self.copy_in.as_mut() {
            c.rows += n;
        }
        Ok(true)
    }

    /// COPY ... TO STDOUT: runs the query and encodes its rows; with `out`, a long
    /// output goes there while the query runs ([`crate::stream`]).
    fn copy_to(
        &mut self,
        source: &CopySource,
        opts: &CopyOptions,
        mut out: Option<&mut RowStream>,
    ) -> Result<StatementResult, SqlError> {
        let query = match source {
            CopySource::Query(q) => Statement::Query(q.clone()),
            CopySource::Table {
                table_name,
                columns,
            } => table_query(self, &object_name(table_name)?, columns)?,
        };
        if let Some(o) = out.as_deref_mut() {
            o.for_copy(opts);
        }
        let result = self.run_with(&query, out.as_deref_mut());
        let StatementResult::Query { columns, rows, .. } = result? else {
            return Err(SqlError::internal("COPY TO query returned no rows"));
        };
        let streamed = out.as_ref().is_some_and(|o| o.began());
        let force = crate::stream::forced(opts, &columns);
        let mut lines = Vec::with_capacity(rows.len() + 1);
        if opts.header && !streamed {
            lines.push(crate::stream::copy_header(opts, &columns));
        }
        for row in &rows {
            lines.push(crate::stream::copy_line(opts, &columns, &force, row));
        }
        let n = rows.len() as u64 + out.as_ref().map_or(0, |o| o.sent());
        self.pending_copy_out = Some(CopyOutput {
            format: opts.format,
            columns: columns.len(),
            lines,
            rows: n,
        });
        Ok(StatementResult::command(format!("COPY {n}")))
    }
}

/// `SELECT cols FROM t` for `COPY t (cols) TO`, after PostgreSQL's checks.
fn table_query(
    s: &mut Session,
    name: &str,
    columns: &[sqlparser::ast::Ident],
) -> Result<Statement, SqlError> {
    let t = {
        let mut fresh;
        let txn = match s.txn.as_mut() {
            Some(t) => t,
            None => {
                fresh = s.engine.db.begin();
                &mut fresh
            }
        };
        match crate::catalog::get_relation(txn, name)? {
            Some(crate::catalog::Relation::Table(t)) => t,
            Some(_) => {
                return Err(SqlError::WrongObjectType {
                    message: format!(
                        "cannot copy from view \"{name}\"; try the COPY (SELECT ...) TO variant"
                    ),
                })
            }
            None => {
                return Err(SqlError::UndefinedTable {
                    name: name.to_string(),
                })
            }
        }
    };
    let cols = load::target_columns(&t, columns)?;
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let list: Vec<String> = cols.iter().map(|c| quote(&t.columns[*c].name)).collect();
    let sql = format!("SELECT {} FROM {}", list.join(", "), quote(&t.name));
    let mut stmts = crate::parse::parse_statements(&sql)?;
    stmts
        .pop()
        .ok_or_else(|| SqlError::internal("COPY TO query did not parse"))
}

/// Outside a block: `rows` in one transaction of their own, retried on conflict; a batch
/// the KV layer finds too large is split in halves.
fn commit_in_batches(
    db: &ferrisdb_txn::Database,
    target: &load::Target,
    rows: &[load::PendingRow],
    env: crate::session::StatementEnv,
) -> Result<(), SqlError> {
    let r = crate::session::in_own_transaction(db, |txn| insert_batch(txn, target, rows, env));
    match r {
        Err(SqlError::TransactionTooLarge { .. }) if rows.len() > 1 => {
            let (a, b) = rows.split_at(rows.len() / 2);
            commit_in_batches(db, target, a, env)?;
            commit_in_batches(db, target, b, env)
        }
        r => r,
    }
}

/// A new query while a COPY FROM STDIN waits for data (the wire server prevents this).
pub(crate) fn busy() -> SqlError {
    SqlError::InvalidTransactionState {
        message: "a COPY FROM STDIN is in progress; it was aborted".into(),
    }
}

/// COPY FROM STDIN followed by more statements in one script.
pub(crate) fn not_last() -> SqlError {
    SqlError::unsupported("COPY FROM STDIN must be the last statement of a multi-statement query")
}

fn no_copy() -> SqlError {
    SqlError::InvalidTransactionState {
        message: "no COPY in progress".into(),
    }
}

/// Adds "N rows were committed" to an error of a batched (autocommit) COPY.
fn with_committed_detail(e: SqlError, n: u64) -> SqlError {
    let note = format!(
        "{n} rows were already committed: outside a transaction block COPY commits every {} rows.",
        load::BATCH_ROWS
    );
    match e {
        SqlError::WithContext {
            error,
            context,
            detail,
        } => {
            let detail = match detail.or_else(|| error.detail()) {
                Some(d) => format!("{d}\n{note}"),
                None => note,
            };
            SqlError::WithContext {
                error,
                context,
                detail: Some(detail),
            }
        }
        e => SqlError::WithContext {
            detail: Some(match e.detail() {
                Some(d) => format!("{d}\n{note}"),
                None => note,
            }),
            error: Box::new(e),
            context: String::new(),
        },
    }
}
