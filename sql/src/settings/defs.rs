//! The configuration parameters FerrisDB knows: PostgreSQL 15's names, defaults,
//! descriptions and the kind of value each takes ([`Kind`]); how values are checked and
//! normalized is in [`super::values`].

/// How a parameter's values are checked and printed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// Milliseconds, written with or without a unit.
    Millis,
    Str,
    Enum(&'static [&'static str]),
    /// A value with its own rule (see [`normalize`]).
    Special,
}

/// Who may change a parameter (`pg_settings.context`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Preset; SET is 55P02.
    Internal,
    User,
}

/// One known parameter.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    /// PostgreSQL's spelling (`DateStyle`), which SHOW uses as its column name.
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    pub context: Context,
    pub category: &'static str,
    pub description: &'static str,
}

const LOCALE: &str = "Client Connection Defaults / Locale and Formatting";
const STATEMENT: &str = "Client Connection Defaults / Statement Behavior";
const PRESET: &str = "Preset Options";
const COMPAT: &str = "Version and Platform Compatibility / Previous PostgreSQL Versions";
const ISOLATION: &[&str] = &[
    "serializable",
    "repeatable read",
    "read committed",
    "read uncommitted",
];

const fn def(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    context: Context,
    category: &'static str,
    description: &'static str,
) -> Def {
    Def {
        name,
        default,
        kind,
        context,
        category,
        description,
    }
}

use Context::{Internal, User};

