//! Statement parameters: `$1 .. $n` bound as typed values, and PostgreSQL's inference of
//! their types from context for Describe.
//!
//! A parameter never goes through text: [`crate::Session::execute_params`] hands the
//! binder `(Datum, DataType)` pairs and `$i` becomes a literal of that value and type,
//! exactly as if a typed constant stood there (a value of type `unknown` is an untyped
//! literal, typed by its context like `'42'`).
//!
//! [`crate::Session::describe`] binds without values: `$i` becomes [`Expr::Param`] of its
//! declared type, or of type `unknown` when the client declared none. PostgreSQL infers
//! an unknown parameter's type from the first place that coerces it (`WHERE id = $1`
//! gives `id`'s type, `INSERT INTO t VALUES ($1)` the column's); here every coercion goes
//! through [`crate::bind::coerce`], which reports an unknown `Param` to [`note_coercion`].
//! Parameters nothing coerced are `text`, as PostgreSQL describes them.
//!
//! Why a scoped thread-local rather than a field of the binder: parameters reach every
//! binder entry point (queries, DML sources, RETURNING, SET, ON CONFLICT) and the free
//! function `coerce`, and statements bind on the thread that runs them. [`with_values`]
//! and [`describing`] install the slot for the duration of one call and restore the
//! previous one after it, so nothing leaks between statements or sessions.

use std::cell::RefCell;

use crate::datum::Datum;
use crate::error::SqlError;
use crate::plan::Expr;
use crate::types::DataType;

/// What `$i` means while a statement binds.
#[derive(Clone, Debug)]
enum Slot {
    /// Executing: the values, one per parameter.
    Values(Vec<(Datum, DataType)>),
    /// Describing: the declared types, widened to the parameters seen; each inferred type
    /// fills in an undeclared one.
    Describe(Vec<Option<DataType>>),
    /// Binding a generic plan ([`crate::plan_cache`]): `$i` is [`Expr::Param`] of the
    /// bound value's type, evaluated when the plan runs.
    Generic(Vec<DataType>),
}

thread_local! {
    static SLOT: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

/// Runs `f` with `$i` bound to `values[i - 1]`.
pub fn with_values<R>(values: &[(Datum, DataType)], f: impl FnOnce() -> R) -> R {
    let saved = SLOT.with(|s| s.replace(Some(Slot::Values(values.to_vec()))));
    let r = f();
    SLOT.with(|s| *s.borrow_mut() = saved);
    r
}

/// Runs `f` binding `$i` as a parameter of type `types[i - 1]`, for a generic plan.
/// Whatever `f` binds never reads the values: they stay out of the plan.
pub fn generic<R>(types: &[DataType], f: impl FnOnce() -> R) -> R {
    let saved = SLOT.with(|s| s.replace(Some(Slot::Generic(types.to_vec()))));
    let r = f();
    SLOT.with(|s| *s.borrow_mut() = saved);
    r
}

/// The value of `$i+1` while a statement runs with values ([`with_values`]): a generic
/// plan's [`Expr::Param`] evaluated.
pub fn value(i: usize) -> Result<Datum, SqlError> {
    SLOT.with(|s| match &*s.borrow() {
        Some(Slot::Values(values)) => values.get(i).map(|(d, _)| d.clone()),
        _ => None,
    })
    .ok_or(SqlError::UndefinedParameter { index: i + 1 })
}

/// The types of the values bound now (`None` outside [`with_values`]).
pub fn value_types() -> Option<Vec<DataType>> {
    SLOT.with(|s| match &*s.borrow() {
        Some(Slot::Values(values)) => Some(values.iter().map(|(_, t)| *t).collect()),
        _ => None,
    })
}

/// Runs `f` in describe mode and returns, with its result, every parameter's type:
/// declared, else inferred, else `text`.
pub fn describing<R>(declared: &[Option<DataType>], f: impl FnOnce() -> R) -> (R, Vec<DataType>) {
    let saved = SLOT.with(|s| s.replace(Some(Slot::Describe(declared.to_vec()))));
    let r = f();
    let slot = SLOT.with(|s| std::mem::replace(&mut *s.borrow_mut(), saved));
    let types = match slot {
        Some(Slot::Describe(types)) => types
            .into_iter()
            .map(|t| match t {
                Some(DataType::Unknown) | None => DataType::Text,
                Some(t) => t,
            })
            .collect(),
        _ => Vec::new(),
    };
    (r, types)
}

/// Binds the placeholder `$n` (sqlparser's text of it).
pub fn bind_placeholder(text: &str) -> Result<(Expr, DataType), SqlError> {
    let index = text
        .strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| SqlError::Syntax {
            message: format!("syntax error at or near \"{text}\""),
            position: None,
        })?;
    let missing = || SqlError::UndefinedParameter { index };
    SLOT.with(|s| match &mut *s.borrow_mut() {
        Some(Slot::Values(values)) => {
            let (d, t) = values.get(index - 1).ok_or_else(missing)?;
            Ok((Expr::Literal(d.clone()), *t))
        }
        Some(Slot::Describe(types)) => {
            if types.len() < index {
                types.resize(index, None);
            }
            let t = types[index - 1].unwrap_or(DataType::Unknown);
            Ok((Expr::Param(index - 1), t))
        }
        Some(Slot::Generic(types)) => {
            let t = *types.get(index - 1).ok_or_else(missing)?;
            Ok((Expr::Param(index - 1), t))
        }
        None => Err(missing()),
    })
}

/// Records that an unknown parameter `e` is coerced to `to` (its inferred type, unless
/// an earlier use already decided it).
pub fn note_coercion(e: &Expr, to: DataType) {
    let Expr::Param(i) = e else { return };
    SLOT.with(|s| {
        if let Some(Slot::Describe(types)) = &mut *s.borrow_mut() {
            if let Some(slot @ (None | Some(DataType::Unknown))) = types.get_mut(*i) {
                *slot = Some(to);
            }
        }
    });
}
