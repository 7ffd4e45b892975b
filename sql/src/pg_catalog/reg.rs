//! The object-identifier types `regclass`, `regtype`, `regproc`, `regnamespace` and
//! `regrole`: an OID whose text form is the object's name.
//!
//! A value of these types is an `Int` datum holding the OID. Converting from text looks
//! the name up in the catalog and converting to text looks the OID up, so both are
//! system functions evaluated with the transaction ([`coerce`] puts them where the binder
//! would put a cast); a bare number converts either way without a lookup, as in
//! PostgreSQL (`'16384'::regclass`). A query whose result column has one of these types
//! prints names: [`name_results`] replaces the OIDs before the rows leave the engine
//! (an OID nothing is called prints as its number, like PostgreSQL).

use ferrisdb_txn::Transaction;

use super::functions::SysFunc;
use super::{
    deparse, types, Snapshot, INFORMATION_SCHEMA_OID, PG_CATALOG_OID, PUBLIC_OID, ROLE_OID,
};
use crate::bind::Column;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::Row;
use crate::functions::{Func, FunctionId};
use crate::plan::Expr;
use crate::types::{DataType, OidKind};

fn is_reg(t: &DataType) -> Option<OidKind> {
    match t {
        DataType::Oid(k) if *k != OidKind::Oid => Some(*k),
        _ => None,
    }
}

/// The call replacing a cast between text and a `reg*` type, if `from -> to` is one;
/// otherwise `e` back.
pub fn coerce(e: Expr, from: DataType, to: DataType) -> Result<Expr, Expr> {
    let textual = |t: &DataType| t.is_string() || *t == DataType::Unknown;
    if let (Some(kind), true) = (is_reg(&to), textual(&from)) {
        let arg = if from == DataType::Text || from == DataType::Unknown {
            e
        } else {
            Expr::Cast {
                expr: Box::new(e),
                from,
                to: DataType::Text,
                ctx: crate::cast::CastContext::Implicit,
            }
        };
        return Ok(Expr::Func {
            id: FunctionId {
                func: Func::System(SysFunc::RegIn(kind)),
                params: vec![DataType::Text],
            },
            args: vec![arg],
        });
    }
    if let (Some(kind), true) = (is_reg(&from), to.is_string()) {
        let call = Expr::Func {
            id: FunctionId {
                func: Func::System(SysFunc::RegOut(kind)),
                params: vec![from],
            },
            args: vec![e],
        };
        if to == DataType::Text {
            return Ok(call);
        }
        return Ok(Expr::Cast {
            expr: Box::new(call),
            from: DataType::Text,
            to,
            ctx: crate::cast::CastContext::Explicit,
        });
    }
    Err(e)
}

/// `name` split into an optional schema and the object name, with quoting and case
/// folding as PostgreSQL's `stringToQualifiedNameList`.
pub(crate) fn qualified(name: &str) -> (Option<String>, String) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c if quoted => cur.push(c),
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(cur);
    let obj = parts.pop().unwrap_or_default();
    (parts.pop(), obj)
}

fn not_found(kind: &str, name: &str) -> SqlError {
    SqlError::UndefinedObject {
        kind: kind.into(),
        name: name.into(),
    }
}

/// The OID a `reg*` input names (a number is taken as it is).
pub fn reg_in(kind: OidKind, input: &str, snap: &Snapshot) -> Result<u32, SqlError> {
    if let Ok(n) = input.trim().parse::<u32>() {
        return Ok(n);
    }
    let (schema, name) = qualified(input);
    match kind {
        OidKind::Oid | OidKind::RegClass => snap
            .relation_oid(schema.as_deref(), &name)
            .ok_or(SqlError::UndefinedTable { name }),
        OidKind::RegType => type_oid(input).ok_or_else(|| not_found("type", input.trim())),
        OidKind::RegProc => {
            let name = if input.trim() == "-" { "" } else { &name };
            if name.is_empty() {
                return Ok(0);
            }
            if super::procs::builtin()
                .iter()
                .filter(|p| p.name == name)
                .nth(1)
                .is_some()
            {
                return Err(SqlError::AmbiguousFunction {
                    name: name.to_string(),
                });
            }
            types::proc_oid(name).ok_or_else(|| SqlError::UndefinedFunction {
                name: name.to_string(),
                arg_types: vec![],
            })
        }
        OidKind::RegNamespace => match name.as_str() {
            "pg_catalog" => Ok(PG_CATALOG_OID),
            "public" => Ok(PUBLIC_OID),
            "information_schema" => Ok(INFORMATION_SCHEMA_OID),
            _ => Err(not_found("schema", &name)),
        },
        OidKind::RegRole => match name.as_str() {
            super::system::ROLE_NAME => Ok(ROLE_OID),
            _ => Err(not_found("role", &name)),
        },
    }
}

