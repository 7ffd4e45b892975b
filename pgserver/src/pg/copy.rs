//! The COPY sub-protocol and notices on [`Connection`]: what is sent around a COPY, and
//! the copy-in mode.
//!
//! ```text
//!   COPY ... TO STDOUT     H CopyOutResponse | d CopyData (one per line)* | c CopyDone
//!                          | C CommandComplete "COPY n"
//!   COPY ... FROM STDIN    G CopyInResponse, then copy-in mode:
//!       client d CopyData     -> rows decoded and written by the session, no answer
//!       client c CopyDone     -> C "COPY n" (+ Z for a simple Query)
//!       client f CopyFail     -> E 57014 "COPY from stdin failed: ..." (+ Z if simple)
//!       client H Flush, S Sync -> ignored (the protocol says so: tokio-postgres pipelines
//!                               Bind/Execute/Sync before its CopyData)
//!       anything else        -> E 08P01, the COPY is aborted
//!   CopyInResponse / CopyOutResponse: int8 format 0 (text) | int16 n | int16 0 * n
//! ```
//!
//! Errors during copy-in are reported at once, as PostgreSQL does: ErrorResponse, then
//! ReadyForQuery for a simple Query, or the usual skip to Sync for the extended protocol.
//! The client's remaining CopyData / CopyDone / CopyFail then arrive in the normal state,
//! where they are ignored (PostgreSQL: "we probably got here because a COPY failed").
//! NoticeResponse messages go out before the CommandComplete of their statement.

use bytes::Bytes;
use ferrisdb_sql::{CopyOutput, Notice};
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::response::{CommandComplete, NoticeResponse};
use pgwire::messages::PgWireBackendMessage as Msg;

use super::errors::PgError;
use super::frontend::Frontend;
use super::protocol::{Connection, Phase};
use super::session::{SessionFactory, SqlSession};

impl<F: SessionFactory> Connection<F> {
    /// Enters copy-in mode when the statement just run was a COPY FROM STDIN; whether it
    /// was.
    pub(super) fn start_copy_in(&mut self, extended: bool) -> bool {
        let Some(info) = self.session.as_ref().and_then(|s| s.copy_in_info()) else {
            return false;
        };
        let n = i16::try_from(info.columns).unwrap_or(i16::MAX);
        self.send(Msg::CopyInResponse(CopyInResponse::new(
            0,
            n,
            vec![0; n as usize],
        )));
        self.phase = Phase::CopyIn { extended };
        true
    }

    /// CopyOutResponse, one CopyData per line, CopyDone.
    pub(super) fn send_copy_out(&mut self, out: CopyOutput) {
        let n = i16::try_from(out.columns).unwrap_or(i16::MAX);
        self.send(Msg::CopyOutResponse(CopyOutResponse::new(
            0,
            n,
            vec![0; n as usize],
        )));
        for line in out.lines {
            self.send(Msg::CopyData(CopyData::new(Bytes::from(line))));
        }
        self.send(Msg::CopyDone(CopyDone::new()));
    }

    /// Sends one notice.
    pub(super) fn send_notice(&mut self, notice: &Notice) {
        let fields = vec![
            (b'S', notice.severity.to_string()),
            (b'V', notice.severity.to_string()),
            (b'C', notice.code.to_string()),
            (b'M', notice.message.replace('\0', "\\0")),
        ];
        self.send(Msg::NoticeResponse(NoticeResponse::new(fields)));
    }

    /// Sends every notice the session holds (positions ignored).
    pub(super) fn send_all_notices(&mut self) {
        let notices = self
            .session
            .as_mut()
            .map(|s| s.take_notices())
            .unwrap_or_default();
        for (_, n) in &notices {
            self.send_notice(n);
        }
    }

    /// One message in copy-in mode.
    pub(super) fn copy_message(&mut self, message: Frontend, extended: bool) {
        let Some(session) = self.session.as_mut() else {
            self.phase = Phase::Closed;
            return;
        };
        match message {
            Frontend::CopyData(data) => {
                if let Err(e) = session.copy_data(&data) {
                    self.copy_error(e.into(), extended);
                }
            }
            Frontend::CopyDone => match session.copy_done() {
                Ok(tag) => {
                    self.send_all_notices();
                    self.send(Msg::CommandComplete(CommandComplete::new(tag)));
                    self.phase = Phase::Ready;
                    if !extended {
                        self.ready_for_query();
                    }
                }
                Err(e) => self.copy_error(e.into(), extended),
            },
            Frontend::CopyFail(reason) => {
                let e = session.copy_fail(&reason);
                self.copy_error(e.into(), extended);
            }
            Frontend::Flush | Frontend::Sync => {}
            Frontend::Terminate => self.phase = Phase::Closed,
            other => {
                let kind = message_kind(&other);
                let _ = session.copy_fail("unexpected message");
                self.copy_error(PgError::UnexpectedDuringCopy(kind), extended);
            }
        }
    }

    fn copy_error(&mut self, e: PgError, extended: bool) {
        self.send_all_notices();
        self.report(&e, &|p| p);
        if extended {
            self.phase = Phase::SkipToSync;
        } else {
            self.phase = Phase::Ready;
            self.ready_for_query();
        }
    }
}

/// The type byte of a message (for the 08P01 error text).
fn message_kind(m: &Frontend) -> u8 {
    match m {
        Frontend::Query(_) => b'Q',
        Frontend::Parse { .. } => b'P',
        Frontend::Bind { .. } => b'B',
        Frontend::Describe { .. } => b'D',
        Frontend::Execute { .. } => b'E',
        Frontend::Close { .. } => b'C',
        Frontend::Unsupported(k) => *k,
        _ => 0,
    }
}
