//! Operators: how their operand types resolve, and how they evaluate, NULLs included.
//!
//! Evaluation is two-phase, like PostgreSQL's: the binder calls [`resolve_binary`] /
//! [`resolve_unary`] once with the operand types and gets an [`OpSig`] (the types each
//! operand must be implicitly cast to, and the result type); the executor casts the
//! operands and calls [`eval_binary`] / [`eval_unary`] per row.
//!
//! Resolution reproduces PostgreSQL's for the operators it has on our types:
//!
//! - arithmetic on two integers works at the wider width (`int2 + int4` -> `int4`; the
//!   result is checked against that width: `int4 + int4` overflows at 2^31, 22003
//!   "integer out of range"); with a numeric it is numeric; with any float it is `float8`
//!   (`float4` only for `float4 op float4`). An `unknown` operand takes the other side's type.
//! - datetime arithmetic: `date ± int4 -> date`, `date - date -> int4`, `date ± interval`
//!   and `timestamp ± interval -> timestamp`, `timestamptz ± interval -> timestamptz`,
//!   `timestamp - timestamp -> interval`, `interval ± interval`, `interval * / float8`.
//! - comparisons cast both sides to one type (numeric rules as for arithmetic; string types
//!   compare as text, bytewise = C collation; `date` vs `timestamp` as timestamp).
//! - `||` on a string (or unknown) operand concatenates text forms; `bytea || bytea`.
//! - AND / OR / NOT take booleans (three-valued logic); LIKE / ILIKE take strings.
//!
//! NULL semantics: every operator returns NULL when an operand is NULL, except `AND`
//! (`false AND NULL` = false), `OR` (`true OR NULL` = true) and `IS [NOT] DISTINCT FROM`
//! (never NULL; NULL is not distinct from NULL).

use std::cmp::Ordering;

use bigdecimal::BigDecimal;

use crate::datum::{check_int, Datum};
use crate::error::SqlError;
use crate::interval::{self, Interval};
use crate::like::like;
use crate::types::{DataType, TypeCategory};
use crate::{datetime, float, numeric};

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Like,
    NotLike,
    ILike,
    NotILike,
    IsDistinctFrom,
    IsNotDistinctFrom,
    /// POSIX regular expression match `~`, `!~`, `~*`, `!~*` ([`crate::regex`]).
    RegexMatch,
    NotRegexMatch,
    RegexIMatch,
    NotRegexIMatch,
}

/// A prefix operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

impl BinaryOp {
    /// The operator as PostgreSQL spells it in "operator does not exist" errors.
    pub fn symbol(&self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Concat => "||",
            Eq | IsDistinctFrom | IsNotDistinctFrom => "=",
            NotEq => "<>",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            And => "AND",
            Or => "OR",
            Like => "~~",
            NotLike => "!~~",
            ILike => "~~*",
            NotILike => "!~~*",
            RegexMatch => "~",
            NotRegexMatch => "!~",
            RegexIMatch => "~*",
            NotRegexIMatch => "!~*",
        }
    }

    fn is_comparison(&self) -> bool {
        use BinaryOp::*;
        matches!(
            self,
            Eq | NotEq | Lt | LtEq | Gt | GtEq | IsDistinctFrom | IsNotDistinctFrom
        )
    }
}

/// A resolved operator: cast the operands to `left` and `right`, the result is `result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSig {
    pub left: DataType,
    pub right: DataType,
    pub result: DataType,
}

fn sig(left: DataType, right: DataType, result: DataType) -> Option<OpSig> {
    Some(OpSig {
        left,
        right,
        result,
    })
}

/// The type two numeric operands meet at (see the module doc).
fn numeric_meet(l: &DataType, r: &DataType) -> DataType {
    use DataType::*;
    match (l, r) {
        (Float4, Float4) => Float4,
        (Float4 | Float8, _) | (_, Float4 | Float8) => Float8,
        (Numeric { .. }, _) | (_, Numeric { .. }) => DataType::NUMERIC,
        (Int8, _) | (_, Int8) => Int8,
        (Int4, _) | (_, Int4) => Int4,
        _ => Int2,
    }
}

