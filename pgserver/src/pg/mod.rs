//! The PostgreSQL wire server: psql, pgbench, psycopg, tokio-postgres and pgjdbc talk to
//! FerrisDB through it.
//!
//! ```text
//!   server    listener, connection limit (53300), shutdown
//!   socket    per-connection thread: blocking reads, the state machine, writes
//!   frontend  bounds-checked framing and decoding of client messages
//!   protocol  Connection: the state machine (startup, simple query, Sync, errors)
//!   auth      who needs a password; SCRAM-SHA-256 and MD5 exchanges as startup steps
//!   extended  Parse / Bind / Describe / Execute / Close, statements and portals
//!   params    $n: lexing, types, substitution as typed literals, position mapping
//!   rows      RowDescription and DataRow, text and binary
//!   binary    PostgreSQL's binary send/receive forms of every type
//!   errors    PgError, SQLSTATEs of protocol errors, ErrorResponse
//!   copy      COPY FROM STDIN / TO STDOUT messages, copy-in mode, NoticeResponse
//!   stream    results written to the socket while a long statement still runs
//!   cancel    the CancelRequest registry (process id + secret -> session)
//!   tls       SSLRequest answered `S` with --tls-cert/--tls-key: rustls on the same socket
//!   session   the SqlSession / SessionFactory boundary; engine: ferrisdb-sql behind it
//! ```
//!
//! ## Design choices
//!
//! - **pgwire for the backend messages, our own decoder for the frontend.** pgwire's
//!   message structs and encoders are used for everything we send. Its frontend decoders
//!   trust counts inside a message (a short Bind panics), so `frontend` decodes with every
//!   read bounds-checked. We use none of pgwire's server API (`process_socket` and its
//!   handler traits): its ReadyForQuery status is tracked from response kinds rather than
//!   asked of the session, and its loop has no hook for a message-size limit or a
//!   connection limit. pgwire is built without features (TLS is ours, `tls`, on rustls).
//! - **A synchronous state machine on a thread per connection.** [`protocol::Connection`]
//!   handles one message at a time and appends bytes to an output buffer; `socket` runs
//!   it on the connection's own thread with blocking socket I/O, because SQL execution
//!   blocks on the KV layer (the listener is a tokio task; see `socket` for why
//!   connections are not). The one exception: a long result is written to the writer
//!   `socket` lends it while the statement runs (`stream`).
//! - **Password authentication as PostgreSQL does it** (`auth`): SCRAM-SHA-256 or MD5
//!   for roles with a password, trust for password-less roles on loopback only, and one
//!   28P01 for every wrong password; `--auth trust` accepts everyone.
//! - **Parameters are bound, not spliced.** Bind decodes each value to a typed `Datum`
//!   and Execute hands them to the engine (`SqlSession::execute_params`); Describe asks
//!   the engine for the statement's parameter types (PostgreSQL's inference from context)
//!   and columns without running it. Substitution as typed literals (`params`) remains
//!   only as the fallback for a session that cannot bind or describe.
//!
//! ## Not supported yet
//!
//! SCRAM channel binding (SCRAM-SHA-256-PLUS), client certificates, GSSAPI, COPY BINARY, the
//! function-call message, NOTIFY/LISTEN, protocol 3.2 (we negotiate down to 3.0).

pub mod auth;
pub mod binary;
pub mod cancel;
pub mod copy;
pub mod deallocate;
pub mod engine;
pub mod errors;
pub mod extended;
pub mod frontend;
pub mod params;
pub mod protocol;
pub mod rows;
pub mod server;
pub mod session;
pub mod socket;
pub mod stream;
pub mod tls;

pub use auth::AuthMode;
pub use server::{serve, PgConfig};
