//! Rewrite rules over a bound plan, applied bottom-up in one pass per node:
//!
//! 1. **Constant folding**: a sub-expression reading no row and no subquery is evaluated
//!    once (if that fails, e.g. division by zero, it is left for run time, where it errors
//!    only if actually evaluated).
//! 2. **Predicate pushdown**: a Filter's conjuncts move into the Scan below it, and through
//!    inner joins to the side whose columns they read (with positions shifted for the
//!    right side). Conjuncts holding a correlated subquery stay put: the executor hands a
//!    subquery the row of the operator evaluating it, which must keep its layout.
//! 3. **Hash joins**: `left_expr = right_expr` conjuncts of a join condition become the
//!    join's hash keys; the rest stays as a residual condition.
//! 4. **Index selection**: a Scan whose filter has equality conjuncts on a prefix of an
//!    index's columns (and at most one range on the next column), compared at the
//!    column's own type against constants or outer references, reads only that key range.
//!    The filter is kept, so the access path only has to return a superset.

use ferrisdb_txn::Transaction;

use super::{Access, Expr, JoinKind, KeyBound, Plan, SortKey};
use crate::catalog::TableDef;
use crate::datum::Datum;
use crate::exec::{eval, ExecCtx};
use crate::functions::EvalContext;
use crate::ops::BinaryOp;
use crate::types::DataType;

/// Applies every rule to `plan`.
pub fn optimize(plan: Plan, txn: &mut Transaction, ctx: EvalContext) -> Plan {
    let mut cx = ExecCtx::new(txn, ctx, usize::MAX);
    rewrite(plan, &mut cx)
}

fn fold(e: Expr, cx: &mut ExecCtx) -> Expr {
    e.rewrite(&mut |x| {
        if null_by_strictness(&x) {
            return Expr::Literal(Datum::Null);
        }
        if matches!(x, Expr::Literal(_)) || !x.is_constant() {
            return x;
        }
        match eval(&x, &[], cx) {
            Ok(d) => Expr::Literal(d),
            Err(_) => x,
        }
    })
}

/// Whether `e` is NULL because a strict operator, cast or function has a NULL constant
/// argument, whatever its other arguments (which are then never evaluated, so `col / 0 =
/// NULL` is NULL rather than an error), as PostgreSQL's `eval_const_expressions`
/// simplifies. Also `NULL [NOT] IN (...)` and `NULLIF(NULL, x)`, which PostgreSQL
/// reduces the same way.
fn null_by_strictness(e: &Expr) -> bool {
    let null = |x: &Expr| matches!(x, Expr::Literal(Datum::Null));
    match e {
        Expr::Binary {
            op, left, right, ..
        } => {
            !matches!(
                op,
                BinaryOp::And
                    | BinaryOp::Or
                    | BinaryOp::IsDistinctFrom
                    | BinaryOp::IsNotDistinctFrom
            ) && (null(left) || null(right))
        }
        Expr::Unary { expr, .. } | Expr::Cast { expr, .. } => null(expr),
        Expr::Func { id, args } => id.func.is_strict() && args.iter().any(null),
        // `x IN (y)` is `x = y` in PostgreSQL.
        Expr::InList { expr, list, .. } => null(expr) || matches!(list.as_slice(), [y] if null(y)),
        Expr::NullIf { left, .. } => null(left),
        _ => false,
    }
}

fn fold_all(v: Vec<Expr>, cx: &mut ExecCtx) -> Vec<Expr> {
    v.into_iter().map(|e| fold(e, cx)).collect()
}