/// The type a comparison of `l` and `r` happens at, if they are comparable.
fn comparison_type(l: &DataType, r: &DataType) -> Option<DataType> {
    use DataType::*;
    let (l, r) = match (l, r) {
        (Unknown, Unknown) => (&Text, &Text),
        (Unknown, t) | (t, Unknown) => (t, t),
        _ => (l, r),
    };
    match (l.category(), r.category()) {
        (TypeCategory::Numeric, TypeCategory::Numeric) => Some(numeric_meet(l, r)),
        (TypeCategory::String, TypeCategory::String) => Some(Text),
        (TypeCategory::Oid, TypeCategory::Oid) if l == r => Some(*l),
        (TypeCategory::Oid, TypeCategory::Oid) => Some(Oid(crate::types::OidKind::Oid)),
        (TypeCategory::Oid, _) if r.is_integer() => Some(*l),
        (_, TypeCategory::Oid) if l.is_integer() => Some(*r),
        (TypeCategory::DateTime, TypeCategory::DateTime) => Some(match (l, r) {
            (TimestampTz, _) | (_, TimestampTz) => TimestampTz,
            (Timestamp, _) | (_, Timestamp) => Timestamp,
            _ => Date,
        }),
        _ if l.base() == r.base() => Some(l.base()),
        _ => None,
    }
}

/// Resolves a binary operator for operand types `l` and `r`; 42883 "operator does not
/// exist" when PostgreSQL has no such operator.
pub fn resolve_binary(op: BinaryOp, l: &DataType, r: &DataType) -> Result<OpSig, SqlError> {
    use BinaryOp::*;
    use DataType::*;
    let found = match op {
        _ if op.is_comparison() => comparison_type(l, r).and_then(|t| sig(t, t, Bool)),
        And | Or => {
            let ok = |t: &DataType| matches!(t, Bool | Unknown);
            (ok(l) && ok(r)).then_some(OpSig {
                left: Bool,
                right: Bool,
                result: Bool,
            })
        }
        Like | NotLike | ILike | NotILike | RegexMatch | NotRegexMatch | RegexIMatch
        | NotRegexIMatch => {
            let ok = |t: &DataType| t.is_string() || *t == Unknown;
            (ok(l) && ok(r)).then_some(OpSig {
                left: Text,
                right: Text,
                result: Bool,
            })
        }
        Concat => match (l, r) {
            (Bytea, Bytea) | (Bytea, Unknown) | (Unknown, Bytea) => sig(Bytea, Bytea, Bytea),
            (Array(_), Unknown) => sig(*l, *l, *l),
            (Unknown, Array(_)) => sig(*r, *r, *r),
            (Array(a), Array(b)) if a == b => sig(*l, *r, *l),
            (Array(e), t) if crate::types::implicit_castable(t, e) => sig(*l, **e, *l),
            (t, Array(e)) if crate::types::implicit_castable(t, e) => sig(**e, *r, *r),
            _ if l.is_string() || r.is_string() || *l == Unknown || *r == Unknown => {
                // A string operand is cast to text (so char(n) loses its padding, as
                // textcat's implicit bpchar -> text does); others print with their type.
                let as_text = |t: &DataType| if t.is_string() { Text } else { *t };
                sig(as_text(l), as_text(r), Text)
            }
            _ => None,
        },
        Add | Sub | Mul | Div | Mod => arithmetic_sig(op, l, r),
        Eq | NotEq | Lt | LtEq | Gt | GtEq | IsDistinctFrom | IsNotDistinctFrom => None,
    };
    found.ok_or_else(|| SqlError::UndefinedOperator {
        op: op.symbol().into(),
        left: Some(l.to_string()),
        right: r.to_string(),
    })
}

