//! [`PgError`]: everything that can go wrong on a PostgreSQL connection, and the one place
//! where an error becomes an `ErrorResponse`.
//!
//! Errors come from two sources. SQL errors ([`SqlError`]) carry their own SQLSTATE,
//! detail, hint and position, decided in `ferrisdb-sql`; this module only copies them onto
//! the wire. Protocol errors (a malformed message, an unknown portal, a bad bind value) get
//! PostgreSQL's codes for the same situations here.
//!
//! Some errors are *fatal*: PostgreSQL answers them with severity `FATAL` and closes the
//! connection, because after a framing error the byte stream cannot be trusted (where does
//! the next message start?) and after a refused startup there is no session. Everything
//! else is an `ERROR` the connection survives.
//!
//! # ErrorResponse, byte by byte
//!
//! ```text
//!   'E' | int32 length (self included) | { field-type byte | cstring value }* | 0x00
//!   fields sent, in this order:
//!     'S' severity (localized)   'V' severity (never localized)   'C' SQLSTATE
//!     'M' message                'D' detail (optional)             'H' hint (optional)
//!     'P' position, 1-based characters into the query text (optional)
//!     'W' context, e.g. `COPY t, line 3, column b: "x"` (optional)
//! ```

use ferrisdb_sql::SqlError;
use pgwire::messages::response::ErrorResponse;

/// An error on a PostgreSQL connection; see the module doc.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A frame whose length field is negative, too small or above the limit.
    #[error("invalid message length {length} for message type {kind:?}")]
    MessageLength { kind: char, length: i64 },
    /// A message whose body does not match its declared layout.
    #[error("invalid {message} message: {reason}")]
    Malformed {
        message: &'static str,
        reason: &'static str,
    },
    /// A message type byte we do not know, or one not allowed in the current phase.
    #[error("invalid frontend message type {0}")]
    UnexpectedMessage(u8),
    /// A message other than CopyData/CopyDone/CopyFail/Flush/Sync in copy-in mode.
    #[error("unexpected message type 0x{0:02X} during COPY from stdin")]
    UnexpectedDuringCopy(u8),
    /// Protocol major version other than 3.
    #[error("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0")]
    UnsupportedProtocol { major: u16, minor: u16 },
    #[error("invalid byte sequence for encoding \"UTF8\"")]
    InvalidUtf8,
    #[error("invalid value for parameter \"client_encoding\": \"{0}\"")]
    ClientEncoding(String),
    #[error("sorry, too many clients already")]
    TooManyConnections,
    #[error("prepared statement \"{0}\" does not exist")]
    UnknownStatement(String),
    #[error("prepared statement \"{0}\" already exists")]
    DuplicateStatement(String),
    #[error("portal \"{0}\" does not exist")]
    UnknownPortal(String),
    #[error("bind message supplies {given} parameters, but prepared statement \"{statement}\" requires {needed}")]
    ParameterCount {
        statement: String,
        given: usize,
        needed: usize,
    },
    #[error("bind message has {given} parameter formats but {needed} parameters")]
    FormatCount { given: usize, needed: usize },
    #[error("bind message has {given} result formats but query has {needed} columns")]
    ResultFormatCount { given: usize, needed: usize },
    #[error("unsupported format code: {0}")]
    FormatCode(i16),
    #[error("incorrect binary data format in bind parameter {index}")]
    BinaryFormat { index: usize },
    #[error("there is no parameter ${0}")]
    UndefinedParameter(usize),
    #[error("type with OID {0} is not supported")]
    UnsupportedType(u32),
    #[error("cannot insert multiple commands into a prepared statement")]
    MultipleCommands,
    /// Something FerrisDB does not do yet (COPY, function calls, ...).
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// An error already sent to the client (with its own position mapping); the caller
    /// only moves to the error state.
    #[error("error already reported")]
    Reported,
    /// A backend message could not be encoded (e.g. a command tag beyond libpq's limit).
    #[error("could not encode a response: {0}")]
    Encode(String),
    /// 28P01: wrong (or no) password, or a role that cannot log in with one; the same
    /// words whether or not the role exists.
    #[error("password authentication failed for user \"{user}\"")]
    PasswordFailed { user: String },
    /// 28000: an unknown role, a NOLOGIN role, no user name, no rule for the client.
    #[error("{0}")]
    InvalidAuthorization(String),
    /// A SCRAM message the exchange refused.
    #[error(transparent)]
    Scram(#[from] ferrisdb_sql::auth::scram::ScramError),
    /// Another message where a password message was due.
    #[error("expected password response")]
    ExpectedPassword,
    /// A SQL error that ends the startup (a database that does not exist).
    #[error(transparent)]
    Startup(SqlError),
}

