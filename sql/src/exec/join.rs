//! Joins: hash join for equi-joins, nested loop otherwise; inner, left, right and full.
//!
//! Both forms read the right input completely first (the build side, charged to the memory
//! budget) and then stream the left input. The hash join keys the build side by the
//! [`super::group_key`] of its join-key values, skipping rows with a NULL key (NULL never
//! equals anything); the remaining `on` condition is checked on each key match. A right or
//! full join remembers which build rows matched and emits the others, NULL-extended on the
//! left, after the left input ends.

use std::collections::HashMap;

use super::{eval, group_key, is_true, row_size, ExecCtx, Operator, Row};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::plan::{Expr, JoinKind};

pub struct JoinOp<'p> {
    left: Box<dyn Operator + 'p>,
    right: Box<dyn Operator + 'p>,
    kind: JoinKind,
    on: Option<&'p Expr>,
    left_keys: &'p [Expr],
    right_keys: &'p [Expr],
    left_width: usize,
    right_width: usize,
    built: Option<Build>,
    /// The current left row and the build rows still to try against it.
    current: Option<(Row, Vec<usize>, bool)>,
    left_done: bool,
    unmatched_pos: usize,
}

struct Build {
    rows: Vec<Row>,
    matched: Vec<bool>,
    hash: Option<HashMap<Vec<u8>, Vec<usize>>>,
}

impl<'p> JoinOp<'p> {
    #[allow(clippy::too_many_arguments)]
    pub fn boxed(
        left: Box<dyn Operator + 'p>,
        right: Box<dyn Operator + 'p>,
        kind: JoinKind,
        on: Option<&'p Expr>,
        left_keys: &'p [Expr],
        right_keys: &'p [Expr],
        (left_width, right_width): (usize, usize),
    ) -> Box<dyn Operator + 'p> {
        Box::new(JoinOp {
            left,
            right,
            kind,
            on,
            left_keys,
            right_keys,
            left_width,
            right_width,
            built: None,
            current: None,
            left_done: false,
            unmatched_pos: 0,
        })
    }

    fn build(&mut self, cx: &mut ExecCtx) -> Result<Build, SqlError> {
        let mut rows = Vec::new();
        let mut hash = (!self.right_keys.is_empty()).then(HashMap::new);
        while let Some(r) = self.right.next(cx)? {
            cx.charge(row_size(&r))?;
            if let Some(h) = hash.as_mut() {
                let k = self
                    .right_keys
                    .iter()
                    .map(|e| eval(e, &r, cx))
                    .collect::<Result<Vec<_>, _>>()?;
                if !k.iter().any(Datum::is_null) {
                    h.entry(group_key(&k))
                        .or_insert_with(Vec::new)
                        .push(rows.len());
                }
            }
            rows.push(r);
        }
        Ok(Build {
            matched: vec![false; rows.len()],
            rows,
            hash,
        })
    }

    /// The build rows a left row may match.
    fn candidates(&self, left: &Row, cx: &mut ExecCtx) -> Result<Vec<usize>, SqlError> {
        let b = self
            .built
            .as_ref()
            .expect("build side is read before probing");
        let Some(h) = &b.hash else {
            return Ok((0..b.rows.len()).rev().collect());
        };
        let k = self
            .left_keys
            .iter()
            .map(|e| eval(e, left, cx))
            .collect::<Result<Vec<_>, _>>()?;
        if k.iter().any(Datum::is_null) {
            return Ok(Vec::new());
        }
        Ok(h.get(&group_key(&k))
            .map(|v| v.iter().rev().copied().collect())
            .unwrap_or_default())
    }

    fn next_unmatched(&mut self) -> Option<Row> {
        let b = self.built.as_ref()?;
        while self.unmatched_pos < b.rows.len() {
            let i = self.unmatched_pos;
            self.unmatched_pos += 1;
            if !b.matched[i] {
                let mut row = vec![Datum::Null; self.left_width];
                row.extend(b.rows[i].iter().cloned());
                return Some(row);
            }
        }
        None
    }
}

impl Operator for JoinOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.built.is_none() {
            self.built = Some(self.build(cx)?);
        }
        loop {
            crate::cancel::check()?;
            if self.left_done {
                return Ok(if matches!(self.kind, JoinKind::Full | JoinKind::Right) {
                    self.next_unmatched()
                } else {
                    None
                });
            }
            if self.current.is_none() {
                match self.left.next(cx)? {
                    None => {
                        self.left_done = true;
                        continue;
                    }
                    Some(l) => {
                        let c = self.candidates(&l, cx)?;
                        self.current = Some((l, c, false));
                    }
                }
            }
            let (left, cands, matched) = self.current.as_mut().expect("set above");
            if let Some(i) = cands.pop() {
                let b = self.built.as_ref().expect("built above");
                let mut row = left.clone();
                row.extend(b.rows[i].iter().cloned());
                let ok = match self.on {
                    Some(on) => is_true(&eval(on, &row, cx)?),
                    None => true,
                };
                if ok {
                    let (_, _, matched) = self.current.as_mut().expect("set above");
                    *matched = true;
                    if let Some(b) = self.built.as_mut() {
                        b.matched[i] = true;
                    }
                    return Ok(Some(row));
                }
                continue;
            }
            let unmatched_left = !*matched && matches!(self.kind, JoinKind::Left | JoinKind::Full);
            let (left, _, _) = self.current.take().expect("set above");
            if unmatched_left {
                let mut row = left;
                row.extend(std::iter::repeat_n(Datum::Null, self.right_width));
                return Ok(Some(row));
            }
        }
    }
}