fn arithmetic_sig(op: BinaryOp, l: &DataType, r: &DataType) -> Option<OpSig> {
    use BinaryOp::*;
    use DataType::*;
    let num = |t: &DataType| t.category() == TypeCategory::Numeric;
    match (l, r) {
        (Unknown, Unknown) => None,
        (Unknown, t) if num(t) => arithmetic_sig(op, t, t),
        (t, Unknown) if num(t) => arithmetic_sig(op, t, t),
        _ if num(l) && num(r) => {
            let t = numeric_meet(l, r);
            if op == Mod && matches!(t, Float4 | Float8) {
                return None;
            }
            sig(t, t, t)
        }
        (Date, Int2 | Int4 | Unknown) if matches!(op, Add | Sub) => sig(Date, Int4, Date),
        (Int2 | Int4, Date) if op == Add => sig(Int4, Date, Date),
        (Date, Date | Unknown) if op == Sub => sig(Date, Date, Int4),
        (Date | Timestamp, Interval) if matches!(op, Add | Sub) => {
            sig(Timestamp, Interval, Timestamp)
        }
        (Interval, Date | Timestamp) if op == Add => sig(Interval, Timestamp, Timestamp),
        (TimestampTz, Interval) if matches!(op, Add | Sub) => {
            sig(TimestampTz, Interval, TimestampTz)
        }
        (Interval, TimestampTz) if op == Add => sig(Interval, TimestampTz, TimestampTz),
        (Timestamp | TimestampTz, Unknown) if op == Add => sig(*l, Interval, *l),
        (Timestamp | TimestampTz, Unknown | Timestamp | TimestampTz) if op == Sub => {
            let t = if *l == TimestampTz || *r == TimestampTz {
                TimestampTz
            } else {
                Timestamp
            };
            sig(t, t, Interval)
        }
        (Interval, Interval | Unknown) if matches!(op, Add | Sub) => {
            sig(Interval, Interval, Interval)
        }
        (Interval, t) if num(t) && matches!(op, Mul | Div) => sig(Interval, Float8, Interval),
        (t, Interval) if num(t) && op == Mul => sig(Float8, Interval, Interval),
        _ => None,
    }
}

/// Resolves a prefix operator.
pub fn resolve_unary(op: UnaryOp, t: &DataType) -> Result<OpSig, SqlError> {
    use DataType::*;
    let ok = match op {
        UnaryOp::Not => matches!(t, Bool | Unknown).then_some(Bool),
        UnaryOp::Neg | UnaryOp::Plus => match t {
            Unknown => None,
            _ if t.category() == TypeCategory::Numeric => Some(t.base()),
            Interval => Some(Interval),
            _ => None,
        },
    };
    ok.map(|r| OpSig {
        left: r,
        right: r,
        result: r,
    })
    .ok_or_else(|| SqlError::UndefinedOperator {
        op: match op {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
            UnaryOp::Not => "NOT",
        }
        .into(),
        left: None,
        right: t.to_string(),
    })
}

/// Evaluates a prefix operator on an operand already cast to `sig.left`.
pub fn eval_unary(op: UnaryOp, sig: &OpSig, v: &Datum) -> Result<Datum, SqlError> {
    Ok(match (op, v) {
        (_, Datum::Null) => Datum::Null,
        (UnaryOp::Plus, v) => v.clone(),
        (UnaryOp::Not, Datum::Bool(b)) => Datum::Bool(!b),
        (UnaryOp::Neg, Datum::Int(i)) => check_int(
            i.checked_neg()
                .ok_or_else(|| SqlError::out_of_range(sig.result))?,
            &sig.result,
        )?,
        (UnaryOp::Neg, Datum::Float(f)) => Datum::Float(-f),
        (UnaryOp::Neg, Datum::Numeric(n)) => Datum::Numeric(-n),
        (UnaryOp::Neg, Datum::Interval(iv)) => Datum::Interval(interval::negate(iv)?),
        (_, v) => return Err(SqlError::internal(format!("bad operand {v:?} for {op:?}"))),
    })
}

