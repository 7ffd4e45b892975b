//! `ferrisdb`: run a FerrisDB node, or talk to one.
//!
//! ```text
//!   ferrisdb start [--config FILE] [--data-dir ./ferrisdb-data] [--addr 127.0.0.1:4500]
//!                  [--pg-addr 127.0.0.1:5433] [--auth password|trust] [...: see config.rs]
//!       every role in one process (sequencer, resolver, commit log, storage server), serving
//!       the transactional KV API on --addr and SQL over the PostgreSQL protocol on
//!       --pg-addr until SIGINT or SIGTERM
//!   ferrisdb start --roles coordinator --data-dir DIR --addr HOST:PORT
//!   ferrisdb start --roles storage --data-dir DIR --addr HOST:PORT --join COORDINATOR
//!   ferrisdb kv [--cluster 127.0.0.1:4500] [--hex] get KEY | set KEY VALUE | clear KEY
//!                                                 | scan BEGIN END [--limit N] | status
//!   ferrisdb bench kv [--clients 1,16,64] [--keys N] [--seconds S] [--modes embedded,async,tcp]
//!                     [--workloads read,write,mix]
//! ```
//!
//! The PostgreSQL wire server (`pg`) serves the SQL layer from `start`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

mod bench_kv;
mod bench_sql;
mod config;
mod pg;
mod start;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ferrisdb_kv::KeyRange;
use ferrisdb_txn::{Database, RemoteBackend, TxnError};

