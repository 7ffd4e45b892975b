//! The binder: parsed SQL (sqlparser's AST) to a typed [`Plan`], with PostgreSQL's name
//! resolution, type resolution and errors.
//!
//! Names resolve through a stack of [`Scope`]s, one per query level: a column is looked up
//! in the innermost scope first (42702 if two tables there have it, 42703 if no scope
//! does), and a match in an enclosing scope becomes an [`Expr::Outer`] reference, marking
//! every scope in between as correlated. Derived tables in FROM are bound with their
//! enclosing query's scope taken off the stack, so their outer references skip it exactly
//! as the executor's outer-row stack does; a `CROSS JOIN LATERAL` subquery gets the
//! columns to its left as its nearest enclosing scope instead, and the executor pushes
//! each left row as its outer row.
//!
//! In an aggregating query (GROUP BY, HAVING or an aggregate call), the select list,
//! HAVING and ORDER BY are bound against the Aggregate node's output: a group-by
//! expression becomes a column of it, an aggregate call becomes one of the node's
//! [`AggCall`]s, and any other column reference is 42803 ("must appear in the GROUP BY
//! clause or be used in an aggregate function").
//!
//! The binder reads the catalog in the statement's transaction (it holds the
//! [`Transaction`]), so a table created earlier in the same transaction is visible.

mod array;
mod expr;
mod from;
mod func;
pub mod params;
mod select;

use std::collections::HashMap;

use ferrisdb_txn::Transaction;
use sqlparser::ast;

use crate::cast::{castable, CastContext};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::plan::{AggCall, Expr, Plan};
use crate::types::DataType;

pub use expr::MAX_EXPR_DEPTH;
pub use select::{column_name, BoundQuery};

/// A result column: its name and type.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
}

/// A column visible to name resolution.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    /// The table (or alias) qualifying it.
    pub table: Option<String>,
    pub name: String,
    pub data_type: DataType,
    /// Hidden from unqualified lookup and `*` (the right copy of a USING column).
    pub hidden: bool,
}

/// The aggregation state of a query level while its select list is bound.
#[derive(Clone, Debug, Default)]
pub struct AggContext {
    pub group_exprs: Vec<(Expr, DataType)>,
    pub aggs: Vec<AggCall>,
    /// True while binding an aggregate's argument (plain columns allowed, no nesting).
    pub in_arg: bool,
}

/// One query level.
#[derive(Debug, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
    pub correlated: bool,
    pub agg: Option<AggContext>,
}

/// A WITH query visible by name.
#[derive(Clone, Debug)]
struct Cte {
    query: ast::Query,
    columns: Vec<String>,
}

/// Binds statements against the catalog read through `txn`.
pub struct Binder<'t> {
    pub txn: &'t mut Transaction,
    scopes: Vec<Scope>,
    ctes: Vec<HashMap<String, Cte>>,
    /// Where aggregates are not allowed, the clause name for the error ("WHERE").
    no_agg_clause: Option<&'static str>,
    /// Expressions being bound, innermost included (see [`Binder::bind_expr`]).
    depth: usize,
    /// Views being expanded around the current point (their relations are theirs).
    view_depth: usize,
    /// The relations the statement names directly, in order (a view's dependencies).
    pub relations_used: Vec<String>,
}

impl<'t> Binder<'t> {
    pub fn new(txn: &'t mut Transaction) -> Self {
        Binder {
            txn,
            scopes: vec![Scope::default()],
            ctes: Vec::new(),
            no_agg_clause: None,
            depth: 0,
            view_depth: 0,
            relations_used: Vec::new(),
        }
    }

    fn scope(&mut self) -> &mut Scope {
        self.scopes
            .last_mut()
            .expect("the binder always has a scope")
    }

    /// Sets the current level's visible columns.
    pub fn set_columns(&mut self, cols: Vec<ScopeColumn>) {
        self.scope().columns = cols;
    }

    /// Resolves a possibly qualified column name to an expression and its type.
    fn resolve_column(
        &mut self,
        qualifier: Option<&str>,
        name: &str,
    ) -> Result<(Expr, DataType), SqlError> {
        let n = self.scopes.len();
        for depth in 0..n {
            let level = n - 1 - depth;
            let found = find_column(&self.scopes[level].columns, qualifier, name)?;
            let Some(index) = found else { continue };
            let ty = self.scopes[level].columns[index].data_type;
            // PostgreSQL names a column outside GROUP BY with its range table entry.
            let full_name = qualified(self.scopes[level].columns[index].table.as_deref(), name);
            if depth == 0 {
                return self.column_in_agg(Expr::Column(index), ty, &full_name);
            }
            for s in &mut self.scopes[level + 1..] {
                s.correlated = true;
            }
            let outer = &self.scopes[level];
            let index = match &outer.agg {
                Some(agg) => agg
                    .group_exprs
                    .iter()
                    .position(|(e, _)| *e == Expr::Column(index))
                    .ok_or(SqlError::GroupingError { column: full_name })?,
                None => index,
            };
            return Ok((
                Expr::Outer {
                    depth: depth - 1,
                    index,
                },
                ty,
            ));
        }
        if let Some(q) = qualifier {
            let known = self
                .scopes
                .iter()
                .any(|s| s.columns.iter().any(|c| c.table.as_deref() == Some(q)));
            if !known {
                return Err(SqlError::MissingFromEntry {
                    table: q.to_string(),
                });
            }
        }
        Err(SqlError::UndefinedColumn {
            name: qualified(qualifier, name),
        })
    }

