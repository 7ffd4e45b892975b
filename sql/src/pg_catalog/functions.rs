//! The system functions clients call: catalog lookups (`pg_table_is_visible`,
//! `format_type`, `pg_get_indexdef`, `to_regclass`, ...), session information
//! (`current_setting`, `version`, `current_schemas`, ...), privilege checks (always
//! true: there is one superuser role), and the array functions catalog queries use.
//!
//! They resolve by name and argument count here ([`resolve`], consulted by
//! [`crate::functions::resolve_function`] before its own table) into
//! [`Func::System`] ids, and evaluate in the executor ([`call`]) with the statement's
//! transaction, because many of them read the catalog. Catalog reads share one
//! [`Snapshot`] per statement. Array functions are polymorphic: their parameter types
//! are the argument types, with an `unknown` argument taking the array's element type.

use std::rc::Rc;

use super::deparse::{self, format_type, quote_ident};
use super::reg;
use super::Snapshot;
use crate::array;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::ExecCtx;
use crate::functions::{Func, FunctionId};
use crate::settings;
use crate::types::{DataType, OidKind};

/// A system function (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysFunc {
    CurrentSetting,
    SetConfig,
    Version,
    CurrentDatabase,
    CurrentSchema,
    CurrentSchemas,
    CurrentUser,
    BackendPid,
    IsInRecovery,
    IsVisible,
    GetUserById,
    FormatType,
    GetExpr,
    GetIndexDef,
    GetConstraintDef,
    GetViewDef,
    /// `to_regclass` and friends: NULL instead of an error.
    ToReg(OidKind),
    /// `text -> reg*` cast.
    RegIn(OidKind),
    /// `reg* -> text` cast.
    RegOut(OidKind),
    /// obj_description and friends: FerrisDB has no comments.
    NullText,
    EncodingToChar,
    /// has_*_privilege: the one role may do everything.
    True,
    /// pg_relation_is_publishable and the like.
    False,
    RelationSize,
    QuoteIdent,
    ArrayToString,
    ArrayPosition,
    ArrayUpper,
    ArrayLower,
    Cardinality,
    Subscript,
    TypeOf,
    /// Sequence functions ([`crate::sequence`]); nextval and setval are volatile.
    NextVal,
    CurrVal,
    SetVal,
    LastVal,
    SerialSequence,
    /// `pg_sleep(seconds)`: sleeps in short steps, so a cancel or a statement timeout
    /// stops it.
    Sleep,
    /// `pg_get_function_result` / `pg_get_function_arguments` of a built-in function
    /// ([`super::procs`]); NULL for an OID that is not one.
    FunctionResult,
    FunctionArguments,
}

impl SysFunc {
    /// Whether a call may return a different value, or change something, each time it
    /// runs with the same arguments: never folded into a constant.
    pub fn is_volatile(&self) -> bool {
        matches!(self, SysFunc::NextVal | SysFunc::SetVal | SysFunc::Sleep)
    }

    /// Whether a NULL argument makes the result NULL without evaluating.
    pub fn is_strict(&self) -> bool {
        !matches!(
            self,
            SysFunc::FormatType | SysFunc::SetConfig | SysFunc::True | SysFunc::TypeOf
        )
    }
}

fn sys(
    f: SysFunc,
    params: Vec<DataType>,
    result: DataType,
) -> Result<(FunctionId, DataType), SqlError> {
    Ok((
        FunctionId {
            func: Func::System(f),
            params,
        },
        result,
    ))
}

const OID: DataType = DataType::Oid(OidKind::Oid);

fn known(t: &DataType) -> DataType {
    if *t == DataType::Unknown {
        DataType::Text
    } else {
        *t
    }
}