#[derive(Parser)]
#[command(
    name = "ferrisdb",
    version,
    about = "FerrisDB: a transactional database with a FoundationDB-style core"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a single-node FerrisDB (every role in one process).
    Start(config::StartArgs),
    /// Read and write keys of a running FerrisDB.
    Kv {
        /// The node's KV address.
        #[arg(long, default_value = "127.0.0.1:4500")]
        cluster: SocketAddr,
        /// Keys and values are hex on the command line and in the output.
        #[arg(long)]
        hex: bool,
        #[command(subcommand)]
        op: KvOp,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// The transactional KV API: point reads, point writes and a 90/10 mix, embedded and over
    /// loopback TCP, from several client counts.
    Kv {
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        clients: Vec<usize>,
        #[arg(long, default_value_t = 100_000)]
        keys: u64,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// `embedded` (client threads), `async` (embedded, client tasks on the async API),
        /// `tcp` (one process, over loopback), `tcp-async` (tasks over loopback sharing one
        /// client's connections), `cluster` (separate processes) and `cluster-async`
        /// (separate processes, tasks sharing one client's connections).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "embedded,async,tcp,tcp-async,cluster,cluster-async"
        )]
        modes: Vec<String>,
        /// Any of `read`, `write`, `mix` (the raw-read baseline runs with `read`).
        #[arg(long, value_delimiter = ',', default_value = "read,write,mix")]
        workloads: Vec<String>,
        /// Storage-server processes in `cluster` mode.
        #[arg(long, default_value_t = 1)]
        storage_servers: usize,
    },
    /// In-process SQL: point selects, a range scan, inserts, a hash join, a GROUP BY.
    Sql {
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Only the workloads whose names contain one of these words (e.g. `INSERT,join`).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KvOp {
    Get {
        key: String,
    },
    Set {
        key: String,
        value: String,
    },
    Clear {
        key: String,
    },
    /// Keys in [BEGIN, END), in order.
    Scan {
        begin: String,
        end: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Versions and storage statistics of the node.
    Status,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let command = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli.command,
        Err(e) => e.exit(),
    };
    let command = match command {
        Command::Start(args) => {
            let sub = matches
                .subcommand_matches("start")
                .expect("the start subcommand");
            match args.with_config_file(sub) {
                Ok(args) => Command::Start(args),
                Err(e) => {
                    eprintln!("ferrisdb: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        other => other,
    };
    let log = match &command {
        Command::Start(args) => args.log.clone(),
        _ => "info".to_string(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .or_else(|_| tracing_subscriber::EnvFilter::try_new(&log))
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match command {
        Command::Start(a) => {
            let tls = match (&a.tls_cert, &a.tls_key) {
                (Some(cert), Some(key)) => match pg::tls::load(cert, key) {
                    Ok(config) => Some(config),
                    Err(e) => {
                        eprintln!("ferrisdb: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                _ => None,
            };
            let pg = pg::PgConfig {
                tls,
                max_connections: a.pg_max_connections,
                max_message_bytes: a.pg_max_message_mb.saturating_mul(1 << 20),
                work_mem_bytes: a.work_mem_mb.saturating_mul(1 << 20),
                auth: a.auth.mode(),
                statement_timeout: (a.statement_timeout > 0)
                    .then(|| std::time::Duration::from_millis(a.statement_timeout)),
                ..pg::PgConfig::default()
            };
            let cache_bytes = a
                .cache_mb
                .map(|mb| mb.saturating_mul(1 << 20))
                .unwrap_or_else(start::default_cache_bytes);
            start::run(
                a.data_dir,
                a.addr,
                (a.pg_addr, pg),
                a.roles,
                a.join,
                cache_bytes,
            )
        }
        Command::Kv { cluster, hex, op } => kv(cluster, hex, op),
        Command::Bench {
            what:
                BenchWhat::Kv {
                    clients,
                    keys,
                    seconds,
                    modes,
                    workloads,
                    storage_servers,
                },
        } => bench_kv::run(bench_kv::BenchArgs {
            clients,
            keys,
            seconds,
            modes,
            workloads,
            storage_servers,
        }),
        Command::Bench {
            what:
                BenchWhat::Sql {
                    rows,
                    seconds,
                    only,
                },
        } => bench_sql::run(bench_sql::BenchArgs {
            rows,
            seconds,
            only,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrisdb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn decode(s: &str, hex: bool) -> Result<Vec<u8>, String> {
    if !hex {
        return Ok(s.as_bytes().to_vec());
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("{s:?} is not hex: odd length"));
    }
    bytes
        .chunks(2)
        .map(|p| match (digit(p[0]), digit(p[1])) {
            (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
            _ => Err(format!("{s:?} is not hex")),
        })
        .collect()
}

fn encode(b: &[u8], hex: bool) -> String {
    if hex {
        b.iter().map(|x| format!("{x:02x}")).collect()
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

/// A `kv` operation with its keys and values decoded (before any network traffic).
enum Op {
    Get(Vec<u8>),
    Set(Vec<u8>, Vec<u8>),
    Clear(Vec<u8>),
    Scan(KeyRange, usize),
    Status,
}

fn parse_op(op: KvOp, hex: bool) -> Result<Op, String> {
    Ok(match op {
        KvOp::Get { key } => Op::Get(decode(&key, hex)?),
        KvOp::Set { key, value } => Op::Set(decode(&key, hex)?, decode(&value, hex)?),
        KvOp::Clear { key } => Op::Clear(decode(&key, hex)?),
        KvOp::Scan { begin, end, limit } => Op::Scan(
            KeyRange::new(decode(&begin, hex)?, decode(&end, hex)?),
            limit,
        ),
        KvOp::Status => Op::Status,
    })
}

fn kv(cluster: SocketAddr, hex: bool, op: KvOp) -> Result<(), String> {
    let op = parse_op(op, hex)?;
    let remote = Arc::new(RemoteBackend::connect(cluster).map_err(|e| e.to_string())?);
    if let Op::Status = op {
        println!("{}", remote.status().map_err(|e| e.to_string())?);
        return Ok(());
    }
    let db = Database::from_backend(remote);
    let err = |e: TxnError| e.to_string();
    match op {
        Op::Get(k) => match db.transact(|tx| tx.get(&k)).map_err(err)?.0 {
            Some(v) => println!("{}", encode(&v, hex)),
            None => println!("(not found)"),
        },
        Op::Set(k, v) => {
            let (_, version) = db.transact(|tx| tx.set(&k, &v)).map_err(err)?;
            println!("committed at version {version}");
        }
        Op::Clear(k) => {
            let (_, version) = db.transact(|tx| tx.clear(&k)).map_err(err)?;
            println!("committed at version {version}");
        }
        Op::Scan(range, limit) => {
            let (rows, _) = db
                .transact(|tx| tx.get_range(&range, limit, false))
                .map_err(err)?;
            for (k, v) in rows {
                println!("{}\t{}", encode(&k, hex), encode(&v, hex));
            }
        }
        Op::Status => {}
    }
    Ok(())
}
