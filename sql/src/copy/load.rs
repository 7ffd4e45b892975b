//! COPY FROM's rows into a table: the input decoded as it arrives, rows gathered into
//! batches, each batch cast to the column types and written through the same store
//! functions INSERT uses (defaults, NOT NULL, CHECK, unique checks, index entries).
//!
//! A batch closes at [`BATCH_ROWS`] rows or [`BATCH_BYTES`] bytes of input, whichever
//! comes first; the session then writes it (see the module doc of [`crate::copy`] for
//! which transaction). Only the open batch and one incomplete input row are in memory.
//!
//! Errors carry PostgreSQL's CONTEXT: `COPY t, line 3, column b: "abc"` for a value that
//! does not convert, `COPY t, line 3: "<the line>"` for a row-level error (wrong number
//! of fields, constraints).

use std::time::Instant;

use ferrisdb_txn::Transaction;
use sqlparser::ast::Ident;

use crate::bind::{ident_name, Binder};
use crate::cast::apply_typmod;
use crate::catalog::TableDef;
use crate::copy::decode::{bad_format, Decoder, RawRow};
use crate::copy::options::{CopyFormat, CopyOptions};
use crate::datum::Datum;
use crate::dml::{bind_constraints, check_row, default_expr, Constraints};
use crate::error::SqlError;
use crate::exec::{eval, ExecCtx};
use crate::plan::Expr;
use crate::session::StatementEnv;
use crate::store;

/// Rows per batch.
pub const BATCH_ROWS: usize = 5_000;
/// Input bytes per batch (the KV transaction limit is 10 MB; rows and index entries take
/// more than their input text, so a batch stays well below it).
pub const BATCH_BYTES: usize = 2 << 20;

/// What the wire server needs to answer a COPY FROM STDIN with CopyInResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyInInfo {
    pub columns: usize,
    pub format: CopyFormat,
}

/// The table side of a COPY FROM, bound once.
pub(crate) struct Target {
    pub table: TableDef,
    /// Table column of each input field, in input order.
    pub targets: Vec<usize>,
    /// Per table column: its default, for the columns the input does not give.
    defaults: Vec<Option<Expr>>,
    cons: Constraints,
}

/// Binds `COPY name (columns)` against the catalog as `txn` sees it.
pub(crate) fn bind_target(
    txn: &mut Transaction,
    name: &str,
    columns: &[Ident],
) -> Result<Target, SqlError> {
    let table = match crate::catalog::get_relation(txn, name)? {
        Some(crate::catalog::Relation::Table(t)) => t,
        Some(_) => {
            return Err(SqlError::WrongObjectType {
                message: format!("cannot copy to view \"{name}\""),
            })
        }
        None => {
            return Err(SqlError::UndefinedTable {
                name: name.to_string(),
            })
        }
    };
    let targets = target_columns(&table, columns)?;
    let mut b = Binder::new(txn);
    let mut defaults = Vec::with_capacity(table.columns.len());
    for col in 0..table.columns.len() {
        defaults.push(if targets.contains(&col) {
            None
        } else {
            Some(default_expr(&mut b, &table, col)?)
        });
    }
    let cons = bind_constraints(&mut b, &table, &table.name, &None)?;
    Ok(Target {
        table,
        targets,
        defaults,
        cons,
    })
}

/// The table columns `columns` name (all of them when empty), with PostgreSQL's errors.
pub(crate) fn target_columns(t: &TableDef, columns: &[Ident]) -> Result<Vec<usize>, SqlError> {
    if columns.is_empty() {
        return Ok((0..t.columns.len()).collect());
    }
    let mut out = Vec::new();
    for c in columns {
        let n = ident_name(c);
        let i = t
            .column_index(&n)
            .ok_or_else(|| SqlError::UndefinedColumn {
                name: format!("{n}\" of relation \"{}", t.name),
            })?;
        if out.contains(&i) {
            return Err(SqlError::DuplicateColumn { name: n });
        }
        out.push(i);
    }
    Ok(out)
}

