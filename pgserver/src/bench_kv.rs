//! `ferrisdb bench kv`: throughput and latency of the transactional KV API.
//!
//! Workloads, each run for `--seconds` by `clients` threads, every operation its own
//! transaction through `Database::transact`:
//!
//! ```text
//!   read    get one random key (a read-only transaction: read version + storage read)
//!   write   set one random key (commit: resolver, commit log fsync, storage apply)
//!   mix     90% read, 10% write
//!   raw     the storage server's own get at the committed version (no transaction): the
//!           baseline an embedded transactional read is compared with
//! ```
//!
//! Modes: `embedded` (the cluster in this process, one thread per client), `async` (the
//! same cluster, every client a task on a tokio runtime using `Database::transact_async`:
//! a commit suspends the task rather than parking a thread), `tcp-async` (the same tasks over
//! loopback, sharing the connections of one `RemoteBackend::connect_async`: one per core),
//! `tcp` (the same cluster served on loopback; every client thread has its own connection),
//! `cluster` (separate processes started from this binary: `ferrisdb start --roles
//! coordinator` and `--storage-servers` storage servers; clients commit through the
//! coordinator and read from the storage servers) and `cluster-async` (the same processes,
//! the client tasks sharing one `connect_async` backend). Keys are `key/{n:08}` over `--keys`
//! preloaded keys, values 100 bytes. Prints ops/s, p50 and p99 latency per row, and the
//! ratios the issue sets targets for.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrisdb_kv::transport::{serve, FrameLimits};
use ferrisdb_txn::{
    Database, EmbeddedCluster, EmbeddedOptions, KvService, RemoteBackend, TxnBackend,
};

pub struct BenchArgs {
    pub clients: Vec<usize>,
    pub keys: u64,
    pub seconds: f64,
    pub modes: Vec<String>,
    pub workloads: Vec<String>,
    pub storage_servers: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Work {
    Read,
    Write,
    Mix,
    Raw,
}

impl Work {
    fn name(self) -> &'static str {
        match self {
            Work::Read => "read",
            Work::Write => "write",
            Work::Mix => "mix 90/10",
            Work::Raw => "raw read",
        }
    }
}

struct Row {
    mode: String,
    work: Work,
    clients: usize,
    ops_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
}

fn key(n: u64) -> Vec<u8> {
    format!("key/{n:08}").into_bytes()
}

fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let dir = tempfile_dir()?;
    let r = run_in(&dir, args);
    // Only now: everything `run_in` opened on the directory (the cluster, its background
    // compactions, the servers) was dropped when it returned.
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn run_in(dir: &std::path::Path, args: BenchArgs) -> Result<(), String> {
    let cluster = Arc::new(
        EmbeddedCluster::open(dir, EmbeddedOptions::default()).map_err(|e| e.to_string())?,
    );
    let db = cluster.database();
    preload(&db, args.keys)?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let backend: Arc<dyn TxnBackend> = cluster.clone();
    let service =
        Arc::new(KvService::new(backend, Arc::new(String::new)).with_async(cluster.clone()));
    let (handle, addr) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let h = serve(listener, Arc::new(service), FrameLimits::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((h, addr))
    })?;
    let mut procs = Processes(Vec::new());
    let cluster_addr = if args
        .modes
        .iter()
        .any(|m| m == "cluster" || m == "cluster-async")
    {
        let addr = start_cluster(&dir.join("cluster"), args.storage_servers, &mut procs)?;
        let remote = Database::from_backend(Arc::new(
            RemoteBackend::connect(addr).map_err(|e| e.to_string())?,
        ));
        preload(&remote, args.keys)?;
        addr
    } else {
        addr
    };
    let mut works = Vec::new();
    for w in &args.workloads {
        works.push(match w.as_str() {
            "read" => Work::Read,
            "write" => Work::Write,
            "mix" => Work::Mix,
            other => return Err(format!("unknown workload {other:?} (read, write, mix)")),
        });
    }
    let mut rows = Vec::new();
    if works.contains(&Work::Read) {
        for &clients in &args.clients {
            rows.push(measure("embedded", Work::Raw, clients, &args, || {
                Ok(Client::Raw(cluster.clone()))
            })?);
        }
    }
    for mode in &args.modes {
        for &work in &works {
            for &clients in &args.clients {
                let target = if mode == "cluster" || mode == "cluster-async" {
                    cluster_addr
                } else {
                    addr
                };
                if mode == "async" {
                    rows.push(measure_async(&rt, mode, work, clients, &args, db.clone())?);
                    continue;
                }
                if mode == "tcp-async" || mode == "cluster-async" {
                    // One backend for every task of the process, as FoundationDB's client
                    // has: concurrent requests share its connections' system calls.
                    let remote = Arc::new(
                        rt.block_on(RemoteBackend::connect_async(target))
                            .map_err(|e| e.to_string())?,
                    );
                    let remote_db = Database::from_backends(remote.clone(), remote);
                    rows.push(measure_async(&rt, mode, work, clients, &args, remote_db)?);
                    continue;
                }
                let make = || client(mode, &db, target);
                rows.push(measure(mode, work, clients, &args, make)?);
            }
        }
    }
    rt.block_on(handle.shutdown());
    report(&rows);
    Ok(())
}

