//! Binding scalar expressions: literals, column references, operators, predicates,
//! CASE, casts and subqueries. Functions and aggregates are in [`super::func`].
//!
//! Literal typing follows PostgreSQL: an integer literal is `integer` if it fits, else
//! `bigint`, else `numeric`; one with a point or exponent is `numeric`; a quoted string is
//! `unknown` until context casts it (so `'1' + 1` is integer arithmetic); `-` in front of
//! a numeric literal is folded into it (so `-2147483648` is an integer).

use bigdecimal::BigDecimal;
use sqlparser::ast::{self, BinaryOperator, UnaryOperator, Value};

use super::{coerce, ident_name, null_literal, Binder};
use crate::cast::CastContext;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::ops::{resolve_binary, resolve_unary, BinaryOp, UnaryOp};
use crate::plan::{Expr, SubqueryKind};
use crate::types::{common_supertype, DataType};

type Typed = (Expr, DataType);

/// How deeply expressions may nest: PostgreSQL accepts `1+1+...+1` with 3000 terms and
/// refuses 10000 (54001).
pub const MAX_EXPR_DEPTH: usize = 5000;

impl Binder<'_> {
    /// Binds a scalar expression in the current scope; 54001 beyond
    /// [`MAX_EXPR_DEPTH`] nested expressions, so that no later pass over the bound tree
    /// (folding, evaluation, dropping) can exhaust the statement thread's stack.
    pub fn bind_expr(&mut self, e: &ast::Expr) -> Result<Typed, SqlError> {
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(SqlError::StackDepthExceeded);
        }
        self.depth += 1;
        let r = self.bind_expr_inner(e);
        self.depth -= 1;
        r
    }

    fn bind_expr_inner(&mut self, e: &ast::Expr) -> Result<Typed, SqlError> {
        if let Some(found) = self.match_group_expr(e)? {
            return Ok(found);
        }
        match e {
            ast::Expr::Identifier(id) => self.resolve_column(None, &ident_name(id)),
            ast::Expr::CompoundIdentifier(ids) => {
                let n = ids.len();
                if n < 2 {
                    return Err(SqlError::unsupported(format!("name {e}")));
                }
                let q = ident_name(&ids[n - 2]);
                self.resolve_column(Some(&q), &ident_name(&ids[n - 1]))
            }
            ast::Expr::Value(ast::ValueWithSpan {
                value: Value::Placeholder(p),
                ..
            }) => super::params::bind_placeholder(p),
            ast::Expr::Value(v) => literal(&v.value, false),
            ast::Expr::Nested(inner) => self.bind_expr(inner),
            ast::Expr::UnaryOp { op, expr } => self.bind_unary(op, expr),
            ast::Expr::BinaryOp { left, op, right } => {
                let op = binary_op(op)?;
                self.bind_binary(op, left, right)
            }
            ast::Expr::IsNull(x) | ast::Expr::IsNotNull(x) => {
                let (x, _) = self.bind_expr(x)?;
                let negated = matches!(e, ast::Expr::IsNotNull(_));
                Ok((
                    Expr::IsNull {
                        expr: x.boxed(),
                        negated,
                    },
                    DataType::Bool,
                ))
            }
            ast::Expr::IsTrue(x)
            | ast::Expr::IsNotTrue(x)
            | ast::Expr::IsFalse(x)
            | ast::Expr::IsNotFalse(x) => {
                let x = self.bind_bool(x, "IS TRUE")?;
                let value = matches!(e, ast::Expr::IsTrue(_) | ast::Expr::IsNotTrue(_));
                let negated = matches!(e, ast::Expr::IsNotTrue(_) | ast::Expr::IsNotFalse(_));
                Ok((
                    Expr::IsBool {
                        expr: x.boxed(),
                        value,
                        negated,
                    },
                    DataType::Bool,
                ))
            }
            ast::Expr::IsUnknown(x) | ast::Expr::IsNotUnknown(x) => {
                let x = self.bind_bool(x, "IS UNKNOWN")?;
                let negated = matches!(e, ast::Expr::IsNotUnknown(_));
                Ok((
                    Expr::IsNull {
                        expr: x.boxed(),
                        negated,
                    },
                    DataType::Bool,
                ))
            }
            ast::Expr::IsDistinctFrom(l, r) => self.bind_binary(BinaryOp::IsDistinctFrom, l, r),
            ast::Expr::IsNotDistinctFrom(l, r) => {
                self.bind_binary(BinaryOp::IsNotDistinctFrom, l, r)
            }
            ast::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (lo_op, hi_op, join) = if *negated {
                    (BinaryOp::Lt, BinaryOp::Gt, BinaryOp::Or)
                } else {
                    (BinaryOp::GtEq, BinaryOp::LtEq, BinaryOp::And)
                };
                let lo = self.bind_binary(lo_op, expr, low)?;
                let hi = self.bind_binary(hi_op, expr, high)?;
                combine(join, lo, hi)
            }
            ast::Expr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                ..
            }
            | ast::Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                ..
            } => {
                if escape_char.is_some() {
                    return Err(SqlError::unsupported("LIKE ... ESCAPE is not supported"));
                }
                let ci = matches!(e, ast::Expr::ILike { .. });
                let op = match (ci, negated) {
                    (false, false) => BinaryOp::Like,
                    (false, true) => BinaryOp::NotLike,
                    (true, false) => BinaryOp::ILike,
                    (true, true) => BinaryOp::NotILike,
                };
                self.bind_binary(op, expr, pattern)
            }
            ast::Expr::In {
                expr,
                target,
                negated,
                ..
            } => match target {
                ast::InTarget::List(list) => self.bind_in_list(expr, list, *negated),
                ast::InTarget::Subquery(q) => self.bind_in_subquery(expr, q, *negated),
                _ => Err(SqlError::unsupported(format!("{e}"))),
            },
            ast::Expr::Exists { subquery, negated } => {
                let (plan, _, correlated) = self.bind_subquery(subquery)?;
                let kind = SubqueryKind::Exists { negated: *negated };
                Ok((
                    Expr::Subquery {
                        plan: Box::new(plan),
                        kind,
                        correlated,
                    },
                    DataType::Bool,
                ))
            }
            ast::Expr::Subquery(q) => {
                let (plan, cols, correlated) = self.bind_subquery(q)?;
                if cols.len() != 1 {
                    return Err(SqlError::Syntax {
                        message: "subquery must return only one column".into(),
                        position: None,
                    });
                }
                let kind = SubqueryKind::Scalar;
                Ok((
                    Expr::Subquery {
                        plan: Box::new(plan),
                        kind,
                        correlated,
                    },
                    cols[0].data_type,
                ))
            }
            ast::Expr::Cast {
                expr, data_type, ..
            } => {
                let to = DataType::from_sqlparser(data_type)?;
                let (x, from) = self.bind_expr(expr)?;
                Ok((coerce(x, from, to, CastContext::Explicit)?, to))
            }
            ast::Expr::TypedString(ts) => {
                let to = DataType::from_sqlparser(&ts.data_type)?;
                let text = match &ts.value.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                Ok((Expr::Literal(Datum::parse(&text, &to)?), to))
            }
            ast::Expr::Interval(iv) => interval_literal(iv),
            ast::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.bind_case(operand.as_deref(), conditions, else_result.as_deref()),
            _ => self.bind_special(e),
        }
    }

    /// Binds a boolean condition; `clause` names it in PostgreSQL's 42804 message.
    pub fn bind_bool(&mut self, e: &ast::Expr, clause: &str) -> Result<Expr, SqlError> {
        let (x, t) = self.bind_expr(e)?;
        match t {
            DataType::Bool => Ok(x),
            DataType::Unknown => coerce(x, t, DataType::Bool, CastContext::Implicit),
            other => Err(SqlError::DatatypeMismatch {
                message: format!("argument of {clause} must be type boolean, not type {other}"),
            }),
        }
    }

    fn bind_unary(&mut self, op: &UnaryOperator, x: &ast::Expr) -> Result<Typed, SqlError> {
        if let (UnaryOperator::Minus, ast::Expr::Value(v)) = (op, x) {
            if let Value::Number(..) = v.value {
                return literal(&v.value, true);
            }
        }
        let op = match op {
            UnaryOperator::Minus => UnaryOp::Neg,
            UnaryOperator::Plus => UnaryOp::Plus,
            UnaryOperator::Not => {
                let b = self.bind_bool(x, "NOT")?;
                let sig = resolve_unary(UnaryOp::Not, &DataType::Bool)?;
                return Ok((
                    Expr::Unary {
                        op: UnaryOp::Not,
                        sig,
                        expr: b.boxed(),
                    },
                    DataType::Bool,
                ));
            }
            other => return Err(SqlError::unsupported(format!("operator {other}"))),
        };
        let (x, t) = self.bind_expr(x)?;
        let sig = resolve_unary(op, &t)?;
        let x = coerce(x, t, sig.left, CastContext::Implicit)?;
        Ok((
            Expr::Unary {
                op,
                sig,
                expr: x.boxed(),
            },
            sig.result,
        ))
    }

    pub fn bind_binary(
        &mut self,
        op: BinaryOp,
        l: &ast::Expr,
        r: &ast::Expr,
    ) -> Result<Typed, SqlError> {
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let name = if op == BinaryOp::And { "AND" } else { "OR" };
            let l = self.bind_bool(l, name)?;
            let r = self.bind_bool(r, name)?;
            return combine(op, (l, DataType::Bool), (r, DataType::Bool));
        }
        let l = self.bind_expr(l)?;
        let r = self.bind_expr(r)?;
        apply_binary(op, l, r)
    }

    fn bind_in_list(
        &mut self,
        x: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
    ) -> Result<Typed, SqlError> {
        let (x, xt) = self.bind_expr(x)?;
        let items = list
            .iter()
            .map(|i| self.bind_expr(i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut types = vec![xt];
        types.extend(items.iter().map(|(_, t)| *t));
        match common_supertype("IN", &types) {
            Ok(t) => {
                let cmp = resolve_binary(BinaryOp::Eq, &t, &t)?.left;
                let list = items
                    .into_iter()
                    .map(|(e, it)| coerce(e, it, cmp, CastContext::Implicit))
                    .collect::<Result<Vec<_>, _>>()?;
                let x = coerce(x, xt, cmp, CastContext::Implicit)?;
                Ok((
                    Expr::InList {
                        expr: x.boxed(),
                        list,
                        negated,
                    },
                    DataType::Bool,
                ))
            }
            Err(_) => {
                // Mixed categories: an OR (AND for NOT IN) of individually resolved tests.
                let (op, join) = if negated {
                    (BinaryOp::NotEq, BinaryOp::And)
                } else {
                    (BinaryOp::Eq, BinaryOp::Or)
                };
                let mut acc: Option<Typed> = None;
                for it in items {
                    let t = apply_binary(op, (x.clone(), xt), it)?;
                    acc = Some(match acc {
                        None => t,
                        Some(a) => combine(join, a, t)?,
                    });
                }
                Ok(acc.unwrap_or((Expr::Literal(Datum::Bool(negated)), DataType::Bool)))
            }
        }
    }

    pub(super) fn bind_in_subquery(
        &mut self,
        x: &ast::Expr,
        q: &ast::Query,
        negated: bool,
    ) -> Result<Typed, SqlError> {
        let (x, xt) = self.bind_expr(x)?;
        let (plan, cols, correlated) = self.bind_subquery(q)?;
        if cols.len() != 1 {
            return Err(SqlError::Syntax {
                message: if cols.len() > 1 {
                    "subquery has too many columns"
                } else {
                    "subquery has too few columns"
                }
                .into(),
                position: None,
            });
        }
        let st = cols[0].data_type;
        let sig = resolve_binary(BinaryOp::Eq, &xt, &st)?;
        let x = coerce(x, xt, sig.left, CastContext::Implicit)?;
        let kind = SubqueryKind::In {
            expr: x.boxed(),
            negated,
            from: st,
            to: sig.right,
        };
        Ok((
            Expr::Subquery {
                plan: Box::new(plan),
                kind,
                correlated,
            },
            DataType::Bool,
        ))
    }

    fn bind_case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_: Option<&ast::Expr>,
    ) -> Result<Typed, SqlError> {
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for w in conditions {
            let cond = match operand {
                Some(op) => {
                    let (c, t) = self.bind_binary(BinaryOp::Eq, op, &w.condition)?;
                    coerce(c, t, DataType::Bool, CastContext::Implicit)?
                }
                None => self.bind_bool(&w.condition, "CASE/WHEN")?,
            };
            whens.push(cond);
            results.push(self.bind_expr(&w.result)?);
        }
        let else_ = match else_ {
            Some(e) => self.bind_expr(e)?,
            None => null_literal(),
        };
        results.push(else_);
        let types: Vec<DataType> = results.iter().map(|(_, t)| *t).collect();
        let t = common_supertype("CASE", &types)?;
        let mut cast = results
            .into_iter()
            .map(|(e, et)| coerce(e, et, t, CastContext::Implicit))
            .collect::<Result<Vec<_>, _>>()?;
        let else_ = cast.pop().unwrap_or(Expr::Literal(Datum::Null));
        let whens = whens.into_iter().zip(cast).collect();
        Ok((
            Expr::Case {
                whens,
                else_: else_.boxed(),
            },
            t,
        ))
    }

    /// Binds a subquery as a new query level; returns its plan, columns and whether it
    /// refers to an enclosing level.
    pub fn bind_subquery(
        &mut self,
        q: &ast::Query,
    ) -> Result<(crate::plan::Plan, Vec<super::Column>, bool), SqlError> {
        let saved = self.no_agg_clause.take();
        self.scopes.push(super::Scope::default());
        let r = self.bind_query(q);
        let scope = self.scopes.pop().expect("pushed above");
        self.no_agg_clause = saved;
        let b = r?;
        Ok((b.plan, b.columns, scope.correlated))
    }
}

