//! EXPLAIN output: the plan tree, one operator per line, children indented two spaces.
//!
//! ```text
//!   Sort: #0 ASC
//!     HashJoin inner: #0 = #3
//!       Scan t1 (index t1_pkey: eq [5])  filter: (#1 > 3)
//!       Scan t2 (full)
//! ```
//!
//! With ANALYZE each line ends with `(rows=N time=T ms)`, taken from the executor's
//! per-operator counters in the same pre-order the tree is printed in.

use std::fmt;

use super::{Access, Expr, JoinKind, Plan, SubqueryKind};
use crate::exec::NodeStats;

/// Renders `plan`; `stats` (pre-order, one per node) adds rows and time.
pub fn explain(plan: &Plan, stats: Option<&[NodeStats]>) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = 0;
    walk(plan, 0, stats, &mut next, &mut out);
    out
}

fn walk(
    plan: &Plan,
    depth: usize,
    stats: Option<&[NodeStats]>,
    next: &mut usize,
    out: &mut Vec<String>,
) {
    let mut line = format!("{}{}", "  ".repeat(depth), describe(plan));
    if let Some(s) = stats.and_then(|s| s.get(*next)) {
        line.push_str(&format!(
            "  (rows={} time={:.3} ms)",
            s.rows,
            s.elapsed.as_secs_f64() * 1000.0
        ));
    }
    *next += 1;
    out.push(line);
    for c in plan.children() {
        walk(c, depth + 1, stats, next, out);
    }
}

