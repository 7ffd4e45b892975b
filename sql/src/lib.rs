//! # ferrisdb-sql
//! (essay written below)

pub mod datetime;
pub mod error;
pub mod float;
pub mod interval;
pub mod numeric;
pub mod types;

pub use error::SqlError;
pub use types::DataType;
pub mod cast;
pub mod datum;
pub mod encoding;
pub mod like;
pub mod ops;