/// Evaluates a binary operator on operands already cast to `sig.left` / `sig.right`.
pub fn eval_binary(op: BinaryOp, sig: &OpSig, l: &Datum, r: &Datum) -> Result<Datum, SqlError> {
    use BinaryOp::*;
    match op {
        And => return Ok(and_or(l, r, false)),
        Or => return Ok(and_or(l, r, true)),
        IsDistinctFrom | IsNotDistinctFrom => {
            let same = match (l, r) {
                (Datum::Null, Datum::Null) => true,
                (Datum::Null, _) | (_, Datum::Null) => false,
                _ => compare(l, r)? == Ordering::Equal,
            };
            return Ok(Datum::Bool(same == (op == IsNotDistinctFrom)));
        }
        _ => {}
    }
    if l.is_null() || r.is_null() {
        return Ok(Datum::Null);
    }
    Ok(match op {
        Eq => Datum::Bool(compare(l, r)? == Ordering::Equal),
        NotEq => Datum::Bool(compare(l, r)? != Ordering::Equal),
        Lt => Datum::Bool(compare(l, r)? == Ordering::Less),
        LtEq => Datum::Bool(compare(l, r)? != Ordering::Greater),
        Gt => Datum::Bool(compare(l, r)? == Ordering::Greater),
        GtEq => Datum::Bool(compare(l, r)? != Ordering::Less),
        Like | NotLike | ILike | NotILike => {
            let (Datum::Text(t), Datum::Text(p)) = (l, r) else {
                return Err(SqlError::internal("LIKE on non-text"));
            };
            let m = like(t, p, Some('\\'), matches!(op, ILike | NotILike))?;
            Datum::Bool(m == matches!(op, Like | ILike))
        }
        RegexMatch | NotRegexMatch | RegexIMatch | NotRegexIMatch => {
            let (Datum::Text(t), Datum::Text(p)) = (l, r) else {
                return Err(SqlError::internal("regex match on non-text"));
            };
            let m = crate::regex::matches(t, p, matches!(op, RegexIMatch | NotRegexIMatch))?;
            Datum::Bool(m == matches!(op, RegexMatch | RegexIMatch))
        }
        Concat => match (l, r) {
            (Datum::Bytes(a), Datum::Bytes(b)) => Datum::Bytes([a.as_slice(), b].concat()),
            (Datum::Array(_), Datum::Array(_)) => crate::array::concat(l, r)?,
            (Datum::Array(_), x) => crate::array::concat(l, &Datum::Array(vec![x.clone()]))?,
            (x, Datum::Array(_)) => crate::array::concat(&Datum::Array(vec![x.clone()]), r)?,
            _ => Datum::Text(concat_text(l, &sig.left) + &concat_text(r, &sig.right)),
        },
        _ => arithmetic(op, sig, l, r)?,
    })
}

/// An operand's text for `||`: the cast to text (booleans are `true`/`false`).
fn concat_text(d: &Datum, t: &DataType) -> String {
    match d {
        Datum::Bool(b) => b.to_string(),
        _ => d.to_text(t).unwrap_or_default(),
    }
}

/// Compares two non-NULL operands of one type.
pub fn compare(l: &Datum, r: &Datum) -> Result<Ordering, SqlError> {
    l.compare(r)
        .ok_or_else(|| SqlError::internal(format!("cannot compare {l:?} with {r:?}")))
}

/// Three-valued AND (`is_or` false) / OR.
fn and_or(l: &Datum, r: &Datum, is_or: bool) -> Datum {
    let b = |d: &Datum| match d {
        Datum::Bool(b) => Some(*b),
        _ => None,
    };
    match (b(l), b(r)) {
        (Some(x), _) | (_, Some(x)) if x == is_or => Datum::Bool(is_or),
        (Some(_), Some(_)) => Datum::Bool(!is_or),
        _ => Datum::Null,
    }
}

