//! The executor: pull-based (Volcano) operators built from a [`Plan`].
//!
//! Each operator answers [`Operator::next`] with one row at a time; the transaction and
//! everything else a statement shares travel in the [`ExecCtx`] passed to every call, so
//! operators hold no borrow of the transaction and a subquery can run in the middle of an
//! expression. Scans read KV in batches ([`scan`]); LIMIT stops pulling as soon as it has
//! its rows. Only sort, hash-join build sides, DISTINCT/GROUP BY tables and set operations
//! hold many rows; they charge their rows to the context's memory budget and fail with
//! 53200 "out of memory" beyond it ([`ExecCtx::charge`]).

mod agg;
pub mod eval;
mod join;
mod ops;
mod scan;
mod virtual_ops;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ferrisdb_txn::Transaction;

use crate::datum::Datum;
use crate::encoding::encode_key_datum;
use crate::error::SqlError;
use crate::functions::EvalContext;
use crate::plan::Plan;

pub use eval::{eval, is_true};

/// One row of values.
pub type Row = Vec<Datum>;

/// Default memory budget of one statement's row-holding operators.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// Rows and time one operator produced (EXPLAIN ANALYZE).
#[derive(Clone, Debug, Default)]
pub struct NodeStats {
    pub rows: u64,
    pub elapsed: Duration,
}

/// Everything a running statement shares.
pub struct ExecCtx<'t> {
    pub txn: &'t mut Transaction,
    pub eval_context: EvalContext,
    outer: Vec<Row>,
    cache: HashMap<usize, Rc<Vec<Row>>>,
    memory_limit: usize,
    memory_used: usize,
    /// The catalog as system functions see it, read once per statement.
    pub catalog: Option<Rc<crate::pg_catalog::Snapshot>>,
    /// Rows of the virtual relations scanned so far, by relation.
    virtual_rows: HashMap<usize, Rc<Vec<Row>>>,
    /// Point reads take the row's advisory write lock first (UPDATE and DELETE: the row
    /// is about to be rewritten; see `ferrisdb_txn::Transaction::lock_for_update`).
    pub lock_points: bool,
}

impl<'t> ExecCtx<'t> {
    pub fn new(txn: &'t mut Transaction, eval_context: EvalContext, memory_limit: usize) -> Self {
        ExecCtx {
            txn,
            eval_context,
            outer: Vec::new(),
            cache: HashMap::new(),
            memory_limit,
            memory_used: 0,
            catalog: None,
            virtual_rows: HashMap::new(),
            lock_points: false,
        }
    }

    /// The rows of virtual relation `table`, computed on first use in the statement.
    pub fn virtual_rows(&mut self, table: usize) -> Result<Rc<Vec<Row>>, SqlError> {
        if let Some(r) = self.virtual_rows.get(&table) {
            return Ok(r.clone());
        }
        let rows = Rc::new(crate::pg_catalog::rows(table, self.txn)?);
        self.virtual_rows.insert(table, rows.clone());
        Ok(rows)
    }

    fn outer_value(&self, depth: usize, index: usize) -> Result<Datum, SqlError> {
        self.outer
            .len()
            .checked_sub(depth + 1)
            .and_then(|i| self.outer.get(i))
            .and_then(|r| r.get(index))
            .cloned()
            .ok_or_else(|| SqlError::internal("outer reference without an outer row"))
    }

    /// Charges `bytes` of held rows to the statement's budget (53200 beyond it).
    pub fn charge(&mut self, bytes: usize) -> Result<(), SqlError> {
        self.memory_used = self.memory_used.saturating_add(bytes);
        if self.memory_used > self.memory_limit {
            return Err(SqlError::OutOfMemory {
                detail: format!(
                    "Rows held by sort, hash or aggregate operators exceed the statement memory limit of {} bytes.",
                    self.memory_limit
                ),
            });
        }
        Ok(())
    }

    /// Returns memory charged by an operator that let go of its rows.
    pub fn release(&mut self, bytes: usize) {
        self.memory_used = self.memory_used.saturating_sub(bytes);
    }
}

/// An executing plan node.
pub trait Operator {
    /// The next row, or `None` when exhausted.
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError>;
}

/// Approximate bytes a row holds, for the memory budget.
pub fn row_size(row: &[Datum]) -> usize {
    row.iter()
        .map(|d| {
            32 + match d {
                Datum::Text(s) => s.len(),
                Datum::Bytes(b) => b.len(),
                Datum::Numeric(_) => 16,
                _ => 0,
            }
        })
        .sum()
}

/// A hashable key standing for a row's values under SQL equality (NULLs equal to each
/// other, as DISTINCT and GROUP BY want): the order-preserving key encoding, whose
/// equality classes are SQL's.
pub fn group_key(row: &[Datum]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in row {
        encode_key_datum(&mut out, d, ferrisdb_kv::tuple::Order::Asc);
    }
    out
}

