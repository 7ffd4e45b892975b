//! Generic plans for prepared queries: a session binds and optimizes a prepared SELECT
//! once, with `$n` left as [`Expr::Param`], and runs that plan for every later execution
//! with new values, as PostgreSQL's plan cache does with a generic plan.
//!
//! For a point query, binding (with its descriptor reads) and optimizing cost as much as
//! running it, so the cache is most of what a prepared statement saves.
//!
//! # When a cached plan is reused
//!
//! ```text
//!   key     (statement text, statement index in it, the types of the bound values)
//!   entry   Generic { metadata epoch, catalog keys read, plan }
//!           | NotGeneric          (binding with parameters failed or gave an unsafe plan)
//!   reuse   the transaction's metadata version equals the entry's epoch
//! ```
//!
//! Binding reads no session setting (FerrisDB runs in UTC with ISO dates), so settings are
//! not part of the key; a setting binding comes to depend on (search_path) must join it.
//!
//! The metadata version (`Transaction::metadata_version`) changes with every committed
//! catalog change, so a plan is never run against a schema other than the one it was
//! bound to. Reusing it adds the catalog keys its binding read to the transaction's read
//! set, as binding again would have: a DDL change that commits after the transaction's
//! read version and before it commits still makes it conflict.
//!
//! # What is never cached
//!
//! A plan is generic only if binding it never needed a value: LIMIT $1 (evaluated while
//! binding) fails in generic mode, and such a statement is planned with its values every
//! time. Plans holding `now()` (folded to the statement's time by the optimizer), system
//! functions (which read the catalog or session while running), subqueries or
//! `pg_catalog` relations are not kept either; those statements are planned each time as
//! before. Only the extended protocol's statements with parameters reach the cache: the
//! simple protocol carries values inside the text.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use ferrisdb_kv::Version;
use ferrisdb_txn::Transaction;
use sqlparser::ast;

use crate::bind::{params, BoundQuery};
use crate::error::SqlError;
use crate::functions::Func;
use crate::plan::{Access, Expr, Plan};
use crate::query::{bind_query, optimize_query, plan_query};
use crate::session::StatementEnv;
use crate::store::kv_err;
use crate::types::DataType;

/// Statement texts a session keeps plans for; the cache is emptied when full.
const MAX_TEXTS: usize = 256;

/// One session's generic plans.
#[derive(Default)]
pub struct PlanCache {
    database: String,
    by_text: HashMap<String, Vec<Entry>>,
}

struct Entry {
    index: usize,
    types: Vec<DataType>,
    state: State,
}

enum State {
    NotGeneric,
    Generic {
        epoch: Version,
        /// Catalog keys binding read; a reuse conflicts on them.
        keys: Vec<Vec<u8>>,
        query: Arc<BoundQuery>,
    },
}

impl PlanCache {
    /// The result columns of the generic plan of single-statement `text` for values of
    /// `types`, if one is cached and still current in `txn`: Describe needs no binding then.
    pub(crate) fn columns(
        &self,
        database: &str,
        text: &str,
        types: &[DataType],
        txn: &mut Transaction,
    ) -> Option<Vec<crate::bind::Column>> {
        if self.database != database {
            return None;
        }
        let entry = self
            .by_text
            .get(text)?
            .iter()
            .find(|e| e.index == 0 && e.types == types)?;
        let State::Generic { epoch, query, .. } = &entry.state else {
            return None;
        };
        let now = txn.metadata_version().ok()??;
        (*epoch == now).then(|| query.columns.clone())
    }

    /// How many generic plans the session holds (statistics and tests).
    pub fn generic_plans(&self) -> usize {
        self.by_text
            .values()
            .flatten()
            .filter(|e| matches!(e.state, State::Generic { .. }))
            .count()
    }
}

