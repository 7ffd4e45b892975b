//! [`SqlError`]: every error the SQL layer raises, with PostgreSQL's SQLSTATE and wording.
//!
//! FerrisDB promises PostgreSQL 15's error codes and messages, because clients (drivers,
//! ORMs, psql, retry loops) branch on them. Two rules keep that promise checkable:
//!
//! - **One place decides the code.** [`SqlError::sqlstate`] is the only mapping from an
//!   error to its five-character SQLSTATE. The pgserver crate puts it in the `C` field of
//!   the ErrorResponse, and the sqllogictest runner compares it with the expected code;
//!   neither keeps a table of its own, so they cannot disagree.
//! - **The message is PostgreSQL's.** Each variant's `Display` is the primary message text
//!   PostgreSQL prints (`invalid input syntax for type integer: "abc"`, `integer out of
//!   range`, `division by zero`, ...). Type names inside messages are the `format_type`
//!   names of [`crate::types::DataType`]'s `Display` (`character varying(3)`, not `varchar`).
//!   Extra detail goes to [`SqlError::detail`], as PostgreSQL's `DETAIL:` line.
//!
//! Variants are structured (they keep the name, type or input that went wrong) rather than
//! a code plus a string, so callers can match on them and tests can assert them exactly.
//! [`SqlError::is_retryable`] marks the errors a client may retry by re-running its
//! transaction (serialization failures).

use thiserror::Error;

