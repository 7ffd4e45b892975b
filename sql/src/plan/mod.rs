//! The logical plan: a tree of relational operators over bound, typed expressions.
//!
//! The binder ([`crate::bind`]) turns a parsed statement into a [`Plan`]; the rules in
//! [`optimize`] rewrite it (constant folding, predicate pushdown, index selection, hash
//! joins); the executor ([`crate::exec`]) runs it. Every node produces rows of a fixed
//! width, and an [`Expr::Column`] is a position in its input row:
//!
//! ```text
//!   Project [#0, #1 + 1]          output row = evaluated exprs
//!     Filter #2 > 5               input rows that pass
//!       Join inner on #0 = #3     output row = left row ++ right row
//!         Scan t1 (3 cols)
//!         Scan t2 (2 cols)
//! ```
//!
//! Expressions are fully resolved: every operator carries its [`OpSig`], every implicit
//! cast is an explicit [`Expr::Cast`] node, so evaluation never looks at types again.
//! A correlated subquery refers to a row of an enclosing query with [`Expr::Outer`]
//! (`depth` 0 = the nearest enclosing query); the executor keeps those rows on a stack.

pub mod explain;
pub mod optimize;

use crate::cast::CastContext;
use crate::catalog::{IndexDef, TableDef};
use crate::datum::Datum;
use crate::functions::FunctionId;
use crate::ops::{BinaryOp, OpSig, UnaryOp};
use crate::types::DataType;

