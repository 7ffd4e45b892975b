//! Helpers shared by the tests that run a coordinator and storage nodes in process.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use ferrisdb_kv::transport::{serve, FrameLimits, ServerHandle};
use ferrisdb_kv::StorageServerOptions;
use ferrisdb_txn::cluster::{Coordinator, CoordinatorOptions, StorageNode};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// A coordinator serving on a free port, its controller ticking; keep the handles alive.
pub fn start_coordinator(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
) -> (SocketAddr, (ServerHandle, tokio::task::JoinHandle<()>)) {
    let coordinator = Coordinator::open(dir, CoordinatorOptions::default()).unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt
        .block_on(serve(
            listener,
            Arc::new(coordinator.clone()),
            FrameLimits::default(),
        ))
        .unwrap();
    let ticker = {
        let _guard = rt.enter();
        coordinator.spawn_ticker()
    };
    (addr, (server, ticker))
}

pub fn start_node(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    coord: SocketAddr,
) -> (StorageNode, ServerHandle) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let node = StorageNode::start(dir, addr, coord, StorageServerOptions::default()).unwrap();
    let handle = rt
        .block_on(serve(
            listener,
            Arc::new(node.service()),
            FrameLimits::default(),
        ))
        .unwrap();
    (node, handle)
}
