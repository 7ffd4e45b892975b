//! The statements over settings: SET [SESSION | LOCAL], SET TIME ZONE, SET NAMES, SET
//! [SESSION CHARACTERISTICS AS] TRANSACTION ISOLATION LEVEL, RESET, RESET ALL, SHOW and
//! SHOW ALL, read from sqlparser's AST into a [`SettingCommand`] and run against the
//! settings installed for the statement.
//!
//! A SET value list is joined the way PostgreSQL flattens it into one string: items
//! separated by `", "`, and for `search_path` each item quoted as an identifier where it
//! needs it (`SET search_path = a, "b c"` shows `a, "b c"`, `SET search_path TO 'x, y'`
//! shows `"x, y"`). SHOW's one
//! column is named after the parameter in PostgreSQL's spelling (`TimeZone`), type text.

use sqlparser::ast::{self, Expr, Statement, TransactionIsolationLevel, TransactionMode};

use super::{with_current, Settings};
use crate::bind::Column;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::session::{Session, StatementResult};
use crate::types::DataType;

/// A settings statement, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingCommand {
    /// SET / SET LOCAL; `value` `None` is DEFAULT.
    Set {
        name: String,
        value: Option<String>,
        local: bool,
    },
    /// SET TRANSACTION ISOLATION LEVEL (`session` false) or SET SESSION
    /// CHARACTERISTICS AS TRANSACTION ... (`session` true).
    Isolation {
        level: Option<String>,
        session: bool,
    },
    Reset(Option<String>),
    Show(String),
    ShowAll,
}

fn join_name(name: &ast::ObjectName) -> String {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(i) => i.value.clone(),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// One SET value as written: a literal's text, an identifier's (folded) name.
fn value_text(e: &Expr) -> Result<String, SqlError> {
    use ast::Value as V;
    Ok(match e {
        Expr::Value(v) => match &v.value {
            V::SingleQuotedString(s) | V::EscapedStringLiteral(s) => s.clone(),
            V::Number(n, _) => n.clone(),
            V::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(i) if i.quote_style.is_some() => i.value.clone(),
        Expr::Identifier(i) => i.value.to_lowercase(),
        Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => format!("-{}", value_text(expr)?),
        other => {
            return Err(SqlError::Syntax {
                message: format!("syntax error at or near \"{other}\""),
                position: None,
            })
        }
    })
}

/// The values of a SET as PostgreSQL flattens them into one string (`None`: DEFAULT):
/// items joined by `", "`; for `search_path`, a list of names, each item is quoted as
/// an identifier where it needs it (`"$user"`, `"x, y"`).
fn values_text(name: &str, values: &[Expr]) -> Result<Option<String>, SqlError> {
    if let [Expr::Identifier(i)] = values {
        if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default") {
            return Ok(None);
        }
    }
    let list_quote = name.eq_ignore_ascii_case("search_path");
    let parts = values
        .iter()
        .map(|v| {
            let t = value_text(v)?;
            Ok(if list_quote {
                crate::pg_catalog::deparse::quote_ident(&t)
            } else {
                t
            })
        })
        .collect::<Result<Vec<_>, SqlError>>()?;
    Ok(Some(parts.join(", ")))
}

fn isolation_name(modes: &[TransactionMode]) -> Option<String> {
    modes.iter().find_map(|m| match m {
        TransactionMode::IsolationLevel(l) => Some(
            match l {
                TransactionIsolationLevel::Serializable => "serializable",
                TransactionIsolationLevel::RepeatableRead => "repeatable read",
                TransactionIsolationLevel::ReadCommitted => "read committed",
                TransactionIsolationLevel::ReadUncommitted => "read uncommitted",
                TransactionIsolationLevel::Snapshot => "serializable",
            }
            .to_string(),
        ),
        _ => None,
    })
}

/// The parameter a SHOW names: `SHOW TIME ZONE` and `SHOW TRANSACTION ISOLATION LEVEL`
/// are spelled in words; dotted names come as separate identifiers.
fn show_name(words: &[ast::Ident]) -> String {
    let joined: Vec<String> = words.iter().map(|w| w.value.to_lowercase()).collect();
    match joined.join(" ").as_str() {
        "time zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        "session authorization" => "session_authorization".into(),
        _ => joined.join("."),
    }
}

impl SettingCommand {
    /// The settings command `stmt` is, if it is one.
    pub fn of(stmt: &Statement) -> Option<Result<SettingCommand, SqlError>> {
        use ast::Set as S;
        Some(Ok(match stmt {
            Statement::Set(S::SingleAssignment {
                scope,
                variable,
                values,
                ..
            }) => {
                let value = match values_text(&join_name(variable), values) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                };
                SettingCommand::Set {
                    name: join_name(variable),
                    value,
                    local: matches!(scope, Some(ast::ContextModifier::Local)),
                }
            }
            Statement::Set(S::SetTimeZone { local, value }) => SettingCommand::Set {
                name: "timezone".into(),
                value: match values_text("timezone", std::slice::from_ref(value)) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                },
                local: *local,
            },
            Statement::Set(S::SetNames { charset_name, .. }) => SettingCommand::Set {
                name: "client_encoding".into(),
                value: Some(charset_name.value.clone()),
                local: false,
            },
            Statement::Set(S::SetTransaction { modes, session, .. }) => SettingCommand::Isolation {
                level: isolation_name(modes),
                session: *session,
            },
            Statement::Reset(r) => match &r.reset {
                ast::Reset::ALL => SettingCommand::Reset(None),
                ast::Reset::ConfigurationParameter(n) => SettingCommand::Reset(Some(join_name(n))),
                ast::Reset::SessionAuthorization => return None,
            },
            Statement::ShowVariable { variable } => match variable.as_slice() {
                [one] if one.value.eq_ignore_ascii_case("all") && one.quote_style.is_none() => {
                    SettingCommand::ShowAll
                }
                words => SettingCommand::Show(show_name(words)),
            },
            _ => return None,
        }))
    }

    /// Runs the command on `s`.
    pub fn run(self, s: &mut Settings) -> Result<StatementResult, SqlError> {
        match self {
            SettingCommand::Set { name, value, local } => {
                s.set(&name, value.as_deref(), local)?;
                Ok(StatementResult::command("SET"))
            }
            SettingCommand::Isolation { level, session } => {
                if let Some(level) = level {
                    if session {
                        s.set("default_transaction_isolation", Some(&level), false)?;
                    } else {
                        s.set("transaction_isolation", Some(&level), true)?;
                    }
                }
                Ok(StatementResult::command("SET"))
            }
            SettingCommand::Reset(Some(name)) => {
                s.set(&name, None, false)?;
                Ok(StatementResult::command("RESET"))
            }
            SettingCommand::Reset(None) => {
                s.reset_all();
                Ok(StatementResult::command("RESET"))
            }
            SettingCommand::Show(name) => {
                let v = s.get(&name)?;
                Ok(StatementResult::Query {
                    columns: show_columns_for(&name),
                    rows: vec![vec![Datum::Text(v)]],
                    tag: Some("SHOW".into()),
                })
            }
            SettingCommand::ShowAll => {
                let text = |n: &str| Column {
                    name: n.into(),
                    data_type: DataType::Text,
                };
                let rows = s
                    .all()
                    .into_iter()
                    .map(|(n, v, d)| vec![Datum::Text(n), Datum::Text(v), Datum::Text(d)])
                    .collect();
                Ok(StatementResult::Query {
                    columns: vec![text("name"), text("setting"), text("description")],
                    rows,
                    tag: Some("SHOW".into()),
                })
            }
        }
    }
}