fn rewrite(plan: Plan, cx: &mut ExecCtx) -> Plan {
    let b = |p: Box<Plan>, cx: &mut ExecCtx| Box::new(rewrite(*p, cx));
    match plan {
        Plan::Filter { input, predicate } => {
            let input = rewrite(*input, cx);
            push_filter(input, split_and(fold(predicate, cx)), cx)
        }
        Plan::Scan {
            table,
            access,
            filter,
            with_key,
        } => {
            let filter = filter.map(|f| fold(f, cx));
            choose_index(table, access, filter, with_key)
        }
        Plan::Project { input, exprs } => Plan::Project {
            input: b(input, cx),
            exprs: fold_all(exprs, cx),
        },
        Plan::Join {
            left,
            right,
            kind,
            on,
            left_width,
            right_width,
            ..
        } => {
            let left = rewrite(*left, cx);
            let right = rewrite(*right, cx);
            let on = on.map(|o| split_and(fold(o, cx))).unwrap_or_default();
            make_join(left, right, kind, on, left_width, right_width, cx)
        }
        Plan::Aggregate {
            input,
            group_by,
            aggs,
        } => Plan::Aggregate {
            input: b(input, cx),
            group_by: fold_all(group_by, cx),
            aggs,
        },
        Plan::Sort { input, keys } => {
            let input = rewrite(*input, cx);
            if scan_order_satisfies(&input, &keys) {
                return input;
            }
            Plan::Sort {
                input: Box::new(input),
                keys,
            }
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => Plan::Limit {
            input: b(input, cx),
            limit,
            offset,
        },
        Plan::Distinct { input } => Plan::Distinct {
            input: b(input, cx),
        },
        Plan::SetOp {
            left,
            right,
            op,
            all,
        } => Plan::SetOp {
            left: b(left, cx),
            right: b(right, cx),
            op,
            all,
        },
        Plan::Values { rows, width } => Plan::Values {
            rows: rows.into_iter().map(|r| fold_all(r, cx)).collect(),
            width,
        },
        Plan::Lateral {
            left,
            right,
            left_width,
        } => Plan::Lateral {
            left: b(left, cx),
            right: b(right, cx),
            left_width,
        },
        other @ (Plan::Series { .. }
        | Plan::Virtual { .. }
        | Plan::Sequence { .. }
        | Plan::Unnest { .. }) => other,
    }
}

/// Whether `input` already yields its rows in `keys`' order, so a Sort on top is
/// redundant: a scan (under an optional projection of plain columns) returns rows in
/// its index's key order, which is SQL's ascending order for every type (the key
/// encoding is order-preserving, text bytewise like the C collation). Each sort key
/// must be an ascending, NOT NULL column (NULL placement is then moot) and the keys,
/// after any columns the scan binds by equality, must follow the index's columns (then
/// the primary key's, for a secondary index).
fn scan_order_satisfies(input: &Plan, keys: &[SortKey]) -> bool {
    let (scan, columns) = match input {
        Plan::Project { input, exprs } => (&**input, Some(exprs)),
        other => (other, None),
    };
    let Plan::Scan { table, access, .. } = scan else {
        return false;
    };
    if table.has_row_id() || keys.is_empty() {
        return false;
    }
    let (index_cols, eq_len): (Vec<usize>, usize) = match access {
        Access::Full => (table.primary().columns.clone(), 0),
        Access::Index { index, eq, .. } => {
            let mut cols = index.columns.clone();
            if !index.primary {
                cols.extend(table.primary().columns.iter().copied());
            }
            (cols, eq.len())
        }
    };
    let mut order = index_cols.iter().skip(eq_len).copied().peekable();
    let bound = &index_cols[..eq_len.min(index_cols.len())];
    for k in keys {
        let Expr::Column(out) = k.expr else {
            return false;
        };
        let col = match columns {
            Some(exprs) => match exprs.get(out) {
                Some(Expr::Column(c)) => *c,
                _ => return false,
            },
            None => out,
        };
        let Some(def) = table.columns.get(col) else {
            return false;
        };
        if bound.contains(&col) {
            // Bound by equality: one value (never NULL) in every row.
            continue;
        }
        let not_null = def.not_null || table.primary().columns.contains(&col);
        if k.desc || !not_null {
            return false;
        }
        if order.next() != Some(col) {
            return false;
        }
    }
    true
}

fn split_and(e: Expr) -> Vec<Expr> {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
            ..
        } => {
            let mut v = split_and(*left);
            v.extend(split_and(*right));
            v
        }
        Expr::Literal(Datum::Bool(true)) => Vec::new(),
        other => vec![other],
    }
}