/// An error of the SQL layer. `Display` is PostgreSQL's primary message.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SqlError {
    /// 42601. `position` is the 1-based character offset into the statement, when known.
    #[error("{message}")]
    Syntax {
        message: String,
        position: Option<u32>,
    },
    /// 42P01
    #[error("relation \"{name}\" does not exist")]
    UndefinedTable { name: String },
    /// 42P01, a qualifier naming no table of the query.
    #[error("missing FROM-clause entry for table \"{table}\"")]
    MissingFromEntry { table: String },
    /// 42P01 (42704 for an index), e.g. DROP TABLE of a missing table.
    #[error("{kind} \"{name}\" does not exist")]
    UndefinedTableKind { kind: String, name: String },
    /// 42P16, e.g. "multiple primary keys for table \"t\" are not allowed".
    #[error("{message}")]
    InvalidTableDefinition { message: String },
    /// 2BP01; `detail` lists the dependent objects ("view v2 depends on view v1").
    #[error("{message}")]
    DependentObjects {
        message: String,
        detail: Option<String>,
    },
    /// 42703, a USING column one side of the join lacks.
    #[error("column \"{name}\" specified in USING clause does not exist in {side} table")]
    UsingColumnMissing { name: String, side: String },
    /// 42703
    #[error("column \"{name}\" does not exist")]
    UndefinedColumn { name: String },
    /// 42703, a PRIMARY KEY / UNIQUE constraint naming a missing column.
    #[error("column \"{name}\" named in key does not exist")]
    KeyColumnMissing { name: String },
    /// 42883: no function of that name takes these argument types.
    #[error("function {name}({}) does not exist", arg_types.join(", "))]
    UndefinedFunction {
        name: String,
        arg_types: Vec<String>,
    },
    /// 42883: no operator of that name takes these operand types. `left` is `None` for a
    /// prefix operator.
    #[error("operator does not exist: {}{op} {right}", left.as_ref().map(|l| format!("{l} ")).unwrap_or_default())]
    UndefinedOperator {
        op: String,
        left: Option<String>,
        right: String,
    },
    /// 42P02: `$n` beyond the parameters given.
    #[error("there is no parameter ${index}")]
    UndefinedParameter { index: usize },
    /// 42P04
    #[error("database \"{name}\" already exists")]
    DuplicateDatabase { name: String },
    /// 3D000
    #[error("database \"{name}\" does not exist")]
    UndefinedDatabase { name: String },
    /// 55006, e.g. "cannot drop the currently open database".
    #[error("{message}")]
    ObjectInUse { message: String },
    /// 42P07
    #[error("relation \"{name}\" already exists")]
    DuplicateTable { name: String },
    /// 42701
    #[error("column \"{name}\" specified more than once")]
    DuplicateColumn { name: String },
    /// 42710, e.g. `kind` = "index" or "constraint".
    #[error("{kind} \"{name}\" already exists")]
    DuplicateObject { kind: String, name: String },
    /// 42702
    #[error("column reference \"{name}\" is ambiguous")]
    AmbiguousColumn { name: String },
    /// 42725: `'abs'::regproc` when several functions have the name.
    #[error("more than one function named \"{name}\"")]
    AmbiguousFunction { name: String },
    /// 42804, e.g. "UNION types integer and text cannot be matched".
    #[error("{message}")]
    DatatypeMismatch { message: String },
    /// 42846
    #[error("cannot cast type {from} to {to}")]
    CannotCoerce { from: String, to: String },
    /// 22P02
    #[error("invalid input syntax for type {type_name}: \"{input}\"")]
    InvalidTextRepresentation { type_name: String, input: String },
    /// 22003: an arithmetic or cast result outside the type, "integer out of range".
    #[error("{type_name} out of range")]
    ValueOutOfRange { type_name: String },
    /// 22003: a text input outside the type.
    #[error("value \"{input}\" is out of range for type {type_name}")]
    InputOutOfRange { input: String, type_name: String },
    /// 22003: a float text input outside the type (PostgreSQL words this one differently).
    #[error("\"{input}\" is out of range for type {type_name}")]
    FloatInputOutOfRange { input: String, type_name: String },
    /// 22003: a value that does not fit numeric(precision, scale).
    #[error("numeric field overflow")]
    NumericFieldOverflow { precision: u32, scale: u32 },
    /// 22003: a float result too large (`overflow`) or too close to zero (`underflow`).
    #[error("value out of range: {0}")]
    FloatOutOfRange(&'static str),
    /// 22012
    #[error("division by zero")]
    DivisionByZero,
    /// 2201E, e.g. "cannot take logarithm of zero".
    #[error("{0}")]
    InvalidLogArgument(&'static str),
    /// 2201F, e.g. "cannot take square root of a negative number".
    #[error("{0}")]
    InvalidPowerArgument(&'static str),
    /// 22025, e.g. "LIKE pattern must not end with escape character".
    #[error("{message}")]
    InvalidEscapeSequence { message: String },
    /// 2201B
    #[error("invalid regular expression: {message}")]
    InvalidRegex { message: String },
    /// 22011, e.g. "negative substring length not allowed".
    #[error("{message}")]
    SubstringError { message: String },
    /// 22001
    #[error("value too long for type {type_name}")]
    StringTruncation { type_name: String },
    /// 22007
    #[error("invalid input syntax for type {type_name}: \"{input}\"")]
    InvalidDatetimeFormat { type_name: String, input: String },
    /// 22008
    #[error("date/time field value out of range: \"{input}\"")]
    DatetimeFieldOverflow { input: String },
    /// 22008, a datetime computation leaving the representable range.
    #[error("{type_name} out of range")]
    DatetimeOutOfRange { type_name: String },
    /// 23505
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation { constraint: String },
    /// 23502: ALTER TABLE making a column NOT NULL (or a key) over existing NULLs.
    #[error("column \"{column}\" of relation \"{table}\" contains null values")]
    NullsInColumn { table: String, column: String },
    /// 23514: ALTER TABLE ADD CHECK over rows that fail it.
    #[error("check constraint \"{constraint}\" of relation \"{table}\" is violated by some row")]
    CheckViolatedByRow { table: String, constraint: String },
    /// 23505: a unique index built over existing rows that repeat a key; `detail` is
    /// "Key (a)=(1) is duplicated."
    #[error("could not create unique index \"{index}\"")]
    UniqueIndexBuild { index: String, detail: String },
    /// 42701
    #[error("column \"{column}\" of relation \"{table}\" already exists")]
    ColumnExists { table: String, column: String },
    /// 23502
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NotNullViolation { table: String, column: String },
    /// 23514
    #[error("new row for relation \"{table}\" violates check constraint \"{constraint}\"")]
    CheckViolation { table: String, constraint: String },
    /// 23503
    #[error(
        "insert or update on table \"{table}\" violates foreign key constraint \"{constraint}\""
    )]
    ForeignKeyViolation { table: String, constraint: String },
    /// 25P01, e.g. "SAVEPOINT can only be used in transaction blocks".
    #[error("{message}")]
    NoActiveTransaction { message: String },
    /// 3B001
    #[error("savepoint \"{name}\" does not exist")]
    InvalidSavepoint { name: String },
    /// 25P02
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    /// Serialization failure (SQLSTATE 40001). `conflict_key` is the first key of the read
    /// range another transaction wrote, when the KV layer reported one; the session turns
    /// it into a table name.
    #[error("could not serialize access due to {reason}")]
    SerializationFailure {
        reason: String,
        conflict_key: Option<Vec<u8>>,
    },
    /// 0A000
    #[error("{feature}")]
    FeatureNotSupported { feature: String },
    /// 55P03: a table is being rebuilt by a batched schema change, and the statement
    /// cannot wait for it (it runs in a transaction block, whose snapshot would never see
    /// the change end).
    #[error("could not obtain lock on relation \"{name}\"")]
    RelationLocked { name: String },
    /// 54000: the statement's (or block's) writes exceed the KV transaction limit.
    #[error("transaction is too large: {size} bytes of writes exceed the limit of {max} bytes")]
    TransactionTooLarge { size: usize, max: usize },
    /// 54001: an expression nested beyond what the parser, binder and executor recurse.
    #[error("stack depth limit exceeded")]
    StackDepthExceeded,
    /// 57014
    #[error("canceling statement due to user request")]
    QueryCanceled,
    /// 57014: the statement ran longer than `statement_timeout`.
    #[error("canceling statement due to statement timeout")]
    StatementTimeout,
    /// 57014: the client ended COPY FROM STDIN with CopyFail.
    #[error("COPY from stdin failed: {message}")]
    CopyFailed { message: String },
    /// 22021, e.g. "invalid byte sequence for encoding \"UTF8\": 0xff".
    #[error("{message}")]
    CharacterNotInRepertoire { message: String },
    /// 22P04, e.g. "missing data for column \"b\"" or "unterminated CSV quoted field".
    #[error("{message}")]
    BadCopyFileFormat { message: String },
    /// 54000, e.g. a transaction beyond the KV layer's size limit.
    #[error("{message}")]
    ProgramLimitExceeded {
        message: String,
        hint: Option<String>,
    },
    /// Any error with PostgreSQL's `CONTEXT:` line (where in a COPY stream it happened)
    /// and, optionally, a `DETAIL:` that replaces the inner error's. Code, message and
    /// hint are the inner error's.
    #[error("{error}")]
    WithContext {
        error: Box<SqlError>,
        context: String,
        detail: Option<String>,
    },
    /// 22023
    #[error("{message}")]
    InvalidParameterValue { message: String },
    /// 21000
    #[error("{message}")]
    CardinalityViolation { message: String },
    /// 42803
    #[error("column \"{column}\" must appear in the GROUP BY clause or be used in an aggregate function")]
    GroupingError { column: String },
    /// 42803, e.g. "aggregate functions are not allowed in WHERE".
    #[error("{message}")]
    AggregateMisuse { message: String },
    /// 42704, e.g. `kind` = "type".
    #[error("{kind} \"{name}\" does not exist")]
    UndefinedObject { kind: String, name: String },
    /// 42704: SET, SHOW or current_setting of a parameter that does not exist.
    #[error("unrecognized configuration parameter \"{name}\"")]
    UnrecognizedParameter { name: String },
    /// 55P02: SET of a preset parameter (server_version, ...).
    #[error("parameter \"{name}\" cannot be changed")]
    CantChangeParameter { name: String },
    /// 42809, e.g. "\"v\" is not a table".
    #[error("{message}")]
    WrongObjectType { message: String },
    /// 42P10, e.g. "ORDER BY position 3 is not in select list".
    #[error("{message}")]
    InvalidColumnReference { message: String },
    /// 53200: an operator (sort, hash table) needed more memory than the statement may use.
    #[error("out of memory")]
    OutOfMemory { detail: String },
    /// 25001, e.g. a nested BEGIN is a warning in PostgreSQL; used for states it refuses.
    #[error("{message}")]
    InvalidTransactionState { message: String },
    /// XX001: stored bytes that do not decode (a key or row value).
    #[error("could not decode stored {what} at byte {offset}: {reason}")]
    DataCorrupted {
        what: &'static str,
        offset: usize,
        reason: String,
    },
    /// XX000: a bug or an invariant broken; never the user's fault.
    #[error("{message}")]
    Internal { message: String },
    /// 42501, e.g. "permission denied to create role".
    #[error("{message}")]
    InsufficientPrivilege { message: String },
    /// 34000: FETCH or CLOSE of a cursor that is not open.
    #[error("cursor \"{name}\" does not exist")]
    InvalidCursorName { name: String },
    /// 42P03: DECLARE of a name already open.
    #[error("cursor \"{name}\" already exists")]
    DuplicateCursor { name: String },
    /// 2200H: nextval past a sequence's bound without CYCLE.
    #[error("nextval: reached {which} value of sequence \"{name}\" ({bound})")]
    SequenceLimit {
        which: &'static str,
        name: String,
        bound: i64,
    },
    /// 22003 with PostgreSQL's own wording (`setval: value 0 is out of bounds ...`).
    #[error("{message}")]
    OutOfBounds { message: String },
    /// 55000: an object is not in the state the statement needs (`currval` before any
    /// `nextval` of the session, for instance).
    #[error("{message}")]
    NotInPrerequisiteState { message: String },
    /// 08006: the client went away while the statement was sending it rows.
    #[error("{message}")]
    ConnectionFailure { message: String },
}