/// Builds the operator tree of `plan`. With `stats`, every operator is wrapped to count
/// its rows and time, recorded in pre-order.
pub fn build<'p>(
    plan: &'p Plan,
    stats: Option<&mut Vec<Rc<RefCell<NodeStats>>>>,
) -> Box<dyn Operator + 'p> {
    match stats {
        None => build_node(plan, &mut None),
        Some(s) => build_node(plan, &mut Some(s)),
    }
}

type StatsSink<'a> = Option<&'a mut Vec<Rc<RefCell<NodeStats>>>>;

fn build_node<'p>(plan: &'p Plan, stats: &mut StatsSink) -> Box<dyn Operator + 'p> {
    let slot = stats.as_mut().map(|s| {
        let cell = Rc::new(RefCell::new(NodeStats::default()));
        s.push(cell.clone());
        cell
    });
    let op: Box<dyn Operator + 'p> = match plan {
        Plan::Scan {
            table,
            access,
            filter,
            with_key,
        } => Box::new(scan::ScanOp::new(table, access, filter.as_ref(), *with_key)),
        Plan::Values { rows, .. } => Box::new(ops::ValuesOp::new(rows)),
        Plan::Filter { input, predicate } => Box::new(ops::FilterOp {
            input: build_node(input, stats),
            predicate,
        }),
        Plan::Project { input, exprs } => Box::new(ops::ProjectOp {
            input: build_node(input, stats),
            exprs,
        }),
        Plan::Join {
            left,
            right,
            kind,
            on,
            left_keys,
            right_keys,
            left_width,
            right_width,
        } => {
            let l = build_node(left, stats);
            let r = build_node(right, stats);
            join::JoinOp::boxed(
                l,
                r,
                *kind,
                on.as_ref(),
                left_keys,
                right_keys,
                (*left_width, *right_width),
            )
        }
        Plan::Aggregate {
            input,
            group_by,
            aggs,
        } => Box::new(agg::AggregateOp::new(
            build_node(input, stats),
            group_by,
            aggs,
        )),
        Plan::Sort { input, keys } => Box::new(ops::SortOp::new(build_node(input, stats), keys)),
        Plan::Limit {
            input,
            limit,
            offset,
        } => Box::new(ops::LimitOp {
            input: build_node(input, stats),
            limit: *limit,
            offset: *offset,
            seen: 0,
        }),
        Plan::Distinct { input } => Box::new(ops::DistinctOp::new(build_node(input, stats))),
        Plan::SetOp {
            left,
            right,
            op,
            all,
        } => {
            let l = build_node(left, stats);
            let r = build_node(right, stats);
            Box::new(ops::SetOpOp::new(l, r, *op, *all))
        }
        Plan::Series { start, stop, step } => {
            Box::new(ops::SeriesOp::new(start, stop, step.as_ref()))
        }
        Plan::Virtual { table } => Box::new(virtual_ops::VirtualOp::new(*table)),
        Plan::Sequence { sequence } => Box::new(virtual_ops::SequenceOp {
            sequence,
            done: false,
        }),
        Plan::Unnest { array } => Box::new(virtual_ops::UnnestOp::new(array)),
        Plan::Lateral { left, right, .. } => {
            Box::new(virtual_ops::LateralOp::new(build_node(left, stats), right))
        }
    };
    match slot {
        Some(stats) => Box::new(Instrumented { inner: op, stats }),
        None => op,
    }
}

struct Instrumented<'p> {
    inner: Box<dyn Operator + 'p>,
    stats: Rc<RefCell<NodeStats>>,
}

impl Operator for Instrumented<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        let t = Instant::now();
        let r = self.inner.next(cx);
        let mut s = self.stats.borrow_mut();
        s.elapsed += t.elapsed();
        if matches!(r, Ok(Some(_))) {
            s.rows += 1;
        }
        r
    }
}

/// Runs `plan` to the end (or `limit` rows).
pub fn collect(plan: &Plan, limit: Option<usize>, cx: &mut ExecCtx) -> Result<Vec<Row>, SqlError> {
    let mut op = build(plan, None);
    let mut rows = Vec::new();
    while limit.is_none_or(|l| rows.len() < l) {
        match op.next(cx)? {
            Some(r) => rows.push(r),
            None => break,
        }
    }
    Ok(rows)
}

/// Runs a subquery with `row` as its nearest outer row; uncorrelated results are cached
/// for the statement (keyed by the plan node's address, stable while the plan lives).
pub fn run_subquery(
    plan: &Plan,
    correlated: bool,
    limit: Option<usize>,
    row: &[Datum],
    cx: &mut ExecCtx,
) -> Result<Rc<Vec<Row>>, SqlError> {
    let key = plan as *const Plan as usize;
    if !correlated {
        if let Some(rows) = cx.cache.get(&key) {
            return Ok(rows.clone());
        }
    }
    cx.outer.push(row.to_vec());
    let result = collect(plan, limit, cx);
    cx.outer.pop();
    let rows = Rc::new(result?);
    if !correlated {
        cx.cache.insert(key, rows.clone());
    }
    Ok(rows)
}
