//! Binding the array syntax and the PostgreSQL spellings catalog queries use:
//! `ARRAY[...]`, `ARRAY(subquery)`, `x op ANY/ALL (array or subquery)`, `arr[i]`, and
//! `expr COLLATE name`.
//!
//! `ARRAY[...]` takes the common type of its elements (text when all are unknown
//! literals). `x = ANY (subquery)` is `x IN (subquery)` and `x <> ALL (subquery)` is
//! `x NOT IN (subquery)`, as in PostgreSQL; other operators over a subquery are not
//! supported. Over an array, the operator resolves between `x` and the element type
//! and the array is cast to the operator's right type. Only the collations that mean
//! byte order here (`default`, `C`, `POSIX`, `ucs_basic`) are accepted: FerrisDB
//! compares text bytewise.

use sqlparser::ast;

use super::{coerce, Binder};
use crate::array::array_of;
use crate::cast::CastContext;
use crate::error::SqlError;
use crate::ops::resolve_binary;
use crate::plan::{Expr, SubqueryKind};
use crate::types::{common_supertype, DataType};

type Typed = (Expr, DataType);

impl Binder<'_> {
    /// The expressions of this module; anything else is 0A000.
    pub(super) fn bind_array_syntax(&mut self, e: &ast::Expr) -> Result<Typed, SqlError> {
        match e {
            ast::Expr::Array(a) => self.bind_array_literal(&a.elem),
            ast::Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.bind_any_all(left, compare_op, right, false),
            ast::Expr::AllOp {
                left,
                compare_op,
                right,
            } => self.bind_any_all(left, compare_op, right, true),
            ast::Expr::CompoundFieldAccess { root, access_chain } => {
                self.bind_subscript(root, access_chain)
            }
            ast::Expr::Collate { expr, collation } => {
                let name = collation
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_lowercase())
                    .unwrap_or_default();
                if !matches!(name.as_str(), "default" | "c" | "posix" | "ucs_basic") {
                    return Err(SqlError::UndefinedObject {
                        kind: "collation".into(),
                        name: collation.to_string(),
                    });
                }
                self.bind_expr(expr)
            }
            other => Err(SqlError::unsupported(format!(
                "expression {other} is not supported"
            ))),
        }
    }

    fn bind_array_literal(&mut self, elems: &[ast::Expr]) -> Result<Typed, SqlError> {
        let bound = elems
            .iter()
            .map(|x| self.bind_expr(x))
            .collect::<Result<Vec<_>, _>>()?;
        let types: Vec<DataType> = bound.iter().map(|(_, t)| *t).collect();
        let elem = common_supertype("ARRAY", &types)?.base();
        let array_type = array_of(&elem)?;
        let DataType::Array(elem) = array_type else {
            return Err(SqlError::internal("array_of returned a non-array"));
        };
        let items = bound
            .into_iter()
            .map(|(x, t)| coerce(x, t, *elem, CastContext::Implicit))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Expr::Array(items), array_type))
    }

    pub(super) fn bind_array_subquery(&mut self, q: &ast::Query) -> Result<Typed, SqlError> {
        let (plan, cols, correlated) = self.bind_subquery(q)?;
        if cols.len() != 1 {
            return Err(SqlError::Syntax {
                message: "subquery must return only one column".into(),
                position: None,
            });
        }
        let t = array_of(&cols[0].data_type)?;
        Ok((
            Expr::Subquery {
                plan: Box::new(plan),
                kind: SubqueryKind::Array,
                correlated,
            },
            t,
        ))
    }

    fn bind_any_all(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        all: bool,
    ) -> Result<Typed, SqlError> {
        let op = super::expr::binary_op_of(op)?;
        if let ast::Expr::Subquery(q) = right {
            return match (op, all) {
                (crate::ops::BinaryOp::Eq, false) => self.bind_in_subquery(left, q, false),
                (crate::ops::BinaryOp::NotEq, true) => self.bind_in_subquery(left, q, true),
                _ => Err(SqlError::unsupported(
                    "ANY/ALL over a subquery supports only = ANY and <> ALL",
                )),
            };
        }
        let (l, lt) = self.bind_expr(left)?;
        let (r, rt) = self.bind_expr(right)?;
        let elem = match rt {
            DataType::Array(e) => *e,
            DataType::Unknown => match lt {
                DataType::Unknown => DataType::Text,
                t => t.base(),
            },
            other => {
                return Err(SqlError::DatatypeMismatch {
                    message: format!(
                        "op ANY/ALL (array) requires array on right side, not {other}"
                    ),
                })
            }
        };
        let sig = resolve_binary(op, &lt, &elem)?;
        let l = coerce(l, lt, sig.left, CastContext::Implicit)?;
        let r = coerce(r, rt, array_of(&sig.right)?, CastContext::Implicit)?;
        Ok((
            Expr::AnyAll {
                op,
                sig,
                left: Box::new(l),
                right: Box::new(r),
                all,
            },
            DataType::Bool,
        ))
    }

    fn bind_subscript(
        &mut self,
        root: &ast::Expr,
        chain: &[ast::AccessExpr],
    ) -> Result<Typed, SqlError> {
        let (mut e, mut t) = self.bind_expr(root)?;
        for access in chain {
            let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = access else {
                return Err(SqlError::unsupported(format!("{access} is not supported")));
            };
            let Some((id, elem)) = crate::pg_catalog::functions::subscript_id(t) else {
                return Err(SqlError::DatatypeMismatch {
                    message: format!(
                        "cannot subscript type {t} because it does not support subscripting"
                    ),
                });
            };
            let (i, it) = self.bind_expr(index)?;
            let i = coerce(i, it, DataType::Int4, CastContext::Implicit)?;
            e = Expr::Func {
                id,
                args: vec![e, i],
            };
            t = elem;
        }
        Ok((e, t))
    }
}
