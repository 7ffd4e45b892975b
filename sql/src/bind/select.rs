//! Binding queries: WITH, SELECT (with grouping), set operations, VALUES, ORDER BY and
//! LIMIT/OFFSET.
//!
//! A SELECT becomes, bottom-up:
//!
//! ```text
//!   Project (drop ORDER BY-only columns)      only when ORDER BY added hidden columns
//!     Sort (keys = output positions)
//!       Distinct                              SELECT DISTINCT
//!         Project (select list ++ hidden ORDER BY expressions)
//!           Filter (HAVING)
//!             Aggregate (GROUP BY, aggregates)   aggregating queries only
//!               Filter (WHERE)
//!                 FROM plan
//! ```
//!
//! ORDER BY follows PostgreSQL: an integer is an output position, a bare name matching an
//! output column is that column, anything else is an expression over the FROM columns
//! (computed as a hidden output column unless it equals a select-list expression). For
//! set operations and VALUES only output columns can be named.

use std::collections::HashMap;

use sqlparser::ast::{self, SelectItem, SetExpr, SetOperator, SetQuantifier};

use super::func::contains_aggregate;
use super::{coerce, ident_name, object_name, AggContext, Binder, Column, Cte, ScopeColumn};
use crate::cast::CastContext;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::{eval, ExecCtx};
use crate::functions::EvalContext;
use crate::plan::{Expr, Plan, SetOpKind, SortKey};
use crate::types::{common_supertype, DataType};

/// A bound query: its plan and result columns.
#[derive(Debug)]
pub struct BoundQuery {
    pub plan: Plan,
    pub columns: Vec<Column>,
}

type Typed = (Expr, DataType);

