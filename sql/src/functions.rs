//! Built-in scalar functions: resolution by name and argument types, and the call entry.
//!
//! [`resolve_function`] follows PostgreSQL's `func_select_candidate` on a small catalog of
//! signatures ([`signatures`]): a candidate whose parameters match the argument types
//! exactly wins; otherwise among the candidates every argument casts to implicitly, those
//! with the most exact matches are kept, then those with the most parameters of their
//! category's preferred type (`float8`, `text`, `timestamptz`), then the first listed. So
//! `abs(int)` is `abs(integer)` but `round(int)` and `sign(int)` are the `double precision`
//! versions, exactly as in PostgreSQL. No candidate is 42883 `function f(integer) does not
//! exist`. `concat` and `concat_ws` take any arguments.
//!
//! The caller casts each argument to the parameter types in the returned [`FunctionId`]
//! and then evaluates with [`call`]. Every function here is strict (NULL in, NULL out)
//! except `concat` / `concat_ws`, which skip NULLs. `coalesce`, `nullif`, `greatest` and
//! `least` are not functions but expressions the caller builds over
//! [`crate::types::common_supertype`] and [`crate::ops::compare`].
//!
//! Time functions take the statement's start time from the [`EvalContext`], so one
//! statement sees one `now()` and tests and the simulator can fix the clock.

use crate::builtins;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::types::{implicit_castable, DataType};

/// What a function call may read besides its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalContext {
    /// The statement's start, µs since 2000-01-01 UTC: `now()`, `current_timestamp`.
    pub statement_timestamp: i64,
}

/// A built-in function (one name; overloads differ by [`FunctionId::params`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    Length,
    Lower,
    Upper,
    Substr,
    Btrim,
    Ltrim,
    Rtrim,
    Concat,
    ConcatWs,
    Strpos,
    Replace,
    Left,
    Right,
    Repeat,
    Reverse,
    Lpad,
    Rpad,
    Initcap,
    Abs,
    Round,
    Trunc,
    Floor,
    Ceil,
    Mod,
    Power,
    Sqrt,
    Exp,
    Ln,
    Log,
    Sign,
    Pi,
    Now,
    DateTrunc,
    DatePart,
    Extract,
    CurrentDate,
    LocalTimestamp,
    OctetLength,
    Md5,
    SplitPart,
    ToTimestamp,
    Chr,
    Ascii,
    StartsWith,
    /// A system function ([`crate::pg_catalog::functions`]), evaluated by the executor
    /// with the statement's transaction.
    System(crate::pg_catalog::functions::SysFunc),
}

impl Func {
    /// Whether a NULL argument makes the call NULL (all but concat, concat_ws and some
    /// system functions).
    /// See [`crate::pg_catalog::functions::SysFunc::is_volatile`].
    pub fn is_volatile(&self) -> bool {
        matches!(self, Func::System(f) if f.is_volatile())
    }

    pub fn is_strict(&self) -> bool {
        match self {
            Func::Concat | Func::ConcatWs => false,
            Func::System(f) => f.is_strict(),
            _ => true,
        }
    }
}

/// A resolved overload: the function and the types to cast the arguments to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FunctionId {
    pub func: Func,
    pub params: Vec<DataType>,
}

