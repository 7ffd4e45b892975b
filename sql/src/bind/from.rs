//! Binding FROM: tables, views, WITH queries, subqueries, generate_series and joins.
//!
//! The FROM clause produces one plan whose row is the concatenation of its items'
//! columns, left to right; the scope lists the same columns with their qualifiers (the
//! alias if given, else the table name). Comma-separated items are cross joins. `USING`
//! and `NATURAL` joins add equality conditions and hide the right side's copy of each
//! shared column from unqualified lookup and `*`, as PostgreSQL shows one merged column.

use sqlparser::ast::{
    self, FunctionArg, FunctionArgExpr, JoinConstraint, JoinOperator, TableFactor,
};

use super::{coerce, ident_name, object_name, Binder, Cte, Scope, ScopeColumn};
use crate::bind::expr::apply_binary;
use crate::cast::CastContext;
use crate::catalog::{get_relation, Relation};
use crate::error::SqlError;
use crate::ops::BinaryOp;
use crate::plan::{Access, Expr, JoinKind, Plan};
use crate::types::DataType;

type FromItem = (Plan, Vec<ScopeColumn>);

impl Binder<'_> {
    /// Binds a whole FROM list (an empty one is a single row of no columns).
    pub fn bind_from(&mut self, from: &[ast::TableWithJoins]) -> Result<FromItem, SqlError> {
        let mut acc: Option<FromItem> = None;
        for twj in from {
            acc = Some(match acc {
                Some(left) if is_lateral(&twj.relation) => {
                    let item = self.bind_lateral(left, &twj.relation)?;
                    self.bind_joins(item, &twj.joins)?
                }
                None => self.bind_table_with_joins(twj)?,
                Some(left) => {
                    let item = self.bind_table_with_joins(twj)?;
                    join(left, item, JoinKind::Inner, None)
                }
            });
        }
        Ok(acc.unwrap_or((
            Plan::Values {
                rows: vec![vec![]],
                width: 0,
            },
            Vec::new(),
        )))
    }

    fn bind_table_with_joins(&mut self, twj: &ast::TableWithJoins) -> Result<FromItem, SqlError> {
        let left = self.bind_table_factor(&twj.relation)?;
        self.bind_joins(left, &twj.joins)
    }

    fn bind_joins(
        &mut self,
        mut left: FromItem,
        joins: &[ast::Join],
    ) -> Result<FromItem, SqlError> {
        for j in joins {
            if is_lateral(&j.relation) {
                left = match &j.join_operator {
                    JoinOperator::CrossJoin(_)
                    | JoinOperator::Join(JoinConstraint::None)
                    | JoinOperator::Inner(JoinConstraint::None) => {
                        self.bind_lateral(left, &j.relation)?
                    }
                    _ => {
                        return Err(SqlError::unsupported(
                            "only CROSS JOIN LATERAL is supported",
                        ))
                    }
                };
                continue;
            }
            let right = self.bind_table_factor(&j.relation)?;
            let (kind, constraint) = match &j.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
                JoinOperator::FullOuter(c) => (JoinKind::Full, c),
                JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
                other => return Err(SqlError::unsupported(format!("join {other:?}"))),
            };
            left = self.bind_join(left, right, kind, constraint)?;
        }
        Ok(left)
    }

    fn bind_join(
        &mut self,
        left: FromItem,
        mut right: FromItem,
        kind: JoinKind,
        c: &JoinConstraint,
    ) -> Result<FromItem, SqlError> {
        let names: Vec<String> = match c {
            JoinConstraint::Using(cols) => {
                cols.iter().map(object_name).collect::<Result<_, _>>()?
            }
            JoinConstraint::Natural => left
                .1
                .iter()
                .filter(|l| !l.hidden && right.1.iter().any(|r| !r.hidden && r.name == l.name))
                .map(|l| l.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        let on = match c {
            JoinConstraint::On(e) => {
                let mut cols = left.1.clone();
                cols.extend(right.1.iter().cloned());
                let saved = std::mem::replace(&mut self.scope().columns, cols);
                let r = self.bind_bool(e, "JOIN/ON");
                self.scope().columns = saved;
                Some(r?)
            }
            JoinConstraint::Using(_) | JoinConstraint::Natural => {
                let mut cond: Option<(Expr, DataType)> = None;
                for n in &names {
                    let li = super::find_column(&left.1, None, n)?
                        .ok_or_else(|| join_col_missing(n, "left"))?;
                    let ri = super::find_column(&right.1, None, n)?
                        .ok_or_else(|| join_col_missing(n, "right"))?;
                    let l = (Expr::Column(li), left.1[li].data_type);
                    let r = (Expr::Column(left.1.len() + ri), right.1[ri].data_type);
                    let eq = apply_binary(BinaryOp::Eq, l, r)?;
                    cond = Some(match cond {
                        None => eq,
                        Some(c) => apply_binary(BinaryOp::And, c, eq)?,
                    });
                    right.1[ri].hidden = true;
                }
                cond.map(|c| c.0)
            }
            _ => None,
        };
        Ok(join(left, right, kind, on))
    }

    fn bind_table_factor(&mut self, tf: &TableFactor) -> Result<FromItem, SqlError> {
        match tf {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let tname = object_name(name)?;
                if let Some(args) = args {
                    return self.bind_table_function(&tname, &args.args, alias.as_ref());
                }
                let schema = schema_of(name);
                if let Some(item) = self.bind_virtual(schema.as_deref(), &tname, alias)? {
                    return Ok(item);
                }
                if let Some(cte) = self.find_cte(&tname) {
                    let q = cte.query.clone();
                    let (plan, cols) = self.bind_derived(&q)?;
                    let names = if cte.columns.is_empty() {
                        None
                    } else {
                        Some(cte.columns.clone())
                    };
                    return Ok(qualify(plan, cols, alias, &tname, names));
                }
                let rel = get_relation(self.txn, &tname)?;
                if rel.is_some() && self.view_depth == 0 && !self.relations_used.contains(&tname) {
                    self.relations_used.push(tname.clone());
                }
                match rel {
                    Some(Relation::Table(t)) => {
                        let cols = t
                            .columns
                            .iter()
                            .map(|c| super::Column {
                                name: c.name.clone(),
                                data_type: c.data_type,
                            })
                            .collect();
                        let plan = Plan::Scan {
                            table: t,
                            access: Access::Full,
                            filter: None,
                            with_key: false,
                        };
                        Ok(qualify(plan, cols, alias, &tname, None))
                    }
                    Some(Relation::Sequence(q)) => {
                        let cols = [
                            ("last_value", DataType::Int8),
                            ("log_cnt", DataType::Int8),
                            ("is_called", DataType::Bool),
                        ]
                        .into_iter()
                        .map(|(name, data_type)| super::Column {
                            name: name.into(),
                            data_type,
                        })
                        .collect();
                        let plan = Plan::Sequence { sequence: q };
                        Ok(qualify(plan, cols, alias, &tname, None))
                    }
                    Some(Relation::View(v)) => {
                        let q = match crate::parse::parse_statements(&v.sql)?.pop() {
                            Some(ast::Statement::Query(q)) => q,
                            _ => {
                                return Err(SqlError::internal(format!(
                                    "view \"{}\" is not a query",
                                    v.name
                                )))
                            }
                        };
                        self.view_depth += 1;
                        let r = self.bind_derived(&q);
                        self.view_depth -= 1;
                        let (plan, cols) = r?;
                        Ok(qualify(plan, cols, alias, &tname, Some(v.columns.clone())))
                    }
                    None => Err(SqlError::UndefinedTable { name: tname }),
                }
            }
            TableFactor::Derived {
                subquery,
                alias,
                lateral,
                ..
            } => {
                if *lateral {
                    return Err(SqlError::unsupported("LATERAL is not supported"));
                }
                let Some(a) = alias else {
                    return Err(SqlError::Syntax {
                        message: "subquery in FROM must have an alias".into(),
                        position: None,
                    });
                };
                let (plan, cols) = self.bind_derived(subquery)?;
                Ok(qualify(plan, cols, &Some(a.clone()), "", None))
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let (plan, mut cols) = self.bind_table_with_joins(table_with_joins)?;
                if let Some(a) = alias {
                    let q = ident_name(&a.name);
                    cols.iter_mut().for_each(|c| c.table = Some(q.clone()));
                }
                Ok((plan, cols))
            }
            TableFactor::Function {
                name, args, alias, ..
            } => {
                let n = object_name(name)?;
                self.bind_table_function(&n, args, alias.as_ref())
            }
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } if array_exprs.len() == 1 => {
                let arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(array_exprs[0].clone()));
                self.bind_unnest(&[arg], alias.as_ref())
            }
            other => Err(SqlError::unsupported(format!("FROM item {other}"))),
        }
    }

    /// Binds a query in FROM: the current level's columns are not visible to it.
    fn bind_derived(&mut self, q: &ast::Query) -> Result<(Plan, Vec<super::Column>), SqlError> {
        let current = self.scopes.pop().unwrap_or_default();
        self.scopes.push(Scope::default());
        let r = self.bind_query(q);
        let inner = self.scopes.pop().unwrap_or_default();
        self.scopes.push(current);
        if inner.correlated {
            self.scope().correlated = true;
        }
        let b = r?;
        Ok((b.plan, b.columns))
    }

    /// A `pg_catalog` / `information_schema` relation: qualified, or unqualified and not
    /// a WITH query (pg_catalog is implicitly first on the search path).
    fn bind_virtual(
        &mut self,
        schema: Option<&str>,
        name: &str,
        alias: &Option<ast::TableAlias>,
    ) -> Result<Option<FromItem>, SqlError> {
        match schema {
            None if self.find_cte(name).is_some() => return Ok(None),
            None | Some("pg_catalog" | "information_schema") => {}
            Some(_) => return Ok(None),
        }
        match crate::pg_catalog::lookup(schema, name) {
            Some(id) => {
                let cols = crate::pg_catalog::columns(id);
                Ok(Some(qualify(
                    Plan::Virtual { table: id },
                    cols,
                    alias,
                    name,
                    None,
                )))
            }
            None => match schema {
                Some(s) => Err(SqlError::UndefinedTable {
                    name: format!("{s}.{name}"),
                }),
                None => Ok(None),
            },
        }
    }

    /// `left CROSS JOIN LATERAL (subquery)`: the subquery is bound with `left`'s columns
    /// as its enclosing level, so references to them are outer references the
    /// [`Plan::Lateral`] operator satisfies row by row.
    fn bind_lateral(&mut self, left: FromItem, tf: &TableFactor) -> Result<FromItem, SqlError> {
        let TableFactor::Derived {
            subquery, alias, ..
        } = tf
        else {
            return Err(SqlError::unsupported(format!("LATERAL {tf}")));
        };
        let Some(a) = alias else {
            return Err(SqlError::Syntax {
                message: "subquery in FROM must have an alias".into(),
                position: None,
            });
        };
        let current = self.scopes.pop().unwrap_or_default();
        self.scopes.push(Scope {
            columns: left.1.clone(),
            ..Scope::default()
        });
        self.scopes.push(Scope::default());
        let r = self.bind_query(subquery);
        self.scopes.pop();
        let lateral = self.scopes.pop().unwrap_or_default();
        self.scopes.push(current);
        if lateral.correlated {
            self.scope().correlated = true;
        }
        let b = r?;
        let (_, right_cols) = qualify(
            Plan::Values {
                rows: vec![],
                width: 0,
            },
            b.columns,
            &Some(a.clone()),
            "",
            None,
        );
        let left_width = left.1.len();
        let mut cols = left.1;
        cols.extend(right_cols);
        let plan = Plan::Lateral {
            left: Box::new(left.0),
            right: Box::new(b.plan),
            left_width,
        };
        Ok((plan, cols))
    }

    fn find_cte(&self, name: &str) -> Option<Cte> {
        self.ctes.iter().rev().find_map(|m| m.get(name).cloned())
    }

    fn bind_table_function(
        &mut self,
        name: &str,
        args: &[FunctionArg],
        alias: Option<&ast::TableAlias>,
    ) -> Result<FromItem, SqlError> {
        if name == "unnest" {
            return self.bind_unnest(args, alias);
        }
        if name == "pg_partition_ancestors" {
            return self.bind_partition_ancestors(args, alias);
        }
        if name != "generate_series" {
            return Err(SqlError::UndefinedFunction {
                name: name.to_string(),
                arg_types: vec![],
            });
        }
        let current = std::mem::take(&mut self.scope().columns);
        let mut bound = Vec::new();
        for a in args {
            let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a else {
                self.scope().columns = current;
                return Err(SqlError::unsupported("generate_series argument"));
            };
            match self.bind_expr(e) {
                Ok(b) => bound.push(b),
                Err(err) => {
                    self.scope().columns = current;
                    return Err(err);
                }
            }
        }
        self.scope().columns = current;
        if !(2..=3).contains(&bound.len())
            || bound
                .iter()
                .any(|(_, t)| !(t.is_integer() || *t == DataType::Unknown))
        {
            return Err(SqlError::UndefinedFunction {
                name: name.to_string(),
                arg_types: bound.iter().map(|(_, t)| t.to_string()).collect(),
            });
        }
        let t = if bound.iter().any(|(_, t)| *t == DataType::Int8) {
            DataType::Int8
        } else {
            DataType::Int4
        };
        let mut exprs = bound
            .into_iter()
            .map(|(e, et)| coerce(e, et, t, CastContext::Implicit))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let (start, stop) = (
            exprs.next().unwrap_or(Expr::Literal(crate::Datum::Null)),
            exprs.next().unwrap_or(Expr::Literal(crate::Datum::Null)),
        );
        let plan = Plan::Series {
            start,
            stop,
            step: exprs.next(),
        };
        let col = super::Column {
            name: name.to_string(),
            data_type: t,
        };
        let alias = alias.cloned();
        let colnames = alias.as_ref().and_then(|a| {
            if a.columns.is_empty() {
                Some(vec![ident_name(&a.name)])
            } else {
                None
            }
        });
        Ok(qualify(plan, vec![col], &alias, name, colnames))
    }
}