impl PgError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            PgError::Sql(e) => e.sqlstate(),
            PgError::MessageLength { .. }
            | PgError::Malformed { .. }
            | PgError::UnexpectedMessage(_)
            | PgError::ParameterCount { .. }
            | PgError::FormatCount { .. }
            | PgError::ResultFormatCount { .. }
            | PgError::UnexpectedDuringCopy(_) => "08P01",
            PgError::UnsupportedProtocol { .. } | PgError::Unsupported(_) => "0A000",
            PgError::FormatCode(_) => "22023",
            PgError::InvalidUtf8 => "22021",
            PgError::ClientEncoding(_) => "22023",
            PgError::TooManyConnections => "53300",
            PgError::UnknownStatement(_) => "26000",
            PgError::DuplicateStatement(_) => "42P05",
            PgError::UnknownPortal(_) => "34000",
            PgError::BinaryFormat { .. } => "22P03",
            PgError::UndefinedParameter(_) => "42P02",
            PgError::UnsupportedType(_) => "42704",
            PgError::MultipleCommands => "42601",
            PgError::Encode(_) | PgError::Reported => "XX000",
            PgError::PasswordFailed { .. } => "28P01",
            PgError::InvalidAuthorization(_) => "28000",
            PgError::Scram(e) => e.sqlstate(),
            PgError::ExpectedPassword => "08P01",
            PgError::Startup(e) => e.sqlstate(),
        }
    }

    /// Whether the connection must close after reporting this error (see the module doc).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            PgError::MessageLength { .. }
                | PgError::Malformed { .. }
                | PgError::UnexpectedMessage(_)
                | PgError::UnsupportedProtocol { .. }
                | PgError::ClientEncoding(_)
                | PgError::TooManyConnections
                | PgError::PasswordFailed { .. }
                | PgError::InvalidAuthorization(_)
                | PgError::Scram(_)
                | PgError::ExpectedPassword
                | PgError::Startup(_)
        )
    }

    /// The `ErrorResponse` for this error. `position` maps a position reported against the
    /// SQL text the engine ran back onto the text the client sent (parameters substituted
    /// into the text move positions; see `params`).
    pub fn to_response(&self, position: impl Fn(u32) -> u32) -> ErrorResponse {
        let severity = if self.is_fatal() { "FATAL" } else { "ERROR" };
        let mut fields = vec![
            (b'S', severity.to_string()),
            (b'V', severity.to_string()),
            (b'C', self.sqlstate().to_string()),
            (b'M', self.to_string()),
        ];
        if let PgError::Sql(e) = self {
            if let Some(detail) = e.detail() {
                fields.push((b'D', detail));
            }
            if let Some(hint) = e.hint() {
                fields.push((b'H', hint.to_string()));
            }
            if let Some(context) = e.context() {
                fields.push((b'W', context.to_string()));
            }
            if let Some(p) = e.position() {
                fields.push((b'P', position(p).to_string()));
            }
        }
        // A cstring cannot carry NUL; user input quoted in a message could.
        for (_, value) in &mut fields {
            if value.contains('\0') {
                *value = value.replace('\0', "\\0");
            }
        }
        ErrorResponse::new(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: &ErrorResponse, code: u8) -> Option<&str> {
        r.fields
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn sql_error_fields_reach_the_response_with_mapped_position() {
        let e = PgError::Sql(SqlError::Syntax {
            message: "syntax error at or near \"FRM\"".into(),
            position: Some(10),
        });
        let r = e.to_response(|p| p + 3);
        assert_eq!(field(&r, b'S'), Some("ERROR"));
        assert_eq!(field(&r, b'C'), Some("42601"));
        assert_eq!(field(&r, b'M'), Some("syntax error at or near \"FRM\""));
        assert_eq!(field(&r, b'P'), Some("13"));
        assert_eq!(field(&r, b'D'), None);
    }

    #[test]
    fn protocol_errors_are_fatal_and_bind_errors_are_not() {
        let fatal = PgError::Malformed {
            message: "Bind",
            reason: "truncated",
        };
        assert_eq!(field(&fatal.to_response(|p| p), b'S'), Some("FATAL"));
        let too_many = PgError::TooManyConnections.to_response(|p| p);
        assert_eq!(field(&too_many, b'C'), Some("53300"));
        assert_eq!(field(&too_many, b'S'), Some("FATAL"));
        let bind = PgError::BinaryFormat { index: 2 };
        assert!(!bind.is_fatal());
        assert_eq!(field(&bind.to_response(|p| p), b'C'), Some("22P03"));
    }
}