/// Resolves a system function (`None`: not one of them).
pub fn resolve(name: &str, args: &[DataType]) -> Option<Result<(FunctionId, DataType), SqlError>> {
    use DataType::{Bool, Int4, Int8, Name, Text};
    use SysFunc as F;
    let n = args.len();
    let any = || args.iter().map(known).collect::<Vec<_>>();
    Some(match (name, n) {
        ("current_setting", 1) => sys(F::CurrentSetting, vec![Text], Text),
        ("current_setting", 2) => sys(F::CurrentSetting, vec![Text, Bool], Text),
        ("set_config", 3) => sys(F::SetConfig, vec![Text, Text, Bool], Text),
        ("version", 0) => sys(F::Version, vec![], Text),
        ("current_database", 0) | ("current_catalog", 0) => sys(F::CurrentDatabase, vec![], Name),
        ("current_schema", 0) => sys(F::CurrentSchema, vec![], Name),
        ("current_schemas", 1) => sys(F::CurrentSchemas, vec![Bool], DataType::Array(&array::NAME)),
        ("current_user" | "session_user" | "user" | "current_role", 0) => {
            sys(F::CurrentUser, vec![], Name)
        }
        ("pg_backend_pid", 0) => sys(F::BackendPid, vec![], Int4),
        ("pg_is_in_recovery", 0) => sys(F::IsInRecovery, vec![], Bool),
        (
            "pg_table_is_visible"
            | "pg_type_is_visible"
            | "pg_function_is_visible"
            | "pg_collation_is_visible"
            | "pg_opclass_is_visible"
            | "pg_operator_is_visible"
            | "pg_statistics_obj_is_visible",
            1,
        ) => sys(F::IsVisible, vec![OID], Bool),
        ("pg_get_userbyid", 1) => sys(F::GetUserById, vec![OID], Name),
        ("format_type", 2) => sys(F::FormatType, vec![OID, Int4], Text),
        ("pg_get_expr", 2) => sys(F::GetExpr, vec![Text, OID], Text),
        ("pg_get_expr", 3) => sys(F::GetExpr, vec![Text, OID, Bool], Text),
        ("pg_get_indexdef", 1) => sys(F::GetIndexDef, vec![OID], Text),
        ("pg_get_indexdef", 3) => sys(F::GetIndexDef, vec![OID, Int4, Bool], Text),
        ("pg_get_constraintdef", 1) => sys(F::GetConstraintDef, vec![OID], Text),
        ("pg_get_constraintdef", 2) => sys(F::GetConstraintDef, vec![OID, Bool], Text),
        ("pg_get_viewdef", 1) => sys(F::GetViewDef, vec![OID], Text),
        ("pg_get_viewdef", 2) => sys(F::GetViewDef, vec![OID, Bool], Text),
        ("to_regclass", 1) => sys(
            F::ToReg(OidKind::RegClass),
            vec![Text],
            DataType::Oid(OidKind::RegClass),
        ),
        ("to_regtype", 1) => sys(
            F::ToReg(OidKind::RegType),
            vec![Text],
            DataType::Oid(OidKind::RegType),
        ),
        ("to_regproc", 1) => sys(
            F::ToReg(OidKind::RegProc),
            vec![Text],
            DataType::Oid(OidKind::RegProc),
        ),
        ("to_regnamespace", 1) => sys(
            F::ToReg(OidKind::RegNamespace),
            vec![Text],
            DataType::Oid(OidKind::RegNamespace),
        ),
        ("to_regrole", 1) => sys(
            F::ToReg(OidKind::RegRole),
            vec![Text],
            DataType::Oid(OidKind::RegRole),
        ),
        ("obj_description", 1) => sys(F::NullText, vec![OID], Text),
        ("obj_description" | "shobj_description", 2) => sys(F::NullText, vec![OID, Name], Text),
        ("col_description", 2) => sys(F::NullText, vec![OID, Int4], Text),
        ("pg_get_statisticsobjdef_columns", 1) => sys(F::NullText, vec![OID], Text),
        ("pg_get_function_sqlbody", 1) => sys(F::NullText, vec![OID], Text),
        ("pg_get_serial_sequence", 2) => sys(F::SerialSequence, vec![Text, Text], Text),
        ("nextval", 1) => sys(F::NextVal, vec![DataType::Oid(OidKind::RegClass)], Int8),
        ("currval", 1) => sys(F::CurrVal, vec![DataType::Oid(OidKind::RegClass)], Int8),
        ("setval", 2) => sys(
            F::SetVal,
            vec![DataType::Oid(OidKind::RegClass), Int8],
            Int8,
        ),
        ("setval", 3) => sys(
            F::SetVal,
            vec![DataType::Oid(OidKind::RegClass), Int8, Bool],
            Int8,
        ),
        ("lastval", 0) => sys(F::LastVal, vec![], Int8),
        ("pg_sleep", 1) => sys(F::Sleep, vec![DataType::Float8], DataType::Void),
        ("pg_get_function_result", 1) => sys(F::FunctionResult, vec![OID], Text),
        ("pg_get_function_arguments" | "pg_get_function_identity_arguments", 1) => {
            sys(F::FunctionArguments, vec![OID], Text)
        }
        ("pg_encoding_to_char", 1) => sys(F::EncodingToChar, vec![Int4], Name),
        (
            "has_table_privilege"
            | "has_schema_privilege"
            | "has_database_privilege"
            | "has_function_privilege"
            | "has_column_privilege"
            | "has_sequence_privilege"
            | "has_type_privilege"
            | "has_any_column_privilege"
            | "pg_has_role",
            2..=4,
        ) => sys(F::True, any(), Bool),
        ("pg_relation_is_publishable", 1) => sys(F::False, vec![OID], Bool),
        (
            "pg_relation_size" | "pg_total_relation_size" | "pg_table_size" | "pg_indexes_size",
            1,
        ) => sys(
            F::RelationSize,
            vec![DataType::Oid(OidKind::RegClass)],
            Int8,
        ),
        ("quote_ident", 1) => sys(F::QuoteIdent, vec![Text], Text),
        ("pg_typeof", 1) => sys(F::TypeOf, any(), DataType::Oid(OidKind::RegType)),
        ("array_to_string", 2 | 3) => return array_fn(F::ArrayToString, args, Text),
        ("array_position", 2) => return array_fn(F::ArrayPosition, args, Int4),
        ("array_upper" | "array_length", 2) => return array_fn(F::ArrayUpper, args, Int4),
        ("array_lower", 2) => return array_fn(F::ArrayLower, args, Int4),
        ("cardinality", 1) => return array_fn(F::Cardinality, args, Int4),
        _ => return None,
    })
}