impl Binder<'_> {
    /// Binds a full query (WITH, body, ORDER BY, LIMIT/OFFSET).
    pub fn bind_query(&mut self, q: &ast::Query) -> Result<BoundQuery, SqlError> {
        if let Some(with) = &q.with {
            if with.recursive {
                return Err(SqlError::unsupported("WITH RECURSIVE is not supported"));
            }
            let mut map = HashMap::new();
            for cte in &with.cte_tables {
                let columns = cte
                    .alias
                    .columns
                    .iter()
                    .map(|c| ident_name(&c.name))
                    .collect();
                map.insert(
                    ident_name(&cte.alias.name),
                    Cte {
                        query: (*cte.query).clone(),
                        columns,
                    },
                );
            }
            self.ctes.push(map);
            let r = self.bind_query_body(q);
            self.ctes.pop();
            return r;
        }
        self.bind_query_body(q)
    }

    fn bind_query_body(&mut self, q: &ast::Query) -> Result<BoundQuery, SqlError> {
        let order_by: &[ast::OrderByExpr] = match q.order_by.as_ref().map(|o| &o.kind) {
            Some(ast::OrderByKind::Expressions(v)) => v,
            Some(ast::OrderByKind::All(_)) => return Err(SqlError::unsupported("ORDER BY ALL")),
            None => &[],
        };
        let (mut plan, columns) = match q.body.as_ref() {
            SetExpr::Select(s) => self.bind_select(s, order_by)?,
            other => {
                let (plan, cols) = self.bind_set_expr(other)?;
                let plan = self.order_outputs(plan, &cols, order_by)?;
                (plan, cols)
            }
        };
        let (limit, offset) = match &q.limit_clause {
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit.clone()), Some(offset.clone()))
            }
            None => (None, None),
        };
        if limit.is_some() || offset.is_some() {
            let limit = match limit {
                Some(e) => self.const_count(&e, "LIMIT")?,
                None => None,
            };
            let offset = match offset {
                Some(e) => self.const_count(&e, "OFFSET")?.unwrap_or(0),
                None => 0,
            };
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset,
            };
        }
        Ok(BoundQuery { plan, columns })
    }

    /// A LIMIT/OFFSET value: a constant bigint (NULL means none).
    fn const_count(&mut self, e: &ast::Expr, what: &str) -> Result<Option<u64>, SqlError> {
        let (x, t) = self.bind_expr_over(e, Vec::new())?;
        let x = coerce(x, t, DataType::Int8, CastContext::Implicit)?;
        let mut cx = ExecCtx::new(
            self.txn,
            EvalContext {
                statement_timestamp: 0,
            },
            usize::MAX,
        );
        match eval(&x, &[], &mut cx)? {
            Datum::Null => Ok(None),
            Datum::Int(n) if n >= 0 => Ok(Some(n as u64)),
            _ => Err(SqlError::InvalidParameterValue {
                message: format!("{what} must not be negative"),
            }),
        }
    }

    /// Binds a set-operation tree, VALUES, or a parenthesized query.
    fn bind_set_expr(&mut self, e: &SetExpr) -> Result<(Plan, Vec<Column>), SqlError> {
        match e {
            SetExpr::Select(s) => self.bind_select(s, &[]),
            SetExpr::Query(q) => {
                let b = self.bind_query(q)?;
                Ok((b.plan, b.columns))
            }
            SetExpr::Values(v) => self.bind_values(v),
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (lp, lc) = self.bind_set_expr(left)?;
                let (rp, rc) = self.bind_set_expr(right)?;
                let (kind, label) = match op {
                    SetOperator::Union => (SetOpKind::Union, "UNION"),
                    SetOperator::Intersect => (SetOpKind::Intersect, "INTERSECT"),
                    SetOperator::Except | SetOperator::Minus => (SetOpKind::Except, "EXCEPT"),
                };
                if lc.len() != rc.len() {
                    return Err(SqlError::Syntax {
                        message: format!("each {label} query must have the same number of columns"),
                        position: None,
                    });
                }
                let types = lc
                    .iter()
                    .zip(&rc)
                    .map(|(l, r)| common_supertype(label, &[l.data_type, r.data_type]))
                    .collect::<Result<Vec<_>, _>>()?;
                let lp = cast_outputs(lp, &lc, &types)?;
                let rp = cast_outputs(rp, &rc, &types)?;
                let all = matches!(set_quantifier, SetQuantifier::All);
                let cols = lc
                    .into_iter()
                    .zip(types)
                    .map(|(c, t)| Column {
                        name: c.name,
                        data_type: t,
                    })
                    .collect();
                Ok((
                    Plan::SetOp {
                        left: Box::new(lp),
                        right: Box::new(rp),
                        op: kind,
                        all,
                    },
                    cols,
                ))
            }
            other => Err(SqlError::unsupported(format!("query {other}"))),
        }
    }

    fn bind_values(&mut self, v: &ast::Values) -> Result<(Plan, Vec<Column>), SqlError> {
        let mut rows = Vec::new();
        for r in &v.rows {
            let bound = r
                .iter()
                .map(|e| self.bind_expr(e))
                .collect::<Result<Vec<_>, _>>()?;
            if rows
                .first()
                .is_some_and(|f: &Vec<Typed>| f.len() != bound.len())
            {
                return Err(SqlError::Syntax {
                    message: "VALUES lists must all be the same length".into(),
                    position: None,
                });
            }
            rows.push(bound);
        }
        let width = rows.first().map_or(0, Vec::len);
        let types = (0..width)
            .map(|i| common_supertype("VALUES", &rows.iter().map(|r| r[i].1).collect::<Vec<_>>()))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .zip(&types)
                    .map(|((e, t), to)| coerce(e, t, *to, CastContext::Implicit))
                    .collect()
            })
            .collect::<Result<Vec<Vec<Expr>>, _>>()?;
        let cols = types
            .iter()
            .enumerate()
            .map(|(i, t)| Column {
                name: format!("column{}", i + 1),
                data_type: *t,
            })
            .collect();
        Ok((Plan::Values { rows, width }, cols))
    }

    /// ORDER BY for set operations and VALUES: positions, names, or expressions over the
    /// output columns.
    fn order_outputs(
        &mut self,
        plan: Plan,
        cols: &[Column],
        order_by: &[ast::OrderByExpr],
    ) -> Result<Plan, SqlError> {
        if order_by.is_empty() {
            return Ok(plan);
        }
        let scope: Vec<ScopeColumn> = cols
            .iter()
            .map(|c| ScopeColumn {
                table: None,
                name: c.name.clone(),
                data_type: c.data_type,
                hidden: false,
            })
            .collect();
        let mut keys = Vec::new();
        for o in order_by {
            let expr = match ordinal(&o.expr, cols.len())? {
                Some(i) => Expr::Column(i),
                None => self.bind_expr_over(&o.expr, scope.clone())?.0,
            };
            keys.push(sort_key(expr, o));
        }
        Ok(Plan::Sort {
            input: Box::new(plan),
            keys,
        })
    }

    /// Binds one SELECT with its ORDER BY (see the module doc for the plan shape).
    fn bind_select(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Plan, Vec<Column>), SqlError> {
        if matches!(s.distinct, Some(ast::Distinct::On(_))) {
            return Err(SqlError::unsupported("SELECT DISTINCT ON is not supported"));
        }
        let (mut plan, from_cols) = self.bind_from(&s.from)?;
        self.set_columns(from_cols.clone());
        if let Some(w) = &s.selection {
            self.no_agg_clause = Some("WHERE");
            let pred = self.bind_bool(w, "WHERE");
            self.no_agg_clause = None;
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: pred?,
            };
        }
        let items = expand_items(&s.projection, &from_cols)?;
        let group_asts: &[ast::Expr] = match &s.group_by {
            ast::GroupByExpr::Expressions(v, _) => v,
            ast::GroupByExpr::All(_) => return Err(SqlError::unsupported("GROUP BY ALL")),
        };
        let aggregating = !group_asts.is_empty()
            || s.having.is_some()
            || items
                .iter()
                .any(|i| matches!(i, Item::Ast(e, _) if contains_aggregate(e)))
            || order_by.iter().any(|o| contains_aggregate(&o.expr));
        if aggregating {
            let group_exprs = self.bind_group_by(group_asts, &items)?;
            self.scope().agg = Some(AggContext {
                group_exprs,
                ..AggContext::default()
            });
        }
        let r = self.bind_select_outputs(plan, s, items, order_by);
        self.scope().agg = None;
        r
    }

    fn bind_group_by(
        &mut self,
        group_asts: &[ast::Expr],
        items: &[Item],
    ) -> Result<Vec<Typed>, SqlError> {
        self.no_agg_clause = Some("GROUP BY");
        let mut out = Vec::new();
        for g in group_asts {
            let bound = match ordinal(g, items.len())? {
                Some(i) => match &items[i] {
                    Item::Ast(e, _) => self.bind_expr(e),
                    Item::Column(e, t, _) => Ok((e.clone(), *t)),
                },
                None => {
                    let r = self.bind_expr(g);
                    match (&r, g) {
                        (Err(SqlError::UndefinedColumn { .. }), ast::Expr::Identifier(id)) => {
                            let name = ident_name(id);
                            match items.iter().find(|i| i.name() == name) {
                                Some(Item::Ast(e, _)) => self.bind_expr(e),
                                _ => r,
                            }
                        }
                        _ => r,
                    }
                }
            };
            match bound {
                Ok(b) => out.push(b),
                Err(e) => {
                    self.no_agg_clause = None;
                    return Err(e);
                }
            }
        }
        self.no_agg_clause = None;
        Ok(out)
    }

    fn bind_select_outputs(
        &mut self,
        mut plan: Plan,
        s: &ast::Select,
        items: Vec<Item>,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Plan, Vec<Column>), SqlError> {
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for item in items {
            let (e, t, name) = match item {
                Item::Ast(e, name) => {
                    let (x, t) = self.bind_expr(&e)?;
                    (x, t, name)
                }
                Item::Column(e, t, name) => {
                    let (x, t) = match &self.scope().agg {
                        Some(_) => self.column_in_agg(e, t, &name)?,
                        None => (e, t),
                    };
                    (x, t, name)
                }
            };
            // An unknown literal in the select list is text, as PostgreSQL resolves it.
            let (e, t) = if t == DataType::Unknown {
                (
                    coerce(e, t, DataType::Text, CastContext::Implicit)?,
                    DataType::Text,
                )
            } else {
                (e, t)
            };
            exprs.push(e);
            cols.push(Column { name, data_type: t });
        }
        let having = match &s.having {
            Some(h) => Some(self.bind_bool(h, "HAVING")?),
            None => None,
        };
        let visible = exprs.len();
        let mut keys = Vec::new();
        for o in order_by {
            let idx = match ordinal(&o.expr, visible)? {
                Some(i) => i,
                None => {
                    let by_name = match &o.expr {
                        ast::Expr::Identifier(id) => {
                            let n = ident_name(id);
                            cols.iter().position(|c| c.name == n)
                        }
                        _ => None,
                    };
                    match by_name {
                        Some(i) => i,
                        None => {
                            let (x, _) = self.bind_expr(&o.expr)?;
                            match exprs.iter().position(|e| *e == x) {
                                Some(i) => i,
                                None => {
                                    exprs.push(x);
                                    exprs.len() - 1
                                }
                            }
                        }
                    }
                }
            };
            keys.push(sort_key(Expr::Column(idx), o));
        }
        if let Some(agg) = self.scope().agg.take() {
            let group_by = agg.group_exprs.into_iter().map(|(e, _)| e).collect();
            plan = Plan::Aggregate {
                input: Box::new(plan),
                group_by,
                aggs: agg.aggs,
            };
        }
        if let Some(h) = having {
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: h,
            };
        }
        let hidden = exprs.len() > visible;
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
        if matches!(s.distinct, Some(ast::Distinct::Distinct)) {
            if hidden {
                return Err(SqlError::InvalidColumnReference {
                    message: "for SELECT DISTINCT, ORDER BY expressions must appear in select list"
                        .into(),
                });
            }
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        if hidden {
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..visible).map(Expr::Column).collect(),
            };
        }
        Ok((plan, cols))
    }
}