/// A bound scalar expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A position in the input row.
    Column(usize),
    /// A position in the row of an enclosing query (correlated subquery).
    Outer {
        depth: usize,
        index: usize,
    },
    Literal(Datum),
    /// Parameter `$n` (0-based here): in a described statement, or a generic plan that
    /// reads the value when it runs ([`crate::plan_cache`]).
    Param(usize),
    Cast {
        expr: Box<Expr>,
        from: DataType,
        to: DataType,
        ctx: CastContext,
    },
    Unary {
        op: UnaryOp,
        sig: OpSig,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        sig: OpSig,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Func {
        id: FunctionId,
        args: Vec<Expr>,
    },
    /// `CASE WHEN c THEN r ... ELSE e END` (the operand form is bound to comparisons).
    Case {
        whens: Vec<(Expr, Expr)>,
        else_: Box<Expr>,
    },
    Coalesce(Vec<Expr>),
    /// `NULLIF(a, b)`: NULL when `a = b` (compared at the common type) else `a`.
    NullIf {
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// GREATEST (`greatest` true) / LEAST; NULL arguments are ignored.
    Extreme {
        args: Vec<Expr>,
        greatest: bool,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE/FALSE`.
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    /// `x [NOT] IN (list)`, all already cast to one type.
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Subquery {
        plan: Box<Plan>,
        kind: SubqueryKind,
        /// Whether the plan refers to the enclosing row (else its result is cached).
        correlated: bool,
    },
    /// `ARRAY[a, b, ...]`, the elements already cast to one type.
    Array(Vec<Expr>),
    /// `left op ANY (array)` (`all` false) or `left op ALL (array)`; `sig` compares
    /// `left` with one element.
    AnyAll {
        op: BinaryOp,
        sig: OpSig,
        left: Box<Expr>,
        right: Box<Expr>,
        all: bool,
    },
}

/// What a subquery expression asks of its rows.
#[derive(Clone, Debug, PartialEq)]
pub enum SubqueryKind {
    /// The single value of at most one row (21000 for more).
    Scalar,
    Exists {
        negated: bool,
    },
    /// `expr [NOT] IN (subquery)`; subquery values are cast from `from` to `to`.
    In {
        expr: Box<Expr>,
        negated: bool,
        from: DataType,
        to: DataType,
    },
    /// `ARRAY(subquery)`: the single column's values as one array.
    Array,
}

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
}

/// One aggregate call of an Aggregate node.
#[derive(Clone, Debug, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    /// The argument (absent for `count(*)`), already cast to `arg_type`.
    pub arg: Option<Expr>,
    pub arg_type: DataType,
    pub distinct: bool,
    /// string_agg's delimiter.
    pub delimiter: Option<Expr>,
    /// `FILTER (WHERE ...)`: rows where it is not true are skipped.
    pub filter: Option<Expr>,
    /// `agg(x ORDER BY ...)`: the order the rows are fed in (only string_agg's result
    /// depends on it; the binder keeps it for no other aggregate).
    pub order_by: Vec<SortKey>,
    pub result_type: DataType,
}

/// Join kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// One ORDER BY key over the input row.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// A bound on an index column for a range scan; the value is a constant or outer-row
/// expression evaluated when the scan opens.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyBound {
    pub value: Expr,
    pub inclusive: bool,
}

/// How a Scan reaches its rows. The scan's filter still checks every row, so an access
/// path only has to return a superset of the matching rows.
// Plans are built once per statement; variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    Full,
    /// The rows whose index key starts with `eq` and whose next column is within
    /// `lower`/`upper`.
    Index {
        index: IndexDef,
        eq: Vec<Expr>,
        lower: Option<KeyBound>,
        upper: Option<KeyBound>,
    },
}

/// A logical plan node.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// A table's rows (all columns in table order, plus the primary key bytes as a final
    /// bytea column when `with_key`).
    Scan {
        table: TableDef,
        access: Access,
        filter: Option<Expr>,
        with_key: bool,
    },
    /// Literal rows (also the single empty row of a SELECT without FROM).
    Values {
        rows: Vec<Vec<Expr>>,
        width: usize,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Nested loop, or a hash join when `left_keys` is non-empty (equi-join on them,
    /// `on` checked on top of the key match).
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        right_width: usize,
        left_width: usize,
    },
    /// Output row = group-by values ++ aggregate results.
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<u64>,
        offset: u64,
    },
    Distinct {
        input: Box<Plan>,
    },
    SetOp {
        left: Box<Plan>,
        right: Box<Plan>,
        op: SetOpKind,
        all: bool,
    },
    /// `generate_series(start, stop[, step])` over integers.
    Series {
        start: Expr,
        stop: Expr,
        step: Option<Expr>,
    },
    /// The rows of a `pg_catalog` / `information_schema` relation
    /// ([`crate::pg_catalog::TABLES`] index).
    Virtual {
        table: usize,
    },
    /// A sequence read as a relation: one row `(last_value, log_cnt, is_called)`, as of
    /// when it runs ([`crate::sequence::state`]).
    Sequence {
        sequence: crate::catalog::SequenceDef,
    },
    /// `unnest(array)`: one row per element.
    Unnest {
        array: Expr,
    },
    /// `left CROSS JOIN LATERAL right`: `right` runs once per left row, which it sees
    /// as its nearest outer row; output row = left row ++ right row.
    Lateral {
        left: Box<Plan>,
        right: Box<Plan>,
        left_width: usize,
    },
}

impl Plan {
    /// The inputs of this node, for tree walks.
    pub fn children(&self) -> Vec<&Plan> {
        match self {
            Plan::Scan { .. }
            | Plan::Values { .. }
            | Plan::Series { .. }
            | Plan::Virtual { .. }
            | Plan::Sequence { .. }
            | Plan::Unnest { .. } => vec![],
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input } => vec![input],
            Plan::Join { left, right, .. }
            | Plan::SetOp { left, right, .. }
            | Plan::Lateral { left, right, .. } => {
                vec![left, right]
            }
        }
    }
}

impl Expr {
    pub fn boxed(self) -> Box<Expr> {
        Box::new(self)
    }

    /// Calls `f` on every direct sub-expression (not into subquery plans).
    pub fn for_each_child(&self, f: &mut dyn FnMut(&Expr)) {
        match self {
            Expr::Column(_) | Expr::Outer { .. } | Expr::Literal(_) | Expr::Param(_) => {}
            Expr::Cast { expr, .. }
            | Expr::Unary { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. } => f(expr),
            Expr::Binary { left, right, .. } | Expr::NullIf { left, right } => {
                f(left);
                f(right)
            }
            Expr::Func { args, .. }
            | Expr::Coalesce(args)
            | Expr::Extreme { args, .. }
            | Expr::Array(args) => args.iter().for_each(f),
            Expr::AnyAll { left, right, .. } => {
                f(left);
                f(right)
            }
            Expr::Case { whens, else_ } => {
                for (c, r) in whens {
                    f(c);
                    f(r);
                }
                f(else_)
            }
            Expr::InList { expr, list, .. } => {
                f(expr);
                list.iter().for_each(f)
            }
            Expr::Subquery { kind, .. } => {
                if let SubqueryKind::In { expr, .. } = kind {
                    f(expr)
                }
            }
        }
    }

    /// Whether any sub-expression satisfies `pred`.
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        if pred(self) {
            return true;
        }
        let mut found = false;
        self.for_each_child(&mut |c| found = found || c.any(pred));
        found
    }

    /// Whether the expression reads nothing but literals (no row, no subquery) and calls
    /// nothing volatile (`nextval`).
    pub fn is_constant(&self) -> bool {
        !self.any(&|e| {
            matches!(
                e,
                Expr::Column(_) | Expr::Outer { .. } | Expr::Param(_) | Expr::Subquery { .. }
            ) || matches!(e, Expr::Func { id, .. } if id.func.is_volatile())
        })
    }

    /// Rewrites every sub-expression bottom-up with `f` (not into subquery plans).
    pub fn rewrite(self, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
        let mut r = |e: Box<Expr>| Box::new(e.rewrite(f));
        let e = match self {
            Expr::Cast {
                expr,
                from,
                to,
                ctx,
            } => Expr::Cast {
                expr: r(expr),
                from,
                to,
                ctx,
            },
            Expr::Unary { op, sig, expr } => Expr::Unary {
                op,
                sig,
                expr: r(expr),
            },
            Expr::Binary {
                op,
                sig,
                left,
                right,
            } => Expr::Binary {
                op,
                sig,
                left: r(left),
                right: r(right),
            },
            Expr::NullIf { left, right } => Expr::NullIf {
                left: r(left),
                right: r(right),
            },
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: r(expr),
                negated,
            },
            Expr::IsBool {
                expr,
                value,
                negated,
            } => Expr::IsBool {
                expr: r(expr),
                value,
                negated,
            },
            other => {
                let e = rewrite_lists(other, f);
                return f(e);
            }
        };
        f(e)
    }
}

/// The list-holding half of [`Expr::rewrite`].
fn rewrite_lists(e: Expr, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
    fn all(v: Vec<Expr>, f: &mut dyn FnMut(Expr) -> Expr) -> Vec<Expr> {
        v.into_iter().map(|x| x.rewrite(f)).collect()
    }
    match e {
        Expr::Func { id, args } => Expr::Func {
            id,
            args: all(args, f),
        },
        Expr::Coalesce(args) => Expr::Coalesce(all(args, f)),
        Expr::Array(args) => Expr::Array(all(args, f)),
        Expr::AnyAll {
            op,
            sig,
            left,
            right,
            all: is_all,
        } => Expr::AnyAll {
            op,
            sig,
            left: Box::new(left.rewrite(f)),
            right: Box::new(right.rewrite(f)),
            all: is_all,
        },
        Expr::Extreme { args, greatest } => Expr::Extreme {
            args: all(args, f),
            greatest,
        },
        Expr::Case { whens, else_ } => {
            let whens = whens
                .into_iter()
                .map(|(c, r)| (c.rewrite(f), r.rewrite(f)))
                .collect();
            Expr::Case {
                whens,
                else_: Box::new(else_.rewrite(f)),
            }
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => Expr::InList {
            expr: Box::new(expr.rewrite(f)),
            list: all(list, f),
            negated,
        },
        Expr::Subquery {
            plan,
            kind:
                SubqueryKind::In {
                    expr,
                    negated,
                    from,
                    to,
                },
            correlated,
        } => Expr::Subquery {
            plan,
            kind: SubqueryKind::In {
                expr: Box::new(expr.rewrite(f)),
                negated,
                from,
                to,
            },
            correlated,
        },
        other => other,
    }
}