fn and_all(mut v: Vec<Expr>) -> Option<Expr> {
    let last = v.pop()?;
    Some(v.into_iter().rev().fold(last, |acc, e| {
        let sig = crate::ops::OpSig {
            left: DataType::Bool,
            right: DataType::Bool,
            result: DataType::Bool,
        };
        Expr::Binary {
            op: BinaryOp::And,
            sig,
            left: Box::new(e),
            right: Box::new(acc),
        }
    }))
}

/// The row columns an expression reads; `None` if it holds a correlated subquery.
fn columns_used(e: &Expr) -> Option<Vec<usize>> {
    if e.any(&|x| {
        matches!(
            x,
            Expr::Subquery {
                correlated: true,
                ..
            }
        )
    }) {
        return None;
    }
    let mut cols = Vec::new();
    collect_columns(e, &mut cols);
    Some(cols)
}

fn collect_columns(e: &Expr, out: &mut Vec<usize>) {
    if let Expr::Column(i) = e {
        out.push(*i);
    }
    e.for_each_child(&mut |c| collect_columns(c, out));
}

fn shift(e: Expr, by: usize) -> Expr {
    e.rewrite(&mut |x| match x {
        Expr::Column(i) => Expr::Column(i - by),
        other => other,
    })
}

fn push_filter(input: Plan, conjuncts: Vec<Expr>, cx: &mut ExecCtx) -> Plan {
    match input {
        Plan::Scan {
            table,
            access,
            filter,
            with_key,
        } if conjuncts.iter().all(|c| columns_used(c).is_some()) => {
            let mut all = filter.map(split_and).unwrap_or_default();
            all.extend(conjuncts);
            choose_index(table, access, and_all(all), with_key)
        }
        Plan::Join {
            left,
            right,
            kind: JoinKind::Inner,
            on,
            left_keys,
            right_keys,
            left_width,
            right_width,
        } => {
            let mut on = on.map(split_and).unwrap_or_default();
            on.extend(conjuncts);
            let mut join = make_join(
                *left,
                *right,
                JoinKind::Inner,
                on,
                left_width,
                right_width,
                cx,
            );
            // Keys an earlier rewrite took out of `on` still hold.
            if let Plan::Join {
                left_keys: lk,
                right_keys: rk,
                ..
            } = &mut join
            {
                lk.splice(0..0, left_keys);
                rk.splice(0..0, right_keys);
            }
            join
        }
        Plan::Filter { input, predicate } => {
            let mut all = split_and(predicate);
            all.extend(conjuncts);
            push_filter(*input, all, cx)
        }
        other => match and_all(conjuncts) {
            Some(p) => Plan::Filter {
                input: Box::new(other),
                predicate: p,
            },
            None => other,
        },
    }
}

