//! # ferrisdb-txn: strictly serializable transactions over the KV layer
//!
//! FoundationDB's shape: a **sequencer** hands out versions from one clock, a **resolver**
//! rejects a commit whose reads were overwritten after its read version (optimistic
//! concurrency), and the **commit log** makes accepted commits durable (group commit) before
//! anyone is told "committed"; storage servers then pull the log and apply it in version order.
//!
//! Modules so far: [`sequencer`], [`resolver`], [`commit_log`], and [`client`] (the raw
//! transactional KV API: `Database`, `Transaction`). The commit pipeline joins them (issue 3).

pub mod client;
pub mod commit_log;
pub mod resolver;
pub mod sequencer;

pub use client::{CommitRequest, Database, Transaction, TxnBackend, TxnError};
