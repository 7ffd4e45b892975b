//! ALTER TABLE: ADD / DROP / RENAME COLUMN, RENAME TO, ADD PRIMARY KEY, ADD CONSTRAINT
//! (UNIQUE, CHECK), each applied to the existing rows in the statement's transaction;
//! ALTER COLUMN SET / DROP DEFAULT and DROP NOT NULL (descriptor only), and OWNER TO
//! postgres (a no-op: every relation is postgres's), which pg_dump's output needs.
//!
//! A row value holds every column in table order ([`crate::encoding::encode_row`]) and
//! index entries hold only key values, so:
//!
//! - ADD COLUMN rewrites each row value with the new column's default appended (23502
//!   `column "c" of relation "t" contains null values` for NOT NULL without one);
//!   DROP COLUMN rewrites them without it and drops the secondary indexes and CHECKs that
//!   use it (PostgreSQL does the same). Keys and other index entries stay as they are.
//! - ADD PRIMARY KEY (only on a table keyed by hidden row ids) re-keys every row: the
//!   rows are read, the table's key range cleared and the rows written again under the
//!   new key with every index rebuilt.
//! - ADD CONSTRAINT UNIQUE builds an index over the rows (23505 on a duplicate); CHECK is
//!   evaluated over every row first (23514 `check constraint "c" of relation "t" is
//!   violated by some row`).
//!
//! Each of these runs in the statement's transaction and holds the rows it rewrites in
//! memory. ADD UNIQUE and ADD PRIMARY KEY over a table too large for one transaction run
//! outside a transaction block as batched jobs ([`crate::backfill`]); ADD/DROP COLUMN
//! and ADD CHECK over such a table fail with 54000 (future work). Relations views depend on cannot be renamed (views store their query
//! text, which names the table), which PostgreSQL would allow.

use ferrisdb_txn::Transaction;
use sqlparser::ast::{self, AlterTableOperation as Op, RenameTableNameKind, TableConstraint};

use crate::backfill::Change;
use crate::bind::{ident_name, object_name, Binder};
use crate::catalog::{self, prefix_range, CheckDef, ColumnDef, IndexDef, Relation, TableDef};
use crate::datum::Datum;
use crate::ddl::{
    check_name, col_names, finish_index, key_columns_of, table_scope, validate_exprs,
};
use crate::error::SqlError;
use crate::exec::{eval, ExecCtx, Row};
use crate::session::{StatementEnv, StatementResult};
use crate::store::{self, build_index, kv_err};
use crate::types::DataType;
use crate::undo;

/// `OWNER TO role` (pg_dump writes one per relation, and for sequences and views too):
/// every relation is owned by `postgres` here (`pg_class.relowner`), so giving it to
/// `postgres` changes nothing; any other owner is refused rather than ignored.
fn owner_to(txn: &mut Transaction, name: &str, owner: &ast::Owner) -> Result<(), SqlError> {
    if catalog::get_relation(txn, name)?.is_none() {
        return Err(SqlError::UndefinedTable {
            name: name.to_string(),
        });
    }
    match owner {
        ast::Owner::Ident(role) => check_owner(role),
        other => Err(not_postgres(other)),
    }
}

/// Giving a relation to `role`: fine for `postgres`, who owns them all; refused otherwise.
pub(crate) fn check_owner(role: &ast::Ident) -> Result<(), SqlError> {
    match ident_name(role) == "postgres" {
        true => Ok(()),
        false => Err(not_postgres(role)),
    }
}

fn not_postgres(owner: impl std::fmt::Display) -> SqlError {
    SqlError::unsupported(format!(
        "OWNER TO {owner}: relations are all owned by postgres (ownership is not modeled)"
    ))
}

/// `ALTER COLUMN c SET DEFAULT expr | DROP DEFAULT | DROP NOT NULL`: descriptor changes
/// only (existing rows keep their values, as in PostgreSQL). A default is bound and
/// checked against the column's type first, as at CREATE TABLE. SET NOT NULL (which must
/// check every row) and SET DATA TYPE are not supported.
fn alter_column(
    txn: &mut Transaction,
    mut t: TableDef,
    column: &str,
    op: &ast::AlterColumnOperation,
) -> Result<(), SqlError> {
    use ast::AlterColumnOperation as C;
    let Some(i) = t.column_index(column) else {
        return Err(SqlError::UndefinedColumn {
            name: format!("{column}\" of relation \"{}", t.name),
        });
    };
    match op {
        C::SetDefault { value } => t.columns[i].default = Some(crate::ddl::default_text(value)),
        C::DropDefault => t.columns[i].default = None,
        C::DropNotNull => {
            if t.primary().columns.contains(&i) {
                return Err(SqlError::InvalidTableDefinition {
                    message: format!("column \"{column}\" is in a primary key"),
                });
            }
            t.columns[i].not_null = false;
        }
        other => {
            return Err(SqlError::unsupported(format!(
                "ALTER TABLE ... ALTER COLUMN {other} is not supported"
            )))
        }
    }
    validate_exprs(txn, &t)?;
    catalog::put_relation(txn, &Relation::Table(t))
}