/// The OID of a type name as SQL writes it (`integer`, `int4`, `pg_catalog.text`,
/// `character varying`, `text[]`, `"char"`).
fn type_oid(input: &str) -> Option<u32> {
    let sql = format!("SELECT CAST(NULL AS {input})");
    let stmt = crate::parse::parse_statements(&sql).ok()?.pop()?;
    let sqlparser::ast::Statement::Query(q) = stmt else {
        return None;
    };
    let sqlparser::ast::SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let Some(sqlparser::ast::SelectItem::UnnamedExpr(sqlparser::ast::Expr::Cast {
        data_type, ..
    })) = s.projection.first()
    else {
        return None;
    };
    DataType::from_sqlparser(data_type).ok().map(|t| match t {
        DataType::Char(_) => 1042,
        other => other.oid(),
    })
}

/// The text a `reg*` OID prints as.
pub fn reg_out(kind: OidKind, oid: i64, snap: &Snapshot) -> String {
    let name = match kind {
        OidKind::Oid => None,
        OidKind::RegClass => snap.relation_name(oid).map(|n| deparse::quote_ident(&n)),
        OidKind::RegType => {
            let s = deparse::format_type(oid, None);
            (s != "???").then_some(s)
        }
        OidKind::RegProc if oid == 0 => Some("-".to_string()),
        // An overloaded name is qualified, as PostgreSQL's regprocout does.
        OidKind::RegProc => types::proc_name(oid).map(|name| {
            if super::procs::builtin()
                .iter()
                .filter(|p| p.name == name)
                .nth(1)
                .is_some()
            {
                format!("pg_catalog.{name}")
            } else {
                name.to_string()
            }
        }),
        OidKind::RegNamespace => match oid {
            11 => Some("pg_catalog".into()),
            2200 => Some("public".into()),
            13207 => Some("information_schema".into()),
            _ => None,
        },
        OidKind::RegRole => {
            (oid == i64::from(ROLE_OID)).then(|| super::system::ROLE_NAME.to_string())
        }
    };
    name.unwrap_or_else(|| oid.to_string())
}

/// Replaces the OIDs of `reg*` result columns by the names they print as.
pub fn name_results(
    columns: &[Column],
    rows: &mut [Row],
    txn: &mut Transaction,
) -> Result<(), SqlError> {
    let reg: Vec<(usize, OidKind)> = columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| is_reg(&c.data_type).map(|k| (i, k)))
        .collect();
    if reg.is_empty() || rows.is_empty() {
        return Ok(());
    }
    let snap = Snapshot::read(txn)?;
    for row in rows.iter_mut() {
        for (i, kind) in &reg {
            if let Some(Datum::Int(o)) = row.get(*i) {
                let name = reg_out(*kind, *o, &snap);
                row[*i] = Datum::Text(name);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_like_postgres() {
        assert_eq!(
            qualified("pg_catalog.pg_class"),
            (Some("pg_catalog".into()), "pg_class".into())
        );
        assert_eq!(qualified("T"), (None, "t".into()));
        assert_eq!(qualified("\"T.x\""), (None, "T.x".into()));
        assert_eq!(type_oid("integer"), Some(23));
        assert_eq!(type_oid("pg_catalog.int4"), Some(23));
        assert_eq!(type_oid("character varying"), Some(1043));
        assert_eq!(type_oid("text[]"), Some(1009));
        assert_eq!(type_oid("\"char\""), Some(18));
        assert_eq!(type_oid("nosuchtype"), None);
    }
}