/// The candidate signatures of a function name (lower case), `(func, params, result)`.
/// `None` params means "any arguments" (concat).
pub fn signatures(name: &str) -> Vec<(Func, Option<Vec<DataType>>, DataType)> {
    use DataType::*;
    const N: DataType = DataType::NUMERIC;
    let s = |f: Func, p: &[DataType], r: DataType| (f, Some(p.to_vec()), r);
    let numeric_unary = |f: Func, ints: bool| {
        let mut v = vec![s(f, &[Float8], Float8), s(f, &[N], N)];
        if ints {
            v.splice(
                0..0,
                [
                    s(f, &[Int2], Int2),
                    s(f, &[Int4], Int4),
                    s(f, &[Int8], Int8),
                    s(f, &[Float4], Float4),
                ],
            );
        }
        v
    };
    match name {
        "length" | "char_length" | "character_length" => vec![
            s(Func::Length, &[Text], Int4),
            s(Func::Length, &[Bytea], Int4),
        ],
        "lower" => vec![s(Func::Lower, &[Text], Text)],
        "upper" => vec![s(Func::Upper, &[Text], Text)],
        "substr" | "substring" => vec![
            s(Func::Substr, &[Text, Int4], Text),
            s(Func::Substr, &[Text, Int4, Int4], Text),
        ],
        "btrim" | "trim" => vec![
            s(Func::Btrim, &[Text], Text),
            s(Func::Btrim, &[Text, Text], Text),
        ],
        "ltrim" => vec![
            s(Func::Ltrim, &[Text], Text),
            s(Func::Ltrim, &[Text, Text], Text),
        ],
        "rtrim" => vec![
            s(Func::Rtrim, &[Text], Text),
            s(Func::Rtrim, &[Text, Text], Text),
        ],
        "concat" => vec![(Func::Concat, None, Text)],
        "concat_ws" => vec![(Func::ConcatWs, None, Text)],
        "strpos" | "position" => vec![s(Func::Strpos, &[Text, Text], Int4)],
        "replace" => vec![s(Func::Replace, &[Text, Text, Text], Text)],
        "left" => vec![s(Func::Left, &[Text, Int4], Text)],
        "right" => vec![s(Func::Right, &[Text, Int4], Text)],
        "repeat" => vec![s(Func::Repeat, &[Text, Int4], Text)],
        "reverse" => vec![s(Func::Reverse, &[Text], Text)],
        "lpad" => vec![
            s(Func::Lpad, &[Text, Int4], Text),
            s(Func::Lpad, &[Text, Int4, Text], Text),
        ],
        "rpad" => vec![
            s(Func::Rpad, &[Text, Int4], Text),
            s(Func::Rpad, &[Text, Int4, Text], Text),
        ],
        "initcap" => vec![s(Func::Initcap, &[Text], Text)],
        "abs" => numeric_unary(Func::Abs, true),
        "round" => [
            numeric_unary(Func::Round, false),
            vec![s(Func::Round, &[N, Int4], N)],
        ]
        .concat(),
        "trunc" => [
            numeric_unary(Func::Trunc, false),
            vec![s(Func::Trunc, &[N, Int4], N)],
        ]
        .concat(),
        "floor" => numeric_unary(Func::Floor, false),
        "ceil" | "ceiling" => numeric_unary(Func::Ceil, false),
        "sign" => numeric_unary(Func::Sign, false),
        "sqrt" => numeric_unary(Func::Sqrt, false),
        "exp" => vec![s(Func::Exp, &[Float8], Float8)],
        "ln" => vec![s(Func::Ln, &[Float8], Float8)],
        "log" | "log10" => vec![s(Func::Log, &[Float8], Float8)],
        "mod" => vec![
            s(Func::Mod, &[Int2, Int2], Int2),
            s(Func::Mod, &[Int4, Int4], Int4),
            s(Func::Mod, &[Int8, Int8], Int8),
            s(Func::Mod, &[N, N], N),
        ],
        "power" | "pow" => vec![s(Func::Power, &[Float8, Float8], Float8)],
        "pi" => vec![s(Func::Pi, &[], Float8)],
        "now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp" => {
            vec![s(Func::Now, &[], TimestampTz)]
        }
        "current_date" => vec![s(Func::CurrentDate, &[], Date)],
        "localtimestamp" => vec![s(Func::LocalTimestamp, &[], Timestamp)],
        "octet_length" => vec![
            s(Func::OctetLength, &[Text], Int4),
            s(Func::OctetLength, &[Bytea], Int4),
        ],
        "md5" => vec![s(Func::Md5, &[Text], Text), s(Func::Md5, &[Bytea], Text)],
        "split_part" => vec![s(Func::SplitPart, &[Text, Text, Int4], Text)],
        "to_timestamp" => vec![s(Func::ToTimestamp, &[Float8], TimestampTz)],
        "chr" => vec![s(Func::Chr, &[Int4], Text)],
        "ascii" => vec![s(Func::Ascii, &[Text], Int4)],
        "starts_with" => vec![s(Func::StartsWith, &[Text, Text], Bool)],
        "date_trunc" => vec![
            s(Func::DateTrunc, &[Text, Timestamp], Timestamp),
            s(Func::DateTrunc, &[Text, TimestampTz], TimestampTz),
        ],
        "date_part" => vec![
            s(Func::DatePart, &[Text, Timestamp], Float8),
            s(Func::DatePart, &[Text, TimestampTz], Float8),
            s(Func::DatePart, &[Text, Date], Float8),
        ],
        "extract" => vec![
            s(Func::Extract, &[Text, Timestamp], N),
            s(Func::Extract, &[Text, TimestampTz], N),
            s(Func::Extract, &[Text, Date], N),
        ],
        _ => vec![],
    }
}

