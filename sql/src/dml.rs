//! INSERT, UPDATE and DELETE, with RETURNING, constraints and ON CONFLICT.
//!
//! Each statement first computes its complete set of changes (the source rows of an
//! INSERT, the matching rows of an UPDATE/DELETE) and only then writes, so a statement
//! never sees its own writes (`INSERT INTO t SELECT * FROM t` copies once; an UPDATE that
//! moves a row forward in key order does not meet it again). Per row, in PostgreSQL's
//! order: NOT NULL (23502), CHECK (23514, NULL passes), then unique indexes (23505, or the
//! ON CONFLICT action). An UPDATE deletes the old row and its index entries and writes the
//! new ones.

use ferrisdb_txn::Transaction;
use sqlparser::ast::{
    self, FromTable, OnConflictAction, OnInsert, SetExpr, TableFactor, TableObject,
};

use crate::bind::{coerce, ident_name, object_name, Binder, Column, ScopeColumn};
use crate::cast::CastContext;
use crate::catalog::{get_table, TableDef};
use crate::datum::Datum;
use crate::ddl::table_scope;
use crate::error::SqlError;
use crate::exec::{collect, eval, is_true, ExecCtx, Row};
use crate::plan::optimize::optimize;
use crate::plan::{Access, Expr, Plan};
use crate::session::{StatementEnv, StatementResult};
use crate::store;
use crate::types::DataType;

/// What a table's writes check, bound once per statement.
pub(crate) struct Constraints {
    checks: Vec<(String, Expr)>,
    returning: Option<(Vec<Expr>, Vec<Column>)>,
}

pub(crate) fn bind_constraints(
    b: &mut Binder,
    t: &TableDef,
    qualifier: &str,
    returning: &Option<Vec<ast::SelectItem>>,
) -> Result<Constraints, SqlError> {
    let mut checks = Vec::new();
    for c in &t.checks {
        let (e, _) = b.bind_standalone_expr(&c.expr, table_scope(t, &t.name))?;
        checks.push((c.name.clone(), e));
    }
    let returning = match returning {
        None => None,
        Some(items) => {
            let scope = table_scope(t, qualifier);
            let (mut exprs, mut cols) = (Vec::new(), Vec::new());
            for item in items {
                match item {
                    ast::SelectItem::Wildcard(_) => {
                        for (i, c) in t.columns.iter().enumerate() {
                            exprs.push(Expr::Column(i));
                            cols.push(Column {
                                name: c.name.clone(),
                                data_type: c.data_type,
                            });
                        }
                    }
                    ast::SelectItem::UnnamedExpr(e)
                    | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                        let (x, ty) = b.bind_expr_over(e, scope.clone())?;
                        let name = match item {
                            ast::SelectItem::ExprWithAlias { alias, .. } => ident_name(alias),
                            _ => crate::bind::column_name(e),
                        };
                        let (x, ty) = if ty == DataType::Unknown {
                            (
                                coerce(x, ty, DataType::Text, CastContext::Implicit)?,
                                DataType::Text,
                            )
                        } else {
                            (x, ty)
                        };
                        exprs.push(x);
                        cols.push(Column {
                            name,
                            data_type: ty,
                        });
                    }
                    other => return Err(SqlError::unsupported(format!("RETURNING {other}"))),
                }
            }
            Some((exprs, cols))
        }
    };
    Ok(Constraints { checks, returning })
}

/// NOT NULL and CHECK for a row about to be written.
pub(crate) fn check_row(
    t: &TableDef,
    c: &Constraints,
    row: &[Datum],
    cx: &mut ExecCtx,
) -> Result<(), SqlError> {
    for (col, d) in t.columns.iter().zip(row) {
        if col.not_null && d.is_null() {
            return Err(SqlError::NotNullViolation {
                table: t.name.clone(),
                column: col.name.clone(),
            });
        }
    }
    for (name, e) in &c.checks {
        if eval(e, row, cx)? == Datum::Bool(false) {
            return Err(SqlError::CheckViolation {
                table: t.name.clone(),
                constraint: name.clone(),
            });
        }
    }
    Ok(())
}