/// ALTER TABLE [IF EXISTS] t op, ...
pub fn alter_table(
    txn: &mut Transaction,
    a: &ast::AlterTable,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    let mut name = object_name(&a.name)?;
    if a.if_exists && catalog::get_relation(txn, &name)?.is_none() {
        return Ok(StatementResult::command("ALTER TABLE"));
    }
    for op in &a.operations {
        if let Op::OwnerTo { new_owner } = op {
            owner_to(txn, &name, new_owner)?;
            continue;
        }
        let t = catalog::get_table(txn, &name)?;
        match op {
            Op::AlterColumn { column_name, op } => {
                alter_column(txn, t, &ident_name(column_name), op)?
            }
            Op::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => add_column(txn, t, column_def, *if_not_exists, env)?,
            Op::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    let t = catalog::get_table(txn, &name)?;
                    drop_column(txn, t, &ident_name(c), *if_exists)?;
                }
            }
            Op::RenameColumn {
                old_column_name,
                new_column_name,
            } => rename_column(
                txn,
                t,
                &ident_name(old_column_name),
                &ident_name(new_column_name),
            )?,
            Op::RenameTable { table_name } => {
                let (RenameTableNameKind::To(n) | RenameTableNameKind::As(n)) = table_name;
                let new = object_name(n)?;
                rename_table(txn, t, &new)?;
                name = new;
            }
            Op::AddConstraint { constraint, .. } => add_constraint(txn, t, constraint, env)?,
            other => {
                return Err(SqlError::unsupported(format!(
                    "ALTER TABLE ... {} is not supported",
                    other
                        .to_string()
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                )))
            }
        }
    }
    Ok(StatementResult::command("ALTER TABLE"))
}

/// Every row of `t` with its key.
fn all_rows(txn: &mut Transaction, t: &TableDef) -> Result<Vec<(Vec<u8>, Row)>, SqlError> {
    let mut range = prefix_range(&t.index_prefix(catalog::PRIMARY_INDEX));
    let mut out = Vec::new();
    loop {
        let batch = txn.get_range(&range, 256, false).map_err(kv_err)?;
        for (k, v) in &batch {
            out.push((k.clone(), store::decode_table_row(t, v)?));
        }
        match batch.last() {
            Some((k, _)) if batch.len() == 256 => range.begin = ferrisdb_kv::key_after(k),
            _ => return Ok(out),
        }
    }
}

fn add_column(
    txn: &mut Transaction,
    mut t: TableDef,
    c: &ast::ColumnDef,
    if_not_exists: bool,
    env: StatementEnv,
) -> Result<(), SqlError> {
    let cname = ident_name(&c.name);
    if t.column_index(&cname).is_some() {
        if if_not_exists {
            return Ok(());
        }
        return Err(SqlError::ColumnExists {
            table: t.name.clone(),
            column: cname,
        });
    }
    let mut def = ColumnDef {
        name: cname.clone(),
        data_type: match crate::sequence::serial_type(&c.data_type) {
            Some(_) => {
                return Err(SqlError::unsupported(
                    "ALTER TABLE ADD COLUMN of a serial column is not supported \
                     (CREATE TABLE and CREATE SEQUENCE are)",
                ))
            }
            None => DataType::from_sqlparser(&c.data_type)?,
        },
        not_null: false,
        default: None,
    };
    let mut checks = Vec::new();
    for o in &c.options {
        match &o.option {
            ast::ColumnOption::Null => {}
            ast::ColumnOption::NotNull => def.not_null = true,
            ast::ColumnOption::Default(e) => def.default = Some(crate::ddl::default_text(e)),
            ast::ColumnOption::Check(ch) => checks.push(CheckDef {
                name: o
                    .name
                    .as_ref()
                    .map(ident_name)
                    .unwrap_or_else(|| format!("{}_{cname}_check", t.name)),
                expr: ch.expr.to_string(),
            }),
            other => return Err(SqlError::unsupported(format!("ADD COLUMN ... {other}"))),
        }
    }
    t.columns.push(def.clone());
    t.checks.extend(checks.iter().cloned());
    validate_exprs(txn, &t)?;
    let default = match &def.default {
        Some(sql) => {
            let (e, ty) = Binder::new(txn).bind_standalone_expr(sql, Vec::new())?;
            Some(crate::bind::coerce(
                e,
                ty,
                def.data_type,
                crate::cast::CastContext::Assignment,
            )?)
        }
        None => None,
    };
    let old = catalog::get_table(txn, &t.name)?;
    let rows = all_rows(txn, &old)?;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let mut new_rows = Vec::with_capacity(rows.len());
    for (k, mut row) in rows {
        let v = match &default {
            Some(e) => eval(e, &[], &mut cx)?,
            None => Datum::Null,
        };
        if def.not_null && v.is_null() {
            return Err(SqlError::NullsInColumn {
                table: t.name.clone(),
                column: def.name.clone(),
            });
        }
        row.push(v);
        new_rows.push((k, row));
    }
    for ch in &checks {
        check_rows(cx.txn, &t, ch, new_rows.iter().map(|(_, r)| r), env)?;
    }
    for (k, row) in &new_rows {
        undo::set(cx.txn, k, &crate::encoding::encode_row(row))?;
    }
    catalog::put_relation(cx.txn, &Relation::Table(t))
}