/// The cache of the session whose prepared statement runs now, and which statement of
/// its text is running.
struct Active {
    cache: PlanCache,
    text: String,
    index: usize,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

/// Runs `f` (the statements of `text`, with values bound) with `cache` serving their plans.
pub fn with_cache<R>(
    cache: &mut PlanCache,
    database: &str,
    text: &str,
    f: impl FnOnce() -> R,
) -> R {
    let mut taken = std::mem::take(cache);
    if taken.database != database {
        taken.by_text.clear();
        taken.database = database.to_string();
    }
    let active = Active {
        cache: taken,
        text: text.to_string(),
        index: 0,
    };
    let saved = ACTIVE.with(|a| a.replace(Some(active)));
    let r = f();
    if let Some(active) = ACTIVE.with(|a| std::mem::replace(&mut *a.borrow_mut(), saved)) {
        *cache = active.cache;
    }
    r
}

/// The statement of the text at position `index` is about to run.
pub fn set_statement(index: usize) {
    ACTIVE.with(|a| {
        if let Some(active) = a.borrow_mut().as_mut() {
            active.index = index;
        }
    });
}

/// The plan of query `q`: a cached generic plan when one applies, else bound and
/// optimized now (see the module doc).
pub fn plan(
    txn: &mut Transaction,
    q: &ast::Query,
    env: StatementEnv,
) -> Result<Arc<BoundQuery>, SqlError> {
    let custom = |txn: &mut Transaction| plan_query(txn, q, env).map(Arc::new);
    let Some(types) = params::value_types() else {
        return custom(txn);
    };
    // Out of the slot while planning: nothing below may find a half-updated cache.
    let Some(mut active) = ACTIVE.with(|a| a.borrow_mut().take()) else {
        return custom(txn);
    };
    let r = active.plan(txn, q, env, &types, &custom);
    ACTIVE.with(|a| *a.borrow_mut() = Some(active));
    r
}

type Planner<'a> = dyn Fn(&mut Transaction) -> Result<Arc<BoundQuery>, SqlError> + 'a;

impl Active {
    fn plan(
        &mut self,
        txn: &mut Transaction,
        q: &ast::Query,
        env: StatementEnv,
        types: &[DataType],
        custom: &Planner<'_>,
    ) -> Result<Arc<BoundQuery>, SqlError> {
        let Some(epoch) = txn.metadata_version().map_err(kv_err)? else {
            return custom(txn);
        };
        if let Some(entry) = self.entry(types) {
            match &entry.state {
                State::NotGeneric => return custom(txn),
                State::Generic {
                    epoch: e,
                    keys,
                    query,
                } if *e == epoch => {
                    for k in keys {
                        txn.add_metadata_read_conflict(k).map_err(kv_err)?;
                    }
                    return Ok(query.clone());
                }
                State::Generic { .. } => {}
            }
        }
        let mark = txn.metadata_reads().len();
        match params::generic(types, || generic(txn, q, env)) {
            Ok(Some(query)) => {
                let query = Arc::new(query);
                let keys = txn.metadata_reads()[mark..].to_vec();
                self.store(
                    types,
                    State::Generic {
                        epoch,
                        keys,
                        query: query.clone(),
                    },
                );
                Ok(query)
            }
            Ok(None) => {
                self.store(types, State::NotGeneric);
                custom(txn)
            }
            // Binding without values failed: if it also fails with them, that is the
            // statement's own error (the table may appear later), so nothing is noted.
            Err(_) => {
                let query = custom(txn)?;
                self.store(types, State::NotGeneric);
                Ok(query)
            }
        }
    }

    fn entry(&self, types: &[DataType]) -> Option<&Entry> {
        self.cache
            .by_text
            .get(&self.text)?
            .iter()
            .find(|e| e.index == self.index && e.types == types)
    }

    fn store(&mut self, types: &[DataType], state: State) {
        let by_text = &mut self.cache.by_text;
        if by_text.len() >= MAX_TEXTS && !by_text.contains_key(&self.text) {
            by_text.clear();
        }
        let entries = by_text.entry(self.text.clone()).or_default();
        entries.retain(|e| !(e.index == self.index && e.types == types));
        entries.push(Entry {
            index: self.index,
            types: types.to_vec(),
            state,
        });
    }
}

/// Binds and optimizes `q` with parameters left as such; `None` when the bound plan may not
/// be reused (checked before the optimizer folds `now()` into a literal).
fn generic(
    txn: &mut Transaction,
    q: &ast::Query,
    env: StatementEnv,
) -> Result<Option<BoundQuery>, SqlError> {
    let bound = bind_query(txn, q)?;
    if !generic_safe(&bound.plan) {
        return Ok(None);
    }
    Ok(Some(optimize_query(bound, txn, env)))
}

/// Whether a bound `plan` may run again later with other values: see the module doc.
fn generic_safe(plan: &Plan) -> bool {
    let unsafe_expr = |e: &Expr| {
        e.any(&|x| {
            matches!(
                x,
                Expr::Subquery { .. }
                    | Expr::Func {
                        id: crate::functions::FunctionId {
                            func: Func::Now | Func::System(_),
                            ..
                        },
                        ..
                    }
            )
        })
    };
    let mut exprs: Vec<&Expr> = Vec::new();
    match plan {
        Plan::Virtual { .. } => return false,
        Plan::Scan { access, filter, .. } => {
            exprs.extend(filter);
            if let Access::Index {
                eq, lower, upper, ..
            } = access
            {
                exprs.extend(eq);
                exprs.extend(lower.iter().chain(upper).map(|b| &b.value));
            }
        }
        Plan::Values { rows, .. } => exprs.extend(rows.iter().flatten()),
        Plan::Filter { predicate, .. } => exprs.push(predicate),
        Plan::Project { exprs: e, .. } => exprs.extend(e),
        Plan::Join {
            on,
            left_keys,
            right_keys,
            ..
        } => {
            exprs.extend(on);
            exprs.extend(left_keys.iter().chain(right_keys));
        }
        Plan::Aggregate { group_by, aggs, .. } => {
            exprs.extend(group_by);
            for a in aggs {
                exprs.extend(a.arg.iter().chain(&a.delimiter).chain(&a.filter));
                exprs.extend(a.order_by.iter().map(|k| &k.expr));
            }
        }
        Plan::Sort { keys, .. } => exprs.extend(keys.iter().map(|k| &k.expr)),
        Plan::Series { start, stop, step } => {
            exprs.extend([start, stop]);
            exprs.extend(step);
        }
        Plan::Unnest { array } => exprs.push(array),
        Plan::Limit { .. }
        | Plan::Distinct { .. }
        | Plan::SetOp { .. }
        | Plan::Lateral { .. }
        | Plan::Sequence { .. } => {}
    }
    !exprs.into_iter().any(unsafe_expr) && plan.children().into_iter().all(generic_safe)
}