/// One COPY FROM STDIN in progress.
pub struct CopyIn {
    pub(crate) target: Target,
    format: CopyFormat,
    decoder: Decoder,
    pending: Vec<PendingRow>,
    pending_bytes: usize,
    /// Rows written so far (in autocommit mode: committed).
    pub(crate) rows: u64,
    pub(crate) env: StatementEnv,
    pub(crate) deadline: Option<Instant>,
    /// Outside a transaction block: every batch commits on its own.
    pub(crate) autocommit: bool,
    /// Inside a block, into a table fresh in it: batches commit on their own, invisible
    /// until the block commits ([`crate::fresh`]).
    pub(crate) side_write: bool,
}

impl CopyIn {
    pub(crate) fn new(
        target: Target,
        opts: &CopyOptions,
        env: StatementEnv,
        deadline: Option<Instant>,
        autocommit: bool,
    ) -> Result<CopyIn, SqlError> {
        let flags = |names: &[String], option: &str| -> Result<Vec<bool>, SqlError> {
            let mut flags = vec![false; target.targets.len()];
            for n in names {
                let pos = target
                    .table
                    .column_index(n)
                    .and_then(|c| target.targets.iter().position(|t| *t == c));
                match pos {
                    Some(p) => flags[p] = true,
                    None => {
                        return Err(SqlError::InvalidColumnReference {
                            message: format!("{option} column \"{n}\" not referenced by COPY"),
                        })
                    }
                }
            }
            Ok(flags)
        };
        let not_null = flags(&opts.force_not_null, "FORCE_NOT_NULL")?;
        let null = flags(&opts.force_null, "FORCE_NULL")?;
        Ok(CopyIn {
            decoder: Decoder::new(opts, not_null, null),
            format: opts.format,
            target,
            pending: Vec::new(),
            pending_bytes: 0,
            rows: 0,
            env,
            deadline,
            autocommit,
            side_write: false,
        })
    }

    pub fn info(&self) -> CopyInInfo {
        CopyInInfo {
            columns: self.target.targets.len(),
            format: self.format,
        }
    }

    /// Decodes `data` into the open batch.
    pub(crate) fn push_data(&mut self, data: &[u8]) -> Result<(), SqlError> {
        let mut rows = Vec::new();
        let r = self.decoder.feed(data, &mut rows);
        self.pending_bytes += data.len();
        self.accept(rows)?;
        r.map_err(|e| self.line_error(e))
    }

    /// The end of the input: its last row (without a newline) joins the batch.
    pub(crate) fn finish_input(&mut self) -> Result<(), SqlError> {
        let mut rows = Vec::new();
        let r = self.decoder.finish(&mut rows);
        self.accept(rows)?;
        r.map_err(|e| self.line_error(e))
    }

    /// Adds rows given as fields (the API for callers that decode themselves).
    pub(crate) fn push_rows(&mut self, rows: Vec<Vec<Option<String>>>) -> Result<(), SqlError> {
        let first = self.rows + self.pending.len() as u64;
        let raw = rows
            .into_iter()
            .enumerate()
            .map(|(i, fields)| {
                self.pending_bytes += fields.iter().flatten().map(String::len).sum::<usize>();
                RawRow {
                    line: first + i as u64 + 1,
                    text: String::new(),
                    fields,
                }
            })
            .collect();
        self.accept(raw)
    }

    /// Checks the field count and converts the fields of `rows` (errors are reported
    /// as soon as the row arrives, as PostgreSQL does); the batch holds them until it is
    /// written.
    fn accept(&mut self, rows: Vec<RawRow>) -> Result<(), SqlError> {
        let want = self.target.targets.len();
        for row in rows {
            let n = row.fields.len();
            if n < want {
                let col = &self.target.table.columns[self.target.targets[n]].name;
                let e = bad_format(format!("missing data for column \"{col}\""));
                return Err(self.row_error(e, &row));
            }
            if n > want {
                let e = bad_format("extra data after last expected column");
                return Err(self.row_error(e, &row));
            }
            let values = convert(&self.target, &row)?;
            self.pending.push(PendingRow {
                line: row.line,
                text: row.text,
                values,
            });
        }
        Ok(())
    }

