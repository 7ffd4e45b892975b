//! Hash aggregation: GROUP BY with count, sum, avg, min, max, bool_and/bool_or and
//! string_agg, each optionally DISTINCT and FILTERed; string_agg(... ORDER BY ...) keeps
//! its rows and feeds them in that order when the group ends.
//!
//! Result types are decided by the binder as PostgreSQL decides them (sum(int4) is bigint,
//! sum(int8) and avg(int) numeric, ...), and the binder casts each argument to the type
//! its accumulator works in, so the accumulators here reuse the operator code: a sum adds
//! with [`eval_binary`] at the result type, and its overflow is PostgreSQL's. Groups come
//! out in the order they were first seen; without GROUP BY, an empty input still yields
//! one row (count 0, the others NULL).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::{eval, group_key, row_size, ExecCtx, Operator, Row};
use crate::cast::{cast, CastContext};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::ops::{compare, eval_binary, resolve_binary, BinaryOp};
use crate::plan::{AggCall, AggFunc, Expr};
use crate::types::DataType;

#[derive(Clone, Debug)]
struct Acc {
    value: Datum,
    count: i64,
    seen: Option<HashSet<Vec<u8>>>,
    /// With `ORDER BY` inside the call: (sort keys, argument, delimiter) of every row,
    /// fed to the accumulator in order when the group is finished.
    ordered: Vec<(Vec<Datum>, Datum, Datum)>,
}

pub struct AggregateOp<'p> {
    input: Box<dyn Operator + 'p>,
    group_by: &'p [Expr],
    aggs: &'p [AggCall],
    output: Option<std::vec::IntoIter<Row>>,
}

impl<'p> AggregateOp<'p> {
    pub fn new(input: Box<dyn Operator + 'p>, group_by: &'p [Expr], aggs: &'p [AggCall]) -> Self {
        AggregateOp {
            input,
            group_by,
            aggs,
            output: None,
        }
    }

    fn fresh(&self) -> Vec<Acc> {
        self.aggs
            .iter()
            .map(|a| Acc {
                value: Datum::Null,
                count: 0,
                seen: a.distinct.then(HashSet::new),
                ordered: Vec::new(),
            })
            .collect()
    }

    fn run(&mut self, cx: &mut ExecCtx) -> Result<Vec<Row>, SqlError> {
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut groups: Vec<(Row, Vec<Acc>)> = Vec::new();
        while let Some(row) = self.input.next(cx)? {
            let key_vals = self
                .group_by
                .iter()
                .map(|e| eval(e, &row, cx))
                .collect::<Result<Vec<_>, _>>()?;
            let k = group_key(&key_vals);
            let g = match index.get(&k) {
                Some(g) => *g,
                None => {
                    cx.charge(row_size(&key_vals) + k.len() + 64 * self.aggs.len())?;
                    index.insert(k, groups.len());
                    groups.push((key_vals, self.fresh()));
                    groups.len() - 1
                }
            };
            for (i, a) in self.aggs.iter().enumerate() {
                if let Some(f) = &a.filter {
                    if !matches!(eval(f, &row, cx)?, Datum::Bool(true)) {
                        continue;
                    }
                }
                let arg = match &a.arg {
                    Some(e) => eval(e, &row, cx)?,
                    None => Datum::Bool(true),
                };
                let delim = match &a.delimiter {
                    Some(e) => eval(e, &row, cx)?,
                    None => Datum::Null,
                };
                if a.order_by.is_empty() {
                    accumulate(a, &mut groups[g].1[i], arg, delim, cx)?;
                } else {
                    let keys = a
                        .order_by
                        .iter()
                        .map(|k| eval(&k.expr, &row, cx))
                        .collect::<Result<Vec<_>, _>>()?;
                    cx.charge(row_size(&keys) + row_size(std::slice::from_ref(&arg)) + 32)?;
                    groups[g].1[i].ordered.push((keys, arg, delim));
                }
            }
        }
        for (_, accs) in &mut groups {
            for (a, acc) in self.aggs.iter().zip(accs.iter_mut()) {
                feed_in_order(a, acc, cx)?;
            }
        }
        if groups.is_empty() && self.group_by.is_empty() {
            groups.push((Vec::new(), self.fresh()));
        }
        groups
            .into_iter()
            .map(|(mut keys, accs)| {
                for (a, acc) in self.aggs.iter().zip(accs) {
                    keys.push(finish(a, acc)?);
                }
                Ok(keys)
            })
            .collect()
    }
}

