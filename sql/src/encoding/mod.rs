//! Byte encodings of SQL values for storage: order-preserving keys and compact row values.
//!
//! - [`key`]: a key of several datums, each ascending or descending, whose bytewise order
//!   is the SQL order of the values (built on `ferrisdb_kv::tuple`). Used for primary keys
//!   and index entries, so range scans and point lookups work on bytes.
//! - [`numeric_key`]: the order-preserving NUMERIC encoding the tuple layer lacks.
//! - [`row`]: the non-key columns of a row as one value, self-describing and versioned.
//!
//! Keys encode a value's *SQL equality class*: values SQL calls equal get the same key
//! (`1.5` and `1.50`; `'1 mon'` and `'30 days'`; `-0.0` and `0.0`), so a unique index
//! rejects them as duplicates and a point lookup for `1.5` finds a row keyed `1.50`, as in
//! PostgreSQL. The price is that decoding a key gives the class's representative, not
//! necessarily the stored spelling (see [`key`]); rows keep the exact value.

pub mod key;
pub mod numeric_key;
pub mod row;

pub use key::{decode_key, decode_key_prefix, encode_key, encode_key_datum, KeyColumn};
pub use row::{decode_row, encode_row, ROW_FORMAT_VERSION};