fn drop_column(
    txn: &mut Transaction,
    mut t: TableDef,
    cname: &str,
    if_exists: bool,
) -> Result<(), SqlError> {
    let Some(col) = t.column_index(cname) else {
        if if_exists {
            return Ok(());
        }
        return Err(SqlError::UndefinedColumn {
            name: format!("{cname}\" of relation \"{}", t.name),
        });
    };
    if t.indexes[0].columns.contains(&col) {
        return Err(SqlError::unsupported(
            "dropping a primary key column is not supported",
        ));
    }
    let rows = all_rows(txn, &t)?;
    let mut kept = Vec::new();
    for ix in std::mem::take(&mut t.indexes) {
        if ix.columns.contains(&col) {
            undo::clear_range(txn, &prefix_range(&t.index_prefix(ix.id)))?;
            catalog::delete_index_name(txn, &ix.name)?;
        } else {
            kept.push(ix);
        }
    }
    for ix in &mut kept {
        for c in &mut ix.columns {
            if *c > col {
                *c -= 1;
            }
        }
    }
    t.indexes = kept;
    t.checks.retain(|ch| !mentions(&ch.expr, cname));
    t.columns.remove(col);
    for (k, mut row) in rows {
        row.remove(col);
        undo::set(txn, &k, &crate::encoding::encode_row(&row))?;
    }
    catalog::put_relation(txn, &Relation::Table(t))
}

/// Whether the expression text names identifier `name` (case-folded).
fn mentions(expr: &str, name: &str) -> bool {
    tokens(expr)
        .iter()
        .any(|tok| matches!(tok, sqlparser::tokenizer::Token::Word(w) if word_name(w) == name))
}

fn tokens(expr: &str) -> Vec<sqlparser::tokenizer::Token> {
    sqlparser::tokenizer::Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, expr)
        .tokenize()
        .unwrap_or_default()
}

fn word_name(w: &sqlparser::tokenizer::Word) -> String {
    if w.quote_style.is_some() {
        w.value.clone()
    } else {
        w.value.to_lowercase()
    }
}

fn rename_column(
    txn: &mut Transaction,
    mut t: TableDef,
    old: &str,
    new: &str,
) -> Result<(), SqlError> {
    let col = t
        .column_index(old)
        .ok_or_else(|| SqlError::UndefinedColumn {
            name: old.to_string(),
        })?;
    if t.column_index(new).is_some() {
        return Err(SqlError::ColumnExists {
            table: t.name.clone(),
            column: new.to_string(),
        });
    }
    t.columns[col].name = new.to_string();
    for ch in &mut t.checks {
        ch.expr = tokens(&ch.expr)
            .into_iter()
            .map(|tok| match tok {
                sqlparser::tokenizer::Token::Word(w) if word_name(&w) == old => {
                    format!("\"{}\"", new.replace('"', "\"\""))
                }
                other => other.to_string(),
            })
            .collect();
    }
    catalog::put_relation(txn, &Relation::Table(t))
}

fn rename_table(txn: &mut Transaction, mut t: TableDef, new: &str) -> Result<(), SqlError> {
    if catalog::get_relation(txn, new)?.is_some() || catalog::index_owner(txn, new)?.is_some() {
        return Err(SqlError::DuplicateTable {
            name: new.to_string(),
        });
    }
    let views = catalog::list_views(txn)?;
    if let Some(v) = views.iter().find(|v| v.depends_on.contains(&t.name)) {
        return Err(SqlError::unsupported(format!(
            "cannot rename table {} because view {} depends on it",
            t.name, v.name
        )));
    }
    catalog::delete_relation(txn, &t.name)?;
    t.name = new.to_string();
    for ix in &t.indexes {
        if !(ix.primary && t.has_row_id()) {
            catalog::put_index_name(txn, &ix.name, new)?;
        }
    }
    catalog::put_relation(txn, &Relation::Table(t))
}

