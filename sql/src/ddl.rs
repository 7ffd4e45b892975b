//! DDL: CREATE/DROP TABLE, CREATE/DROP INDEX, CREATE/DROP VIEW, TRUNCATE.
//!
//! Each writes catalog entries (and for indexes, entries over the existing rows) in the
//! statement's transaction, so DDL commits or rolls back with everything else. Constraint
//! and index names follow PostgreSQL: `t_pkey`, `t_a_key` (UNIQUE), `t_a_check` (CHECK on
//! column a; `t_check` for a table check over several columns), `t_a_b_idx` (CREATE INDEX
//! without a name).

use ferrisdb_txn::Transaction;
use sqlparser::ast::{self, ColumnOption, TableConstraint};

use crate::bind::{ident_name, object_name, Binder, ScopeColumn};
use crate::cast::{castable, CastContext};
use crate::catalog::{
    self, CheckDef, ColumnDef, IndexDef, Relation, TableDef, ViewDef, PRIMARY_INDEX,
};
use crate::error::SqlError;
use crate::session::StatementResult;
use crate::store::build_index;
use crate::types::DataType;

/// NOTICE 42P07 `relation "t" already exists, skipping` (IF NOT EXISTS).
fn already_exists(name: &str) {
    crate::notice::emit(crate::notice::Notice::new(
        "42P07",
        format!("relation \"{name}\" already exists, skipping"),
    ));
}

/// CREATE TABLE.
pub fn create_table(
    txn: &mut Transaction,
    c: &ast::CreateTable,
) -> Result<StatementResult, SqlError> {
    let name = object_name(&c.name)?;
    if catalog::get_relation(txn, &name)?.is_some() || catalog::index_owner(txn, &name)?.is_some() {
        if c.if_not_exists {
            already_exists(&name);
            return Ok(StatementResult::command("CREATE TABLE"));
        }
        return Err(SqlError::DuplicateTable { name });
    }
    if c.query.is_some() {
        return Err(SqlError::unsupported("CREATE TABLE AS is not supported"));
    }
    let mut t = TableDef {
        id: 0,
        name: name.clone(),
        columns: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
        next_index_id: 2,
        lock: None,
    };
    let mut pk: Option<Vec<usize>> = None;
    let mut uniques: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, col) in c.columns.iter().enumerate() {
        let cname = ident_name(&col.name);
        if t.column_index(&cname).is_some() {
            return Err(SqlError::DuplicateColumn { name: cname });
        }
        let mut def = ColumnDef {
            name: cname.clone(),
            data_type: DataType::from_sqlparser(&col.data_type)?,
            not_null: false,
            default: None,
        };
        for o in &col.options {
            match &o.option {
                ColumnOption::Null => {}
                ColumnOption::NotNull => def.not_null = true,
                ColumnOption::Default(e) => def.default = Some(e.to_string()),
                ColumnOption::PrimaryKey(_) => set_pk(&mut pk, vec![i], &name)?,
                ColumnOption::Unique(_) => uniques.push((o.name.as_ref().map(ident_name), vec![i])),
                ColumnOption::Check(ch) => t.checks.push(CheckDef {
                    name: o
                        .name
                        .as_ref()
                        .map(ident_name)
                        .unwrap_or_else(|| format!("{name}_{cname}_check")),
                    expr: ch.expr.to_string(),
                }),
                other => return Err(SqlError::unsupported(format!("column option {other}"))),
            }
        }
        t.columns.push(def);
    }
    for tc in &c.constraints {
        match tc {
            TableConstraint::PrimaryKey(p) => set_pk(
                &mut pk,
                key_columns_of(&t, p.columns.iter().map(|c| &c.column.expr))?,
                &name,
            )?,
            TableConstraint::Unique(u) => uniques.push((
                u.name.as_ref().map(ident_name),
                key_columns_of(&t, u.columns.iter().map(|c| &c.column.expr))?,
            )),
            TableConstraint::Check(ch) => {
                let default_name = check_name(&t, &ch.expr);
                t.checks.push(CheckDef {
                    name: ch.name.as_ref().map(ident_name).unwrap_or(default_name),
                    expr: ch.expr.to_string(),
                });
            }
            other => return Err(SqlError::unsupported(format!("table constraint {other}"))),
        }
    }
    let pk_cols = pk.unwrap_or_default();
    for c in &pk_cols {
        t.columns[*c].not_null = true;
    }
    t.indexes.push(IndexDef {
        id: PRIMARY_INDEX,
        name: format!("{name}_pkey"),
        columns: pk_cols,
        unique: true,
        primary: true,
        constraint: false,
    });
    for (n, cols) in uniques {
        let iname = n.unwrap_or_else(|| format!("{name}_{}_key", col_names(&t, &cols)));
        t.indexes.push(IndexDef {
            id: t.next_index_id,
            name: iname,
            columns: cols,
            unique: true,
            primary: false,
            constraint: true,
        });
        t.next_index_id += 1;
    }
    validate_exprs(txn, &t)?;
    t.id = catalog::allocate_table_id(txn)?;
    for ix in &t.indexes {
        if ix.primary && t.has_row_id() {
            continue;
        }
        if catalog::index_owner(txn, &ix.name)?.is_some() {
            return Err(SqlError::DuplicateTable {
                name: ix.name.clone(),
            });
        }
        catalog::put_index_name(txn, &ix.name, &name)?;
    }
    catalog::put_relation(txn, &Relation::Table(t))?;
    Ok(StatementResult::command("CREATE TABLE"))
}