/// Resolves `op` for two bound operands and inserts their casts.
pub fn apply_binary(op: BinaryOp, (l, lt): Typed, (r, rt): Typed) -> Result<Typed, SqlError> {
    let sig = resolve_binary(op, &lt, &rt)?;
    let l = coerce(l, lt, sig.left, CastContext::Implicit)?;
    let r = coerce(r, rt, sig.right, CastContext::Implicit)?;
    Ok((
        Expr::Binary {
            op,
            sig,
            left: l.boxed(),
            right: r.boxed(),
        },
        sig.result,
    ))
}

fn combine(op: BinaryOp, l: Typed, r: Typed) -> Result<Typed, SqlError> {
    apply_binary(op, l, r)
}

/// The engine's operator for a sqlparser operator.
pub(super) fn binary_op_of(op: &BinaryOperator) -> Result<BinaryOp, SqlError> {
    binary_op(op)
}

fn binary_op(op: &BinaryOperator) -> Result<BinaryOp, SqlError> {
    use BinaryOperator as B;
    Ok(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::StringConcat => BinaryOp::Concat,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        B::PGRegexMatch => BinaryOp::RegexMatch,
        B::PGRegexNotMatch => BinaryOp::NotRegexMatch,
        B::PGRegexIMatch => BinaryOp::RegexIMatch,
        B::PGRegexNotIMatch => BinaryOp::NotRegexIMatch,
        B::PGLikeMatch => BinaryOp::Like,
        B::PGNotLikeMatch => BinaryOp::NotLike,
        B::PGILikeMatch => BinaryOp::ILike,
        B::PGNotILikeMatch => BinaryOp::NotILike,
        B::PGCustomBinaryOperator(parts) => return custom_operator(parts),
        other => {
            return Err(SqlError::unsupported(format!(
                "operator {other} is not supported"
            )))
        }
    })
}

