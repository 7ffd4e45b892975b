//! The simple operators: values, filter, project, sort, limit, distinct, set operations and
//! generate_series.
//!
//! Sort orders by PostgreSQL's rules: each key ascending or descending, NULLs last for
//! ascending and first for descending unless NULLS FIRST/LAST says otherwise; ties keep
//! input order (a stable sort). DISTINCT and set operations compare rows by
//! [`super::group_key`], under which NULLs are equal, as SQL wants for them.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::{eval, group_key, is_true, row_size, ExecCtx, Operator, Row};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::ops::compare;
use crate::plan::{Expr, SetOpKind, SortKey};

pub struct ValuesOp<'p> {
    rows: &'p [Vec<Expr>],
    pos: usize,
}

impl<'p> ValuesOp<'p> {
    pub fn new(rows: &'p [Vec<Expr>]) -> Self {
        ValuesOp { rows, pos: 0 }
    }
}

impl Operator for ValuesOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        let Some(exprs) = self.rows.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let row = exprs
            .iter()
            .map(|e| eval(e, &[], cx))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(row))
    }
}

pub struct FilterOp<'p> {
    pub input: Box<dyn Operator + 'p>,
    pub predicate: &'p Expr,
}

impl Operator for FilterOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        while let Some(row) = self.input.next(cx)? {
            if is_true(&eval(self.predicate, &row, cx)?) {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}

pub struct ProjectOp<'p> {
    pub input: Box<dyn Operator + 'p>,
    pub exprs: &'p [Expr],
}

impl Operator for ProjectOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        let Some(row) = self.input.next(cx)? else {
            return Ok(None);
        };
        let out = self
            .exprs
            .iter()
            .map(|e| eval(e, &row, cx))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(out))
    }
}

pub struct LimitOp<'p> {
    pub input: Box<dyn Operator + 'p>,
    pub limit: Option<u64>,
    pub offset: u64,
    pub seen: u64,
}

impl Operator for LimitOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        loop {
            if let Some(l) = self.limit {
                if self.seen >= self.offset.saturating_add(l) {
                    return Ok(None);
                }
            }
            let Some(row) = self.input.next(cx)? else {
                return Ok(None);
            };
            self.seen += 1;
            if self.seen > self.offset {
                return Ok(Some(row));
            }
        }
    }
}

/// Compares two sort-key tuples under `keys`' directions and NULL placement.
pub fn compare_keys(a: &[Datum], b: &[Datum], keys: &[SortKey]) -> Result<Ordering, SqlError> {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                return Ok(if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                })
            }
            (false, true) => {
                return Ok(if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                })
            }
            _ => {
                let o = compare(x, y)?;
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
}

pub struct SortOp<'p> {
    input: Box<dyn Operator + 'p>,
    keys: &'p [SortKey],
    sorted: Option<std::vec::IntoIter<Row>>,
}

impl<'p> SortOp<'p> {
    pub fn new(input: Box<dyn Operator + 'p>, keys: &'p [SortKey]) -> Self {
        SortOp {
            input,
            keys,
            sorted: None,
        }
    }

    fn sort_all(&mut self, cx: &mut ExecCtx) -> Result<Vec<Row>, SqlError> {
        let mut keyed = Vec::new();
        while let Some(row) = self.input.next(cx)? {
            let k = self
                .keys
                .iter()
                .map(|k| eval(&k.expr, &row, cx))
                .collect::<Result<Vec<_>, _>>()?;
            cx.charge(row_size(&row) + row_size(&k))?;
            keyed.push((k, row));
        }
        let mut err = None;
        keyed.sort_by(|(a, _), (b, _)| {
            compare_keys(a, b, self.keys).unwrap_or_else(|e| {
                err.get_or_insert(e);
                Ordering::Equal
            })
        });
        if let Some(e) = err {
            return Err(e);
        }
        Ok(keyed.into_iter().map(|(_, r)| r).collect())
    }
}

impl Operator for SortOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.sorted.is_none() {
            self.sorted = Some(self.sort_all(cx)?.into_iter());
        }
        Ok(self.sorted.as_mut().and_then(|s| s.next()))
    }
}

pub struct DistinctOp<'p> {
    input: Box<dyn Operator + 'p>,
    seen: HashSet<Vec<u8>>,
}

impl<'p> DistinctOp<'p> {
    pub fn new(input: Box<dyn Operator + 'p>) -> Self {
        DistinctOp {
            input,
            seen: HashSet::new(),
        }
    }
}

