//! # ferrisdb-sql: FerrisDB's SQL layer
//!
//! FerrisDB speaks PostgreSQL: the same results, the same NULL semantics, the same error
//! codes and messages as PostgreSQL 15. This crate holds the SQL layer: the value
//! foundation (pure: no KV access, no I/O, no clock of its own) and, on top of it, the
//! engine that runs statements inside `ferrisdb_txn` transactions:
//!
//! ```text
//!   session    Engine / Session: statement dispatch, BEGIN/COMMIT/ROLLBACK, autocommit
//!   savepoint  SAVEPOINT / ROLLBACK TO / RELEASE
//!   settings   SET / SHOW / RESET, current_setting, pg_settings
//!   parse      sqlparser (PostgreSQL dialect) and 42601 errors
//!   catalog    tables, views, indexes as KV entries (the key layout lives here)
//!   pg_catalog pg_catalog / information_schema as virtual relations, system functions
//!   database   CREATE / DROP DATABASE: name spaces
//!   roles      CREATE / ALTER / DROP ROLE and USER; what login reads
//!   auth       password verifiers (SCRAM-SHA-256, MD5) and the SCRAM server exchange
//!   bind       AST -> typed logical plan: names, types, grouping, subqueries
//!   plan       the plan tree; optimize (folding, pushdown, index choice, hash joins); explain
//!   exec       pull-based operators: scan, filter, project, join, aggregate, sort, ...
//!   store      rows and index entries: writes, unique checks, decoding
//!   undo       the write journal behind savepoints
//!   query, ddl, alter, dml, drop   the statement kinds
//!   copy       COPY FROM STDIN / TO STDOUT: text and CSV formats, batched loads
//!   cancel     CancelRequest and statement_timeout: the cooperative check
//!   notice     NOTICE messages a statement emits besides its result
//!   stream     results handed to the server as statements complete, long ones while they run
//!   types      DataType: names, OIDs, categories, implicit casts, common supertype
//!     array    one-dimensional arrays: text form, comparison, array functions
//!   datum      Datum: one value; PostgreSQL text input/output per type
//!     float, numeric, datetime, interval   the per-type I/O and arithmetic behind datum
//!   cast       explicit / assignment / implicit casts, rounding, typmods
//!   ops        operator resolution and evaluation (three-valued logic, overflow per width)
//!     like     LIKE / ILIKE matching
//!     regex    ~ / ~* / !~ / !~* matching
//!   functions  function resolution (PostgreSQL's candidate rules) and calls
//!     builtins the function bodies
//!   encoding   order-preserving keys (on ferrisdb_kv::tuple) and row values
//!   error      SqlError and the one place SQLSTATEs are decided
//! ```
//!
//! ## Design choices
//!
//! - **Values do not carry types.** A [`Datum`] is paired with a [`DataType`] known from
//!   the plan. `Int(i64)` holds every integer width and `Float(f64)` both float widths;
//!   the type bounds them, so widening casts are free and overflow checks are range checks
//!   against the *declared* width (`int4 + int4` fails at 2^31 like PostgreSQL's).
//! - **Resolution is separate from evaluation.** The binder calls
//!   [`ops::resolve_binary`] / [`functions::resolve_function`] once per expression and gets
//!   the operand types to cast to and the result type; the executor casts
//!   ([`cast::cast`]) and evaluates per row. Resolution copies PostgreSQL's rules
//!   (categories, preferred types, `select_common_type`), so `round(1)` is `double
//!   precision` and `1 + 1.5` is `numeric`, as there.
//! - **PostgreSQL's representations.** Dates are days and timestamps microseconds since
//!   2000-01-01, intervals `(months, days, µs)`, NUMERIC an arbitrary-precision decimal
//!   (`bigdecimal`: PostgreSQL allows 131072 digits, and `rust_decimal`'s 28 digits are
//!   short of even 38) whose scale is PostgreSQL's display scale.
//! - **Errors are PostgreSQL's.** Every failure is a structured [`SqlError`] whose
//!   `Display` is PostgreSQL's message and whose [`SqlError::sqlstate`] is its code; the
//!   pgserver and the sqllogictest runner both read codes from there and nowhere else.
//! - **Keys encode equality classes, rows encode values.** `1.5` and `1.50`, `'1 mon'` and
//!   `'30 days'` share one key, so unique indexes and point lookups agree with SQL
//!   equality; the row value keeps the exact spelling ([`encoding`]).
//! - **The session time zone is UTC** and the collation is C (bytewise) for now.
//!
//! ## Life of a statement
//!
//! 1. [`Session::execute`] parses the text with [`parse::parse_statements`] and runs each
//!    statement in order. BEGIN/COMMIT/ROLLBACK only move the session's state
//!    ([`session`]); any other statement runs either in the open block's
//!    `ferrisdb_txn::Transaction` or, in autocommit mode, in `Database::transact`, which
//!    retries it from scratch on a KV conflict.
//! 2. [`session::execute_statement`] dispatches by kind: queries to [`query::run_query`],
//!    INSERT/UPDATE/DELETE to [`dml`], DDL to [`ddl`].
//! 3. [`bind::Binder::bind_query`] resolves names against the catalog, read in the same
//!    transaction ([`catalog::get_relation`]: one point read per relation named), resolves
//!    operators and functions ([`ops::resolve_binary`], [`resolve_function`]), inserts the
//!    implicit casts, and returns a [`plan::Plan`] with its result [`Column`]s.
//! 4. [`plan::optimize::optimize`] folds constants, pushes filters into scans and join
//!    inputs, turns equi-join conditions into hash keys, and picks primary-key or
//!    secondary-index ranges for scans.
//! 5. [`exec::build`] turns the plan into operators; [`exec::collect`] pulls rows through
//!    them. Scans read `Transaction::get_range` in batches ([`exec`]'s `scan`), decoding
//!    values with [`encoding::decode_row`]; subqueries run from [`exec::eval`] with the
//!    outer row on a stack.
//! 6. Writes go through [`store::insert_row`] / [`store::delete_row`], which maintain
//!    index entries, after [`store::find_unique_violation`] and NOT NULL / CHECK tests.
//! 7. The statement's result ([`StatementResult`]) goes back to the caller; in autocommit
//!    mode `transact` has committed by then, and a commit conflict that outlives the
//!    retries is 40001. Through [`Session::execute_to`] a long query's rows go to the
//!    caller's [`ResultSink`] while it runs ([`stream`]).
//!
//! ## Not yet supported
//!
//! Engine: schemas (user objects live in `public`; `pg_catalog` and `information_schema`
//! are virtual and read-only), GENERATED ALWAYS AS IDENTITY, ALTER SEQUENCE RENAME / SET
//! SCHEMA (and RESTART inside a block), ALTER COLUMN TYPE, foreign
//! keys, window functions, WITH RECURSIVE, LATERAL other than `CROSS JOIN LATERAL`,
//! DISTINCT ON, UPDATE ... FROM / DELETE ... USING, LIKE ... ESCAPE, a catalog cache
//! (every statement re-reads the descriptors it names), roles (one superuser,
//! `postgres`), comments (`obj_description` is NULL).
//!
//! NUMERIC `NaN`/`Infinity` (0A000); `time`, `timetz`, multidimensional arrays, JSON and
//! other types;
//! datetime input styles other than ISO (`'Jan 8 1999'`, `'now'`, `'today'`); ISO 8601
//! and SQL-standard interval input; numeric versions of `exp`/`ln`/`log`/`power` (the
//! float8 versions are used, which can differ in the last digits from PostgreSQL's
//! numeric results); time zones other than UTC.

