//! DROP TABLE / VIEW / INDEX, with PostgreSQL's dependency rules between views and the
//! relations their queries name.
//!
//! A view records the relations its query names directly ([`ViewDef::depends_on`],
//! filled at CREATE VIEW from what the binder resolved). Dropping a relation that views
//! depend on is 2BP01 unless those views are dropped by the same statement; the DETAIL
//! lists every dependent, transitively, as PostgreSQL does:
//!
//! ```text
//!   ERROR:  cannot drop table t because other objects depend on it
//!   DETAIL:  view v1 depends on table t
//!   view v2 depends on view v1
//!   HINT:  Use DROP ... CASCADE to drop the dependent objects too.
//! ```
//!
//! With CASCADE the dependents are dropped first. Dependencies are found by reading every
//! view descriptor, which is one range read of the catalog: DROP is rare.

use ferrisdb_txn::Transaction;
use sqlparser::ast::{self, ObjectType};

use crate::bind::object_name;
use crate::catalog::{self, Relation, ViewDef};
use crate::error::SqlError;
use crate::session::StatementResult;

/// NOTICE `table "t" does not exist, skipping` (IF EXISTS of a missing relation).
fn skipping(what: &str, name: &str) {
    crate::notice::emit(crate::notice::Notice::new(
        "00000",
        format!("{what} \"{name}\" does not exist, skipping"),
    ));
}

/// `DROP TABLE / VIEW / INDEX [IF EXISTS] name, ... [CASCADE]`.
pub fn drop(
    txn: &mut Transaction,
    kind: ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
    cascade: bool,
) -> Result<StatementResult, SqlError> {
    let (tag, what) = match kind {
        ObjectType::Table => ("DROP TABLE", "table"),
        ObjectType::View => ("DROP VIEW", "view"),
        ObjectType::Index => ("DROP INDEX", "index"),
        ObjectType::Sequence => ("DROP SEQUENCE", "sequence"),
        other => return Err(SqlError::unsupported(format!("DROP {other}"))),
    };
    if kind == ObjectType::Sequence {
        for n in names {
            let name = object_name(n)?;
            match catalog::get_relation(txn, &name)? {
                Some(Relation::Sequence(q)) => drop_sequence(txn, &q, cascade)?,
                Some(_) => {
                    return Err(SqlError::WrongObjectType {
                        message: format!("\"{name}\" is not a sequence"),
                    })
                }
                None if if_exists => skipping(what, &name),
                None => return Err(missing(what, name)),
            }
        }
        return Ok(StatementResult::command(tag));
    }
    if kind == ObjectType::Index {
        for n in names {
            let name = object_name(n)?;
            if !drop_index(txn, &name)? {
                if !if_exists {
                    return Err(missing(what, name));
                }
                skipping(what, &name);
            }
        }
        return Ok(StatementResult::command(tag));
    }
    let view = kind == ObjectType::View;
    let mut targets = Vec::new();
    for n in names {
        let name = object_name(n)?;
        match catalog::get_relation(txn, &name)? {
            Some(Relation::View(_)) if view => targets.push(name),
            Some(Relation::Table(_)) if !view => targets.push(name),
            Some(_) => {
                return Err(SqlError::WrongObjectType {
                    message: format!("\"{name}\" is not a {what}"),
                })
            }
            None if if_exists => skipping(what, &name),
            None => return Err(missing(what, name)),
        }
    }
    let views = catalog::list_views(txn)?;
    let dependents = dependents_of(&targets, what, &views);
    if !dependents.is_empty() && !cascade {
        let message = match targets.as_slice() {
            [one] => format!("cannot drop {what} {one} because other objects depend on it"),
            _ => "cannot drop desired object(s) because other objects depend on them".into(),
        };
        let detail = dependents
            .iter()
            .map(|(v, on)| format!("view {v} depends on {on}"))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(SqlError::DependentObjects {
            message,
            detail: Some(detail),
        });
    }
    for (v, _) in &dependents {
        catalog::delete_relation(txn, v)?;
    }
    for name in &targets {
        drop_relation(txn, name)?;
    }
    Ok(StatementResult::command(tag))
}

fn missing(kind: &str, name: String) -> SqlError {
    SqlError::UndefinedTableKind {
        kind: kind.into(),
        name,
    }
}

