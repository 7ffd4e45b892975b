//! `ferrisdb start`: run every role in one process, or one role of a multi-process cluster.
//!
//! ```text
//!   --roles all          EmbeddedCluster behind KvService on --addr, and the SQL engine
//!                        behind the PostgreSQL protocol on --pg-addr  (the default)
//!   --roles coordinator  Coordinator: commits, shard map, heartbeats, log pulls, controller
//!   --roles storage      StorageNode joined to --join: pulls the log, serves reads
//! ```
//!
//! Each serves the KV protocol on --addr until SIGINT or SIGTERM; `all` also serves SQL
//! over the PostgreSQL protocol (`pg`), from the same embedded cluster. Every acknowledged commit
//! was fsynced to the commit log before it was acknowledged, and a storage server's applied
//! versions are durable, so stopping (or killing) any process loses nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ferrisdb_kv::transport::{serve, FrameLimits, Handler, ServerHandle};
use ferrisdb_kv::StorageServerOptions;
use ferrisdb_sql::Engine;
use ferrisdb_txn::cluster::{Coordinator, CoordinatorOptions, StorageNode};
use ferrisdb_txn::{
    Database, EmbeddedCluster, EmbeddedOptions, KvRequest, KvResponse, KvService, TxnBackend,
};

use crate::pg;

/// `--auth`: how PostgreSQL clients authenticate (see `pg::auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Auth {
    Password,
    Trust,
}

impl Auth {
    pub fn mode(self) -> pg::AuthMode {
        match self {
            Auth::Password => pg::AuthMode::Password,
            Auth::Trust => pg::AuthMode::Trust,
        }
    }
}

/// The roles a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Roles {
    All,
    Coordinator,
    Storage,
}

pub fn run(
    data_dir: PathBuf,
    addr: SocketAddr,
    (pg_addr, pg_config): (SocketAddr, pg::PgConfig),
    roles: Roles,
    join: Option<SocketAddr>,
    cache_bytes: usize,
) -> Result<(), String> {
    if roles == Roles::Storage && join.is_none() {
        return Err("--roles storage needs --join COORDINATOR_ADDRESS".into());
    }
    if roles != Roles::Storage && join.is_some() {
        return Err("--join is only for --roles storage".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let err = |e: ferrisdb_txn::TxnError| e.to_string();
    match roles {
        Roles::All => {
            let cluster = Arc::new(
                EmbeddedCluster::open(&data_dir, {
                    let mut opts = EmbeddedOptions::default();
                    split_cache(&mut opts.storage, cache_bytes);
                    opts
                })
                .map_err(err)?,
            );
            let c = cluster.clone();
            let status = Arc::new(move || c.status());
            let backend: Arc<dyn TxnBackend> = cluster.clone();
            let engine = Arc::new(
                Engine::new(Database::from_backend(backend.clone()))
                    .with_statement_timeout(pg_config.statement_timeout)
                    .with_memory_limit(pg_config.work_mem_bytes),
            );
            let service = Arc::new(KvService::new(backend, status).with_async(cluster.clone()));
            let tls = if pg_config.tls.is_some() {
                " (TLS for clients that ask: sslmode=require)"
            } else {
                ""
            };
            let pg = rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(pg_addr)
                    .await
                    .map_err(|e| format!("cannot listen on {pg_addr}: {e}"))?;
                pg::serve(listener, engine, pg_config).map_err(|e| e.to_string())
            })?;
            let pg_local = pg.local_addr();
            let extra = format!(
                "  PostgreSQL on {pg_local}: psql -h {} -p {} -U postgres{tls}\n",
                pg_local.ip(),
                pg_local.port()
            );
            serve_until_signal(&rt, addr, service, &data_dir, "every role", &extra)?;
            rt.block_on(pg.shutdown());
        }
        Roles::Coordinator => {
            let coordinator =
                Coordinator::open(&data_dir, CoordinatorOptions::default()).map_err(err)?;
            let _ticker = {
                let _guard = rt.enter();
                coordinator.spawn_ticker()
            };
            serve_until_signal(&rt, addr, coordinator, &data_dir, "coordinator", "")?;
        }
        Roles::Storage => {
            let join = join.expect("checked above");
            // Bind first: the node advertises the address it actually listens on.
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(addr))
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let mut opts = StorageServerOptions::default();
            split_cache(&mut opts, cache_bytes);
            let node = StorageNode::start(&data_dir, local, join, opts).map_err(err)?;
            let handle = rt
                .block_on(serve(
                    listener,
                    Arc::new(node.service()),
                    FrameLimits::default(),
                ))
                .map_err(|e| e.to_string())?;
            announce(
                local,
                &data_dir,
                &format!("storage server joined to {join}"),
                "",
            );
            rt.block_on(shutdown_on_signal(handle));
            node.stop();
        }
    }
    Ok(())
}

/// A quarter of the cache memory goes to the row cache (point reads of recently read rows
/// skip the block search), the rest to data blocks.
fn split_cache(storage: &mut StorageServerOptions, cache_bytes: usize) {
    storage.engine.row_cache_size = cache_bytes / 4;
    storage.engine.block_cache_size = cache_bytes - storage.engine.row_cache_size;
}

/// The cache memory when `--cache-mb` is not given: a quarter of physical memory (from
/// /proc/meminfo), at least 64 MiB; 256 MiB where memory cannot be read.
pub fn default_cache_bytes() -> usize {
    const FLOOR: usize = 64 << 20;
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    match total_kib {
        Some(kib) => (kib.saturating_mul(1024) / 4).max(FLOOR),
        None => 256 << 20,
    }
}

fn serve_until_signal<H>(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    handler: H,
    data_dir: &std::path::Path,
    what: &str,
    extra: &str,
) -> Result<(), String>
where
    H: Handler<KvRequest, KvResponse>,
{
    let handle = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        serve(listener, Arc::new(handler), FrameLimits::default())
            .await
            .map_err(|e| e.to_string())
    })?;
    announce(handle.local_addr(), data_dir, what, extra);
    rt.block_on(shutdown_on_signal(handle));
    Ok(())
}

/// The banner. Its first line is parsed by tests: `KV API on ADDR,`; `extra` lines follow.
fn announce(local: SocketAddr, data_dir: &std::path::Path, what: &str, extra: &str) {
    // Whoever started us may have closed our stdout: a failed banner is no reason to stop.
    let banner = format!(
        "FerrisDB is running ({what}): KV API on {local}, data in {}\n  try: ferrisdb kv --cluster {local} status\n{extra}",
        data_dir.display()
    );
    let mut out = std::io::stdout();
    let _ = std::io::Write::write_all(&mut out, banner.as_bytes())
        .and_then(|_| std::io::Write::flush(&mut out));
}

async fn shutdown_on_signal(handle: ServerHandle) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
    tracing::info!("shutting down");
    handle.shutdown().await;
}
