//! # ferrisdb-txn: strictly serializable transactions over the KV layer
//!
//! FoundationDB's shape: a **sequencer** hands out versions from one clock, a **resolver**
//! rejects a commit whose reads were overwritten after its read version (optimistic
//! concurrency), and the **commit log** makes accepted commits durable (group commit) before
//! anyone is told "committed"; storage servers then pull the log and apply it in version order.
//!
//! Modules so far: [`sequencer`], [`resolver`], [`commit_log`], sharing the [`error`] type.
//! The client `Transaction` API and the commit pipeline join as they are built (issue 3).

pub mod commit_log;
pub mod error;
pub mod resolver;
pub mod sequencer;

pub use commit_log::{CommitLog, CommitLogOptions};
pub use error::{Error, Result};
pub use resolver::{Outcome, ResolveRequest, Resolver};
pub use sequencer::Sequencer;