impl Binder<'_> {
    /// `unnest(array)` in FROM: one column of the element type.
    fn bind_unnest(
        &mut self,
        args: &[FunctionArg],
        alias: Option<&ast::TableAlias>,
    ) -> Result<FromItem, SqlError> {
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] = args else {
            return Err(SqlError::unsupported("unnest takes one array"));
        };
        let current = std::mem::take(&mut self.scope().columns);
        let bound = self.bind_expr(e);
        self.scope().columns = current;
        let (array, t) = bound?;
        let DataType::Array(elem) = t else {
            return Err(SqlError::UndefinedFunction {
                name: "unnest".into(),
                arg_types: vec![t.to_string()],
            });
        };
        let col = super::Column {
            name: "unnest".into(),
            data_type: *elem,
        };
        let alias = alias.cloned();
        let colnames = alias
            .as_ref()
            .and_then(|a| a.columns.is_empty().then(|| vec![ident_name(&a.name)]));
        Ok(qualify(
            Plan::Unnest { array },
            vec![col],
            &alias,
            "unnest",
            colnames,
        ))
    }
}

impl Binder<'_> {
    /// `pg_partition_ancestors(rel)`: FerrisDB has no partitions, so a relation's only
    /// "ancestor" is itself, as PostgreSQL answers for an unpartitioned table.
    fn bind_partition_ancestors(
        &mut self,
        args: &[FunctionArg],
        alias: Option<&ast::TableAlias>,
    ) -> Result<FromItem, SqlError> {
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] = args else {
            return Err(SqlError::unsupported(
                "pg_partition_ancestors takes one relation",
            ));
        };
        let current = std::mem::take(&mut self.scope().columns);
        let bound = self.bind_expr(e);
        self.scope().columns = current;
        let (rel, t) = bound?;
        let regclass = DataType::Oid(crate::types::OidKind::RegClass);
        let rel = coerce(rel, t, regclass, CastContext::Implicit)?;
        let col = super::Column {
            name: "relid".into(),
            data_type: regclass,
        };
        let plan = Plan::Unnest {
            array: Expr::Array(vec![rel]),
        };
        Ok(qualify(
            plan,
            vec![col],
            &alias.cloned(),
            "pg_partition_ancestors",
            None,
        ))
    }
}

