//! FerrisDB as separate processes: one coordinator and any number of storage servers.
//!
//! ```text
//!   clients ──ReadVersion/Commit/ShardMap──► coordinator: CommitPipeline + Controller
//!      │                                        ▲  Heartbeat ─► Assignment
//!      │                                        │  Pull      ─► log entries
//!      └──────────Get/GetRange───────────► storage servers (StorageNode), one per shard set
//! ```
//!
//! - [`controller`]: membership, the shard map and balancing, as a pure state machine.
//! - [`coordinator`]: the coordinator process's service around the pipeline and controller.
//! - [`storage_node`]: the storage-server process: heartbeats, log pulls, shard moves, reads.
//!
//! A commit is acknowledged once the coordinator's log has it durably; storage servers apply
//! it when they pull it, and a read at a version a server has not applied yet waits for it.

pub mod controller;
pub mod coordinator;
pub mod storage_node;

pub use controller::{Assignment, Controller, ControllerState, Fetch, Heartbeat, ShardMap};
pub use coordinator::{Coordinator, CoordinatorOptions};
pub use storage_node::{ReadService, StorageNode};
