//! Results on the wire while the statement runs: the connection's [`ResultSink`].
//!
//! The session hands over each statement's result as it completes, and a long query's
//! rows (or COPY TO's lines) in batches while it runs (`ferrisdb_sql::stream`). The sink
//! encodes them into the connection's output buffer as usual, and writes the buffer to the
//! socket whenever it passes [`FLUSH_BYTES`], so a connection holds about that much of a
//! result however large it is. A result smaller than that goes out with the rest of the
//! message batch's answers in one write, exactly as before: no extra system call for the
//! short statements of an OLTP load.
//!
//! ```text
//!   simple Query    RowDescription (at begin_rows, or with the completed result),
//!                   DataRow*, CommandComplete per statement, ErrorResponse if one failed
//!   Execute (0)     DataRow* in the portal's formats, CommandComplete (RowDescription
//!                   belongs to Describe)
//!   COPY TO         CopyOutResponse at begin_copy, CopyData*, CopyDone, CommandComplete
//! ```
//!
//! If the socket fails mid-result, the sink fails the statement with 08006 and marks the
//! connection broken; the shell then closes it (an open transaction is dropped).
//! A value that cannot be encoded fails the statement too; the connection reports the
//! encoding error, not the session's echo of it.

use std::io::Write;

use bytes::Bytes;
use ferrisdb_sql::{Column, CopyFormat, CopyOutput, Notice, ResultSink, SqlError, StatementResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use pgwire::messages::response::CommandComplete;
use pgwire::messages::PgWireBackendMessage as Msg;

use super::errors::PgError;
use super::protocol::{Connection, Phase};
use super::rows;
use super::session::{OutputColumn, SessionFactory, SqlSession};

/// Output buffered before it is written to the socket in the middle of a statement.
pub const FLUSH_BYTES: usize = 64 * 1024;

/// Where a connection writes mid-statement output (`None`: keep it all in the buffer).
pub type Writer<'a> = Option<&'a mut (dyn Write + Send)>;

/// The connection as a [`ResultSink`] for one `execute_to` call.
struct WireSink<'c, 'w, F: SessionFactory> {
    conn: &'c mut Connection<F>,
    writer: Writer<'w>,
    /// The extended protocol's result formats (no RowDescription here); `None`: simple.
    formats: Option<Vec<i16>>,
    /// The columns of the query whose rows are streaming now.
    streaming: Option<Vec<OutputColumn>>,
    /// A COPY TO is streaming its lines now.
    copying: bool,
    /// What the run left to report or act on.
    report: SinkReport,
}

/// What a [`WireSink`] learned while the session ran.
#[derive(Default)]
struct SinkReport {
    completed: usize,
    last_tag: Option<String>,
    /// A value that could not be encoded: the error to report instead of the session's.
    encode_error: Option<PgError>,
    /// Writing to the socket failed: the client is gone.
    broken: bool,
}

/// What a statement run with the connection as its sink left to report.
pub(super) struct Streamed {
    /// The error that stopped the script: an encoding error of ours, else the session's.
    pub(super) error: Option<PgError>,
    /// Statements completed.
    pub(super) completed: usize,
    /// The last completed statement's command tag.
    pub(super) last_tag: Option<String>,
}

impl<F: SessionFactory> Connection<F> {
    /// Runs `sql` (with `params` bound, and rows in `formats` for an Execute) on the
    /// session with this connection as its sink. `None`: there is no session or it cannot
    /// stream (the caller collects instead). When the socket failed, the connection is
    /// closed and nothing is left to report.
    pub(super) fn run_streamed(
        &mut self,
        sql: &str,
        params: Option<&[(ferrisdb_sql::Datum, ferrisdb_sql::DataType)]>,
        writer: Writer<'_>,
        formats: Option<Vec<i16>>,
    ) -> Option<Streamed> {
        // Out of the connection while it runs, so that the sink can write to the rest.
        let mut session = self.session.take()?;
        let mut sink = WireSink::new(self, writer, formats);
        let error = session.execute_streaming(sql, params, &mut sink);
        let report = sink.report;
        self.session = Some(session);
        let error = error?;
        if report.broken {
            self.phase = Phase::Closed;
            return Some(Streamed {
                error: None,
                completed: report.completed,
                last_tag: None,
            });
        }
        Some(Streamed {
            error: error.map(|e| report.encode_error.unwrap_or_else(|| PgError::from(e))),
            completed: report.completed,
            last_tag: report.last_tag,
        })
    }
}

fn output_columns(columns: &[Column]) -> Vec<OutputColumn> {
    columns
        .iter()
        .map(|c| OutputColumn {
            name: c.name.clone(),
            data_type: c.data_type,
        })
        .collect()
}

impl<'c, 'w, F: SessionFactory> WireSink<'c, 'w, F> {
    /// A sink for a simple Query (`formats: None`) or an Execute in the given formats.
    fn new(
        conn: &'c mut Connection<F>,
        writer: Writer<'w>,
        formats: Option<Vec<i16>>,
    ) -> WireSink<'c, 'w, F> {
        WireSink {
            conn,
            writer,
            formats,
            streaming: None,
            copying: false,
            report: SinkReport::default(),
        }
    }

    fn formats(&self) -> &[i16] {
        self.formats.as_deref().unwrap_or(&[])
    }

    /// Writes the output out once it is large enough.
    fn flush_if_full(&mut self) -> Result<(), SqlError> {
        if self.conn.pending_output() < FLUSH_BYTES {
            return Ok(());
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let out = self.conn.take_output();
        if let Err(e) = w.write_all(&out).and_then(|()| w.flush()) {
            self.report.broken = true;
            return Err(SqlError::ConnectionFailure {
                message: format!("could not send data to client: {e}"),
            });
        }
        Ok(())
    }

    /// Encodes rows as DataRow messages in the sink's formats.
    fn send_rows(
        &mut self,
        columns: &[OutputColumn],
        rows: Vec<Vec<ferrisdb_sql::Datum>>,
    ) -> Result<(), SqlError> {
        for row in rows {
            match rows::data_row(&row, columns, self.formats()) {
                Ok(r) => self.conn.send(Msg::DataRow(r)),
                Err(e) => return Err(self.encode_failed(e)),
            }
        }
        Ok(())
    }

    fn encode_failed(&mut self, e: PgError) -> SqlError {
        let message = e.to_string();
        self.report.encode_error = Some(e);
        SqlError::internal(message)
    }

    /// RowDescription for a simple Query; a format check for an Execute.
    fn describe(&mut self, columns: &[OutputColumn]) -> Result<(), SqlError> {
        match &self.formats {
            None => self
                .conn
                .send(Msg::RowDescription(rows::row_description(columns, &[]))),
            Some(f) => {
                if let Err(e) = rows::check_formats(f, columns.len()) {
                    return Err(self.encode_failed(e));
                }
            }
        }
        Ok(())
    }
}

impl<F: SessionFactory> ResultSink for WireSink<'_, '_, F> {
    fn completed(
        &mut self,
        _index: usize,
        result: StatementResult,
        notices: Vec<Notice>,
        copy_out: Option<CopyOutput>,
    ) -> Result<(), SqlError> {
        for n in &notices {
            self.conn.send_notice(n);
        }
        if let Some(c) = copy_out {
            if std::mem::take(&mut self.copying) {
                for line in c.lines {
                    self.conn
                        .send(Msg::CopyData(CopyData::new(Bytes::from(line))));
                }
                self.conn.send(Msg::CopyDone(CopyDone::new()));
            } else {
                self.conn.send_copy_out(c);
            }
        }
        let tag = result.tag();
        match result {
            StatementResult::Query { columns, rows, .. } => {
                let columns = match self.streaming.take() {
                    Some(c) => c,
                    None => {
                        let c = output_columns(&columns);
                        self.describe(&c)?;
                        c
                    }
                };
                self.send_rows(&columns, rows)?;
            }
            StatementResult::Command { .. } => {}
        }
        self.conn
            .send(Msg::CommandComplete(CommandComplete::new(tag.clone())));
        self.report.completed += 1;
        self.report.last_tag = Some(tag);
        self.flush_if_full()
    }

    fn begin_rows(&mut self, columns: &[Column]) -> Result<(), SqlError> {
        let columns = output_columns(columns);
        self.describe(&columns)?;
        self.streaming = Some(columns);
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<ferrisdb_sql::Datum>>) -> Result<(), SqlError> {
        let columns = self.streaming.take().unwrap_or_default();
        let r = self.send_rows(&columns, rows);
        self.streaming = Some(columns);
        r?;
        self.flush_if_full()
    }

    fn begin_copy(&mut self, _format: CopyFormat, columns: usize) -> Result<(), SqlError> {
        let n = i16::try_from(columns).unwrap_or(i16::MAX);
        self.conn.send(Msg::CopyOutResponse(CopyOutResponse::new(
            0,
            n,
            vec![0; n as usize],
        )));
        self.copying = true;
        Ok(())
    }

    fn copy_lines(&mut self, lines: Vec<Vec<u8>>) -> Result<(), SqlError> {
        for line in lines {
            self.conn
                .send(Msg::CopyData(CopyData::new(Bytes::from(line))));
        }
        self.flush_if_full()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
