//! `pg_prepared_statements`: the session's named prepared statements, as the wire server
//! reports them (Parse with a name creates one, Close removes it; the protocol's unnamed
//! statement is not listed, as in PostgreSQL). The list is installed for the statement
//! running on this thread, like the session's settings, so the catalog view can read it.

use std::cell::RefCell;

use crate::types::DataType;

/// One named prepared statement.
#[derive(Clone, Debug)]
pub struct PreparedStatement {
    pub name: String,
    pub statement: String,
    /// µs since 2000-01-01 UTC.
    pub prepare_time: i64,
    /// The declared (or cast) type of each parameter; `None` when the client left it open.
    pub parameter_types: Vec<Option<DataType>>,
}

thread_local! {
    static CURRENT: RefCell<Vec<PreparedStatement>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the prepared statements of the session whose statement runs on this thread.
pub(crate) fn with_current<R>(f: impl FnOnce(&[PreparedStatement]) -> R) -> R {
    CURRENT.with(|c| f(&c.borrow()))
}

/// Installs `list` for the statement about to run; returns what was installed before.
pub(crate) fn install(list: Vec<PreparedStatement>) -> Vec<PreparedStatement> {
    CURRENT.with(|c| c.replace(list))
}