fn show_columns_for(name: &str) -> Vec<Column> {
    vec![Column {
        name: Settings::display_name(name),
        data_type: DataType::Text,
    }]
}

/// The result columns of a SHOW statement (extended-protocol Describe), if `stmt` is one.
pub fn show_columns(stmt: &Statement) -> Option<Vec<Column>> {
    match SettingCommand::of(stmt)? {
        Ok(SettingCommand::Show(name)) => Some(show_columns_for(&name)),
        Ok(SettingCommand::ShowAll) => Some(
            ["name", "setting", "description"]
                .iter()
                .map(|n| Column {
                    name: n.to_string(),
                    data_type: DataType::Text,
                })
                .collect(),
        ),
        _ => None,
    }
}

impl Session {
    /// Runs `stmt` if it is a settings statement (after the failed-block check).
    pub(crate) fn setting_statement(
        &mut self,
        stmt: &Statement,
    ) -> Option<Result<StatementResult, SqlError>> {
        let cmd = SettingCommand::of(stmt)?;
        let r = cmd.and_then(|c| with_current(|s| c.run(s)));
        if r.is_err() && self.txn.is_some() {
            self.failed = true;
        }
        Some(r)
    }

    /// Tells the settings a block began (with the isolation level BEGIN asked for).
    pub(crate) fn settings_begin(&mut self, stmt: &Statement) {
        with_current(|s| {
            s.begin_block();
            if let Statement::StartTransaction { modes, .. } = stmt {
                if let Some(level) = isolation_name(modes) {
                    let _ = s.set("transaction_isolation", Some(&level), true);
                }
            }
        });
    }

    /// Tells the settings the block ended.
    pub(crate) fn settings_end(&mut self, committed: bool) {
        with_current(|s| s.end_block(committed));
    }
}