fn arithmetic(op: BinaryOp, sig: &OpSig, l: &Datum, r: &Datum) -> Result<Datum, SqlError> {
    use BinaryOp::*;
    Ok(match (l, r) {
        (Datum::Int(a), Datum::Int(b)) if sig.left.is_integer() => int_op(op, *a, *b, &sig.result)?,
        (Datum::Float(a), Datum::Float(b)) => float_op(op, *a, *b, &sig.result)?,
        (Datum::Numeric(a), Datum::Numeric(b)) => Datum::Numeric(numeric_op(op, a, b)?),
        (Datum::Date(d), Datum::Int(n)) => {
            let n = if op == Sub { -n } else { *n };
            date_plus(*d, n)?
        }
        (Datum::Int(n), Datum::Date(d)) => date_plus(*d, *n)?,
        (Datum::Date(a), Datum::Date(b)) => {
            check_int(i64::from(*a) - i64::from(*b), &DataType::Int4)?
        }
        (Datum::Timestamp(t), Datum::Interval(iv)) | (Datum::Interval(iv), Datum::Timestamp(t)) => {
            Datum::Timestamp(ts_plus(*t, iv, op == Sub)?)
        }
        (Datum::TimestampTz(t), Datum::Interval(iv))
        | (Datum::Interval(iv), Datum::TimestampTz(t)) => {
            Datum::TimestampTz(ts_plus(*t, iv, op == Sub)?)
        }
        (Datum::Timestamp(a), Datum::Timestamp(b))
        | (Datum::TimestampTz(a), Datum::TimestampTz(b)) => {
            Datum::Interval(interval::timestamp_diff(*a, *b)?)
        }
        (Datum::Interval(a), Datum::Interval(b)) => {
            Datum::Interval(interval::add(a, b, op == Sub)?)
        }
        (Datum::Interval(iv), Datum::Float(f)) | (Datum::Float(f), Datum::Interval(iv)) => {
            if op == Div && *f == 0.0 {
                return Err(SqlError::DivisionByZero);
            }
            let factor = if op == Div { 1.0 / f } else { *f };
            Datum::Interval(interval::mul(iv, factor)?)
        }
        _ => {
            return Err(SqlError::internal(format!(
                "bad operands {l:?} {op:?} {r:?}"
            )))
        }
    })
}

fn int_op(op: BinaryOp, a: i64, b: i64, t: &DataType) -> Result<Datum, SqlError> {
    use BinaryOp::*;
    if matches!(op, Div | Mod) && b == 0 {
        return Err(SqlError::DivisionByZero);
    }
    let v = match op {
        Add => a.checked_add(b),
        Sub => a.checked_sub(b),
        Mul => a.checked_mul(b),
        Div => a.checked_div(b),
        // PostgreSQL defines MIN % -1 as 0 rather than overflowing.
        Mod => Some(a.checked_rem(b).unwrap_or(0)),
        _ => None,
    };
    check_int(v.ok_or_else(|| SqlError::out_of_range(t))?, t)
}

fn float_op(op: BinaryOp, a: f64, b: f64, t: &DataType) -> Result<Datum, SqlError> {
    use BinaryOp::*;
    let finite = a.is_finite() && b.is_finite();
    let v = match op {
        Add => float::check(a + b, finite, false)?,
        Sub => float::check(a - b, finite, false)?,
        Mul => float::check(a * b, finite, a * b == 0.0 && a != 0.0 && b != 0.0)?,
        Div => {
            if b == 0.0 {
                return Err(SqlError::DivisionByZero);
            }
            float::check(a / b, finite, a / b == 0.0 && a != 0.0 && b.is_finite())?
        }
        _ => return Err(SqlError::internal("float modulo")),
    };
    Ok(Datum::Float(if *t == DataType::Float4 {
        f64::from(float::to_f32(v)?)
    } else {
        v
    }))
}

fn numeric_op(op: BinaryOp, a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal, SqlError> {
    use BinaryOp::*;
    let s = numeric::scale(a).max(numeric::scale(b));
    Ok(match op {
        Add => (a + b).with_scale(s),
        Sub => (a - b).with_scale(s),
        Mul => (a * b).with_scale(numeric::scale(a) + numeric::scale(b)),
        Div => numeric::div(a, b)?,
        Mod => numeric::rem(a, b)?,
        _ => return Err(SqlError::internal("numeric op")),
    })
}

fn date_plus(d: i32, n: i64) -> Result<Datum, SqlError> {
    if d == datetime::DATE_INFINITY || d == datetime::DATE_NEG_INFINITY {
        return Ok(Datum::Date(d));
    }
    let v = i32::try_from(i64::from(d) + n)
        .ok()
        .filter(|v| datetime::date_valid(*v) && datetime::to_naive(*v).is_some())
        .ok_or_else(datetime::date_out_of_range)?;
    Ok(Datum::Date(v))
}

fn ts_plus(t: i64, iv: &Interval, subtract: bool) -> Result<i64, SqlError> {
    let iv = if subtract { interval::negate(iv)? } else { *iv };
    interval::add_to_timestamp(t, &iv)
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