impl Operator for DistinctOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        while let Some(row) = self.input.next(cx)? {
            let k = group_key(&row);
            if !self.seen.contains(&k) {
                cx.charge(k.len() + 32)?;
                self.seen.insert(k);
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}

/// UNION / INTERSECT / EXCEPT, with or without ALL. UNION streams both sides; the others
/// first count the right side's rows, then stream the left side against the counts.
pub struct SetOpOp<'p> {
    left: Box<dyn Operator + 'p>,
    right: Box<dyn Operator + 'p>,
    op: SetOpKind,
    all: bool,
    left_done: bool,
    counts: Option<HashMap<Vec<u8>, usize>>,
    emitted: HashSet<Vec<u8>>,
}

impl<'p> SetOpOp<'p> {
    pub fn new(
        left: Box<dyn Operator + 'p>,
        right: Box<dyn Operator + 'p>,
        op: SetOpKind,
        all: bool,
    ) -> Self {
        SetOpOp {
            left,
            right,
            op,
            all,
            left_done: false,
            counts: None,
            emitted: HashSet::new(),
        }
    }

    /// Whether this row is new to the output (for the non-ALL forms).
    fn first_time(&mut self, k: &[u8], cx: &mut ExecCtx) -> Result<bool, SqlError> {
        if self.emitted.contains(k) {
            return Ok(false);
        }
        cx.charge(k.len() + 32)?;
        self.emitted.insert(k.to_vec());
        Ok(true)
    }

    fn next_union(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        loop {
            let row = if !self.left_done {
                match self.left.next(cx)? {
                    Some(r) => r,
                    None => {
                        self.left_done = true;
                        continue;
                    }
                }
            } else {
                match self.right.next(cx)? {
                    Some(r) => r,
                    None => return Ok(None),
                }
            };
            if self.all || self.first_time(&group_key(&row), cx)? {
                return Ok(Some(row));
            }
        }
    }
}

impl Operator for SetOpOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.op == SetOpKind::Union {
            return self.next_union(cx);
        }
        if self.counts.is_none() {
            let mut counts = HashMap::new();
            while let Some(r) = self.right.next(cx)? {
                let k = group_key(&r);
                cx.charge(k.len() + 40)?;
                *counts.entry(k).or_insert(0usize) += 1;
            }
            self.counts = Some(counts);
        }
        while let Some(row) = self.left.next(cx)? {
            let k = group_key(&row);
            let counts = self.counts.as_mut().expect("counts were built above");
            let in_right = counts.get(&k).copied().unwrap_or(0);
            let keep = match (self.op, self.all) {
                (SetOpKind::Intersect, true) => {
                    if in_right > 0 {
                        counts.insert(k.clone(), in_right - 1);
                    }
                    in_right > 0
                }
                (SetOpKind::Except, true) => {
                    if in_right > 0 {
                        counts.insert(k.clone(), in_right - 1);
                    }
                    in_right == 0
                }
                (SetOpKind::Intersect, false) => in_right > 0 && self.first_time(&k, cx)?,
                _ => in_right == 0 && self.first_time(&k, cx)?,
            };
            if keep {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}

/// `generate_series(start, stop[, step])` over integers.
pub struct SeriesOp<'p> {
    exprs: (&'p Expr, &'p Expr, Option<&'p Expr>),
    state: Option<(i64, i64, i64)>,
    done: bool,
}

impl<'p> SeriesOp<'p> {
    pub fn new(start: &'p Expr, stop: &'p Expr, step: Option<&'p Expr>) -> Self {
        SeriesOp {
            exprs: (start, stop, step),
            state: None,
            done: false,
        }
    }
}

impl Operator for SeriesOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        crate::cancel::check()?;
        if self.done {
            return Ok(None);
        }
        if self.state.is_none() {
            let int = |d: Datum| match d {
                Datum::Int(i) => Ok(Some(i)),
                Datum::Null => Ok(None),
                _ => Err(SqlError::internal("generate_series over a non-integer")),
            };
            let a = int(eval(self.exprs.0, &[], cx)?)?;
            let b = int(eval(self.exprs.1, &[], cx)?)?;
            let s = match self.exprs.2 {
                Some(e) => int(eval(e, &[], cx)?)?,
                None => Some(1),
            };
            let (Some(a), Some(b), Some(s)) = (a, b, s) else {
                self.done = true;
                return Ok(None);
            };
            if s == 0 {
                return Err(SqlError::InvalidParameterValue {
                    message: "step size cannot equal zero".into(),
                });
            }
            self.state = Some((a, b, s));
        }
        let Some((cur, stop, step)) = self.state else {
            return Ok(None);
        };
        if (step > 0 && cur > stop) || (step < 0 && cur < stop) {
            self.done = true;
            return Ok(None);
        }
        match cur.checked_add(step) {
            Some(n) => self.state = Some((n, stop, step)),
            None => self.done = true,
        }
        Ok(Some(vec![Datum::Int(cur)]))
    }
}