/// `OPERATOR(pg_catalog.op)` / `OPERATOR(op)`: the operator the symbol names.
fn custom_operator(parts: &[String]) -> Result<BinaryOp, SqlError> {
    let symbol = match parts {
        [schema, op] if schema.eq_ignore_ascii_case("pg_catalog") => op.as_str(),
        [op] => op.as_str(),
        _ => "",
    };
    Ok(match symbol {
        "~" => BinaryOp::RegexMatch,
        "!~" => BinaryOp::NotRegexMatch,
        "~*" => BinaryOp::RegexIMatch,
        "!~*" => BinaryOp::NotRegexIMatch,
        "~~" => BinaryOp::Like,
        "!~~" => BinaryOp::NotLike,
        "~~*" => BinaryOp::ILike,
        "!~~*" => BinaryOp::NotILike,
        "=" => BinaryOp::Eq,
        "<>" | "!=" => BinaryOp::NotEq,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::LtEq,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::GtEq,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Mod,
        "||" => BinaryOp::Concat,
        _ => {
            return Err(SqlError::unsupported(format!(
                "operator OPERATOR({}) is not supported",
                parts.join(".")
            )))
        }
    })
}

/// `INTERVAL '1 day 2 hours'`, and `INTERVAL '3' DAY` (a bare number in the given unit).
fn interval_literal(iv: &ast::Interval) -> Result<Typed, SqlError> {
    let text = match iv.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => s.clone(),
            Value::Number(n, _) => n.clone(),
            _ => return Err(SqlError::unsupported(format!("interval literal {iv}"))),
        },
        _ => return Err(SqlError::unsupported(format!("interval literal {iv}"))),
    };
    let text = match (&iv.leading_field, &iv.last_field) {
        (None, None) => text,
        (Some(unit), None) if text.trim().parse::<f64>().is_ok() => format!("{text} {unit}"),
        _ => return Err(SqlError::unsupported(format!("interval literal {iv}"))),
    };
    let t = DataType::Interval;
    Ok((Expr::Literal(Datum::parse(&text, &t)?), t))
}

/// A literal's value and type (see the module doc); `negate` folds a leading minus.
pub fn literal(v: &Value, negate: bool) -> Result<Typed, SqlError> {
    Ok(match v {
        Value::Number(s, _) => {
            let text = if negate { format!("-{s}") } else { s.clone() };
            number_literal(&text)?
        }
        Value::SingleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::DollarQuotedString(ast::DollarQuotedString { value: s, .. }) => {
            (Expr::Literal(Datum::Text(s.clone())), DataType::Unknown)
        }
        Value::Boolean(b) => (Expr::Literal(Datum::Bool(*b)), DataType::Bool),
        Value::Null => null_literal(),
        other => return Err(SqlError::unsupported(format!("literal {other}"))),
    })
}

fn number_literal(text: &str) -> Result<Typed, SqlError> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            let t = if i32::try_from(i).is_ok() {
                DataType::Int4
            } else {
                DataType::Int8
            };
            return Ok((Expr::Literal(Datum::Int(i)), t));
        }
    }
    let n: BigDecimal = crate::numeric::parse(text)?;
    let _ = &n;
    Ok((Expr::Literal(Datum::Numeric(n)), DataType::NUMERIC))
}