/// Child processes, killed when the benchmark ends (they hold only benchmark data).
struct Processes(Vec<std::process::Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Start `ferrisdb start` with `args` and return the KV address from its banner.
fn spawn_node(
    args: &[&str],
    dir: &std::path::Path,
    procs: &mut Processes,
) -> Result<SocketAddr, String> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .arg("start")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a node: {e}"))?;
    let stdout = child.stdout.take();
    procs.0.push(child);
    let mut line = String::new();
    if let Some(out) = stdout {
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
    }
    line.split("KV API on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected start banner: {line:?}"))
}

/// A coordinator and `storage` storage servers as processes; returns the coordinator.
fn start_cluster(
    dir: &std::path::Path,
    storage: usize,
    procs: &mut Processes,
) -> Result<SocketAddr, String> {
    let coord = spawn_node(
        &["--roles", "coordinator", "--addr", "127.0.0.1:0"],
        &dir.join("coord"),
        procs,
    )?;
    let join = coord.to_string();
    for i in 0..storage.max(1) {
        let args = [
            "--roles",
            "storage",
            "--addr",
            "127.0.0.1:0",
            "--join",
            join.as_str(),
        ];
        spawn_node(&args, &dir.join(format!("storage{i}")), procs)?;
    }
    eprintln!(
        "  cluster: coordinator on {coord}, {} storage servers",
        storage.max(1)
    );
    Ok(coord)
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("ferrisdb-bench-kv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn preload(db: &Database, keys: u64) -> Result<(), String> {
    let value = [b'v'; 100];
    let mut n = 0;
    while n < keys {
        let end = (n + 1000).min(keys);
        db.transact(|tx| {
            for i in n..end {
                tx.set(&key(i), &value)?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        n = end;
    }
    Ok(())
}

enum Client {
    Txn(Database),
    Raw(Arc<EmbeddedCluster>),
}

fn client(mode: &str, db: &Database, addr: SocketAddr) -> Result<Client, String> {
    match mode {
        "embedded" => Ok(Client::Txn(db.clone())),
        "tcp" | "cluster" => Ok(Client::Txn(Database::from_backend(Arc::new(
            RemoteBackend::connect(addr).map_err(|e| e.to_string())?,
        )))),
        other => Err(format!("unknown mode {other:?} (embedded, tcp, cluster)")),
    }
}

fn one_op(c: &Client, work: Work, rng: &mut u64, keys: u64) -> Result<(), String> {
    let k = key(next(rng) % keys);
    let write = match work {
        Work::Write => true,
        Work::Mix => next(rng).is_multiple_of(10),
        _ => false,
    };
    match c {
        Client::Raw(cluster) => {
            let v = cluster.read_version().map_err(|e| e.to_string())?;
            cluster
                .storage()
                .get(&k, v)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Client::Txn(db) if write => db
            .transact(|tx| tx.set(&k, &[b'w'; 100]))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Client::Txn(db) => db
            .transact(|tx| tx.get(&k))
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

/// `measure` with every client a task on `rt` (async API) instead of a thread.
fn measure_async(
    rt: &tokio::runtime::Runtime,
    mode: &str,
    work: Work,
    clients: usize,
    args: &BenchArgs,
    db: Database,
) -> Result<Row, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..clients)
        .map(|t| {
            let (stop, keys, db) = (stop.clone(), args.keys, db.clone());
            rt.spawn(async move {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1);
                let mut lat: Vec<u32> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let k = key(next(&mut rng) % keys);
                    let write = match work {
                        Work::Write => true,
                        Work::Mix => next(&mut rng).is_multiple_of(10),
                        _ => false,
                    };
                    let r = if write {
                        db.transact_async(|tx| Box::pin(async { tx.set(&k, &[b'w'; 100]) }))
                            .await
                    } else {
                        db.transact_async(|tx| Box::pin(async { tx.get(&k).await.map(|_| ()) }))
                            .await
                    };
                    r.map_err(|e| e.to_string())?;
                    lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                Ok::<_, String>(lat)
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(
            rt.block_on(t)
                .map_err(|_| "a client task panicked".to_string())??,
        );
    }
    Ok(row(mode, work, clients, start.elapsed().as_secs_f64(), all))
}

fn measure(
    mode: &str,
    work: Work,
    clients: usize,
    args: &BenchArgs,
    make: impl Fn() -> Result<Client, String>,
) -> Result<Row, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let c = make()?;
            let (stop, keys) = (stop.clone(), args.keys);
            Ok(std::thread::spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1);
                let mut lat: Vec<u32> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    one_op(&c, work, &mut rng, keys)?;
                    lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                Ok::<_, String>(lat)
            }))
        })
        .collect::<Result<_, String>>()?;
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in handles {
        all.extend(
            h.join()
                .map_err(|_| "a client thread panicked".to_string())??,
        );
    }
    Ok(row(mode, work, clients, start.elapsed().as_secs_f64(), all))
}

/// A result row from every operation's latency in microseconds.
fn row(mode: &str, work: Work, clients: usize, elapsed: f64, mut all: Vec<u32>) -> Row {
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as u64
    };
    eprintln!(
        "  {mode:8} {:10} {clients:3} clients: {:.0} ops/s",
        work.name(),
        all.len() as f64 / elapsed
    );
    Row {
        mode: mode.to_string(),
        work,
        clients,
        ops_per_sec: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

fn report(rows: &[Row]) {
    println!(
        "{:9} {:10} {:>7} {:>12} {:>9} {:>9}",
        "mode", "workload", "clients", "ops/s", "p50 us", "p99 us"
    );
    for r in rows {
        println!(
            "{:9} {:10} {:>7} {:>12.0} {:>9} {:>9}",
            r.mode,
            r.work.name(),
            r.clients,
            r.ops_per_sec,
            r.p50_us,
            r.p99_us
        );
    }
    let find = |mode: &str, w: Work, c: usize| {
        rows.iter()
            .find(|r| r.mode == mode && r.work == w && r.clients == c)
            .map(|r| r.ops_per_sec)
    };
    let min_c = rows.iter().map(|r| r.clients).min().unwrap_or(1);
    let max_c = rows.iter().map(|r| r.clients).max().unwrap_or(1);
    println!();
    if let (Some(raw), Some(txn)) = (
        find("embedded", Work::Raw, min_c),
        find("embedded", Work::Read, min_c),
    ) {
        println!("embedded transactional read costs {:.2}x a raw storage read ({min_c} client) [target <= 2x]", raw / txn);
    }
    if let (true, Some(one), Some(many)) = (
        max_c > min_c,
        find("embedded", Work::Write, min_c),
        find("embedded", Work::Write, max_c),
    ) {
        println!(
            "durable writes, {max_c} clients vs {min_c}: {:.1}x [target >= 20x at 64 vs 1]",
            many / one
        );
    }
    // The async API: tasks against the faster single client of either API.
    let one = [
        find("embedded", Work::Write, min_c),
        find("async", Work::Write, min_c),
    ]
    .into_iter()
    .flatten()
    .fold(0.0, f64::max);
    if let (true, true, Some(many)) = (one > 0.0, max_c > min_c, find("async", Work::Write, max_c))
    {
        println!(
            "durable writes, {max_c} async clients vs the best single client: {:.1}x [target >= 20x]",
            many / one
        );
    }
    for w in [Work::Read, Work::Write, Work::Mix] {
        if let (Some(e), Some(t)) = (find("async", w, max_c), find("tcp-async", w, max_c)) {
            println!(
                "{} at {max_c} clients: async / tcp-async = {:.2}x [target <= 3x]",
                w.name(),
                e / t
            );
        }
        if let (Some(e), Some(t)) = (find("async", w, max_c), find("cluster-async", w, max_c)) {
            println!(
                "{} at {max_c} clients: async / cluster-async = {:.2}x [target <= 3x]",
                w.name(),
                e / t
            );
        }
        for remote in ["tcp", "cluster", "tcp-async", "cluster-async"] {
            if let (Some(e), Some(t)) = (find("embedded", w, max_c), find(remote, w, max_c)) {
                println!(
                    "{} at {max_c} clients: embedded / {remote} = {:.2}x [target <= 3x]",
                    w.name(),
                    e / t
                );
            }
        }
    }
}