/// The views depending on `targets` (not themselves targets), each with what it depends
/// on ("view v1" / "table t"), in PostgreSQL's order: its `findDependentObjects` visits
/// dependents newest first and reports them in reverse post-order. Views carry no
/// creation time here, so name order stands in for it.
fn dependents_of(targets: &[String], kind: &str, views: &[ViewDef]) -> Vec<(String, String)> {
    let mut post = Vec::new();
    let mut seen: Vec<String> = targets.to_vec();
    for t in targets {
        visit(t, &format!("{kind} {t}"), views, &mut seen, &mut post);
    }
    post.reverse();
    post
}

fn visit(
    name: &str,
    label: &str,
    views: &[ViewDef],
    seen: &mut Vec<String>,
    post: &mut Vec<(String, String)>,
) {
    for v in views.iter().rev() {
        if v.depends_on.iter().any(|d| d == name) && !seen.contains(&v.name) {
            seen.push(v.name.clone());
            visit(&v.name, &format!("view {}", v.name), views, seen, post);
            post.push((v.name.clone(), label.to_string()));
        }
    }
}

/// Drops a table (rows, indexes, the sequences its columns own) or view known to exist.
fn drop_relation(txn: &mut Transaction, name: &str) -> Result<(), SqlError> {
    if let Some(Relation::Table(t)) = catalog::get_relation(txn, name)? {
        crate::undo::clear_range(txn, &t.data_range())?;
        for ix in &t.indexes {
            catalog::delete_index_name(txn, &ix.name)?;
        }
        for q in crate::sequence::owned_by_table(txn, t.id)? {
            crate::sequence::drop_sequence(txn, &q)?;
        }
    }
    catalog::delete_relation(txn, name)
}

/// DROP SEQUENCE of one sequence. A sequence a column's default uses (the column owns
/// it: serial, identity) goes only with CASCADE, which drops that default too, as in
/// PostgreSQL.
fn drop_sequence(
    txn: &mut Transaction,
    q: &crate::catalog::SequenceDef,
    cascade: bool,
) -> Result<(), SqlError> {
    let owner = match &q.owned_by {
        Some((table_id, column)) => catalog::list_relations(txn)?
            .into_iter()
            .find_map(|r| match r {
                Relation::Table(t) if t.id == *table_id => Some(t),
                _ => None,
            })
            .and_then(|t| t.column_index(column).map(|c| (t, c))),
        None => None,
    };
    if let Some((mut t, c)) = owner {
        let uses = t.columns[c]
            .default
            .as_deref()
            .is_some_and(|d| crate::sequence::default_uses(d, &q.name));
        if uses {
            let column = t.columns[c].name.clone();
            if !cascade {
                return Err(SqlError::DependentObjects {
                    message: format!(
                        "cannot drop sequence {} because other objects depend on it",
                        q.name
                    ),
                    detail: Some(format!(
                        "default value for column {column} of table {} depends on sequence {}",
                        t.name, q.name
                    )),
                });
            }
            crate::notice::emit(crate::notice::Notice::new(
                "00000",
                format!(
                    "drop cascades to default value for column {column} of table {}",
                    t.name
                ),
            ));
            t.columns[c].default = None;
            catalog::put_relation(txn, &Relation::Table(t))?;
        }
    }
    crate::sequence::drop_sequence(txn, q)
}

fn drop_index(txn: &mut Transaction, name: &str) -> Result<bool, SqlError> {
    let Some(table) = catalog::index_owner(txn, name)? else {
        return Ok(false);
    };
    let mut t = catalog::get_table(txn, &table)?;
    let Some(pos) = t.indexes.iter().position(|i| i.name == name) else {
        return Ok(false);
    };
    if pos == 0 || t.indexes[pos].unique {
        return Err(SqlError::DependentObjects {
            message: format!(
                "cannot drop index {name} because constraint {name} on table {table} requires it"
            ),
            detail: None,
        });
    }
    let ix = t.indexes.remove(pos);
    crate::undo::clear_range(txn, &catalog::prefix_range(&t.index_prefix(ix.id)))?;
    catalog::delete_index_name(txn, name)?;
    catalog::put_relation(txn, &Relation::Table(t))?;
    Ok(true)
}
