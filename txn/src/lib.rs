//! # ferrisdb-txn: strictly serializable transactions over the KV layer
//!
//! FoundationDB's shape: a **sequencer** hands out versions from one clock, a **resolver**
//! rejects a commit whose reads were overwritten after its read version (optimistic
//! concurrency), and the **commit log** makes accepted commits durable (group commit) before
//! anyone is told "committed"; storage servers then apply it in version order.
//!
//! Modules: [`sequencer`], [`resolver`], [`commit_log`] (sharing the [`error`] type), the
//! [`client`] (the raw transactional KV API: `Database`, `Transaction`), [`embedded`],
//! every role in one process, whose module doc walks through the life of a commit, and
//! [`remote`], the same API served and used over TCP.

pub mod client;
pub mod cluster;
pub mod commit_log;
pub mod embedded;
pub mod error;
pub mod pipeline;
pub mod remote;
pub mod resolver;
pub mod sequencer;

pub use client::{
    AsyncTransaction, AsyncTxnBackend, CommitRequest, Database, KeyValue, MetadataCache,
    Transaction, TxnBackend, TxnError, TxnFuture,
};
pub use commit_log::{CommitLog, CommitLogOptions};
pub use embedded::{EmbeddedCluster, EmbeddedOptions};
pub use error::{Error, Result};
pub use pipeline::CommitPipeline;
pub use remote::{KvRequest, KvResponse, KvService, RemoteBackend};
pub use resolver::{Outcome, ResolveRequest, Resolver};
pub use sequencer::Sequencer;