fn finish(
    c: &Constraints,
    tag: String,
    affected: Vec<Row>,
    cx: &mut ExecCtx,
) -> Result<StatementResult, SqlError> {
    match &c.returning {
        None => Ok(StatementResult::Command { tag }),
        Some((exprs, cols)) => {
            let rows = affected
                .iter()
                .map(|r| {
                    exprs
                        .iter()
                        .map(|e| eval(e, r, cx))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(StatementResult::Query {
                columns: cols.clone(),
                rows,
                tag: Some(tag),
            })
        }
    }
}

fn table_name(obj: &TableObject) -> Result<String, SqlError> {
    match obj {
        TableObject::TableName(n) => object_name(n),
        other => Err(SqlError::unsupported(format!("INSERT INTO {other}"))),
    }
}

/// Binds the INSERT source to rows of the target columns, cast to their types; `None`
/// entries of a VALUES row stand for DEFAULT.
fn source_plan(
    b: &mut Binder,
    src: &ast::Query,
    t: &TableDef,
    targets: &[usize],
) -> Result<Plan, SqlError> {
    if let (SetExpr::Values(v), None, None) = (src.body.as_ref(), &src.order_by, &src.limit_clause)
    {
        let mut rows = Vec::new();
        for r in &v.rows {
            if r.len() > targets.len() {
                return Err(SqlError::Syntax {
                    message: "INSERT has more expressions than target columns".into(),
                    position: None,
                });
            }
            let mut out = Vec::new();
            for (e, col) in r.iter().zip(targets) {
                let is_default = matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"));
                out.push(if is_default {
                    default_expr(b, t, *col)?
                } else {
                    assign(b.bind_expr_over(e, Vec::new())?, t, *col)?
                });
            }
            for col in &targets[r.len()..] {
                out.push(default_expr(b, t, *col)?);
            }
            rows.push(out);
        }
        return Ok(Plan::Values {
            rows,
            width: targets.len(),
        });
    }
    let q = b.bind_query(src)?;
    if q.columns.len() > targets.len() {
        return Err(SqlError::Syntax {
            message: "INSERT has more expressions than target columns".into(),
            position: None,
        });
    }
    let mut exprs = Vec::new();
    for (i, col) in targets.iter().enumerate() {
        exprs.push(match q.columns.get(i) {
            Some(c) => assign((Expr::Column(i), c.data_type), t, *col)?,
            None => default_expr(b, t, *col)?,
        });
    }
    Ok(Plan::Project {
        input: Box::new(q.plan),
        exprs,
    })
}

/// An expression cast for assignment to column `col`.
fn assign((e, ty): (Expr, DataType), t: &TableDef, col: usize) -> Result<Expr, SqlError> {
    let c = &t.columns[col];
    // No assignment cast: 42804. A literal that does not convert keeps its own error
    // ('x' into an int column: 22P02; 'abc' into varchar(2): 22001), as in PostgreSQL.
    coerce(e, ty, c.data_type, CastContext::Assignment).map_err(|e| match e {
        SqlError::CannotCoerce { .. } => SqlError::DatatypeMismatch {
            message: format!(
                "column \"{}\" is of type {} but expression is of type {ty}",
                c.name, c.data_type
            ),
        },
        other => other,
    })
}

pub(crate) fn default_expr(b: &mut Binder, t: &TableDef, col: usize) -> Result<Expr, SqlError> {
    match &t.columns[col].default {
        Some(sql) => {
            let bound = b.bind_standalone_expr(sql, Vec::new())?;
            assign(bound, t, col)
        }
        None => Ok(Expr::Literal(Datum::Null)),
    }
}

/// An INSERT bound and ready to run.
struct BoundInsert {
    t: TableDef,
    targets: Vec<usize>,
    /// Per table column: its default (evaluated for columns not targeted).
    all_default: Vec<Expr>,
    source: Plan,
    cons: Constraints,
    on_conflict: Option<OnConflict>,
}

fn bind_insert(txn: &mut Transaction, ins: &ast::Insert) -> Result<BoundInsert, SqlError> {
    let name = table_name(&ins.table)?;
    let t = get_table(txn, &name)?;
    let mut targets = Vec::new();
    for c in &ins.columns {
        let n = object_name(c)?;
        let i = t
            .column_index(&n)
            .ok_or_else(|| SqlError::UndefinedColumn {
                name: format!("{n}\" of relation \"{name}"),
            })?;
        if targets.contains(&i) {
            return Err(SqlError::DuplicateColumn { name: n });
        }
        targets.push(i);
    }
    // DEFAULT VALUES (no source) targets nothing: every column takes its default.
    if ins.columns.is_empty() && ins.source.is_some() {
        targets = (0..t.columns.len()).collect();
    }
    let mut all_default = Vec::new();
    let mut b = Binder::new(txn);
    for col in 0..t.columns.len() {
        all_default.push(if targets.contains(&col) {
            Expr::Literal(Datum::Null)
        } else {
            default_expr(&mut b, &t, col)?
        });
    }
    let source = match &ins.source {
        Some(src) => source_plan(&mut b, src, &t, &targets)?,
        None => Plan::Values {
            rows: vec![vec![]],
            width: 0,
        },
    };
    let qualifier = ins
        .table_alias
        .as_ref()
        .map(|a| ident_name(&a.alias))
        .unwrap_or_else(|| name.clone());
    let cons = bind_constraints(&mut b, &t, &qualifier, &ins.returning)?;
    let on_conflict = bind_on_conflict(&mut b, &t, &qualifier, ins.on.as_ref())?;
    Ok(BoundInsert {
        t,
        targets,
        all_default,
        source,
        cons,
        on_conflict,
    })
}

/// INSERT.
pub fn insert(
    txn: &mut Transaction,
    ins: &ast::Insert,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    let BoundInsert {
        t,
        targets,
        all_default,
        source,
        cons,
        on_conflict,
    } = bind_insert(txn, ins)?;
    let source = optimize(source, txn, env.eval);
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let rows = collect(&source, None, &mut cx)?;
    let mut affected = Vec::new();
    for vals in rows {
        let mut row = Vec::with_capacity(t.columns.len());
        for (col, d) in all_default.iter().enumerate() {
            row.push(match targets.iter().position(|c| *c == col) {
                Some(i) => vals.get(i).cloned().unwrap_or(Datum::Null),
                None => eval(d, &[], &mut cx)?,
            });
        }
        check_row(&t, &cons, &row, &mut cx)?;
        if let Some(ix) = store::find_unique_violation(cx.txn, &t, &row, None)? {
            match &on_conflict {
                None => {
                    return Err(SqlError::UniqueViolation {
                        constraint: ix.name.clone(),
                    })
                }
                Some(OnConflict::Nothing) => continue,
                Some(OnConflict::Update { sets, filter }) => {
                    if let Some(new) =
                        conflict_update(&t, ix, &row, sets, filter.as_ref(), &cons, &mut cx)?
                    {
                        affected.push(new);
                    }
                    continue;
                }
            }
        }
        let row_id = if t.has_row_id() {
            Some(store::new_row_id(cx.txn, &t)?)
        } else {
            None
        };
        store::insert_row(cx.txn, &t, &row, row_id)?;
        affected.push(row);
    }
    finish(
        &cons,
        format!("INSERT 0 {}", affected.len()),
        affected,
        &mut cx,
    )
}

enum OnConflict {
    Nothing,
    /// Assignments over `existing row ++ excluded row`, and the optional WHERE.
    Update {
        sets: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

fn bind_on_conflict(
    b: &mut Binder,
    t: &TableDef,
    qualifier: &str,
    on: Option<&OnInsert>,
) -> Result<Option<OnConflict>, SqlError> {
    let Some(on) = on else { return Ok(None) };
    let OnInsert::OnConflict(oc) = on else {
        return Err(SqlError::unsupported("ON DUPLICATE KEY UPDATE"));
    };
    match &oc.action {
        OnConflictAction::DoNothing => Ok(Some(OnConflict::Nothing)),
        OnConflictAction::DoUpdate(u) => {
            let mut scope = table_scope(t, qualifier);
            scope.extend(table_scope(t, "excluded"));
            let sets = bind_assignments(b, t, &u.assignments, &scope)?;
            let filter = match &u.selection {
                Some(w) => Some(b.bind_expr_over(w, scope.clone())?.0),
                None => None,
            };
            Ok(Some(OnConflict::Update { sets, filter }))
        }
    }
}

fn bind_assignments(
    b: &mut Binder,
    t: &TableDef,
    assignments: &[ast::Assignment],
    scope: &[ScopeColumn],
) -> Result<Vec<(usize, Expr)>, SqlError> {
    let mut sets = Vec::new();
    for a in assignments {
        let ast::AssignmentTarget::ColumnName(n) = &a.target else {
            return Err(SqlError::unsupported("tuple assignment"));
        };
        let cname = object_name(n)?;
        let col = t
            .column_index(&cname)
            .ok_or_else(|| SqlError::UndefinedColumn {
                name: format!("{cname}\" of relation \"{}", t.name),
            })?;
        if sets.iter().any(|(c, _)| *c == col) {
            return Err(SqlError::Syntax {
                message: format!("multiple assignments to same column \"{cname}\""),
                position: None,
            });
        }
        let bound = b.bind_expr_over(&a.value, scope.to_vec())?;
        sets.push((col, assign(bound, t, col)?));
    }
    Ok(sets)
}

/// ON CONFLICT DO UPDATE: rewrites the row `row` collided with in index `ix`.
fn conflict_update(
    t: &TableDef,
    ix: &crate::catalog::IndexDef,
    row: &[Datum],
    sets: &[(usize, Expr)],
    filter: Option<&Expr>,
    cons: &Constraints,
    cx: &mut ExecCtx,
) -> Result<Option<Row>, SqlError> {
    let eq: Vec<Expr> = ix
        .columns
        .iter()
        .map(|c| Expr::Literal(row[*c].clone()))
        .collect();
    let access = Access::Index {
        index: ix.clone(),
        eq,
        lower: None,
        upper: None,
    };
    let scan = Plan::Scan {
        table: t.clone(),
        access,
        filter: None,
        with_key: true,
    };
    let Some(mut existing) = collect(&scan, Some(1), cx)?.pop() else {
        return Ok(None);
    };
    let key = match existing.pop() {
        Some(Datum::Bytes(k)) => k,
        _ => return Err(SqlError::internal("scan without its key")),
    };
    let mut both = existing.clone();
    both.extend(row.iter().cloned());
    if let Some(f) = filter {
        if !is_true(&eval(f, &both, cx)?) {
            return Ok(None);
        }
    }
    let mut new = existing.clone();
    for (col, e) in sets {
        new[*col] = eval(e, &both, cx)?;
    }
    replace_row(t, &key, &existing, new, cons, cx).map(Some)
}

/// Replaces the row under `key` by `new`: checks, delete, unique checks, write.
fn replace_row(
    t: &TableDef,
    key: &[u8],
    old: &[Datum],
    new: Row,
    cons: &Constraints,
    cx: &mut ExecCtx,
) -> Result<Row, SqlError> {
    check_row(t, cons, &new, cx)?;
    store::delete_row(cx.txn, t, key, old)?;
    if let Some(ix) = store::find_unique_violation(cx.txn, t, &new, None)? {
        return Err(SqlError::UniqueViolation {
            constraint: ix.name.clone(),
        });
    }
    let row_id = match store::primary_values_of_key(t, key)?.as_slice() {
        [Datum::Int(id)] if t.has_row_id() => Some(*id),
        _ => None,
    };
    store::insert_row(cx.txn, t, &new, row_id)?;
    Ok(new)
}

/// The target table and qualifier of UPDATE/DELETE.
fn target(tf: &TableFactor) -> Result<(String, String), SqlError> {
    match tf {
        TableFactor::Table { name, alias, .. } => {
            let n = object_name(name)?;
            let q = alias
                .as_ref()
                .map(|a| ident_name(&a.name))
                .unwrap_or_else(|| n.clone());
            Ok((n, q))
        }
        other => Err(SqlError::unsupported(format!("target {other}"))),
    }
}

/// Binds an UPDATE/DELETE's WHERE over the target table.
fn bind_filter(
    b: &mut Binder,
    t: &TableDef,
    qualifier: &str,
    selection: Option<&ast::Expr>,
) -> Result<Option<Expr>, SqlError> {
    let Some(w) = selection else { return Ok(None) };
    let (e, ty) = b.bind_expr_over(w, table_scope(t, qualifier))?;
    if !matches!(ty, DataType::Bool | DataType::Unknown) {
        return Err(SqlError::DatatypeMismatch {
            message: format!("argument of WHERE must be type boolean, not type {ty}"),
        });
    }
    Ok(Some(e))
}

/// The rows (with their keys) matching `filter`, read completely before any write.
fn matching_rows(
    txn: &mut Transaction,
    t: &TableDef,
    filter: Option<Expr>,
    env: StatementEnv,
) -> Result<Vec<(Row, Vec<u8>)>, SqlError> {
    let scan = Plan::Scan {
        table: t.clone(),
        access: Access::Full,
        filter,
        with_key: true,
    };
    let scan = optimize(scan, txn, env.eval);
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    cx.lock_points = true;
    collect(&scan, None, &mut cx)?
        .into_iter()
        .map(|mut r| match r.pop() {
            Some(Datum::Bytes(k)) => Ok((r, k)),
            _ => Err(SqlError::internal("scan without its key")),
        })
        .collect()
}

/// An UPDATE bound and ready to run.
struct BoundUpdate {
    t: TableDef,
    sets: Vec<(usize, Expr)>,
    cons: Constraints,
    filter: Option<Expr>,
}

fn bind_update(txn: &mut Transaction, u: &ast::Update) -> Result<BoundUpdate, SqlError> {
    if !u.table.joins.is_empty() || u.from.is_some() {
        return Err(SqlError::unsupported("UPDATE ... FROM is not supported"));
    }
    let (name, qualifier) = target(&u.table.relation)?;
    let t = get_table(txn, &name)?;
    let mut b = Binder::new(txn);
    let sets = bind_assignments(&mut b, &t, &u.assignments, &table_scope(&t, &qualifier))?;
    let filter = bind_filter(&mut b, &t, &qualifier, u.selection.as_ref())?;
    let cons = bind_constraints(&mut b, &t, &qualifier, &u.returning)?;
    Ok(BoundUpdate {
        t,
        sets,
        cons,
        filter,
    })
}

/// UPDATE.
pub fn update(
    txn: &mut Transaction,
    u: &ast::Update,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    let BoundUpdate {
        t,
        sets,
        cons,
        filter,
    } = bind_update(txn, u)?;
    let rows = matching_rows(txn, &t, filter, env)?;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let mut affected = Vec::new();
    for (old, key) in rows {
        let mut new = old.clone();
        for (col, e) in &sets {
            new[*col] = eval(e, &old, &mut cx)?;
        }
        affected.push(replace_row(&t, &key, &old, new, &cons, &mut cx)?);
    }
    finish(
        &cons,
        format!("UPDATE {}", affected.len()),
        affected,
        &mut cx,
    )
}

/// A DELETE bound and ready to run.
struct BoundDelete {
    t: TableDef,
    cons: Constraints,
    filter: Option<Expr>,
}

fn bind_delete(txn: &mut Transaction, d: &ast::Delete) -> Result<BoundDelete, SqlError> {
    let from = match &d.from {
        FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
    };
    let [only] = from.as_slice() else {
        return Err(SqlError::unsupported("DELETE from several tables"));
    };
    if d.using.is_some() || !only.joins.is_empty() {
        return Err(SqlError::unsupported("DELETE ... USING is not supported"));
    }
    let (name, qualifier) = target(&only.relation)?;
    let t = get_table(txn, &name)?;
    let mut b = Binder::new(txn);
    let filter = bind_filter(&mut b, &t, &qualifier, d.selection.as_ref())?;
    let cons = bind_constraints(&mut b, &t, &qualifier, &d.returning)?;
    Ok(BoundDelete { t, cons, filter })
}

/// DELETE.
pub fn delete(
    txn: &mut Transaction,
    d: &ast::Delete,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    let BoundDelete { t, cons, filter } = bind_delete(txn, d)?;
    let rows = matching_rows(txn, &t, filter, env)?;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let mut affected = Vec::new();
    for (row, key) in rows {
        store::delete_row(cx.txn, &t, &key, &row)?;
        affected.push(row);
    }
    finish(
        &cons,
        format!("DELETE {}", affected.len()),
        affected,
        &mut cx,
    )
}

/// The RETURNING columns of an INSERT/UPDATE/DELETE (`None` without RETURNING), found
/// by binding it without running anything.
pub fn describe(
    txn: &mut Transaction,
    stmt: &ast::Statement,
) -> Result<Option<Vec<Column>>, SqlError> {
    let cons = match stmt {
        ast::Statement::Insert(i) => bind_insert(txn, i)?.cons,
        ast::Statement::Update(u) => bind_update(txn, u)?.cons,
        ast::Statement::Delete(d) => bind_delete(txn, d)?.cons,
        _ => return Ok(None),
    };
    Ok(cons.returning.map(|(_, cols)| cols))
}