fn set_pk(pk: &mut Option<Vec<usize>>, cols: Vec<usize>, table: &str) -> Result<(), SqlError> {
    if pk.is_some() {
        return Err(SqlError::InvalidTableDefinition {
            message: format!("multiple primary keys for table \"{table}\" are not allowed"),
        });
    }
    *pk = Some(cols);
    Ok(())
}

pub(crate) fn columns_of<'a>(
    t: &TableDef,
    exprs: impl Iterator<Item = &'a ast::Expr>,
) -> Result<Vec<usize>, SqlError> {
    exprs
        .map(|e| {
            let n = match e {
                ast::Expr::Identifier(id) => ident_name(id),
                other => return Err(SqlError::unsupported(format!("index expression {other}"))),
            };
            t.column_index(&n)
                .ok_or(SqlError::UndefinedColumn { name: n })
        })
        .collect()
}

/// [`columns_of`] for a PRIMARY KEY / UNIQUE constraint, with PostgreSQL's wording.
pub(crate) fn key_columns_of<'a>(
    t: &TableDef,
    exprs: impl Iterator<Item = &'a ast::Expr>,
) -> Result<Vec<usize>, SqlError> {
    columns_of(t, exprs).map_err(|e| match e {
        SqlError::UndefinedColumn { name } => SqlError::KeyColumnMissing { name },
        other => other,
    })
}

pub(crate) fn col_names(t: &TableDef, cols: &[usize]) -> String {
    cols.iter()
        .map(|c| t.columns[*c].name.as_str())
        .collect::<Vec<_>>()
        .join("_")
}

/// PostgreSQL names a table CHECK after the first column it mentions.
pub(crate) fn check_name(t: &TableDef, e: &ast::Expr) -> String {
    let text = e.to_string().to_lowercase();
    let first = t
        .columns
        .iter()
        .filter_map(|c| text.find(c.name.as_str()).map(|p| (p, &c.name)))
        .min_by_key(|(p, _)| *p);
    match first {
        Some((_, c)) => format!("{}_{c}_check", t.name),
        None => format!("{}_check", t.name),
    }
}

/// The scope of a table's columns, for defaults, CHECKs, RETURNING and UPDATE.
pub fn table_scope(t: &TableDef, qualifier: &str) -> Vec<ScopeColumn> {
    t.columns
        .iter()
        .map(|c| ScopeColumn {
            table: Some(qualifier.to_string()),
            name: c.name.clone(),
            data_type: c.data_type,
            hidden: false,
        })
        .collect()
}

/// Binds every default (no columns in scope) and CHECK (the table's columns) once, so a
/// bad one fails at CREATE time as in PostgreSQL.
pub(crate) fn validate_exprs(txn: &mut Transaction, t: &TableDef) -> Result<(), SqlError> {
    let mut b = Binder::new(txn);
    for c in &t.columns {
        if let Some(d) = &c.default {
            let (_, ty) = b.bind_standalone_expr(d, Vec::new())?;
            if !castable(&ty, &c.data_type, CastContext::Assignment) {
                return Err(SqlError::DatatypeMismatch {
                    message: format!(
                        "column \"{}\" is of type {} but default expression is of type {ty}",
                        c.name, c.data_type
                    ),
                });
            }
        }
    }
    for ch in &t.checks {
        let (_, ty) = b.bind_standalone_expr(&ch.expr, table_scope(t, &t.name))?;
        if !matches!(ty, DataType::Bool | DataType::Unknown) {
            return Err(SqlError::DatatypeMismatch {
                message: format!("argument of CHECK must be type boolean, not type {ty}"),
            });
        }
    }
    Ok(())
}

