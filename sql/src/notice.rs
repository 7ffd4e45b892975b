//! Notices: the non-error messages a statement sends besides its result, such as
//! `NOTICE: table "t" does not exist, skipping` from `DROP TABLE IF EXISTS t`.
//!
//! Code deep in a statement calls [`emit`]; the session gathers what one statement
//! emitted with [`collect`] and keeps it, tagged with the statement's position in the
//! script, until the wire server takes it ([`crate::Session::take_notices`]) and sends
//! each as a NoticeResponse before that statement's CommandComplete, as PostgreSQL does.
//!
//! Like [`crate::cancel`], the sink is a thread-local scope, so no signature changes to
//! reach the places that notice something. Outside a scope `emit` drops the notice. A
//! statement retried after a KV conflict re-emits; the session keeps only the last
//! attempt's notices ([`truncate`] back to the attempt's start).

use std::cell::RefCell;

/// One notice: PostgreSQL's severity, SQLSTATE and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// `NOTICE` or `WARNING`.
    pub severity: &'static str,
    /// The SQLSTATE: `00000` for a plain notice, `42P07` for "already exists, skipping".
    pub code: &'static str,
    pub message: String,
}

impl Notice {
    /// A `NOTICE` with `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Notice {
        Notice {
            severity: "NOTICE",
            code,
            message: message.into(),
        }
    }
}

thread_local! {
    static SINK: RefCell<Option<Vec<Notice>>> = const { RefCell::new(None) };
}

/// Sends `notice` to the statement running on this thread (dropped outside [`collect`]).
pub fn emit(notice: Notice) {
    tracing::debug!(message = %notice.message, code = notice.code, "notice");
    SINK.with(|s| {
        if let Some(v) = s.borrow_mut().as_mut() {
            v.push(notice);
        }
    });
}

/// Runs `f` and returns what it produced with the notices it emitted.
pub fn collect<R>(f: impl FnOnce() -> R) -> (R, Vec<Notice>) {
    let prev = SINK.with(|s| s.replace(Some(Vec::new())));
    let r = f();
    let mine = SINK.with(|s| s.replace(prev)).unwrap_or_default();
    (r, mine)
}

/// How many notices the current scope holds (the start of a retryable attempt).
pub fn mark() -> usize {
    SINK.with(|s| s.borrow().as_ref().map_or(0, Vec::len))
}

/// Drops the notices emitted after `mark` (an attempt that is being retried).
pub fn truncate(mark: usize) {
    SINK.with(|s| {
        if let Some(v) = s.borrow_mut().as_mut() {
            v.truncate(mark);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_gathers_nested_emits_and_truncate_drops_a_retry() {
        emit(Notice::new("00000", "dropped: no scope"));
        let ((), got) = collect(|| {
            emit(Notice::new("00000", "one"));
            let m = mark();
            emit(Notice::new("00000", "retried"));
            truncate(m);
            emit(Notice::new("42P07", "two"));
        });
        let messages: Vec<&str> = got.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(messages, ["one", "two"]);
        assert_eq!(got[1].code, "42P07");
    }
}