/// 23514 unless `ch` holds (or is NULL) for every row.
fn check_rows<'r>(
    txn: &mut Transaction,
    t: &TableDef,
    ch: &CheckDef,
    rows: impl Iterator<Item = &'r Row>,
    env: StatementEnv,
) -> Result<(), SqlError> {
    let (e, _) = Binder::new(txn).bind_standalone_expr(&ch.expr, table_scope(t, &t.name))?;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    for row in rows {
        if eval(&e, row, &mut cx)? == Datum::Bool(false) {
            return Err(SqlError::CheckViolatedByRow {
                table: t.name.clone(),
                constraint: ch.name.clone(),
            });
        }
    }
    Ok(())
}

fn add_constraint(
    txn: &mut Transaction,
    mut t: TableDef,
    c: &TableConstraint,
    env: StatementEnv,
) -> Result<(), SqlError> {
    match c {
        TableConstraint::Check(ch) => {
            let def = CheckDef {
                name: ch
                    .name
                    .as_ref()
                    .map(ident_name)
                    .unwrap_or_else(|| check_name(&t, &ch.expr)),
                expr: ch.expr.to_string(),
            };
            t.checks.push(def.clone());
            validate_exprs(txn, &t)?;
            let rows = all_rows(txn, &t)?;
            check_rows(txn, &t, &def, rows.iter().map(|(_, r)| r), env)?;
            catalog::put_relation(txn, &Relation::Table(t))
        }
        TableConstraint::Unique(_) | TableConstraint::PrimaryKey(_) => {
            match plan_key_constraint(txn, t, c)? {
                Change::Index(t, ix) => {
                    build_index(txn, &t, &ix)?;
                    finish_index(txn, t, ix)
                }
                Change::PrimaryKey { old, new } => add_primary_key(txn, old, new),
            }
        }
        other => Err(SqlError::unsupported(format!("ADD {other}"))),
    }
}

/// Checks ADD UNIQUE / ADD PRIMARY KEY on `t` and says what it builds; nothing is
/// written. The re-keyed table of a primary key keeps `t`'s id.
pub(crate) fn plan_key_constraint(
    txn: &mut Transaction,
    mut t: TableDef,
    c: &TableConstraint,
) -> Result<Change, SqlError> {
    let (cols, name, primary) = match c {
        TableConstraint::Unique(u) => {
            let cols = key_columns_of(&t, u.columns.iter().map(|c| &c.column.expr))?;
            let name = u.name.as_ref().map(ident_name);
            let name = name.unwrap_or_else(|| format!("{}_{}_key", t.name, col_names(&t, &cols)));
            (cols, name, false)
        }
        TableConstraint::PrimaryKey(p) => {
            let cols = key_columns_of(&t, p.columns.iter().map(|c| &c.column.expr))?;
            let name = p.name.as_ref().map(ident_name);
            (
                cols,
                name.unwrap_or_else(|| format!("{}_pkey", t.name)),
                true,
            )
        }
        other => return Err(SqlError::unsupported(format!("ADD {other}"))),
    };
    if primary && !t.has_row_id() {
        return Err(SqlError::InvalidTableDefinition {
            message: format!(
                "multiple primary keys for table \"{}\" are not allowed",
                t.name
            ),
        });
    }
    if catalog::index_owner(txn, &name)?.is_some() || catalog::get_relation(txn, &name)?.is_some() {
        return Err(SqlError::DuplicateTable { name });
    }
    if !primary {
        let ix = IndexDef {
            id: t.next_index_id,
            name,
            columns: cols,
            unique: true,
            primary: false,
            constraint: true,
        };
        t.next_index_id += 1;
        return Ok(Change::Index(t, ix));
    }
    let mut new = t.clone();
    for c in &cols {
        new.columns[*c].not_null = true;
    }
    new.indexes[0].columns = cols;
    new.indexes[0].name = name;
    Ok(Change::PrimaryKey { old: t, new })
}

/// Re-keys `old`, a table that had hidden row ids, as `new` (see the module doc).
fn add_primary_key(txn: &mut Transaction, old: TableDef, new: TableDef) -> Result<(), SqlError> {
    let rows = all_rows(txn, &old)?;
    // PostgreSQL sets the key columns NOT NULL before it builds the index: a NULL is
    // reported ahead of any duplicate.
    for c in &new.primary().columns {
        if rows.iter().any(|(_, r)| r[*c].is_null()) {
            return Err(SqlError::NullsInColumn {
                table: new.name.clone(),
                column: new.columns[*c].name.clone(),
            });
        }
    }
    undo::clear_range(txn, &old.data_range())?;
    for (_, row) in &rows {
        store::rekey_row(txn, &new, row)?;
    }
    catalog::put_index_name(txn, &new.indexes[0].name, &new.name)?;
    catalog::put_relation(txn, &Relation::Table(new))
}
