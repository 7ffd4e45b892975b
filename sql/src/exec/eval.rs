//! Expression evaluation over one row.
//!
//! [`eval`] walks a bound [`Expr`]; casts and operator signatures were fixed by the binder,
//! so this is a direct interpretation. Subqueries run through [`super::run_subquery`],
//! with the current row pushed on the context's outer-row stack so that [`Expr::Outer`]
//! references inside them resolve; an uncorrelated subquery runs once per statement and
//! its rows are cached in the context.

use std::cmp::Ordering;

use super::{run_subquery, ExecCtx, Row};
use crate::cast::cast;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::functions::call;
use crate::ops::{compare, eval_binary, eval_unary};
use crate::plan::{Expr, SubqueryKind};

/// Evaluates `e` over `row`.
pub fn eval(e: &Expr, row: &[Datum], cx: &mut ExecCtx) -> Result<Datum, SqlError> {
    Ok(match e {
        Expr::Column(i) => row.get(*i).cloned().ok_or_else(|| {
            SqlError::internal(format!("column #{i} outside a row of {}", row.len()))
        })?,
        Expr::Outer { depth, index } => cx.outer_value(*depth, *index)?,
        Expr::Literal(d) => d.clone(),
        Expr::Param(i) => crate::bind::params::value(*i)?,
        Expr::Cast {
            expr,
            from,
            to,
            ctx,
        } => cast(eval(expr, row, cx)?, from, to, *ctx)?,
        Expr::Unary { op, sig, expr } => eval_unary(*op, sig, &eval(expr, row, cx)?)?,
        Expr::Binary {
            op,
            sig,
            left,
            right,
        } => eval_logic_or_binary(*op, sig, left, right, row, cx)?,
        Expr::Func { id, args } => {
            let vals = args
                .iter()
                .map(|a| eval(a, row, cx))
                .collect::<Result<Vec<_>, _>>()?;
            if let crate::functions::Func::System(f) = id.func {
                return crate::pg_catalog::functions::call(f, id, &vals, cx);
            }
            call(id, &vals, &cx.eval_context)?
        }
        Expr::Case { whens, else_ } => {
            for (c, r) in whens {
                if eval(c, row, cx)? == Datum::Bool(true) {
                    return eval(r, row, cx);
                }
            }
            eval(else_, row, cx)?
        }
        Expr::Coalesce(args) => {
            for a in args {
                let v = eval(a, row, cx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Datum::Null
        }
        Expr::NullIf { left, right } => {
            let l = eval(left, row, cx)?;
            let r = eval(right, row, cx)?;
            if !l.is_null() && !r.is_null() && compare(&l, &r)? == Ordering::Equal {
                Datum::Null
            } else {
                l
            }
        }
        Expr::Extreme { args, greatest } => {
            let mut best = Datum::Null;
            for a in args {
                let v = eval(a, row, cx)?;
                if v.is_null() {
                    continue;
                }
                let better = best.is_null() || {
                    let o = compare(&v, &best)?;
                    if *greatest {
                        o == Ordering::Greater
                    } else {
                        o == Ordering::Less
                    }
                };
                if better {
                    best = v;
                }
            }
            best
        }
        Expr::IsNull { expr, negated } => Datum::Bool(eval(expr, row, cx)?.is_null() != *negated),
        Expr::IsBool {
            expr,
            value,
            negated,
        } => Datum::Bool((eval(expr, row, cx)? == Datum::Bool(*value)) != *negated),
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let v = eval(expr, row, cx)?;
            let mut vals = Vec::with_capacity(list.len());
            for item in list {
                vals.push(eval(item, row, cx)?);
            }
            in_values(&v, vals.iter(), *negated)?
        }
        Expr::Subquery {
            plan,
            kind,
            correlated,
        } => eval_subquery(plan, kind, *correlated, row, cx)?,
        Expr::Array(items) => Datum::Array(
            items
                .iter()
                .map(|i| eval(i, row, cx))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Expr::AnyAll {
            op,
            sig,
            left,
            right,
            all,
        } => {
            let l = eval(left, row, cx)?;
            let r = eval(right, row, cx)?;
            any_all(*op, sig, &l, &r, *all)?
        }
    })
}

/// AND/OR evaluate their right side only when the left does not decide (PostgreSQL may
/// evaluate in either order; skipping avoids errors the result does not depend on).
fn eval_logic_or_binary(
    op: crate::ops::BinaryOp,
    sig: &crate::ops::OpSig,
    left: &Expr,
    right: &Expr,
    row: &[Datum],
    cx: &mut ExecCtx,
) -> Result<Datum, SqlError> {
    use crate::ops::BinaryOp;
    let l = eval(left, row, cx)?;
    match (op, &l) {
        (BinaryOp::And, Datum::Bool(false)) => return Ok(Datum::Bool(false)),
        (BinaryOp::Or, Datum::Bool(true)) => return Ok(Datum::Bool(true)),
        _ => {}
    }
    let r = eval(right, row, cx)?;
    eval_binary(op, sig, &l, &r)
}

/// `v [NOT] IN (vals)` with SQL's NULL rules: true on a match, else NULL if `v` or any
/// value is NULL, else false.
fn in_values<'a>(
    v: &Datum,
    vals: impl Iterator<Item = &'a Datum>,
    negated: bool,
) -> Result<Datum, SqlError> {
    if v.is_null() {
        return Ok(Datum::Null);
    }
    let mut saw_null = false;
    for x in vals {
        if x.is_null() {
            saw_null = true;
        } else if compare(v, x)? == Ordering::Equal {
            return Ok(Datum::Bool(!negated));
        }
    }
    Ok(if saw_null {
        Datum::Null
    } else {
        Datum::Bool(negated)
    })
}

fn eval_subquery(
    plan: &crate::plan::Plan,
    kind: &SubqueryKind,
    correlated: bool,
    row: &[Datum],
    cx: &mut ExecCtx,
) -> Result<Datum, SqlError> {
    let limit = match kind {
        SubqueryKind::Exists { .. } => Some(1),
        SubqueryKind::Scalar => Some(2),
        SubqueryKind::In { .. } | SubqueryKind::Array => None,
    };
    let rows: std::rc::Rc<Vec<Row>> = run_subquery(plan, correlated, limit, row, cx)?;
    Ok(match kind {
        SubqueryKind::Exists { negated } => Datum::Bool(rows.is_empty() == *negated),
        SubqueryKind::Scalar => match rows.len() {
            0 => Datum::Null,
            1 => rows[0].first().cloned().unwrap_or(Datum::Null),
            _ => {
                return Err(SqlError::CardinalityViolation {
                    message: "more than one row returned by a subquery used as an expression"
                        .into(),
                })
            }
        },
        SubqueryKind::Array => Datum::Array(
            rows.iter()
                .map(|r| r.first().cloned().unwrap_or(Datum::Null))
                .collect(),
        ),
        SubqueryKind::In {
            expr,
            negated,
            from,
            to,
        } => {
            let v = eval(expr, row, cx)?;
            let mut vals = Vec::with_capacity(rows.len());
            for r in rows.iter() {
                let d = r.first().cloned().unwrap_or(Datum::Null);
                vals.push(cast(d, from, to, crate::cast::CastContext::Implicit)?);
            }
            in_values(&v, vals.iter(), *negated)?
        }
    })
}

/// `l op ANY (r)` / `l op ALL (r)` with SQL's NULL rules: ANY is true if some element
/// compares true, else NULL if some comparison was NULL, else false (ALL dually).
fn any_all(
    op: crate::ops::BinaryOp,
    sig: &crate::ops::OpSig,
    l: &Datum,
    r: &Datum,
    all: bool,
) -> Result<Datum, SqlError> {
    let Datum::Array(items) = r else {
        return Ok(Datum::Null);
    };
    let mut saw_null = false;
    for item in items {
        match eval_binary(op, sig, l, item)? {
            Datum::Bool(b) if b != all => return Ok(Datum::Bool(!all)),
            Datum::Bool(_) => {}
            _ => saw_null = true,
        }
    }
    Ok(if saw_null {
        Datum::Null
    } else {
        Datum::Bool(all)
    })
}

/// Whether a predicate's value lets a row through (only TRUE does).
pub fn is_true(d: &Datum) -> bool {
    matches!(d, Datum::Bool(true))
}