fn is_lateral(tf: &TableFactor) -> bool {
    matches!(tf, TableFactor::Derived { lateral: true, .. })
}

/// The schema qualifying a relation name, folded (`None` if unqualified).
fn schema_of(name: &ast::ObjectName) -> Option<String> {
    let n = name.0.len();
    if n < 2 {
        return None;
    }
    name.0[n - 2].as_ident().map(ident_name)
}

fn join_col_missing(name: &str, side: &str) -> SqlError {
    SqlError::UsingColumnMissing {
        name: name.to_string(),
        side: side.to_string(),
    }
}

/// Names a FROM item's columns: qualifier = alias (else `default_name`), column names from
/// the alias's column list, else `names`, else the plan's own.
fn qualify(
    plan: Plan,
    cols: Vec<super::Column>,
    alias: &Option<ast::TableAlias>,
    default_name: &str,
    names: Option<Vec<String>>,
) -> FromItem {
    let q = alias
        .as_ref()
        .map(|a| ident_name(&a.name))
        .unwrap_or_else(|| default_name.to_string());
    let alias_cols: Vec<String> = alias
        .as_ref()
        .map(|a| a.columns.iter().map(|c| ident_name(&c.name)).collect())
        .unwrap_or_default();
    let scope = cols
        .into_iter()
        .enumerate()
        .map(|(i, c)| ScopeColumn {
            table: Some(q.clone()),
            name: alias_cols
                .get(i)
                .cloned()
                .or_else(|| names.as_ref().and_then(|n| n.get(i).cloned()))
                .unwrap_or(c.name),
            data_type: c.data_type,
            hidden: false,
        })
        .collect();
    (plan, scope)
}

fn join(left: FromItem, right: FromItem, kind: JoinKind, on: Option<Expr>) -> FromItem {
    let (lw, rw) = (left.1.len(), right.1.len());
    let mut cols = left.1;
    cols.extend(right.1);
    let plan = Plan::Join {
        left: Box::new(left.0),
        right: Box::new(right.0),
        kind,
        on,
        left_keys: Vec::new(),
        right_keys: Vec::new(),
        left_width: lw,
        right_width: rw,
    };
    (plan, cols)
}
