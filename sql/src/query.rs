//! Running a query and EXPLAIN [ANALYZE]: bind, optimize, execute.

use std::cell::RefCell;
use std::rc::Rc;

use ferrisdb_txn::Transaction;
use sqlparser::ast::{self, Statement};

use crate::bind::{Binder, BoundQuery, Column};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::{self, ExecCtx, NodeStats};
use crate::plan::explain::explain as render;
use crate::plan::optimize::optimize;
use crate::plan::Plan;
use crate::session::{StatementEnv, StatementResult};
use crate::stream::RowStream;
use crate::types::DataType;

/// Binds and optimizes a query.
pub fn plan_query(
    txn: &mut Transaction,
    q: &ast::Query,
    env: StatementEnv,
) -> Result<BoundQuery, SqlError> {
    let bound = bind_query(txn, q)?;
    Ok(optimize_query(bound, txn, env))
}

/// Binds a query (names resolved, types checked), unoptimized.
pub fn bind_query(txn: &mut Transaction, q: &ast::Query) -> Result<BoundQuery, SqlError> {
    Binder::new(txn).bind_query(q)
}

/// Applies the optimizer's rules to a bound query.
pub fn optimize_query(bound: BoundQuery, txn: &mut Transaction, env: StatementEnv) -> BoundQuery {
    BoundQuery {
        plan: optimize(bound.plan, txn, env.eval),
        columns: bound.columns,
    }
}

/// Runs a SELECT (or VALUES, set operation...) to completion.
pub fn run_query(
    txn: &mut Transaction,
    q: &ast::Query,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    let b = crate::plan_cache::plan(txn, q, env)?;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let mut rows = exec::collect(&b.plan, None, &mut cx)?;
    crate::pg_catalog::reg::name_results(&b.columns, &mut rows, txn)?;
    Ok(StatementResult::Query {
        columns: b.columns.clone(),
        rows,
        tag: None,
    })
}

/// Runs a SELECT, handing its rows to `out` as they come ([`crate::stream`]).
pub(crate) fn stream_query(
    txn: &mut Transaction,
    q: &ast::Query,
    env: StatementEnv,
    out: &mut RowStream,
) -> Result<StatementResult, SqlError> {
    let b = crate::plan_cache::plan(txn, q, env)?;
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let mut op = exec::build(&b.plan, None);
    while let Some(row) = op.next(&mut cx)? {
        out.push(row);
        if out.full() {
            let mut batch = out.take();
            crate::pg_catalog::reg::name_results(&b.columns, &mut batch, cx.txn)?;
            out.send(&b.columns, batch)?;
        }
    }
    drop(op);
    let mut rest = out.take();
    crate::pg_catalog::reg::name_results(&b.columns, &mut rest, cx.txn)?;
    out.finish(&b.columns, rest)
}

/// EXPLAIN: the optimized plan, one line per operator; ANALYZE runs it and adds rows and
/// time per operator.
pub fn explain(
    txn: &mut Transaction,
    stmt: &Statement,
    analyze: bool,
    env: StatementEnv,
) -> Result<StatementResult, SqlError> {
    let Statement::Query(q) = stmt else {
        return Err(SqlError::unsupported("EXPLAIN supports queries only"));
    };
    let b = plan_query(txn, q, env)?;
    let lines = if analyze {
        let stats = run_with_stats(txn, &b.plan, env)?;
        render(&b.plan, Some(&stats))
    } else {
        render(&b.plan, None)
    };
    Ok(StatementResult::Query {
        columns: vec![Column {
            name: "QUERY PLAN".into(),
            data_type: DataType::Text,
        }],
        rows: lines.into_iter().map(|l| vec![Datum::Text(l)]).collect(),
        tag: None,
    })
}

fn run_with_stats(
    txn: &mut Transaction,
    plan: &Plan,
    env: StatementEnv,
) -> Result<Vec<NodeStats>, SqlError> {
    let mut cells: Vec<Rc<RefCell<NodeStats>>> = Vec::new();
    let mut cx = ExecCtx::new(txn, env.eval, env.memory_limit);
    let mut op = exec::build(plan, Some(&mut cells));
    while op.next(&mut cx)?.is_some() {}
    drop(op);
    Ok(cells.iter().map(|c| c.borrow().clone()).collect())
}
