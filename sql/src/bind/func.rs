//! Binding function calls: aggregates (with PostgreSQL's result types), the conditional
//! forms COALESCE / NULLIF / GREATEST / LEAST, SQL-syntax functions (SUBSTRING, TRIM,
//! POSITION, EXTRACT, CEIL, FLOOR) and ordinary built-ins resolved by
//! [`crate::functions::resolve_function`].
//!
//! Aggregate result and accumulator types, as `pg_aggregate` has them:
//!
//! ```text
//!   count(*), count(x)           bigint
//!   sum(int2|int4)               bigint     (accumulates in bigint)
//!   sum(int8|numeric)            numeric
//!   sum(float4) / sum(float8)    real / double precision
//!   avg(int*|numeric)            numeric
//!   avg(float*)                  double precision
//!   sum/avg(interval)            interval
//!   min/max(x)                   type of x
//!   bool_and/bool_or/every       boolean
//!   string_agg(text, text)       text
//! ```

use sqlparser::ast::{self, DuplicateTreatment, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::{coerce, object_name, Binder};
use crate::cast::CastContext;
use crate::error::SqlError;
use crate::functions::resolve_function;
use crate::plan::{AggCall, AggFunc, Expr, SortKey};
use crate::types::{common_supertype, DataType, TypeCategory};

type Typed = (Expr, DataType);

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "bool_and",
    "bool_or",
    "every",
    "string_agg",
];

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

/// Whether `e` calls an aggregate outside any subquery.
pub fn contains_aggregate(e: &ast::Expr) -> bool {
    use ast::Expr as E;
    match e {
        E::Function(f) => {
            let name = object_name(&f.name).unwrap_or_default();
            is_aggregate(&name)
                || function_args(f).iter().any(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => contains_aggregate(x),
                    _ => false,
                })
        }
        E::BinaryOp { left, right, .. } => contains_aggregate(left) || contains_aggregate(right),
        E::IsDistinctFrom(l, r) | E::IsNotDistinctFrom(l, r) => {
            contains_aggregate(l) || contains_aggregate(r)
        }
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::Cast { expr, .. }
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsFalse(expr)
        | E::IsNotTrue(expr)
        | E::IsNotFalse(expr) => contains_aggregate(expr),
        E::Between {
            expr, low, high, ..
        } => [expr, low, high].iter().any(|x| contains_aggregate(x)),
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
            contains_aggregate(expr) || contains_aggregate(pattern)
        }
        E::In { expr, target, .. } => {
            contains_aggregate(expr)
                || matches!(target, ast::InTarget::List(l) if l.iter().any(contains_aggregate))
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_some_and(contains_aggregate)
                || conditions
                    .iter()
                    .any(|c| contains_aggregate(&c.condition) || contains_aggregate(&c.result))
                || else_result.as_deref().is_some_and(contains_aggregate)
        }
        _ => false,
    }
}

/// The ORDER BY inside an aggregate's parentheses, `string_agg(x, ',' ORDER BY y)`.
fn agg_order_by(f: &ast::Function) -> &[ast::OrderByExpr] {
    match &f.args {
        FunctionArguments::List(l) => l
            .clauses
            .iter()
            .find_map(|c| match c {
                ast::FunctionArgumentClause::OrderBy(o) => Some(o.as_slice()),
                _ => None,
            })
            .unwrap_or(&[]),
        _ => &[],
    }
}

fn function_args(f: &ast::Function) -> &[FunctionArg] {
    match &f.args {
        FunctionArguments::List(l) => &l.args,
        _ => &[],
    }
}

/// What an aggregate call says besides its arguments.
struct AggArgs<'a> {
    /// `count(*)`.
    star: bool,
    distinct: bool,
    /// `FILTER (WHERE cond)`: only rows where `cond` is true are aggregated.
    filter: Option<&'a ast::Expr>,
    /// `agg(x ORDER BY ...)`.
    order_by: &'a [ast::OrderByExpr],
}