/// Builds a join from condition conjuncts: one-sided conjuncts of an inner join go down,
/// `l = r` conjuncts become hash keys, the rest stays as the residual condition.
fn make_join(
    left: Plan,
    right: Plan,
    kind: JoinKind,
    on: Vec<Expr>,
    lw: usize,
    rw: usize,
    cx: &mut ExecCtx,
) -> Plan {
    let (mut to_left, mut to_right, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    let (mut left_keys, mut right_keys) = (Vec::new(), Vec::new());
    for c in on {
        let Some(cols) = columns_used(&c) else {
            rest.push(c);
            continue;
        };
        let only_left = cols.iter().all(|i| *i < lw);
        let only_right = cols.iter().all(|i| *i >= lw);
        if kind == JoinKind::Inner && only_left && !cols.is_empty() {
            to_left.push(c);
        } else if kind == JoinKind::Inner && only_right && !cols.is_empty() {
            to_right.push(shift(c, lw));
        } else if let Some((l, r)) = equi_sides(&c, lw) {
            left_keys.push(l);
            right_keys.push(shift(r, lw));
        } else {
            rest.push(c);
        }
    }
    let left = if to_left.is_empty() {
        left
    } else {
        push_filter(left, to_left, cx)
    };
    let right = if to_right.is_empty() {
        right
    } else {
        push_filter(right, to_right, cx)
    };
    Plan::Join {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        on: and_all(rest),
        left_keys,
        right_keys,
        left_width: lw,
        right_width: rw,
    }
}

/// `a = b` with one side reading only left columns and the other only right ones.
fn equi_sides(c: &Expr, lw: usize) -> Option<(Expr, Expr)> {
    let Expr::Binary {
        op: BinaryOp::Eq,
        left,
        right,
        ..
    } = c
    else {
        return None;
    };
    let l = columns_used(left)?;
    let r = columns_used(right)?;
    let is_left = |v: &[usize]| !v.is_empty() && v.iter().all(|i| *i < lw);
    let is_right = |v: &[usize]| !v.is_empty() && v.iter().all(|i| *i >= lw);
    if is_left(&l) && is_right(&r) {
        Some(((**left).clone(), (**right).clone()))
    } else if is_right(&l) && is_left(&r) {
        Some(((**right).clone(), (**left).clone()))
    } else {
        None
    }
}

/// The column an index may seek on: a bare column, or one widened between integer types.
fn key_column(e: &Expr, table: &TableDef, cmp_type: DataType) -> Option<usize> {
    let (col, col_type) = match e {
        Expr::Column(i) => (*i, table.columns.get(*i)?.data_type),
        Expr::Cast { expr, from, to, .. } if from.is_integer() && to.is_integer() => match **expr {
            Expr::Column(i) => (i, *from),
            _ => return None,
        },
        _ => return None,
    };
    let same =
        col_type.base() == cmp_type.base() || (col_type.is_integer() && cmp_type.is_integer());
    let usable = same && !matches!(col_type, DataType::Char(_)) && col < table.columns.len();
    usable.then_some(col)
}

/// A value side usable as a key bound: no row columns, no subquery.
fn bound_value(e: &Expr) -> bool {
    !e.any(&|x| matches!(x, Expr::Column(_) | Expr::Subquery { .. }))
}

/// `(column, op, value)` for a conjunct comparing an indexable column with a bound value,
/// with the operator flipped when the column is on the right.
fn comparison(c: &Expr, table: &TableDef) -> Option<(usize, BinaryOp, Expr)> {
    let Expr::Binary {
        op,
        sig,
        left,
        right,
    } = c
    else {
        return None;
    };
    let flipped = match op {
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        _ => return None,
    };
    if let (Some(col), true) = (key_column(left, table, sig.left), bound_value(right)) {
        return Some((col, *op, (**right).clone()));
    }
    if let (Some(col), true) = (key_column(right, table, sig.right), bound_value(left)) {
        return Some((col, flipped, (**left).clone()));
    }
    None
}

fn choose_index(table: TableDef, access: Access, filter: Option<Expr>, with_key: bool) -> Plan {
    let Some(f) = filter.as_ref() else {
        return Plan::Scan {
            table,
            access,
            filter,
            with_key,
        };
    };
    let comps: Vec<_> = split_and(f.clone())
        .iter()
        .filter_map(|c| comparison(c, &table))
        .collect();
    let mut best: Option<(usize, Access)> = None;
    for ix in &table.indexes {
        if ix.columns.is_empty() {
            continue;
        }
        let mut eq = Vec::new();
        let (mut lower, mut upper) = (None, None);
        for col in &ix.columns {
            if let Some((_, _, v)) = comps
                .iter()
                .find(|(c, op, _)| c == col && *op == BinaryOp::Eq)
            {
                eq.push(v.clone());
                continue;
            }
            for (c, op, v) in &comps {
                if c != col {
                    continue;
                }
                let b = Some(KeyBound {
                    value: v.clone(),
                    inclusive: matches!(op, BinaryOp::LtEq | BinaryOp::GtEq),
                });
                match op {
                    BinaryOp::Gt | BinaryOp::GtEq if lower.is_none() => lower = b,
                    BinaryOp::Lt | BinaryOp::LtEq if upper.is_none() => upper = b,
                    _ => {}
                }
            }
            break;
        }
        let score = eq.len() * 2 + usize::from(lower.is_some() || upper.is_some());
        if score > 0 && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                Access::Index {
                    index: ix.clone(),
                    eq,
                    lower,
                    upper,
                },
            ));
        }
    }
    let access = best.map(|(_, a)| a).unwrap_or(access);
    Plan::Scan {
        table,
        access,
        filter,
        with_key,
    }
}
