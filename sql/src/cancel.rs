//! Cooperative cancellation: a client's CancelRequest and `statement_timeout`.
//!
//! A running statement is never interrupted from outside; it stops itself at its next
//! [`check`], which the executor calls where it loops (every scan step, every nested-loop
//! join candidate, every `generate_series` row, every COPY row). A check that finds the
//! session's flag raised fails with 57014 `canceling statement due to user request`; one
//! past the statement's deadline fails with 57014 `canceling statement due to statement
//! timeout`. Both unwind through the ordinary error path, so an autocommit statement's
//! transaction is abandoned and a block becomes failed, exactly as for any other error.
//!
//! Design choice: **a thread-local scope instead of a parameter.** The session installs
//! its flag and the statement's deadline with [`scope`] around the statement (on the
//! thread the statement runs on); the operators reach them through [`check`] without a
//! new field threaded through every constructor. Outside any scope `check` always passes.
//!
//! Costs: the flag is one relaxed atomic load; the clock is read only every
//! [`CLOCK_EVERY`] checks, so a deadline is noticed within microseconds of work, not
//! nanoseconds, and a statement pays for `Instant::now` a few times per thousand rows.
//!
//! Invariants: a cancel raised while the session is idle is forgotten when its next
//! statement starts ([`CancelHandle::reset`] by the session), as PostgreSQL ignores a
//! cancel that arrives between commands; a wrong key never reaches a handle (the wire
//! server only hands out the handle to a matching key).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::error::SqlError;

/// How many checks pass between two readings of the clock.
const CLOCK_EVERY: u32 = 256;

/// Raises the cancel flag of one session; cheap to clone, safe to use from any thread.
#[derive(Clone, Debug, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
}

impl CancelHandle {
    pub fn new() -> CancelHandle {
        CancelHandle::default()
    }

    /// Asks the session's running statement (if any) to stop with 57014.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether a cancel is pending.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Forgets a pending cancel (a new statement starts).
    pub fn reset(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }
}

struct Active {
    handle: CancelHandle,
    deadline: Option<Instant>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` with `handle` and `deadline` as the ones [`check`] consults on this thread;
/// the previous ones (if any) are restored afterwards.
pub fn scope<R>(handle: &CancelHandle, deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    let new = Active {
        handle: handle.clone(),
        deadline,
    };
    let prev = ACTIVE.with(|a| a.replace(Some(new)));
    struct Restore(Option<Option<Active>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take().flatten();
            ACTIVE.with(|a| *a.borrow_mut() = prev);
        }
    }
    let _restore = Restore(Some(prev));
    f()
}

/// Fails with 57014 when the running statement was cancelled or is past its deadline.
pub fn check() -> Result<(), SqlError> {
    let tick = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    ACTIVE.with(|a| {
        let a = a.borrow();
        let Some(active) = a.as_ref() else {
            return Ok(());
        };
        if active.handle.is_cancelled() {
            return Err(SqlError::QueryCanceled);
        }
        match active.deadline {
            Some(d) if tick.is_multiple_of(CLOCK_EVERY) && Instant::now() >= d => {
                Err(SqlError::StatementTimeout)
            }
            _ => Ok(()),
        }
    })
}

/// Like [`check`], but reads the clock now (at coarse points such as a COPY batch).
pub fn check_now() -> Result<(), SqlError> {
    check()?;
    ACTIVE.with(|a| match a.borrow().as_ref().and_then(|a| a.deadline) {
        Some(d) if Instant::now() >= d => Err(SqlError::StatementTimeout),
        _ => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn checks_pass_outside_a_scope_and_fail_once_cancelled() {
        assert!(check().is_ok());
        let h = CancelHandle::new();
        scope(&h, None, || {
            assert!(check().is_ok());
            h.clone().cancel();
            assert_eq!(check(), Err(SqlError::QueryCanceled));
        });
        // The scope is gone: the raised flag no longer matters here.
        assert!(check().is_ok());
        h.reset();
        scope(&h, None, || assert!(check().is_ok()));
    }

    #[test]
    fn a_past_deadline_is_a_statement_timeout() {
        let h = CancelHandle::new();
        let past = Instant::now() - Duration::from_millis(1);
        scope(&h, Some(past), || {
            assert_eq!(check_now(), Err(SqlError::StatementTimeout));
            let first_failure = (0..CLOCK_EVERY * 2).find_map(|_| check().err());
            assert_eq!(first_failure, Some(SqlError::StatementTimeout));
        });
        let future = Instant::now() + Duration::from_secs(3600);
        scope(&h, Some(future), || assert!(check_now().is_ok()));
    }
}