impl Binder<'_> {
    /// In an aggregating level, an expression equal to a non-column GROUP BY expression
    /// is that group column (`GROUP BY a + b` lets `SELECT a + b` through).
    pub(super) fn match_group_expr(&mut self, e: &ast::Expr) -> Result<Option<Typed>, SqlError> {
        let wanted = match &self.scope().agg {
            Some(agg) if !agg.in_arg => agg
                .group_exprs
                .iter()
                .any(|(g, _)| !matches!(g, Expr::Column(_))),
            _ => false,
        };
        if !wanted
            || matches!(
                e,
                ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) | ast::Expr::Value(_)
            )
        {
            return Ok(None);
        }
        if matches!(e, ast::Expr::Subquery(_) | ast::Expr::Exists { .. }) || contains_aggregate(e) {
            return Ok(None);
        }
        let agg = self.scope().agg.take();
        let raw = self.bind_expr(e);
        self.scope().agg = agg;
        let Ok((bound, _)) = raw else { return Ok(None) };
        let groups = &self
            .scope()
            .agg
            .as_ref()
            .expect("restored above")
            .group_exprs;
        Ok(groups
            .iter()
            .position(|(g, _)| *g == bound)
            .map(|i| (Expr::Column(i), groups[i].1)))
    }

    /// Expressions with their own syntax, and function calls.
    pub(super) fn bind_special(&mut self, e: &ast::Expr) -> Result<Typed, SqlError> {
        use ast::Expr as E;
        match e {
            E::Function(f) => self.bind_function(f),
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![expr.as_ref().clone()];
                args.push(
                    substring_from
                        .as_deref()
                        .cloned()
                        .unwrap_or(ast::Expr::value(ast::Value::Number("1".into(), false))),
                );
                args.extend(substring_for.as_deref().cloned());
                self.call_builtin("substr", &args)
            }
            E::Trim {
                trim_where,
                trim_what,
                expr,
                ..
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![expr.as_ref().clone()];
                args.extend(trim_what.as_deref().cloned());
                self.call_builtin(name, &args)
            }
            E::Position { expr, r#in } => {
                self.call_builtin("strpos", &[r#in.as_ref().clone(), expr.as_ref().clone()])
            }
            E::Ceil { expr, .. } => self.call_builtin("ceil", &[expr.as_ref().clone()]),
            E::Floor { expr, .. } => self.call_builtin("floor", &[expr.as_ref().clone()]),
            E::Extract { field, expr, .. } => {
                let f = ast::Expr::value(ast::Value::SingleQuotedString(
                    field.to_string().to_lowercase(),
                ));
                self.call_builtin("extract", &[f, expr.as_ref().clone()])
            }
            other => self.bind_array_syntax(other),
        }
    }

    fn bind_function(&mut self, f: &ast::Function) -> Result<Typed, SqlError> {
        let name = object_name(&f.name)?;
        if let FunctionArguments::Subquery(q) = &f.args {
            if name == "array" {
                return self.bind_array_subquery(q);
            }
        }
        if f.over.is_some() {
            return Err(SqlError::unsupported("window functions are not supported"));
        }
        if f.filter.is_some() && !is_aggregate(&name) {
            return Err(SqlError::WrongObjectType {
                message: format!("FILTER specified, but {name} is not an aggregate function"),
            });
        }
        let distinct = matches!(&f.args, FunctionArguments::List(l) if l.duplicate_treatment == Some(DuplicateTreatment::Distinct));
        let mut star = false;
        let mut args = Vec::new();
        for a in function_args(f) {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(x.clone()),
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                other => return Err(SqlError::unsupported(format!("argument {other}"))),
            }
        }
        if is_aggregate(&name) {
            let call = AggArgs {
                star,
                distinct,
                filter: f.filter.as_deref(),
                order_by: agg_order_by(f),
            };
            return self.bind_aggregate(&name, &args, call);
        }
        match name.as_str() {
            "coalesce" | "greatest" | "least" => {
                let bound = args
                    .iter()
                    .map(|a| self.bind_expr(a))
                    .collect::<Result<Vec<_>, _>>()?;
                let label = name.to_uppercase();
                let t =
                    common_supertype(&label, &bound.iter().map(|(_, t)| *t).collect::<Vec<_>>())?;
                let cast = bound
                    .into_iter()
                    .map(|(e, et)| coerce(e, et, t, CastContext::Implicit))
                    .collect::<Result<Vec<_>, _>>()?;
                let e = match name.as_str() {
                    "coalesce" => Expr::Coalesce(cast),
                    g => Expr::Extreme {
                        args: cast,
                        greatest: g == "greatest",
                    },
                };
                Ok((e, t))
            }
            "nullif" if args.len() == 2 => {
                let l = self.bind_expr(&args[0])?;
                let r = self.bind_expr(&args[1])?;
                let sig = crate::ops::resolve_binary(crate::ops::BinaryOp::Eq, &l.1, &r.1)?;
                // Compared (and returned) at the operator's type; PostgreSQL returns the
                // first argument's type, which differs only for mixed numeric widths.
                let left = coerce(l.0, l.1, sig.left, CastContext::Implicit)?;
                let right = coerce(r.0, r.1, sig.right, CastContext::Implicit)?;
                Ok((
                    Expr::NullIf {
                        left: left.boxed(),
                        right: right.boxed(),
                    },
                    sig.left,
                ))
            }
            _ => self.call_builtin(&name, &args),
        }
    }

    fn call_builtin(&mut self, name: &str, args: &[ast::Expr]) -> Result<Typed, SqlError> {
        let bound = args
            .iter()
            .map(|a| self.bind_expr(a))
            .collect::<Result<Vec<_>, _>>()?;
        let types: Vec<DataType> = bound.iter().map(|(_, t)| *t).collect();
        let (id, result) = resolve_function(name, &types)?;
        let args = bound
            .into_iter()
            .zip(&id.params)
            .map(|((e, t), p)| coerce(e, t, *p, CastContext::Implicit))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Expr::Func { id, args }, result))
    }

    fn bind_aggregate(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        call: AggArgs<'_>,
    ) -> Result<Typed, SqlError> {
        let AggArgs {
            star,
            distinct,
            filter,
            order_by,
        } = call;
        let in_arg = match &self.scope().agg {
            Some(a) => a.in_arg,
            None => {
                let clause = self.no_agg_clause.unwrap_or("this context");
                return Err(SqlError::AggregateMisuse {
                    message: format!("aggregate functions are not allowed in {clause}"),
                });
            }
        };
        if in_arg {
            return Err(SqlError::AggregateMisuse {
                message: "aggregate function calls cannot be nested".into(),
            });
        }
        self.set_in_arg(true);
        let bound = args
            .iter()
            .map(|a| self.bind_expr(a))
            .collect::<Result<Vec<_>, _>>();
        let filter = filter.map(|e| self.bind_bool(e, "FILTER")).transpose();
        let order = order_by
            .iter()
            .map(|o| Ok(super::select::sort_key(self.bind_expr(&o.expr)?.0, o)))
            .collect::<Result<Vec<SortKey>, SqlError>>();
        self.set_in_arg(false);
        let mut bound = bound?;
        let filter = filter?;
        let order = order?;
        let undefined = |types: &[DataType]| SqlError::UndefinedFunction {
            name: name.to_string(),
            arg_types: types.iter().map(|t| t.to_string()).collect(),
        };
        let types: Vec<DataType> = bound.iter().map(|(_, t)| *t).collect();
        let (func, arg_type, result_type) = match (name, star, types.as_slice()) {
            ("count", true, []) => (AggFunc::CountStar, DataType::Int8, DataType::Int8),
            ("count", false, [t]) => (AggFunc::Count, *t, DataType::Int8),
            ("sum", false, [t]) => match t {
                DataType::Int2 | DataType::Int4 => (AggFunc::Sum, DataType::Int8, DataType::Int8),
                DataType::Int8 | DataType::Numeric { .. } => {
                    (AggFunc::Sum, DataType::NUMERIC, DataType::NUMERIC)
                }
                DataType::Float4 | DataType::Float8 | DataType::Interval => (AggFunc::Sum, *t, *t),
                _ => return Err(undefined(&types)),
            },
            ("avg", false, [t]) => match t {
                t if t.is_integer() || matches!(t, DataType::Numeric { .. }) => {
                    (AggFunc::Avg, DataType::NUMERIC, DataType::NUMERIC)
                }
                DataType::Float4 | DataType::Float8 => {
                    (AggFunc::Avg, DataType::Float8, DataType::Float8)
                }
                DataType::Interval => (AggFunc::Avg, DataType::Interval, DataType::Interval),
                _ => return Err(undefined(&types)),
            },
            ("min" | "max", false, [t]) => {
                let t = if *t == DataType::Unknown {
                    DataType::Text
                } else {
                    t.base()
                };
                if t.category() == TypeCategory::Boolean {
                    return Err(undefined(&types));
                }
                let f = if name == "min" {
                    AggFunc::Min
                } else {
                    AggFunc::Max
                };
                (f, t, t)
            }
            ("bool_and" | "every", false, [DataType::Bool | DataType::Unknown]) => {
                (AggFunc::BoolAnd, DataType::Bool, DataType::Bool)
            }
            ("bool_or", false, [DataType::Bool | DataType::Unknown]) => {
                (AggFunc::BoolOr, DataType::Bool, DataType::Bool)
            }
            ("string_agg", false, [a, b])
                if (a.is_string() || *a == DataType::Unknown)
                    && (b.is_string() || *b == DataType::Unknown) =>
            {
                (AggFunc::StringAgg, DataType::Text, DataType::Text)
            }
            _ => return Err(undefined(&types)),
        };
        let delimiter = if func == AggFunc::StringAgg {
            let (d, dt) = bound.pop().expect("two arguments matched above");
            Some(coerce(d, dt, DataType::Text, CastContext::Implicit)?)
        } else {
            None
        };
        let arg = match bound.pop() {
            Some((e, t)) if func != AggFunc::Count => {
                Some(coerce(e, t, arg_type, CastContext::Implicit)?)
            }
            Some((e, _)) => Some(e),
            None => None,
        };
        let call = AggCall {
            func,
            arg,
            arg_type,
            distinct,
            delimiter,
            filter,
            order_by: if func == AggFunc::StringAgg {
                order
            } else {
                Vec::new()
            },
            result_type,
        };
        let agg = self.scope().agg.as_mut().expect("checked above");
        let index = agg.group_exprs.len() + agg.aggs.len();
        agg.aggs.push(call);
        Ok((Expr::Column(index), result_type))
    }

    fn set_in_arg(&mut self, v: bool) {
        if let Some(a) = self.scope().agg.as_mut() {
            a.in_arg = v;
        }
    }
}