fn list(exprs: &[Expr]) -> String {
    exprs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(plan: &Plan) -> String {
    match plan {
        Plan::Scan {
            table,
            access,
            filter,
            ..
        } => {
            let how = match access {
                Access::Full => "full".to_string(),
                Access::Index {
                    index,
                    eq,
                    lower,
                    upper,
                } => {
                    let mut s = format!("index {}: eq [{}]", index.name, list(eq));
                    if let Some(l) = lower {
                        s.push_str(&format!(
                            " {} {}",
                            if l.inclusive { ">=" } else { ">" },
                            l.value
                        ));
                    }
                    if let Some(u) = upper {
                        s.push_str(&format!(
                            " {} {}",
                            if u.inclusive { "<=" } else { "<" },
                            u.value
                        ));
                    }
                    s
                }
            };
            match filter {
                Some(f) => format!("Scan {} ({how})  filter: {f}", table.name),
                None => format!("Scan {} ({how})", table.name),
            }
        }
        Plan::Values { rows, .. } => format!("Values ({} rows)", rows.len()),
        Plan::Filter { predicate, .. } => format!("Filter: {predicate}"),
        Plan::Project { exprs, .. } => format!("Project: {}", list(exprs)),
        Plan::Join {
            kind,
            on,
            left_keys,
            right_keys,
            ..
        } => {
            let kind = match kind {
                JoinKind::Inner => "inner",
                JoinKind::Left => "left",
                JoinKind::Right => "right",
                JoinKind::Full => "full",
            };
            let mut s = if left_keys.is_empty() {
                format!("NestedLoopJoin {kind}")
            } else {
                let keys: Vec<String> = left_keys
                    .iter()
                    .zip(right_keys)
                    .map(|(l, r)| format!("{l} = right.{r}"))
                    .collect();
                format!("HashJoin {kind}: {}", keys.join(" AND "))
            };
            if let Some(on) = on {
                s.push_str(&format!("  on: {on}"));
            }
            s
        }
        Plan::Aggregate { group_by, aggs, .. } => {
            let aggs: Vec<String> = aggs
                .iter()
                .map(|a| {
                    format!(
                        "{:?}({}{}){}",
                        a.func,
                        if a.distinct { "DISTINCT " } else { "" },
                        a.arg.as_ref().map(|e| e.to_string()).unwrap_or_default(),
                        a.filter
                            .as_ref()
                            .map(|f| format!(" FILTER ({f})"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            format!(
                "Aggregate: group [{}] aggs [{}]",
                list(group_by),
                aggs.join(", ")
            )
        }
        Plan::Sort { keys, .. } => {
            let k: Vec<String> = keys
                .iter()
                .map(|k| format!("{} {}", k.expr, if k.desc { "DESC" } else { "ASC" }))
                .collect();
            format!("Sort: {}", k.join(", "))
        }
        Plan::Limit { limit, offset, .. } => format!(
            "Limit: {} offset {offset}",
            limit.map(|l| l.to_string()).unwrap_or_else(|| "ALL".into())
        ),
        Plan::Distinct { .. } => "Distinct".into(),
        Plan::SetOp { op, all, .. } => format!("{op:?}{}", if *all { " ALL" } else { "" }),
        Plan::Series { start, stop, .. } => format!("GenerateSeries {start} .. {stop}"),
        Plan::Virtual { table } => format!("Virtual Scan on {}", crate::pg_catalog::name(*table)),
        Plan::Sequence { sequence } => format!("Seq Scan on {}", sequence.name),
        Plan::Unnest { array } => format!("Unnest {array}"),
        Plan::Lateral { .. } => "Lateral Join".into(),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(i) => write!(f, "#{i}"),
            Expr::Outer { depth, index } => write!(f, "outer{depth}.#{index}"),
            Expr::Param(i) => write!(f, "${}", i + 1),
            Expr::Literal(d) => match d.to_text(&literal_type(d)) {
                Some(t) => write!(f, "{t}"),
                None => f.write_str("NULL"),
            },
            Expr::Cast { expr, to, .. } => write!(f, "{expr}::{to}"),
            Expr::Unary { op, expr, .. } => write!(f, "({op:?} {expr})"),
            Expr::Binary {
                op, left, right, ..
            } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Func { id, args } => write!(f, "{:?}({})", id.func, list(args)),
            Expr::Case { whens, else_ } => {
                f.write_str("CASE")?;
                for (c, r) in whens {
                    write!(f, " WHEN {c} THEN {r}")?;
                }
                write!(f, " ELSE {else_} END")
            }
            Expr::Coalesce(a) => write!(f, "COALESCE({})", list(a)),
            Expr::Array(a) => write!(f, "ARRAY[{}]", list(a)),
            Expr::AnyAll {
                op,
                left,
                right,
                all,
                ..
            } => write!(
                f,
                "({left} {} {}({right}))",
                op.symbol(),
                if *all { "ALL" } else { "ANY" }
            ),
            Expr::NullIf { left, right } => write!(f, "NULLIF({left}, {right})"),
            Expr::Extreme { args, greatest } => write!(
                f,
                "{}({})",
                if *greatest { "GREATEST" } else { "LEAST" },
                list(args)
            ),
            Expr::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" })
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => write!(
                f,
                "({expr} IS {}{})",
                if *negated { "NOT " } else { "" },
                value
            ),
            Expr::InList {
                expr,
                list: l,
                negated,
            } => write!(
                f,
                "({expr} {}IN ({}))",
                if *negated { "NOT " } else { "" },
                list(l)
            ),
            Expr::Subquery {
                kind, correlated, ..
            } => {
                let c = if *correlated { "correlated " } else { "" };
                match kind {
                    SubqueryKind::Scalar => write!(f, "({c}subquery)"),
                    SubqueryKind::Array => write!(f, "ARRAY({c}subquery)"),
                    SubqueryKind::Exists { negated } => write!(
                        f,
                        "({}EXISTS {c}subquery)",
                        if *negated { "NOT " } else { "" }
                    ),
                    SubqueryKind::In { expr, negated, .. } => write!(
                        f,
                        "({expr} {}IN {c}subquery)",
                        if *negated { "NOT " } else { "" }
                    ),
                }
            }
        }
    }
}

/// A type that prints a literal faithfully enough for EXPLAIN.
fn literal_type(d: &crate::datum::Datum) -> crate::types::DataType {
    use crate::datum::Datum;
    use crate::types::DataType;
    match d {
        Datum::Bool(_) => DataType::Bool,
        Datum::Int(_) => DataType::Int8,
        Datum::Float(_) => DataType::Float8,
        Datum::Numeric(_) => DataType::NUMERIC,
        Datum::Bytes(_) => DataType::Bytea,
        Datum::Date(_) => DataType::Date,
        Datum::Timestamp(_) => DataType::Timestamp,
        Datum::TimestampTz(_) => DataType::TimestampTz,
        Datum::Interval(_) => DataType::Interval,
        Datum::Text(_) | Datum::Null | Datum::Array(_) => DataType::Text,
    }
}
