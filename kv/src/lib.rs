//! # ferrisdb-kv: keys, ranges, mutations, and the roles that store them
//!
//! The layer between the storage engine and transactions:
//!
//! - [`types`]: versions, half-open key ranges, mutations and their log encoding.
//! - [`tuple`]: the order-preserving ("memcomparable") tuple encoding SQL keys are built from.
//! - [`storage_server`]: the storage-server role: applies the commit log in version order and
//!   serves reads at a version.
//! - [`transport`]: request/response RPC, in process or over TCP (length-framed postcard
//!   messages, validated; a bad frame closes only its connection).
//! - [`error`]: [`KvError`], with the retryable cases marked.
//!
//! The shard map and cluster membership join as they are built (issue 3).

pub mod error;
pub mod storage_server;
pub mod transport;
pub mod tuple;
pub mod types;

pub use error::KvError;
pub use storage_server::{
    OwnedShard, ShardStats, StorageServer, StorageServerOptions, KEY_SPACE_END,
    METADATA_VERSION_KEY,
};
pub use types::{
    decode_mutations, encode_mutations, key_after, strinc, KeyRange, Mutation, Version,
};