/// An array function: the first argument is the array; `array_position`'s second takes
/// the element type, the others their own types (text, int).
fn array_fn(
    f: SysFunc,
    args: &[DataType],
    result: DataType,
) -> Option<Result<(FunctionId, DataType), SqlError>> {
    let undefined = || SqlError::UndefinedFunction {
        name: format!("{f:?}").to_lowercase(),
        arg_types: args.iter().map(|t| t.to_string()).collect(),
    };
    let DataType::Array(elem) = args.first()? else {
        return Some(Err(undefined()));
    };
    let mut params = vec![args[0]];
    for (i, _) in args.iter().enumerate().skip(1) {
        params.push(match (f, i) {
            (SysFunc::ArrayPosition, 1) => **elem,
            (SysFunc::ArrayToString, _) => DataType::Text,
            _ => DataType::Int4,
        });
    }
    Some(sys(f, params, result))
}

/// The statement's catalog snapshot, read on first use.
fn snapshot(cx: &mut ExecCtx) -> Result<Rc<Snapshot>, SqlError> {
    if let Some(s) = &cx.catalog {
        return Ok(s.clone());
    }
    let s = Rc::new(Snapshot::read(cx.txn)?);
    cx.catalog = Some(s.clone());
    Ok(s)
}

fn text_arg(d: &Datum) -> Option<&str> {
    match d {
        Datum::Text(s) => Some(s),
        _ => None,
    }
}

fn int_arg(d: &Datum) -> Option<i64> {
    match d {
        Datum::Int(i) => Some(*i),
        _ => None,
    }
}