    /// In an aggregating level, a plain column must be a group-by column.
    fn column_in_agg(
        &mut self,
        e: Expr,
        ty: DataType,
        name: &str,
    ) -> Result<(Expr, DataType), SqlError> {
        match &self.scope().agg {
            Some(agg) if !agg.in_arg => match agg.group_exprs.iter().position(|(g, _)| *g == e) {
                Some(i) => Ok((Expr::Column(i), ty)),
                None => Err(SqlError::GroupingError {
                    column: name.to_string(),
                }),
            },
            _ => Ok((e, ty)),
        }
    }

    /// Binds `sql` text of a single expression over the given columns (defaults, CHECKs).
    pub fn bind_standalone_expr(
        &mut self,
        sql: &str,
        cols: Vec<ScopeColumn>,
    ) -> Result<(Expr, DataType), SqlError> {
        let parsed = crate::parse::parse_expr(sql)?;
        self.scopes.push(Scope {
            columns: cols,
            ..Scope::default()
        });
        let r = self.bind_expr(&parsed);
        self.scopes.pop();
        r
    }

    /// Binds an expression over columns given here, in a fresh query level (RETURNING,
    /// UPDATE SET, ON CONFLICT).
    pub fn bind_expr_over(
        &mut self,
        e: &ast::Expr,
        cols: Vec<ScopeColumn>,
    ) -> Result<(Expr, DataType), SqlError> {
        self.scopes.push(Scope {
            columns: cols,
            ..Scope::default()
        });
        let r = self.bind_expr(e);
        self.scopes.pop();
        r
    }
}

fn qualified(q: Option<&str>, name: &str) -> String {
    match q {
        Some(q) => format!("{q}.{name}"),
        None => name.to_string(),
    }
}

/// The position of `name` among `cols`; 42702 if it matches more than one.
pub fn find_column(
    cols: &[ScopeColumn],
    qualifier: Option<&str>,
    name: &str,
) -> Result<Option<usize>, SqlError> {
    let mut found = None;
    for (i, c) in cols.iter().enumerate() {
        let ok = c.name == name
            && match qualifier {
                Some(q) => c.table.as_deref() == Some(q),
                None => !c.hidden,
            };
        if ok {
            if found.is_some() {
                return Err(SqlError::AmbiguousColumn {
                    name: qualified(qualifier, name),
                });
            }
            found = Some(i);
        }
    }
    Ok(found)
}

/// Wraps `e` of type `from` in a cast to `to` (nothing when the types agree); unknown
/// literals are converted right away.
pub fn coerce(e: Expr, from: DataType, to: DataType, ctx: CastContext) -> Result<Expr, SqlError> {
    if from == to {
        return Ok(e);
    }
    if from == DataType::Unknown {
        params::note_coercion(&e, to);
    }
    let e = match crate::pg_catalog::reg::coerce(e, from, to) {
        Ok(call) => return Ok(call),
        Err(e) => e,
    };
    if !castable(&from, &to, ctx) {
        return Err(SqlError::CannotCoerce {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    if let Expr::Literal(d) = &e {
        if from == DataType::Unknown || d.is_null() {
            return Ok(Expr::Literal(crate::cast::cast(
                d.clone(),
                &from,
                &to,
                ctx,
            )?));
        }
    }
    Ok(Expr::Cast {
        expr: Box::new(e),
        from,
        to,
        ctx,
    })
}

/// An identifier as PostgreSQL folds it: unquoted names are lower-cased.
pub fn ident_name(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// The last part of an object name, folded.
pub fn object_name(name: &ast::ObjectName) -> Result<String, SqlError> {
    let last = name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .ok_or_else(|| SqlError::unsupported(format!("name {name}")))?;
    Ok(ident_name(last))
}

/// A literal NULL of unknown type.
pub fn null_literal() -> (Expr, DataType) {
    (Expr::Literal(Datum::Null), DataType::Unknown)
}

/// A bound plan and its columns.
pub type Bound = (Plan, Vec<Column>);
