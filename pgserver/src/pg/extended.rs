//! The extended query protocol: Parse, Bind, Describe, Execute and Close on
//! [`Connection`], with prepared statements and portals by name (`""` is the unnamed one).
//!
//! ```text
//!   Parse(name, sql, oids)   -> Prepared { scanned sql, one type per parameter }
//!   Bind(portal, stmt, ...)  -> Portal { the statement, its typed values, result formats }
//!   Describe S               -> ParameterDescription, RowDescription | NoData
//!   Describe P               -> RowDescription (in the portal's formats) | NoData
//!   Execute(portal, max)     -> DataRow* then CommandComplete, or PortalSuspended
//!                               (max 0: streamed while it runs)
//! ```
//!
//! The engine binds the typed values itself ([`SqlSession::execute_params`]); a session
//! that cannot gets the text with the values substituted as literals (see `params`).
//!
//! Describing needs a statement's result columns before it runs. When the session can
//! describe ([`SqlSession::describe`]) we ask it. When it cannot, a query (`SELECT`,
//! `VALUES`, `WITH`, `TABLE`, `SHOW`) is run once with every parameter NULL of its type
//! and its columns kept (column types do not depend on values; reads have no side
//! effects); other statements return no rows and are described as NoData, except
//! `... RETURNING`, which we refuse (0A000) rather than describe wrongly. A portal is
//! described without running when the session can (the columns are then kept on its
//! prepared statement too: libpq describes the portal of every prepared query), so that
//! an Execute without a row limit runs it and writes its rows as they come (see
//! `stream`). An Execute with a row limit, or a portal a session could only describe by
//! running it, collects the rows and sends them a batch per Execute
//! (PortalSuspended between).

use std::collections::VecDeque;
use std::sync::Arc;

use ferrisdb_sql::{DataType, Datum};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use pgwire::messages::PgWireBackendMessage as Msg;

use super::binary;
use super::errors::PgError;
use super::frontend::Target;
use super::params::{self, BoundValue, PositionMap, ScannedSql};
use super::protocol::{Connection, Phase};
use super::rows::{self, BINARY, TEXT};
use super::session::{Outcome, OutputColumn, SessionFactory, SqlSession};
use super::stream::Writer;

/// A prepared statement.
pub struct Prepared {
    sql: Arc<ScannedSql>,
    /// One per parameter; `None`: unknown (described as text, bound as an untyped literal).
    param_types: Vec<Option<DataType>>,
    /// The result columns, once described.
    pub(super) columns: Option<Option<Vec<OutputColumn>>>,
}

/// A bound portal.
pub struct Portal {
    /// The client's statement (its text goes to `execute_params`).
    statement: Arc<ScannedSql>,
    /// The prepared statement's name, to keep columns described for the portal there.
    statement_name: String,
    /// The bound values, typed (`unknown`: an untyped literal the engine types).
    params: Vec<(Datum, DataType)>,
    result_formats: Vec<i16>,
    /// The statement's columns if it was described before binding.
    columns: Option<Option<Vec<OutputColumn>>>,
    state: PortalState,
}

enum PortalState {
    NotRun,
    /// Ran; rows not yet sent wait here.
    Ran {
        outcome: Option<Outcome>,
        pending: VecDeque<Vec<Datum>>,
        sent: usize,
        /// The output of a COPY TO STDOUT, sent at Execute.
        copy_out: Option<ferrisdb_sql::CopyOutput>,
    },
}