/// The `version()` string; psql reads the version from `server_version` instead.
pub fn version() -> String {
    format!(
        "PostgreSQL {} (FerrisDB {}) on {}, 64-bit",
        settings::defs::SERVER_VERSION,
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// Evaluates a system function on arguments cast to `id.params`.
pub fn call(
    f: SysFunc,
    id: &FunctionId,
    args: &[Datum],
    cx: &mut ExecCtx,
) -> Result<Datum, SqlError> {
    use SysFunc as F;
    if f.is_strict() && args.iter().any(Datum::is_null) {
        return Ok(Datum::Null);
    }
    let a = |i: usize| args.get(i).unwrap_or(&Datum::Null);
    let txt = |i: usize| text_arg(a(i)).unwrap_or("");
    Ok(match f {
        F::CurrentSetting => {
            let missing_ok = matches!(a(1), Datum::Bool(true));
            settings::current_setting(txt(0), missing_ok)?.map_or(Datum::Null, Datum::Text)
        }
        F::SetConfig => {
            let name = text_arg(a(0)).ok_or_else(|| SqlError::InvalidParameterValue {
                message: "SET requires parameter name".into(),
            })?;
            let local = matches!(a(2), Datum::Bool(true));
            Datum::Text(settings::set_config(name, text_arg(a(1)), local)?)
        }
        F::Version => Datum::Text(version()),
        F::CurrentDatabase => Datum::Text(crate::catalog::current_database()),
        F::CurrentSchema => Datum::Text("public".into()),
        F::CurrentSchemas => {
            let mut v = Vec::new();
            if matches!(a(0), Datum::Bool(true)) {
                v.push(Datum::Text("pg_catalog".into()));
            }
            v.push(Datum::Text("public".into()));
            Datum::Array(v)
        }
        F::CurrentUser => Datum::Text(super::system::ROLE_NAME.into()),
        F::BackendPid => Datum::Int(i64::from(std::process::id())),
        F::IsInRecovery | F::False => Datum::Bool(false),
        F::True => Datum::Bool(true),
        F::IsVisible => Datum::Bool(true),
        F::GetUserById => match int_arg(a(0)) {
            Some(o) if o == i64::from(super::ROLE_OID) => {
                Datum::Text(super::system::ROLE_NAME.into())
            }
            Some(6171) => Datum::Text("pg_database_owner".into()),
            Some(o) => Datum::Text(format!("unknown (OID={o})")),
            None => Datum::Null,
        },
        F::FormatType => match int_arg(a(0)) {
            None => Datum::Null,
            Some(t) => Datum::Text(format_type(t, int_arg(a(1)))),
        },
        F::GetExpr => Datum::Text(txt(0).to_string()),
        F::GetIndexDef => {
            let snap = snapshot(cx)?;
            let column = int_arg(a(1)).unwrap_or(0);
            match deparse::find_index(&snap, int_arg(a(0)).unwrap_or(0)) {
                Some((t, ix)) if column == 0 => Datum::Text(deparse::index_def(t, ix)),
                Some((t, ix)) => usize::try_from(column - 1)
                    .ok()
                    .and_then(|c| ix.columns.get(c))
                    .and_then(|c| t.columns.get(*c))
                    .map_or(Datum::Null, |c| Datum::Text(quote_ident(&c.name))),
                None => Datum::Null,
            }
        }
        F::GetConstraintDef => {
            let snap = snapshot(cx)?;
            deparse::find_constraint(&snap, int_arg(a(0)).unwrap_or(0))
                .map_or(Datum::Null, |(_, d)| Datum::Text(d))
        }
        F::GetViewDef => {
            let snap = snapshot(cx)?;
            let o = int_arg(a(0)).unwrap_or(0);
            let def = snap
                .views()
                .find(|v| i64::from(super::view_oid(v)) == o)
                .map(|v| format!(" {};", v.sql));
            def.map_or(Datum::Null, Datum::Text)
        }
        F::ToReg(kind) => {
            let snap = snapshot(cx)?;
            reg::reg_in(kind, txt(0), &snap).map_or(Datum::Null, |o| Datum::Int(i64::from(o)))
        }
        F::RegIn(kind) => {
            let snap = snapshot(cx)?;
            Datum::Int(i64::from(reg::reg_in(kind, txt(0), &snap)?))
        }
        F::RegOut(kind) => {
            let snap = snapshot(cx)?;
            Datum::Text(reg::reg_out(kind, int_arg(a(0)).unwrap_or(0), &snap))
        }
        F::NullText => Datum::Null,
        F::FunctionResult => match int_arg(a(0)).and_then(super::procs::by_oid) {
            Some(p) => Datum::Text(format_type(i64::from(p.result.oid()), None)),
            None => Datum::Null,
        },
        F::FunctionArguments => match int_arg(a(0)).and_then(super::procs::by_oid) {
            Some(p) => Datum::Text(
                p.args
                    .iter()
                    .map(|t| format_type(i64::from(t.oid()), None))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => Datum::Null,
        },
        F::EncodingToChar => Datum::Text(if int_arg(a(0)) == Some(6) { "UTF8" } else { "" }.into()),
        F::RelationSize => Datum::Int(0),
        F::QuoteIdent => Datum::Text(quote_ident(txt(0))),
        F::TypeOf => Datum::Int(i64::from(id.params.first().map_or(0, |t| t.oid()))),
        F::ArrayToString => {
            let elem = match id.params.first() {
                Some(DataType::Array(e)) => **e,
                _ => DataType::Text,
            };
            array::to_string(a(0), &elem, txt(1), text_arg(a(2)))?
        }
        F::ArrayPosition => array::position(a(0), a(1))?,
        F::ArrayUpper => array::upper(a(0), int_arg(a(1)).unwrap_or(0))?,
        F::ArrayLower => match array::upper(a(0), int_arg(a(1)).unwrap_or(0))? {
            Datum::Null => Datum::Null,
            _ => Datum::Int(1),
        },
        F::Cardinality => match a(0) {
            Datum::Array(v) => Datum::Int(v.len() as i64),
            _ => Datum::Null,
        },
        F::Subscript => array::subscript(a(0), int_arg(a(1)).unwrap_or(0))?,
        F::NextVal | F::CurrVal | F::SetVal => {
            let snap = snapshot(cx)?;
            let q = crate::sequence::by_oid(&snap, int_arg(a(0)).unwrap_or(0))?;
            Datum::Int(match f {
                F::NextVal => crate::sequence::nextval(q)?,
                F::CurrVal => crate::sequence::currval(q)?,
                _ => crate::sequence::setval(
                    q,
                    int_arg(a(1)).unwrap_or(0),
                    !matches!(a(2), Datum::Bool(false)),
                )?,
            })
        }
        F::LastVal => Datum::Int(crate::sequence::lastval()?),
        F::Sleep => {
            let secs = match a(0) {
                Datum::Float(f) if f.is_finite() && *f > 0.0 => f.min(1e7),
                _ => 0.0,
            };
            let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
            loop {
                crate::cancel::check_now()?;
                let now = std::time::Instant::now();
                if now >= until {
                    break;
                }
                std::thread::sleep((until - now).min(std::time::Duration::from_millis(10)));
            }
            Datum::Text(String::new())
        }
        F::SerialSequence => {
            let snap = snapshot(cx)?;
            crate::sequence::serial_sequence(&snap, txt(0), txt(1))?.map_or(Datum::Null, |name| {
                Datum::Text(format!("public.{}", quote_ident(&name)))
            })
        }
    })
}

/// The id of `arr[index]` over an array of type `t`.
pub fn subscript_id(t: DataType) -> Option<(FunctionId, DataType)> {
    let DataType::Array(elem) = t else {
        return None;
    };
    Some((
        FunctionId {
            func: Func::System(SysFunc::Subscript),
            params: vec![t, DataType::Int4],
        },
        *elem,
    ))
}
