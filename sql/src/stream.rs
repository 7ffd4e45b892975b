//! Streaming results: a script's statement results go to a [`ResultSink`] as each statement
//! completes, and a long query's rows (or a `COPY ... TO STDOUT`'s lines) go there while
//! the query runs, so a server holds a batch of a large result, not all of it.
//!
//! ```text
//!   Session::execute_to(sql, sink)
//!     statement i: a query     rows pulled from the executor into a RowStream
//!                              |  up to HOLD_ROWS / HOLD_BYTES: held back
//!                              |  beyond: sink.begin_rows(columns), then sink.rows(batch)
//!                              |          every BATCH_ROWS / BATCH_BYTES
//!                  COPY TO     the same, as sink.begin_copy + sink.copy_lines
//!     then  sink.completed(i, result, notices, copy output)   (rows held back ride here)
//! ```
//!
//! ## Why hold the first rows back
//!
//! Outside a transaction block a statement is retried from scratch when its transaction
//! fails retryably (a conflict, "transaction too old"). That is only invisible while no
//! row has reached the client: a retry would send the rows again. So the first
//! [`HOLD_ROWS`] rows or [`HOLD_BYTES`] bytes are held; a result that fits (nearly every
//! result) completes, retries and all, exactly as when results were collected whole.
//! Once rows have gone out, a retryable error is reported to the client instead
//! (CockroachDB does the same past its 16 KiB result buffer), after the rows it already
//! has, as PostgreSQL's protocol allows.
//!
//! Not streamed: cursors (`DECLARE` runs its query to completion, [`crate::cursor`]),
//! portals read a few rows at a time by the extended protocol's row limit (the wire
//! server collects those), `EXPLAIN ANALYZE` and results computed inside other statements
//! (`INSERT ... SELECT`, `... RETURNING`).

use crate::bind::Column;
use crate::copy::options::CopyOptions;
use crate::copy::{encode, CopyFormat, CopyOutput};
use crate::error::SqlError;
use crate::exec::{row_size, Row};
use crate::notice::Notice;
use crate::session::StatementResult;

/// Rows held back before a result starts streaming (see the module doc).
pub const HOLD_ROWS: usize = 1000;
/// Bytes (as [`row_size`] counts them) held back before a result starts streaming.
pub const HOLD_BYTES: usize = 256 * 1024;
/// Rows per batch once streaming.
const BATCH_ROWS: usize = 256;
/// Bytes per batch once streaming.
const BATCH_BYTES: usize = 64 * 1024;

/// Where a script's results go, in order. Every method may fail (the client is gone, a
/// value cannot be encoded): the running statement then stops with that error.
pub trait ResultSink {
    /// Whether rows may be handed over while a statement runs; a sink that says no gets
    /// every result whole in [`ResultSink::completed`].
    fn streams(&self) -> bool {
        true
    }

    /// Statement `index` of the script completed with `result`, having raised `notices`
    /// and (COPY TO) produced `copy_out`. For a statement that streamed, `result` is a
    /// query with no rows left and the tag `SELECT n`, or the COPY's lines left to send.
    fn completed(
        &mut self,
        index: usize,
        result: StatementResult,
        notices: Vec<Notice>,
        copy_out: Option<CopyOutput>,
    ) -> Result<(), SqlError>;

    /// The running query starts sending rows, with these columns.
    fn begin_rows(&mut self, columns: &[Column]) -> Result<(), SqlError>;

    /// More rows of the running query.
    fn rows(&mut self, rows: Vec<Row>) -> Result<(), SqlError>;

    /// The running COPY TO starts sending lines (`columns` fields each).
    fn begin_copy(&mut self, format: CopyFormat, columns: usize) -> Result<(), SqlError>;

    /// More lines of the running COPY TO, one CopyData message each.
    fn copy_lines(&mut self, lines: Vec<Vec<u8>>) -> Result<(), SqlError>;
}

/// One statement's rows on their way to a sink: held back first, then sent in batches.
pub(crate) struct RowStream<'s> {
    sink: &'s mut dyn ResultSink,
    /// Set for COPY TO: rows go out encoded as lines.
    copy: Option<CopyOptions>,
    pending: Vec<Row>,
    pending_bytes: usize,
    /// Whether anything has gone to the sink (no retry after that).
    began: bool,
    sent: u64,
}

impl<'s> RowStream<'s> {
    pub(crate) fn new(sink: &'s mut dyn ResultSink) -> RowStream<'s> {
        RowStream {
            sink,
            copy: None,
            pending: Vec::new(),
            pending_bytes: 0,
            began: false,
            sent: 0,
        }
    }

    /// Rows go out as COPY lines in these options' format.
    pub(crate) fn for_copy(&mut self, opts: &CopyOptions) {
        self.copy = Some(opts.clone());
    }

    /// Whether rows have gone to the sink.
    pub(crate) fn began(&self) -> bool {
        self.began
    }

    /// Rows sent to the sink so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    pub(crate) fn push(&mut self, row: Row) {
        self.pending_bytes += row_size(&row);
        self.pending.push(row);
    }