/// CREATE [UNIQUE] INDEX, built over the table's existing rows.
pub fn create_index(
    txn: &mut Transaction,
    c: &ast::CreateIndex,
) -> Result<StatementResult, SqlError> {
    if let Some((t, ix)) = plan_index(txn, c)? {
        build_index(txn, &t, &ix)?;
        finish_index(txn, t, ix)?;
    }
    Ok(StatementResult::command("CREATE INDEX"))
}

/// Checks a CREATE INDEX and returns the table (its next index id taken) and the new
/// index, or `None` for IF NOT EXISTS of an existing name. Nothing is written.
pub fn plan_index(
    txn: &mut Transaction,
    c: &ast::CreateIndex,
) -> Result<Option<(TableDef, IndexDef)>, SqlError> {
    let table = object_name(&c.table_name)?;
    let mut t = catalog::get_table(txn, &table)?;
    let cols = columns_of(&t, c.columns.iter().map(|ic| &ic.column.expr))?;
    let name = match &c.name {
        Some(n) => object_name(n)?,
        None => format!("{table}_{}_idx", col_names(&t, &cols)),
    };
    if catalog::index_owner(txn, &name)?.is_some() || catalog::get_relation(txn, &name)?.is_some() {
        if c.if_not_exists {
            already_exists(&name);
            return Ok(None);
        }
        return Err(SqlError::DuplicateTable { name });
    }
    let ix = IndexDef {
        id: t.next_index_id,
        name,
        columns: cols,
        unique: c.unique,
        primary: false,
        constraint: false,
    };
    t.next_index_id += 1;
    Ok(Some((t, ix)))
}

/// Makes index `ix`, whose entries are written, part of `t`.
pub fn finish_index(txn: &mut Transaction, mut t: TableDef, ix: IndexDef) -> Result<(), SqlError> {
    catalog::put_index_name(txn, &ix.name, &t.name)?;
    t.indexes.push(ix);
    catalog::put_relation(txn, &Relation::Table(t))
}

/// CREATE VIEW: the query is bound once to check it and name its columns.
pub fn create_view(
    txn: &mut Transaction,
    v: &ast::CreateView,
) -> Result<StatementResult, SqlError> {
    let name = object_name(&v.name)?;
    let mut id = 0;
    if let Some(existing) = catalog::get_relation(txn, &name)? {
        if let Relation::View(old) = &existing {
            id = old.id;
        }
        let replace = v.or_replace && matches!(existing, Relation::View(_));
        if !replace {
            if v.if_not_exists {
                return Ok(StatementResult::command("CREATE VIEW"));
            }
            return Err(SqlError::DuplicateTable { name });
        }
    }
    let mut binder = Binder::new(txn);
    let bound = binder.bind_query(&v.query)?;
    let depends_on = std::mem::take(&mut binder.relations_used);
    let mut columns: Vec<String> = bound.columns.iter().map(|c| c.name.clone()).collect();
    for (i, c) in v.columns.iter().enumerate() {
        if let Some(slot) = columns.get_mut(i) {
            *slot = ident_name(&c.name);
        }
    }
    if id == 0 {
        id = catalog::allocate_table_id(txn)?;
    }
    catalog::put_relation(
        txn,
        &Relation::View(ViewDef {
            name,
            sql: v.query.to_string(),
            columns,
            depends_on,
            id,
        }),
    )?;
    Ok(StatementResult::command("CREATE VIEW"))
}

/// TRUNCATE t, ...: one range clear per table.
///
/// Like PostgreSQL's new relfilenode, the table gets a new table id (an empty key range)
/// and its old range is cleared; inside a block this is what lets a following COPY load
/// more than one transaction holds ([`crate::fresh`]).
pub fn truncate(txn: &mut Transaction, tr: &ast::Truncate) -> Result<StatementResult, SqlError> {
    for target in &tr.table_names {
        let mut t = catalog::get_table(txn, &object_name(&target.name)?)?;
        crate::undo::clear_range(txn, &t.data_range())?;
        t.id = catalog::allocate_table_id(txn)?;
        catalog::put_relation(txn, &Relation::Table(t))?;
    }
    Ok(StatementResult::command("TRUNCATE TABLE"))
}

/// VACUUM and ANALYZE: the table must exist (42P01 otherwise, as in PostgreSQL), and
/// there is nothing else to do. Old MVCC versions are dropped by the storage engine's
/// compaction, not by a sweep of the table, and the rule-based planner keeps no
/// statistics; the statements exist so that tools which run them (pgbench, ORMs,
/// migration scripts) work unchanged.
pub fn maintain(
    txn: &mut Transaction,
    table: Option<&ast::ObjectName>,
    tag: &str,
) -> Result<StatementResult, SqlError> {
    if let Some(name) = table {
        catalog::get_table(txn, &object_name(name)?)?;
    }
    Ok(StatementResult::command(tag))
}