    /// Whether the open batch is full.
    pub(crate) fn batch_full(&self) -> bool {
        self.pending.len() >= BATCH_ROWS || self.pending_bytes >= BATCH_BYTES
    }

    /// Closes the open batch and returns its rows (at most [`BATCH_ROWS`]; the rest stay
    /// for the next batch).
    pub(crate) fn take_batch(&mut self) -> Vec<PendingRow> {
        if self.pending.len() <= BATCH_ROWS {
            self.pending_bytes = self.decoder.buffered();
            return std::mem::take(&mut self.pending);
        }
        let total = self.pending.len();
        let rest = self.pending.split_off(BATCH_ROWS);
        self.pending_bytes = self.pending_bytes / total * rest.len();
        std::mem::replace(&mut self.pending, rest)
    }

    fn table_name(&self) -> &str {
        &self.target.table.name
    }

    /// An error of the line the decoder is on.
    fn line_error(&self, e: SqlError) -> SqlError {
        context(
            e,
            format!("COPY {}, line {}", self.table_name(), self.decoder.line()),
        )
    }

    fn row_error(&self, e: SqlError, row: &RawRow) -> SqlError {
        row_context(e, self.table_name(), row)
    }
}

fn context(error: SqlError, context: String) -> SqlError {
    if matches!(error, SqlError::WithContext { .. }) {
        return error;
    }
    SqlError::WithContext {
        error: Box::new(error),
        context,
        detail: None,
    }
}

fn row_context(e: SqlError, table: &str, row: &RawRow) -> SqlError {
    line_context(e, table, row.line, &row.text)
}

fn line_context(e: SqlError, table: &str, line: u64, text: &str) -> SqlError {
    let c = if text.is_empty() {
        format!("COPY {table}, line {line}")
    } else {
        format!("COPY {table}, line {line}: \"{text}\"")
    };
    context(e, c)
}

/// A row of the open batch: its input fields converted and placed at their table
/// columns (the others NULL until their defaults are filled in at write time).
pub(crate) struct PendingRow {
    line: u64,
    text: String,
    values: Vec<Datum>,
}

/// Writes `rows` into `txn`: defaults filled in, checked, and inserted with their index
/// entries.
pub(crate) fn insert_batch(
    txn: &mut Transaction,
    target: &Target,
    rows: &[PendingRow],
    env: StatementEnv,
) -> Result<(), SqlError> {
    let t = &target.table;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    for pending in rows {
        crate::cancel::check()?;
        let ctx = |e| line_context(e, &t.name, pending.line, &pending.text);
        let mut row = pending.values.clone();
        for (col, d) in target.defaults.iter().enumerate() {
            if let Some(e) = d {
                row[col] = eval(e, &[], &mut cx).map_err(ctx)?;
            }
        }
        check_row(t, &target.cons, &row, &mut cx).map_err(ctx)?;
        if let Some(ix) = store::find_unique_violation(cx.txn, t, &row, None)? {
            return Err(ctx(SqlError::UniqueViolation {
                constraint: ix.name.clone(),
            }));
        }
        let row_id = match t.has_row_id() {
            true => Some(store::new_row_id(cx.txn, t)?),
            false => None,
        };
        store::insert_row(cx.txn, t, &row, row_id)?;
    }
    Ok(())
}

/// The fields of one input row parsed by their column's type, at their table columns.
fn convert(target: &Target, raw: &RawRow) -> Result<Vec<Datum>, SqlError> {
    let t = &target.table;
    let mut row = vec![Datum::Null; t.columns.len()];
    for (field, &col) in raw.fields.iter().zip(&target.targets) {
        let Some(text) = field else { continue };
        let c = &t.columns[col];
        row[col] = Datum::parse(text, &c.data_type)
            .and_then(|d| apply_typmod(d, &c.data_type, false))
            .map_err(|e| {
                let shown: String = text.chars().take(100).collect();
                context(
                    e,
                    format!(
                        "COPY {}, line {}, column {}: \"{shown}\"",
                        t.name, raw.line, c.name
                    ),
                )
            })?;
    }
    Ok(row)
}