impl Operator for AggregateOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.output.is_none() {
            self.output = Some(self.run(cx)?.into_iter());
        }
        Ok(self.output.as_mut().and_then(|o| o.next()))
    }
}

/// Feeds an ordered aggregate's collected rows to its accumulator in `ORDER BY` order
/// (a stable sort: ties keep their input order).
fn feed_in_order(a: &AggCall, acc: &mut Acc, cx: &mut ExecCtx) -> Result<(), SqlError> {
    if a.order_by.is_empty() {
        return Ok(());
    }
    let mut rows = std::mem::take(&mut acc.ordered);
    let mut failed = None;
    rows.sort_by(|x, y| {
        super::ops::compare_keys(&x.0, &y.0, &a.order_by).unwrap_or_else(|e| {
            failed.get_or_insert(e);
            Ordering::Equal
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    for (_, arg, delim) in rows {
        accumulate(a, acc, arg, delim, cx)?;
    }
    Ok(())
}

fn add(a: &Datum, b: &Datum, t: DataType) -> Result<Datum, SqlError> {
    let sig = resolve_binary(BinaryOp::Add, &t, &t)?;
    eval_binary(BinaryOp::Add, &sig, a, b)
}

fn accumulate(
    a: &AggCall,
    acc: &mut Acc,
    v: Datum,
    delim: Datum,
    cx: &mut ExecCtx,
) -> Result<(), SqlError> {
    if v.is_null() {
        return Ok(());
    }
    if let Some(seen) = acc.seen.as_mut() {
        let k = group_key(std::slice::from_ref(&v));
        if seen.contains(&k) {
            return Ok(());
        }
        cx.charge(k.len() + 32)?;
        seen.insert(k);
    }
    acc.count += 1;
    acc.value = match a.func {
        AggFunc::CountStar | AggFunc::Count => Datum::Null,
        AggFunc::Sum | AggFunc::Avg => {
            if acc.value.is_null() {
                v
            } else {
                add(&acc.value, &v, a.arg_type)?
            }
        }
        AggFunc::Min | AggFunc::Max => {
            let replace = acc.value.is_null() || {
                let o = compare(&v, &acc.value)?;
                (a.func == AggFunc::Min && o == Ordering::Less)
                    || (a.func == AggFunc::Max && o == Ordering::Greater)
            };
            if replace {
                v
            } else {
                std::mem::replace(&mut acc.value, Datum::Null)
            }
        }
        AggFunc::BoolAnd | AggFunc::BoolOr => {
            let (Datum::Bool(x), prev) = (&v, &acc.value) else {
                return Err(SqlError::internal("bool aggregate on a non-boolean"));
            };
            let is_or = a.func == AggFunc::BoolOr;
            match prev {
                Datum::Bool(p) => Datum::Bool(if is_or { *p || *x } else { *p && *x }),
                _ => Datum::Bool(*x),
            }
        }
        AggFunc::StringAgg => {
            let Datum::Text(s) = v else {
                return Err(SqlError::internal("string_agg on a non-text"));
            };
            match std::mem::replace(&mut acc.value, Datum::Null) {
                Datum::Text(mut prev) => {
                    if let Datum::Text(d) = delim {
                        prev.push_str(&d);
                    }
                    prev.push_str(&s);
                    Datum::Text(prev)
                }
                _ => Datum::Text(s),
            }
        }
    };
    Ok(())
}

fn finish(a: &AggCall, acc: Acc) -> Result<Datum, SqlError> {
    Ok(match a.func {
        AggFunc::CountStar | AggFunc::Count => Datum::Int(acc.count),
        AggFunc::Avg if !acc.value.is_null() => {
            let divisor = if a.arg_type == DataType::Interval {
                DataType::Float8
            } else {
                a.arg_type
            };
            let n = cast(
                Datum::Int(acc.count),
                &DataType::Int8,
                &divisor,
                CastContext::Explicit,
            )?;
            let sig = resolve_binary(BinaryOp::Div, &a.arg_type, &divisor)?;
            eval_binary(BinaryOp::Div, &sig, &acc.value, &n)?
        }
        _ => acc.value,
    })
}