/// A select-list entry after `*` expansion.
enum Item {
    Ast(Box<ast::Expr>, String),
    Column(Expr, DataType, String),
}

impl Item {
    fn name(&self) -> &str {
        match self {
            Item::Ast(_, n) | Item::Column(_, _, n) => n,
        }
    }
}

fn expand_items(projection: &[SelectItem], from: &[ScopeColumn]) -> Result<Vec<Item>, SqlError> {
    let mut items = Vec::new();
    for p in projection {
        match p {
            SelectItem::UnnamedExpr(e) => {
                items.push(Item::Ast(Box::new(e.clone()), column_name(e)))
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                items.push(Item::Ast(Box::new(expr.clone()), ident_name(alias)))
            }
            SelectItem::Wildcard(_) => {
                if from.is_empty() {
                    return Err(SqlError::Syntax {
                        message: "SELECT * with no tables specified is not valid".into(),
                        position: None,
                    });
                }
                for (i, c) in from.iter().enumerate().filter(|(_, c)| !c.hidden) {
                    items.push(Item::Column(Expr::Column(i), c.data_type, c.name.clone()));
                }
            }
            SelectItem::QualifiedWildcard(
                ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                _,
            ) => {
                let q = object_name(n)?;
                let before = items.len();
                for (i, c) in from
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.table.as_deref() == Some(q.as_str()))
                {
                    items.push(Item::Column(Expr::Column(i), c.data_type, c.name.clone()));
                }
                if items.len() == before {
                    return Err(SqlError::MissingFromEntry { table: q });
                }
            }
            other => return Err(SqlError::unsupported(format!("select item {other}"))),
        }
    }
    Ok(items)
}