pub mod alter;
pub mod array;
pub mod auth;
pub mod backfill;
pub mod bind;
pub mod builtins;
pub mod cancel;
pub mod cast;
pub mod catalog;
pub mod copy;
pub(crate) mod cursor;
pub mod database;
pub mod datetime;
pub mod datum;
pub mod ddl;
pub mod dml;
pub mod drop;
pub mod encoding;
pub mod error;
pub mod exec;
pub mod float;
pub mod fresh;
pub mod functions;
pub mod interval;
pub mod like;
pub mod notice;
pub mod numeric;
pub mod ops;
pub mod parse;
pub mod pg_catalog;
pub mod plan;
pub mod plan_cache;
pub mod prepared;
pub mod query;
pub mod regex;
pub mod roles;
pub mod rowid;
pub mod savepoint;
pub mod sequence;
pub mod session;
pub mod settings;
pub mod store;
pub mod stream;
pub mod types;
pub mod undo;

pub use auth::{PasswordEncryption, StoredPassword};
pub use bind::Column;
pub use cancel::CancelHandle;
pub use cast::{cast, CastContext};
pub use copy::{CopyFormat, CopyInInfo, CopyOutput};
pub use datum::Datum;
pub use error::SqlError;
pub use exec::DEFAULT_MEMORY_LIMIT;
pub use functions::{call, resolve_function, EvalContext, FunctionId};
pub use interval::Interval;
pub use notice::Notice;
pub use roles::RoleInfo;
pub use session::{Described, Engine, Session, StatementResult, TxnStatus};
pub use stream::ResultSink;
pub use types::DataType;
