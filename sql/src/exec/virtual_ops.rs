//! Operators over rows that do not come from table storage: virtual catalog relations
//! ([`crate::pg_catalog`]), `unnest(array)`, and LATERAL joins.
//!
//! A virtual scan takes its relation's rows from the statement's context, which computes
//! them once per statement ([`ExecCtx::virtual_rows`]), so a correlated subquery over
//! `pg_attrdef` does not rebuild the catalog for every outer row. A LATERAL join runs
//! its right side once per left row with that row pushed as the nearest outer row, the
//! same mechanism correlated subqueries use.

use std::rc::Rc;

use super::{eval, run_subquery, ExecCtx, Operator, Row};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::plan::{Expr, Plan};

pub struct VirtualOp {
    table: usize,
    rows: Option<Rc<Vec<Row>>>,
    pos: usize,
}

impl VirtualOp {
    pub fn new(table: usize) -> Self {
        VirtualOp {
            table,
            rows: None,
            pos: 0,
        }
    }
}

impl Operator for VirtualOp {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.rows.is_none() {
            self.rows = Some(cx.virtual_rows(self.table)?);
        }
        let row = self.rows.as_ref().and_then(|r| r.get(self.pos)).cloned();
        self.pos += 1;
        Ok(row)
    }
}

pub struct UnnestOp<'p> {
    array: &'p Expr,
    items: Option<std::vec::IntoIter<Datum>>,
}

impl<'p> UnnestOp<'p> {
    pub fn new(array: &'p Expr) -> Self {
        UnnestOp { array, items: None }
    }
}

impl Operator for UnnestOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.items.is_none() {
            let v = match eval(self.array, &[], cx)? {
                Datum::Array(v) => v,
                _ => Vec::new(),
            };
            self.items = Some(v.into_iter());
        }
        Ok(self
            .items
            .as_mut()
            .and_then(Iterator::next)
            .map(|d| vec![d]))
    }
}

pub struct LateralOp<'p> {
    left: Box<dyn Operator + 'p>,
    right: &'p Plan,
    current: Option<(Row, Rc<Vec<Row>>, usize)>,
}

impl<'p> LateralOp<'p> {
    pub fn new(left: Box<dyn Operator + 'p>, right: &'p Plan) -> Self {
        LateralOp {
            left,
            right,
            current: None,
        }
    }
}

impl Operator for LateralOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        loop {
            if let Some((l, rights, pos)) = &mut self.current {
                if let Some(r) = rights.get(*pos) {
                    *pos += 1;
                    let mut out = l.clone();
                    out.extend(r.iter().cloned());
                    return Ok(Some(out));
                }
            }
            let Some(l) = self.left.next(cx)? else {
                return Ok(None);
            };
            let rights = run_subquery(self.right, true, None, &l, cx)?;
            self.current = Some((l, rights, 0));
        }
    }
}

/// A sequence read as a relation: its one row.
pub(super) struct SequenceOp<'p> {
    pub(super) sequence: &'p crate::catalog::SequenceDef,
    pub(super) done: bool,
}

impl Operator for SequenceOp<'_> {
    fn next(&mut self, _cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(None);
        }
        let s = crate::sequence::state(self.sequence)?;
        Ok(Some(vec![
            Datum::Int(s.last_value),
            Datum::Int(s.log_cnt),
            Datum::Bool(s.is_called),
        ]))
    }
}