/// Every known parameter, in name order (case-insensitive), as SHOW ALL lists them.
pub static DEFS: &[Def] = &[
    def(
        "application_name",
        "",
        Kind::Str,
        User,
        "Reporting and Logging / What to Log",
        "Sets the application name to be reported in statistics and logs.",
    ),
    def(
        "block_size",
        "8192",
        Kind::Int {
            min: 8192,
            max: 8192,
        },
        Internal,
        PRESET,
        "Shows the size of a disk block.",
    ),
    def(
        "bytea_output",
        "hex",
        Kind::Special,
        User,
        STATEMENT,
        "Sets the output format for bytea.",
    ),
    def(
        "check_function_bodies",
        "on",
        Kind::Bool,
        User,
        STATEMENT,
        "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE.",
    ),
    def(
        "client_encoding",
        "UTF8",
        Kind::Special,
        User,
        LOCALE,
        "Sets the client's character set encoding.",
    ),
    def(
        "client_min_messages",
        "notice",
        Kind::Enum(&[
            "debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error",
        ]),
        User,
        STATEMENT,
        "Sets the message levels that are sent to the client.",
    ),
    def(
        "DateStyle",
        "ISO, MDY",
        Kind::Special,
        User,
        LOCALE,
        "Sets the display format for date and time values.",
    ),
    def(
        "default_table_access_method",
        "heap",
        Kind::Enum(&["heap"]),
        User,
        STATEMENT,
        "Sets the default table access method for new tables.",
    ),
    def(
        "default_tablespace",
        "",
        Kind::Enum(&["", "pg_default"]),
        User,
        STATEMENT,
        "Sets the default tablespace to create tables and indexes in.",
    ),
    def(
        "default_transaction_isolation",
        "serializable",
        Kind::Enum(ISOLATION),
        User,
        STATEMENT,
        "Sets the transaction isolation level of each new transaction.",
    ),
    def(
        "default_transaction_read_only",
        "off",
        Kind::Bool,
        User,
        STATEMENT,
        "Sets the default read-only status of new transactions.",
    ),
    def(
        "escape_string_warning",
        "on",
        Kind::Bool,
        User,
        COMPAT,
        "Warn about backslash escapes in ordinary string literals.",
    ),
    def(
        "extra_float_digits",
        "1",
        Kind::Int { min: -15, max: 3 },
        User,
        LOCALE,
        "Sets the number of digits displayed for floating-point values.",
    ),
    def(
        "idle_in_transaction_session_timeout",
        "0",
        Kind::Millis,
        User,
        STATEMENT,
        "Sets the maximum allowed idle time between queries, when in a transaction.",
    ),
    def(
        "in_hot_standby",
        "off",
        Kind::Bool,
        Internal,
        PRESET,
        "Shows whether hot standby is currently active.",
    ),
    def(
        "integer_datetimes",
        "on",
        Kind::Bool,
        Internal,
        PRESET,
        "Shows whether datetimes are integer based.",
    ),
    def(
        "IntervalStyle",
        "postgres",
        Kind::Special,
        User,
        LOCALE,
        "Sets the display format for interval values.",
    ),
    def(
        "is_superuser",
        "on",
        Kind::Bool,
        Internal,
        PRESET,
        "Shows whether the current user is a superuser.",
    ),
    def(
        "lc_collate",
        "C",
        Kind::Str,
        Internal,
        PRESET,
        "Shows the collation order locale.",
    ),
    def(
        "lc_ctype",
        "C",
        Kind::Str,
        Internal,
        PRESET,
        "Shows the character classification and case conversion locale.",
    ),
    def(
        "lc_messages",
        "C",
        Kind::Str,
        User,
        LOCALE,
        "Sets the language in which messages are displayed.",
    ),
    def(
        "lc_monetary",
        "C",
        Kind::Str,
        User,
        LOCALE,
        "Sets the locale for formatting monetary amounts.",
    ),
    def(
        "lc_numeric",
        "C",
        Kind::Str,
        User,
        LOCALE,
        "Sets the locale for formatting numbers.",
    ),
    def(
        "lc_time",
        "C",
        Kind::Str,
        User,
        LOCALE,
        "Sets the locale for formatting date and time values.",
    ),
    def(
        "lock_timeout",
        "0",
        Kind::Millis,
        User,
        STATEMENT,
        "Sets the maximum allowed duration of any wait for a lock.",
    ),
    def(
        "max_identifier_length",
        "63",
        Kind::Int { min: 63, max: 63 },
        Internal,
        PRESET,
        "Shows the maximum identifier length.",
    ),
    def(
        "row_security",
        "on",
        Kind::Bool,
        User,
        STATEMENT,
        "Enable row security.",
    ),
    def(
        "search_path",
        "\"$user\", public",
        Kind::Str,
        User,
        STATEMENT,
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    def(
        "server_encoding",
        "UTF8",
        Kind::Str,
        Internal,
        PRESET,
        "Shows the server (database) character set encoding.",
    ),
    def(
        "server_version",
        SERVER_VERSION,
        Kind::Str,
        Internal,
        PRESET,
        "Shows the server version.",
    ),
    def(
        "server_version_num",
        SERVER_VERSION_NUM,
        Kind::Int {
            min: 150000,
            max: 150000,
        },
        Internal,
        PRESET,
        "Shows the server version as an integer.",
    ),
    def(
        "standard_conforming_strings",
        "on",
        Kind::Special,
        User,
        COMPAT,
        "Causes '...' strings to treat backslashes literally.",
    ),
    def(
        "statement_timeout",
        "0",
        Kind::Millis,
        User,
        STATEMENT,
        "Sets the maximum allowed duration of any statement.",
    ),
    def(
        "synchronous_commit",
        "on",
        Kind::Enum(&["local", "remote_write", "remote_apply", "on", "off"]),
        User,
        "Write-Ahead Log / Settings",
        "Sets the current transaction's synchronization level.",
    ),
    def(
        "TimeZone",
        "UTC",
        Kind::Special,
        User,
        LOCALE,
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    def(
        "transaction_isolation",
        "serializable",
        Kind::Enum(ISOLATION),
        User,
        STATEMENT,
        "Sets the current transaction's isolation level.",
    ),
    def(
        "transaction_read_only",
        "off",
        Kind::Bool,
        User,
        STATEMENT,
        "Sets the current transaction's read-only status.",
    ),
    def(
        "work_mem",
        "4MB",
        Kind::Str,
        User,
        "Resource Usage / Memory",
        "Sets the maximum memory to be used for query workspaces.",
    ),
    def(
        "xmloption",
        "content",
        Kind::Enum(&["content", "document"]),
        User,
        STATEMENT,
        "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments.",
    ),
];

/// The `server_version` FerrisDB reports (the pgserver's ParameterStatus says the same).
pub const SERVER_VERSION: &str = "15.0";
/// `server_version_num` for [`SERVER_VERSION`].
pub const SERVER_VERSION_NUM: &str = "150000";

/// The definition of `name` (case-insensitive).
pub fn find(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}