impl SqlError {
    /// The SQLSTATE of this error. The single place codes are decided (see the module doc).
    pub fn sqlstate(&self) -> &'static str {
        use SqlError::*;
        match self {
            Syntax { .. } => "42601",
            UndefinedTableKind { kind, .. } if kind == "index" => "42704",
            UndefinedTable { .. } | MissingFromEntry { .. } | UndefinedTableKind { .. } => "42P01",
            InvalidTableDefinition { .. } => "42P16",
            DependentObjects { .. } => "2BP01",
            UndefinedColumn { .. } | UsingColumnMissing { .. } | KeyColumnMissing { .. } => "42703",
            UndefinedFunction { .. } | UndefinedOperator { .. } => "42883",
            UndefinedParameter { .. } => "42P02",
            DuplicateTable { .. } => "42P07",
            DuplicateDatabase { .. } => "42P04",
            UndefinedDatabase { .. } => "3D000",
            ObjectInUse { .. } => "55006",
            DuplicateColumn { .. } => "42701",
            DuplicateObject { .. } => "42710",
            AmbiguousColumn { .. } => "42702",
            AmbiguousFunction { .. } => "42725",
            DatatypeMismatch { .. } => "42804",
            CannotCoerce { .. } => "42846",
            InvalidTextRepresentation { .. } => "22P02",
            ValueOutOfRange { .. }
            | InputOutOfRange { .. }
            | FloatInputOutOfRange { .. }
            | NumericFieldOverflow { .. }
            | FloatOutOfRange(_) => "22003",
            DivisionByZero => "22012",
            InvalidLogArgument(_) => "2201E",
            InvalidPowerArgument(_) => "2201F",
            StringTruncation { .. } => "22001",
            SubstringError { .. } => "22011",
            InvalidRegex { .. } => "2201B",
            InvalidEscapeSequence { .. } => "22025",
            InvalidDatetimeFormat { .. } => "22007",
            DatetimeFieldOverflow { .. } | DatetimeOutOfRange { .. } => "22008",
            UniqueViolation { .. } | UniqueIndexBuild { .. } => "23505",
            NotNullViolation { .. } | NullsInColumn { .. } => "23502",
            CheckViolation { .. } | CheckViolatedByRow { .. } => "23514",
            ColumnExists { .. } => "42701",
            ForeignKeyViolation { .. } => "23503",
            InFailedTransaction => "25P02",
            NoActiveTransaction { .. } => "25P01",
            InvalidSavepoint { .. } => "3B001",
            SerializationFailure { .. } => "40001",
            FeatureNotSupported { .. } => "0A000",
            StackDepthExceeded => "54001",
            TransactionTooLarge { .. } => "54000",
            RelationLocked { .. } => "55P03",
            QueryCanceled | StatementTimeout | CopyFailed { .. } => "57014",
            BadCopyFileFormat { .. } => "22P04",
            CharacterNotInRepertoire { .. } => "22021",
            ProgramLimitExceeded { .. } => "54000",
            WithContext { error, .. } => error.sqlstate(),
            InvalidParameterValue { .. } => "22023",
            CardinalityViolation { .. } => "21000",
            GroupingError { .. } | AggregateMisuse { .. } => "42803",
            UndefinedObject { .. } | UnrecognizedParameter { .. } => "42704",
            CantChangeParameter { .. } => "55P02",
            WrongObjectType { .. } => "42809",
            InvalidColumnReference { .. } => "42P10",
            OutOfMemory { .. } => "53200",
            InvalidTransactionState { .. } => "25001",
            DataCorrupted { .. } => "XX001",
            Internal { .. } => "XX000",
            InsufficientPrivilege { .. } => "42501",
            InvalidCursorName { .. } => "34000",
            SequenceLimit { .. } => "2200H",
            OutOfBounds { .. } => "22003",
            NotInPrerequisiteState { .. } => "55000",
            DuplicateCursor { .. } => "42P03",
            ConnectionFailure { .. } => "08006",
        }
    }

    /// PostgreSQL's `DETAIL:` line, where it prints one.
    pub fn detail(&self) -> Option<String> {
        match self {
            SqlError::OutOfMemory { detail } => Some(detail.clone()),
            SqlError::DependentObjects { detail, .. } => detail.clone(),
            SqlError::UniqueIndexBuild { detail, .. } => Some(detail.clone()),
            SqlError::WithContext { error, detail, .. } => {
                detail.clone().or_else(|| error.detail())
            }
            SqlError::NumericFieldOverflow { precision, scale } => {
                let int_digits = precision.saturating_sub(*scale);
                Some(if int_digits == 0 {
                    format!("A field with precision {precision}, scale {scale} must round to an absolute value less than 1.")
                } else {
                    format!("A field with precision {precision}, scale {scale} must round to an absolute value less than 10^{int_digits}.")
                })
            }
            _ => None,
        }
    }

    /// PostgreSQL's `CONTEXT:` line, where it prints one (COPY: `COPY t, line 3`).
    pub fn context(&self) -> Option<&str> {
        match self {
            SqlError::WithContext { context, .. } if !context.is_empty() => Some(context),
            _ => None,
        }
    }

    /// PostgreSQL's `HINT:` line, where it prints one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            SqlError::WithContext { error, .. } => error.hint(),
            SqlError::ProgramLimitExceeded { hint, .. } => hint.as_deref(),
            SqlError::UndefinedFunction { .. } => Some(
                "No function matches the given name and argument types. You might need to add explicit type casts.",
            ),
            SqlError::UndefinedOperator { .. } => Some(
                "No operator matches the given name and argument types. You might need to add explicit type casts.",
            ),
            SqlError::DependentObjects {
                detail: Some(_), ..
            } => Some("Use DROP ... CASCADE to drop the dependent objects too."),
            SqlError::TransactionTooLarge { .. } => Some(
                "Write fewer rows per transaction. Outside a transaction block, COPY commits in batches, and CREATE INDEX, ADD UNIQUE and ADD PRIMARY KEY build in batches.",
            ),
            SqlError::StackDepthExceeded => Some(
                "Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after ensuring the platform's stack depth limit is adequate.",
            ),
            _ => None,
        }
    }

    /// The statement position of a syntax error, 1-based, when known.
    pub fn position(&self) -> Option<u32> {
        match self {
            SqlError::Syntax { position, .. } => *position,
            _ => None,
        }
    }

    /// Whether re-running the whole transaction may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SqlError::WithContext { error, .. } => error.is_retryable(),
            e => matches!(e, SqlError::SerializationFailure { .. }),
        }
    }

    /// `invalid input syntax for type T: "input"` (22P02).
    pub fn invalid_text(type_name: impl ToString, input: &str) -> SqlError {
        SqlError::InvalidTextRepresentation {
            type_name: type_name.to_string(),
            input: input.to_string(),
        }
    }

    /// `T out of range` (22003).
    pub fn out_of_range(type_name: impl ToString) -> SqlError {
        SqlError::ValueOutOfRange {
            type_name: type_name.to_string(),
        }
    }

    /// An unsupported feature (0A000) with PostgreSQL-style wording.
    pub fn unsupported(feature: impl ToString) -> SqlError {
        SqlError::FeatureNotSupported {
            feature: feature.to_string(),
        }
    }

    /// An internal error (XX000): a broken invariant, reported rather than panicking.
    pub fn internal(message: impl ToString) -> SqlError {
        SqlError::Internal {
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes_match_postgres() {
        let e = SqlError::invalid_text("integer", "abc");
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type integer: \"abc\""
        );
        assert_eq!(e.sqlstate(), "22P02");
        let e = SqlError::out_of_range("integer");
        assert_eq!(
            (e.to_string().as_str(), e.sqlstate()),
            ("integer out of range", "22003")
        );
        let e = SqlError::UndefinedFunction {
            name: "lower".into(),
            arg_types: vec!["integer".into()],
        };
        assert_eq!(e.to_string(), "function lower(integer) does not exist");
        assert_eq!(e.sqlstate(), "42883");
        let e = SqlError::UndefinedOperator {
            op: "+".into(),
            left: Some("integer".into()),
            right: "boolean".into(),
        };
        assert_eq!(e.to_string(), "operator does not exist: integer + boolean");
        let e = SqlError::UndefinedOperator {
            op: "-".into(),
            left: None,
            right: "text".into(),
        };
        assert_eq!(e.to_string(), "operator does not exist: - text");
        let e = SqlError::NumericFieldOverflow {
            precision: 5,
            scale: 2,
        };
        assert_eq!(
            e.detail().as_deref(),
            Some(
                "A field with precision 5, scale 2 must round to an absolute value less than 10^3."
            )
        );
        assert_eq!(SqlError::DivisionByZero.sqlstate(), "22012");
        assert!(SqlError::SerializationFailure {
            reason: "concurrent update".into(),
            conflict_key: None,
        }
        .is_retryable());
        assert!(!SqlError::DivisionByZero.is_retryable());
    }
}
