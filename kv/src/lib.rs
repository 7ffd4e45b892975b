//! # ferrisdb-kv: keys, ranges, mutations, and the roles that store them
//!
//! The layer between the storage engine and transactions:
//!
//! - [`types`]: versions, half-open key ranges, mutations and their log encoding.
//! - [`tuple`]: the order-preserving ("memcomparable") tuple encoding SQL keys are built from.
//!
//! Storage servers, the shard map and the transport join as they are built (issue 3).

pub mod transport;
pub mod tuple;
pub mod types;

pub use types::{
    decode_mutations, encode_mutations, key_after, strinc, KeyRange, Mutation, Version,
};