/// Picks the overload of `name` for `args` (see the module doc); returns it and the
/// result type.
pub fn resolve_function(name: &str, args: &[DataType]) -> Result<(FunctionId, DataType), SqlError> {
    let lower = name.to_ascii_lowercase();
    if let Some(r) = crate::pg_catalog::functions::resolve(&lower, args) {
        return r;
    }
    let undefined = || SqlError::UndefinedFunction {
        name: name.to_string(),
        arg_types: args.iter().map(|t| t.to_string()).collect(),
    };
    let mut candidates = Vec::new();
    for (func, params, result) in signatures(&lower) {
        let Some(params) = params else {
            let ok = func != Func::ConcatWs || !args.is_empty();
            if ok {
                let params = args
                    .iter()
                    .map(|t| {
                        if *t == DataType::Unknown {
                            DataType::Text
                        } else {
                            *t
                        }
                    })
                    .collect();
                return Ok((FunctionId { func, params }, result));
            }
            continue;
        };
        if params.len() == args.len()
            && args
                .iter()
                .zip(&params)
                .all(|(a, p)| implicit_castable(a, p))
        {
            candidates.push((func, params, result));
        }
    }
    let score = |params: &[DataType]| {
        let exact = args
            .iter()
            .zip(params)
            .filter(|(a, p)| a.base() == p.base())
            .count();
        let preferred = args
            .iter()
            .zip(params)
            .filter(|(a, p)| a.base() != p.base() && p.is_preferred())
            .count();
        (exact, preferred)
    };
    let best = candidates
        .iter()
        .map(|(_, p, _)| score(p))
        .max()
        .ok_or_else(undefined)?;
    let (func, params, result) = candidates
        .into_iter()
        .find(|(_, p, _)| score(p) == best)
        .ok_or_else(undefined)?;
    Ok((FunctionId { func, params }, result))
}

/// Evaluates a resolved function on arguments already cast to `id.params`.
pub fn call(id: &FunctionId, args: &[Datum], ctx: &EvalContext) -> Result<Datum, SqlError> {
    match id.func {
        Func::Concat => return Ok(builtins::concat(args, &id.params, None)),
        Func::ConcatWs => {
            return Ok(match args.first() {
                Some(Datum::Text(sep)) => builtins::concat(&args[1..], &id.params[1..], Some(sep)),
                _ => Datum::Null,
            })
        }
        Func::Now => return Ok(Datum::TimestampTz(ctx.statement_timestamp)),
        // Time zones other than UTC are refused, so local time is UTC.
        Func::LocalTimestamp => return Ok(Datum::Timestamp(ctx.statement_timestamp)),
        Func::CurrentDate => {
            let days = ctx
                .statement_timestamp
                .div_euclid(crate::datetime::USECS_PER_DAY);
            return Ok(Datum::Date(
                i32::try_from(days).map_err(|_| crate::datetime::date_out_of_range())?,
            ));
        }
        Func::System(_) => {
            return Err(SqlError::internal(
                "system functions are evaluated by the executor",
            ))
        }
        _ => {}
    }
    if args.iter().any(Datum::is_null) {
        return Ok(Datum::Null);
    }
    if args.len() != id.params.len() {
        return Err(SqlError::internal(format!(
            "{:?} called with {} arguments",
            id.func,
            args.len()
        )));
    }
    builtins::eval(id, args)
}

#[cfg(test)]
#[path = "functions_tests.rs"]
mod tests;