    /// Whether the pending rows should go out now.
    pub(crate) fn full(&self) -> bool {
        let (rows, bytes) = match self.began {
            false => (HOLD_ROWS, HOLD_BYTES),
            true => (BATCH_ROWS, BATCH_BYTES),
        };
        self.pending.len() >= rows || self.pending_bytes >= bytes
    }

    /// The pending rows, leaving none.
    pub(crate) fn take(&mut self) -> Vec<Row> {
        self.pending_bytes = 0;
        std::mem::take(&mut self.pending)
    }

    /// Forgets rows held back by an attempt that is about to be retried.
    pub(crate) fn discard(&mut self) {
        debug_assert!(
            !self.began,
            "a statement that streamed rows is never retried"
        );
        self.take();
    }

    /// Sends `rows` of a result with `columns` to the sink.
    pub(crate) fn send(&mut self, columns: &[Column], rows: Vec<Row>) -> Result<(), SqlError> {
        if rows.is_empty() && self.began {
            return Ok(());
        }
        let n = rows.len() as u64;
        match &self.copy {
            None => {
                if !self.began {
                    self.sink.begin_rows(columns)?;
                }
                self.began = true;
                self.sink.rows(rows)?;
            }
            Some(opts) => {
                let mut lines = Vec::with_capacity(rows.len() + 1);
                if !self.began {
                    self.sink.begin_copy(opts.format, columns.len())?;
                    if opts.header {
                        lines.push(copy_header(opts, columns));
                    }
                }
                self.began = true;
                let force = forced(opts, columns);
                lines.extend(rows.iter().map(|r| copy_line(opts, columns, &force, r)));
                self.sink.copy_lines(lines)?;
            }
        }
        self.sent += n;
        Ok(())
    }

    /// The statement's result, `rest` being its last rows: returned whole if nothing was
    /// sent, else sent, leaving the tag.
    pub(crate) fn finish(
        &mut self,
        columns: &[Column],
        rest: Vec<Row>,
    ) -> Result<StatementResult, SqlError> {
        if !self.began {
            return Ok(StatementResult::Query {
                columns: columns.to_vec(),
                rows: rest,
                tag: None,
            });
        }
        self.send(columns, rest)?;
        Ok(StatementResult::Query {
            columns: columns.to_vec(),
            rows: Vec::new(),
            tag: Some(format!("SELECT {}", self.sent)),
        })
    }
}

/// Which columns FORCE_QUOTE names.
pub(crate) fn forced(opts: &CopyOptions, columns: &[Column]) -> Vec<bool> {
    columns
        .iter()
        .map(|c| opts.force_quote.contains(&c.name))
        .collect()
}

/// The HEADER line of a COPY TO.
pub(crate) fn copy_header(opts: &CopyOptions, columns: &[Column]) -> Vec<u8> {
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut line = Vec::new();
    encode::encode_header(opts, &names, &mut line);
    line
}

/// One row of a COPY TO as its output line.
pub(crate) fn copy_line(
    opts: &CopyOptions,
    columns: &[Column],
    force: &[bool],
    row: &Row,
) -> Vec<u8> {
    let values: Vec<Option<String>> = row
        .iter()
        .zip(columns)
        .map(|(d, c)| d.to_text(&c.data_type))
        .collect();
    let mut line = Vec::new();
    encode::encode_row(opts, &values, force, &mut line);
    line
}

/// A sink that streams nothing: every result, notice and COPY output is kept, by
/// statement position, for [`crate::Session::execute_all`]'s callers.
#[derive(Default)]
pub(crate) struct Collector {
    pub(crate) results: Vec<StatementResult>,
    pub(crate) notices: Vec<(usize, Notice)>,
    pub(crate) copies: Vec<(usize, CopyOutput)>,
}

impl ResultSink for Collector {
    fn streams(&self) -> bool {
        false
    }

    fn completed(
        &mut self,
        index: usize,
        result: StatementResult,
        notices: Vec<Notice>,
        copy_out: Option<CopyOutput>,
    ) -> Result<(), SqlError> {
        self.results.push(result);
        self.notices.extend(notices.into_iter().map(|n| (index, n)));
        self.copies.extend(copy_out.map(|c| (index, c)));
        Ok(())
    }

    fn begin_rows(&mut self, _columns: &[Column]) -> Result<(), SqlError> {
        Err(SqlError::internal("rows streamed to a collecting sink"))
    }

    fn rows(&mut self, _rows: Vec<Row>) -> Result<(), SqlError> {
        Err(SqlError::internal("rows streamed to a collecting sink"))
    }

    fn begin_copy(&mut self, _format: CopyFormat, _columns: usize) -> Result<(), SqlError> {
        Err(SqlError::internal(
            "COPY lines streamed to a collecting sink",
        ))
    }

    fn copy_lines(&mut self, _lines: Vec<Vec<u8>>) -> Result<(), SqlError> {
        Err(SqlError::internal(
            "COPY lines streamed to a collecting sink",
        ))
    }
}