impl<F: SessionFactory> Connection<F> {
    pub(super) fn parse(&mut self, name: String, sql: &str, oids: &[u32]) -> Result<(), PgError> {
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(PgError::DuplicateStatement(name));
        }
        let scanned = params::scan(sql)?;
        if scanned.multiple {
            return Err(PgError::MultipleCommands);
        }
        let count = scanned.max_param.max(oids.len());
        let mut param_types = Vec::with_capacity(count);
        for i in 0..count {
            let declared = match oids.get(i) {
                Some(&oid) => params::type_for_oid(oid)?,
                None => None,
            };
            param_types.push(declared.or_else(|| scanned.cast_types.get(i).copied().flatten()));
        }
        if !name.is_empty() {
            if let Some(session) = self.session.as_mut() {
                session.note_prepared(&name, Some((sql, param_types.clone())));
            }
        }
        self.statements.insert(
            name,
            Prepared {
                sql: Arc::new(scanned),
                param_types,
                columns: None,
            },
        );
        self.send(Msg::ParseComplete(ParseComplete::new()));
        Ok(())
    }

    pub(super) fn bind(
        &mut self,
        portal: String,
        statement: &str,
        formats: &[i16],
        values: Vec<Option<Vec<u8>>>,
        result_formats: Vec<i16>,
    ) -> Result<(), PgError> {
        let statement_name = statement;
        let prepared = self
            .statements
            .get(statement)
            .ok_or_else(|| PgError::UnknownStatement(statement.to_string()))?;
        let needed = prepared.param_types.len();
        if values.len() != needed {
            return Err(PgError::ParameterCount {
                statement: statement.to_string(),
                given: values.len(),
                needed,
            });
        }
        if formats.len() > 1 && formats.len() != needed {
            return Err(PgError::FormatCount {
                given: formats.len(),
                needed,
            });
        }
        rows::check_codes(formats)?;
        rows::check_codes(&result_formats)?;
        let mut bound = Vec::with_capacity(needed);
        for (i, (raw, ty)) in values.into_iter().zip(&prepared.param_types).enumerate() {
            let format = rows::format_of(formats, i);
            bound.push(bind_value(raw, *ty, format, i + 1)?);
        }
        let statement = prepared.sql.clone();
        let typed = bound
            .into_iter()
            .map(|b| (b.datum, b.ty.unwrap_or(DataType::Unknown)))
            .collect();
        if let Some(Some(cols)) = &prepared.columns {
            rows::check_formats(&result_formats, cols.len())?;
        }
        let columns = prepared.columns.clone();
        self.portals.insert(
            portal,
            Portal {
                statement,
                statement_name: statement_name.to_string(),
                params: typed,
                result_formats,
                columns,
                state: PortalState::NotRun,
            },
        );
        self.send(Msg::BindComplete(BindComplete::new()));
        Ok(())
    }

    pub(super) fn describe(&mut self, target: Target, name: &str) -> Result<(), PgError> {
        match target {
            Target::Statement => {
                self.infer_params(name)?;
                let prepared = self
                    .statements
                    .get(name)
                    .ok_or_else(|| PgError::UnknownStatement(name.to_string()))?;
                // Unknown parameters are described as text: the client then sends text,
                // which we bind as an untyped literal for the engine to type.
                let oids = prepared
                    .param_types
                    .iter()
                    .map(|t| t.map_or(DataType::Text.oid(), |t| t.oid()))
                    .collect();
                let columns = match &prepared.columns {
                    Some(c) => c.clone(),
                    None => self.describe_statement(name)?,
                };
                if let Some(p) = self.statements.get_mut(name) {
                    p.columns = Some(columns.clone());
                }
                self.send(Msg::ParameterDescription(ParameterDescription::new(oids)));
                self.send_columns(columns.as_deref(), &[]);
            }
            // A SQL cursor is a portal too (DECLARE opens one): psycopg 3 describes its
            // named cursors this way before fetching with FETCH statements.
            Target::Portal if !self.portals.contains_key(name) => {
                let fetch = format!("FETCH 0 FROM \"{}\"", name.replace('"', "\"\""));
                let session = self
                    .session
                    .as_mut()
                    .ok_or(PgError::Unsupported("a query before startup"))?;
                match session.describe(&fetch) {
                    Some(Ok(columns)) => self.send_columns(columns.as_deref(), &[]),
                    _ => return Err(PgError::UnknownPortal(name.to_string())),
                }
            }
            Target::Portal => {
                let columns = self.portal_columns(name)?;
                let formats = self
                    .portals
                    .get(name)
                    .map(|p| p.result_formats.clone())
                    .unwrap_or_default();
                if let Some(cols) = &columns {
                    rows::check_formats(&formats, cols.len())?;
                }
                self.send_columns(columns.as_deref(), &formats);
            }
        }
        Ok(())
    }

    /// Ask the session for the statement's parameter types (PostgreSQL's inference from
    /// context) and columns, when it can describe without running; later Binds decode
    /// values as those types.
    fn infer_params(&mut self, name: &str) -> Result<(), PgError> {
        let Some(prepared) = self.statements.get(name) else {
            return Err(PgError::UnknownStatement(name.to_string()));
        };
        if prepared.columns.is_some() && prepared.param_types.iter().all(Option::is_some) {
            return Ok(());
        }
        let (text, declared) = (prepared.sql.text.clone(), prepared.param_types.clone());
        let session = self
            .session
            .as_mut()
            .ok_or(PgError::Unsupported("a query before startup"))?;
        let Some(described) = session.describe_params(&text, &declared) else {
            return Ok(());
        };
        let (types, columns) = described.map_err(PgError::from)?;
        if let Some(p) = self.statements.get_mut(name) {
            for (slot, ty) in p.param_types.iter_mut().zip(types) {
                if slot.is_none() && ty != DataType::Unknown {
                    *slot = Some(ty);
                }
            }
            p.columns = Some(columns);
        }
        Ok(())
    }

    fn send_columns(&mut self, columns: Option<&[OutputColumn]>, formats: &[i16]) {
        match columns {
            Some(cols) => self.send(Msg::RowDescription(rows::row_description(cols, formats))),
            None => self.send(Msg::NoData(NoData::new())),
        }
    }

    /// The result columns of prepared statement `name` (see the module doc).
    fn describe_statement(&mut self, name: &str) -> Result<Option<Vec<OutputColumn>>, PgError> {
        let prepared = self
            .statements
            .get(name)
            .ok_or_else(|| PgError::UnknownStatement(name.to_string()))?;
        let nulls: Vec<BoundValue> = prepared
            .param_types
            .iter()
            .map(|ty| BoundValue {
                datum: Datum::Null,
                ty: *ty,
            })
            .collect();
        let (sql, positions) = params::substitute(&prepared.sql, &nulls)?;
        let is_query = matches!(
            prepared.sql.first_word.as_str(),
            "select" | "values" | "with" | "table" | "show"
        );
        let returning = prepared.sql.has_returning;
        let session = self
            .session
            .as_mut()
            .ok_or(PgError::Unsupported("a query before startup"))?;
        if let Some(described) = session.describe(&sql) {
            return described.map_err(PgError::from);
        }
        if !is_query {
            if returning {
                return Err(PgError::Unsupported(
                    "describing a statement with RETURNING before it runs",
                ));
            }
            return Ok(None);
        }
        match session.execute(&sql) {
            Ok(outcomes) => Ok(match outcomes.into_iter().next() {
                Some(Outcome::Rows { columns, .. }) => Some(columns),
                _ => None,
            }),
            Err(e) => {
                let e = PgError::from(e);
                self.report(&e, &|p| positions.map(p));
                Err(PgError::Reported)
            }
        }
    }

    /// A portal's columns, running it now if nothing else can tell (see the module doc).
    fn portal_columns(&mut self, name: &str) -> Result<Option<Vec<OutputColumn>>, PgError> {
        let portal = self
            .portals
            .get(name)
            .ok_or_else(|| PgError::UnknownPortal(name.to_string()))?;
        if let Some(columns) = &portal.columns {
            return Ok(columns.clone());
        }
        // Ask the session when it can describe without running, so that Execute can
        // still stream the rows.
        let declared: Vec<Option<DataType>> = portal
            .params
            .iter()
            .map(|(_, t)| (*t != DataType::Unknown).then_some(*t))
            .collect();
        let text = portal.statement.clone();
        let session = self
            .session
            .as_mut()
            .ok_or(PgError::Unsupported("a query before startup"))?;
        if let Some(described) = session.describe_params(&text.text, &declared) {
            let (_, columns) = described.map_err(PgError::from)?;
            let statement = match self.portals.get_mut(name) {
                Some(p) => {
                    p.columns = Some(columns.clone());
                    p.statement_name.clone()
                }
                None => String::new(),
            };
            // Kept on the prepared statement too, so its next portals are not described
            // again (libpq's PQsendQueryPrepared, pgbench -M prepared, sends Describe
            // Portal with every Execute): the columns depend on the statement, not on
            // the values bound.
            if let Some(p) = self.statements.get_mut(&statement) {
                if Arc::ptr_eq(&p.sql, &text) && p.columns.is_none() {
                    p.columns = Some(columns.clone());
                }
            }
            return Ok(columns);
        }
        self.run_portal(name)?;
        Ok(match self.portals.get(name).map(|p| &p.state) {
            Some(PortalState::Ran {
                outcome: Some(Outcome::Rows { columns, .. }),
                ..
            }) => Some(columns.clone()),
            _ => None,
        })
    }

    /// Runs portal `name` if it has not run yet, keeping its rows for Execute.
    fn run_portal(&mut self, name: &str) -> Result<(), PgError> {
        let Some(portal) = self.portals.get(name) else {
            return Err(PgError::UnknownPortal(name.to_string()));
        };
        if !matches!(portal.state, PortalState::NotRun) {
            return Ok(());
        }
        let session = self
            .session
            .as_mut()
            .ok_or(PgError::Unsupported("a query before startup"))?;
        // The engine sees the client's own text: positions need no mapping.
        let mut positions = PositionMap::default();
        let result = match session.execute_params(&portal.statement.text, &portal.params) {
            Some(r) => r.map_err(PgError::from),
            None => {
                let bound: Vec<BoundValue> = portal
                    .params
                    .iter()
                    .map(|(datum, ty)| BoundValue {
                        datum: datum.clone(),
                        ty: (*ty != DataType::Unknown).then_some(*ty),
                    })
                    .collect();
                let (sql, map) = params::substitute(&portal.statement, &bound)?;
                positions = map;
                self.run(&sql)
            }
        };
        // Notices go out now, ahead of whatever Execute sends for the portal.
        self.send_all_notices();
        let copy_out = self
            .session
            .as_mut()
            .and_then(|s| s.take_copy_out().pop())
            .map(|(_, c)| c);
        let mut outcome = match result {
            Ok(outcomes) => outcomes.into_iter().next(),
            Err(e) => {
                self.report(&e, &|p| positions.map(p));
                return Err(PgError::Reported);
            }
        };
        // The rows move to `pending`; the outcome keeps the columns and the tag.
        let pending = match &mut outcome {
            Some(Outcome::Rows { rows, .. }) => std::mem::take(rows).into(),
            _ => VecDeque::new(),
        };
        if let Some(portal) = self.portals.get_mut(name) {
            portal.state = PortalState::Ran {
                outcome,
                pending,
                sent: 0,
                copy_out,
            };
        }
        Ok(())
    }

    pub(super) fn execute(
        &mut self,
        name: &str,
        max_rows: i32,
        writer: Writer<'_>,
    ) -> Result<(), PgError> {
        let fresh = matches!(
            self.portals.get(name).map(|p| &p.state),
            Some(PortalState::NotRun)
        );
        if fresh && max_rows <= 0 {
            if let Some(r) = self.execute_streaming(name, writer) {
                return r;
            }
        }
        self.run_portal(name)?;
        if self.start_copy_in(true) {
            return Ok(());
        }
        let Some(portal) = self.portals.get_mut(name) else {
            return Err(PgError::UnknownPortal(name.to_string()));
        };
        let formats = portal.result_formats.clone();
        let PortalState::Ran {
            outcome,
            pending,
            sent,
            copy_out,
        } = &mut portal.state
        else {
            return Err(PgError::UnknownPortal(name.to_string()));
        };
        let limit = usize::try_from(max_rows)
            .ok()
            .filter(|&m| m > 0)
            .unwrap_or(usize::MAX);
        let copy_out = copy_out.take();
        let mut messages = Vec::new();
        match outcome {
            None => messages.push(Msg::EmptyQueryResponse(EmptyQueryResponse::new())),
            Some(Outcome::Command { tag }) => {
                messages.push(Msg::CommandComplete(CommandComplete::new(tag.clone())))
            }
            Some(Outcome::Rows { columns, tag, .. }) => {
                rows::check_formats(&formats, columns.len())?;
                let take = limit.min(pending.len());
                for row in pending.drain(..take) {
                    messages.push(Msg::DataRow(rows::data_row(&row, columns, &formats)?));
                }
                *sent += take;
                messages.push(if pending.is_empty() {
                    let tag = tag.clone().unwrap_or_else(|| format!("SELECT {sent}"));
                    Msg::CommandComplete(CommandComplete::new(tag))
                } else {
                    Msg::PortalSuspended(PortalSuspended::new())
                });
            }
        }
        if let Some(c) = copy_out {
            self.send_copy_out(c);
        }
        messages.into_iter().for_each(|m| self.send(m));
        Ok(())
    }

    /// Runs a portal that has not run, to completion, its rows written as they come
    /// (see `stream`). `None`: the session cannot stream (the caller collects instead).
    fn execute_streaming(&mut self, name: &str, writer: Writer<'_>) -> Option<Result<(), PgError>> {
        let portal = self.portals.get_mut(name)?;
        let text = portal.statement.clone();
        let params = std::mem::take(&mut portal.params);
        let formats = portal.result_formats.clone();
        let Some(streamed) = self.run_streamed(&text.text, Some(&params), writer, Some(formats))
        else {
            if let Some(p) = self.portals.get_mut(name) {
                p.params = params;
            }
            return None;
        };
        if self.phase == Phase::Closed {
            return Some(Ok(()));
        }
        // Notices of a failing statement, or of a COPY FROM waiting for data.
        self.send_all_notices();
        if let Some(e) = streamed.error {
            self.report(&e, &|p| p);
            self.portals.remove(name);
            return Some(Err(PgError::Reported));
        }
        if self.start_copy_in(true) {
            return Some(Ok(()));
        }
        let outcome = match streamed.last_tag {
            Some(tag) => Some(Outcome::Command { tag }),
            None => {
                self.send(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
                None
            }
        };
        if let Some(p) = self.portals.get_mut(name) {
            // Executing it again answers with its tag (and no rows).
            p.state = PortalState::Ran {
                outcome,
                pending: VecDeque::new(),
                sent: 0,
                copy_out: None,
            };
        }
        Some(Ok(()))
    }

    pub(super) fn close(&mut self, target: Target, name: &str) -> Result<(), PgError> {
        match target {
            Target::Statement => {
                if let Some(session) = self.session.as_mut() {
                    session.note_prepared(name, None);
                }
                self.statements.remove(name).map(|_| ())
            }
            Target::Portal => self.portals.remove(name).map(|_| ()),
        };
        self.send(Msg::CloseComplete(CloseComplete::new()));
        Ok(())
    }
}

/// Decodes one bind value (`index` is 1-based) of type `ty` in `format`.
fn bind_value(
    raw: Option<Vec<u8>>,
    ty: Option<DataType>,
    format: i16,
    index: usize,
) -> Result<BoundValue, PgError> {
    let Some(bytes) = raw else {
        return Ok(BoundValue {
            datum: Datum::Null,
            ty,
        });
    };
    let datum = match (format, ty) {
        (TEXT, Some(t)) => Datum::parse(&binary::utf8_text(&bytes)?, &t)?,
        (TEXT, None) | (BINARY, None) => Datum::Text(binary::utf8_text(&bytes)?),
        (BINARY, Some(t)) => binary::decode(&bytes, &t, index)?,
        (other, _) => return Err(PgError::FormatCode(other)),
    };
    Ok(BoundValue { datum, ty })
}