/// PostgreSQL's `FigureColname`: the name a select-list expression gets without an alias.
pub fn column_name(e: &ast::Expr) -> String {
    use ast::Expr as E;
    match e {
        E::Identifier(id) => ident_name(id),
        E::CompoundIdentifier(ids) => ids.last().map(ident_name).unwrap_or_default(),
        E::Function(f) => object_name(&f.name).unwrap_or_else(|_| "?column?".into()),
        E::Nested(x) => column_name(x),
        E::Cast {
            expr, data_type, ..
        } => match column_name(expr).as_str() {
            "?column?" => cast_type_name(data_type),
            n => n.to_string(),
        },
        E::Case { .. } => "case".into(),
        E::Exists { .. } => "exists".into(),
        E::Substring { .. } => "substring".into(),
        E::Trim { .. } => "btrim".into(),
        E::Position { .. } => "position".into(),
        E::Extract { .. } => "extract".into(),
        E::Ceil { .. } => "ceil".into(),
        E::Floor { .. } => "floor".into(),
        _ => "?column?".into(),
    }
}

fn cast_type_name(t: &ast::DataType) -> String {
    match DataType::from_sqlparser(t) {
        Ok(DataType::Int2) => "int2".into(),
        Ok(DataType::Int4) => "int4".into(),
        Ok(DataType::Int8) => "int8".into(),
        Ok(DataType::Float4) => "float4".into(),
        Ok(DataType::Float8) => "float8".into(),
        Ok(DataType::Bool) => "bool".into(),
        Ok(DataType::Varchar(_)) => "varchar".into(),
        Ok(DataType::Char(_)) => "bpchar".into(),
        Ok(DataType::Numeric { .. }) => "numeric".into(),
        Ok(DataType::Timestamp) => "timestamp".into(),
        Ok(DataType::TimestampTz) => "timestamptz".into(),
        Ok(other) => other.to_string(),
        Err(_) => "?column?".into(),
    }
}

/// An integer literal in ORDER BY / GROUP BY: a 1-based output position.
fn ordinal(e: &ast::Expr, n: usize) -> Result<Option<usize>, SqlError> {
    let ast::Expr::Value(v) = e else {
        return Ok(None);
    };
    let ast::Value::Number(s, _) = &v.value else {
        return Ok(None);
    };
    match s.parse::<usize>() {
        Ok(i) if i >= 1 && i <= n => Ok(Some(i - 1)),
        _ => Err(SqlError::InvalidColumnReference {
            message: format!("ORDER BY position {s} is not in select list"),
        }),
    }
}

pub(crate) fn sort_key(expr: Expr, o: &ast::OrderByExpr) -> SortKey {
    let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
    SortKey {
        expr,
        desc,
        nulls_first: o.options.nulls_first.unwrap_or(desc),
    }
}

/// Casts a plan's outputs to `types` where they differ (set operation branches).
fn cast_outputs(plan: Plan, cols: &[Column], types: &[DataType]) -> Result<Plan, SqlError> {
    if cols.iter().zip(types).all(|(c, t)| c.data_type == *t) {
        return Ok(plan);
    }
    let exprs = cols
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (c, t))| coerce(Expr::Column(i), c.data_type, *t, CastContext::Implicit))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan::Project {
        input: Box::new(plan),
        exprs,
    })
}
