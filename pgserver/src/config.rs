//! The settings of `ferrisdb start`: command-line flags, optionally a TOML file.
//!
//! `ferrisdb start --config FILE` reads every setting the flags have, under the flag's name
//! with `_` for `-`; a flag given on the command line wins over the file, and the file wins
//! over the defaults. Unknown keys and values of the wrong type are errors naming the file
//! and the line. Relative paths in the file are relative to the file's directory.
//!
//! ```toml
//! data_dir = "/var/lib/ferrisdb"
//! pg_addr = "0.0.0.0:5433"
//! pg_max_connections = 200
//! auth = "password"
//! statement_timeout = 30000   # milliseconds
//! work_mem_mb = 64
//! cache_mb = 2048
//! log = "info,ferrisdb_txn=debug"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::Deserialize;

use crate::start::{Auth, Roles};

/// `ferrisdb start`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct StartArgs {
    /// Read settings from this TOML file (keys are the flag names with `_` for `-`); flags
    /// given on the command line win over it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the data lives.
    #[arg(long, default_value = "./ferrisdb-data")]
    pub data_dir: PathBuf,
    /// Address of the KV API (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4500")]
    pub addr: SocketAddr,
    /// Address of the PostgreSQL protocol (with --roles all; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub pg_addr: SocketAddr,
    /// PostgreSQL clients served at once; more are refused with SQLSTATE 53300.
    #[arg(long, default_value_t = 100)]
    pub pg_max_connections: usize,
    /// How PostgreSQL clients authenticate: `password` (roles with a password must give
    /// it; password-less roles such as `postgres` are trusted from loopback only) or
    /// `trust` (everyone, as any user).
    #[arg(long, value_enum, default_value_t = Auth::Password)]
    pub auth: Auth,
    /// Cancel any statement that runs longer than this many milliseconds with SQLSTATE
    /// 57014 (PostgreSQL's statement_timeout); 0 means no limit.
    #[arg(long, default_value_t = 0)]
    pub statement_timeout: u64,
    /// Memory one statement's sorts, hash joins and aggregations may hold, in MiB;
    /// beyond it the statement fails with SQLSTATE 53200.
    #[arg(long, default_value_t = 256)]
    pub work_mem_mb: usize,
    /// Memory of the storage engine's caches, in MiB: three quarters for data blocks, one
    /// for rows. The default is a quarter of the machine's physical memory (at least
    /// 64 MiB), as CockroachDB sizes its cache: a cache smaller than the working set turns
    /// every read into a system call.
    #[arg(long)]
    pub cache_mb: Option<usize>,
    /// The largest message a PostgreSQL client may send, in MiB.
    #[arg(long, default_value_t = 64)]
    pub pg_max_message_mb: usize,
    /// Which roles this process runs: all of them, or one part of a multi-process cluster.
    #[arg(long, value_enum, default_value_t = Roles::All)]
    pub roles: Roles,
    /// The coordinator a storage server joins (required with --roles storage).
    #[arg(long)]
    pub join: Option<SocketAddr>,
    /// What to log, as a tracing filter (`info`, `warn,ferrisdb_txn=debug`, ...); the
    /// RUST_LOG environment variable wins over it.
    #[arg(long, default_value = "info")]
    pub log: String,
    /// TLS for PostgreSQL clients: the certificate chain (PEM, leaf first). Needs
    /// --tls-key; clients that ask for TLS get it, the others are served in plain text.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The file's form of [`StartArgs`]: every key optional, none unknown.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    addr: Option<SocketAddr>,
    pg_addr: Option<SocketAddr>,
    pg_max_connections: Option<usize>,
    auth: Option<String>,
    statement_timeout: Option<u64>,
    work_mem_mb: Option<usize>,
    cache_mb: Option<usize>,
    pg_max_message_mb: Option<usize>,
    roles: Option<String>,
    join: Option<SocketAddr>,
    log: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

impl StartArgs {
    /// Fill in the settings of `args.config` that the command line (`matches`) left at
    /// their defaults.
    pub fn with_config_file(self, matches: &ArgMatches) -> Result<StartArgs, String> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        self.merge(&text, base, &|id| {
            matches.value_source(id) == Some(ValueSource::CommandLine)
        })
        .map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Apply the TOML `text` to the settings `given` does not report as set on the command
    /// line; relative paths are taken from `base`.
    fn merge(
        mut self,
        text: &str,
        base: &Path,
        given: &dyn Fn(&str) -> bool,
    ) -> Result<StartArgs, String> {
        let file: FileSettings = toml::from_str(text).map_err(|e| e.to_string())?;
        macro_rules! take {
            ($($field:ident),*) => {$(
                if let Some(v) = file.$field {
                    if !given(stringify!($field)) {
                        self.$field = v.into();
                    }
                }
            )*};
        }
        take!(
            addr,
            pg_addr,
            pg_max_connections,
            statement_timeout,
            work_mem_mb,
            cache_mb,
            pg_max_message_mb,
            join,
            log
        );
        if let Some(dir) = file.data_dir {
            if !given("data_dir") {
                self.data_dir = base.join(dir);
            }
        }
        for (given_name, from_file, field) in [
            ("tls_cert", file.tls_cert, &mut self.tls_cert),
            ("tls_key", file.tls_key, &mut self.tls_key),
        ] {
            if let Some(path) = from_file {
                if !given(given_name) {
                    *field = Some(base.join(path));
                }
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key go together: give both or neither".into());
        }
        if let Some(auth) = file.auth {
            if !given("auth") {
                self.auth = choice("auth", &auth)?;
            }
        }
        if let Some(roles) = file.roles {
            if !given("roles") {
                self.roles = choice("roles", &roles)?;
            }
        }
        Ok(self)
    }
}

/// A value of one of the flag's choices, or an error listing them.
fn choice<T: ValueEnum>(key: &str, value: &str) -> Result<T, String> {
    T::from_str(value, true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        format!("{key} = {value:?} is not one of: {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        start: StartArgs,
    }

    fn parse(args: &[&str], file: &str) -> Result<StartArgs, String> {
        let matches = Wrap::command()
            .try_get_matches_from(std::iter::once("ferrisdb").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        let start = Wrap::from_arg_matches(&matches)
            .map_err(|e| e.to_string())?
            .start;
        start.merge(file, Path::new("/etc/ferrisdb"), &|id| {
            matches.value_source(id) == Some(ValueSource::CommandLine)
        })
    }

    #[test]
    fn the_file_sets_what_the_command_line_left_at_its_default() {
        let file = r#"
            data_dir = "data"
            pg_addr = "127.0.0.1:6543"
            pg_max_connections = 7
            auth = "trust"
            statement_timeout = 1500
            cache_mb = 128
            roles = "coordinator"
            log = "warn"
        "#;
        let a = parse(&["--pg-max-connections", "9", "--data-dir", "/tmp/x"], file).unwrap();
        assert_eq!(a.data_dir, PathBuf::from("/tmp/x"), "the flag wins");
        assert_eq!(a.pg_max_connections, 9, "the flag wins");
        assert_eq!(a.pg_addr, "127.0.0.1:6543".parse().unwrap());
        assert_eq!(a.auth, Auth::Trust);
        assert_eq!(a.statement_timeout, 1500);
        assert_eq!(a.cache_mb, Some(128));
        assert_eq!(a.roles, Roles::Coordinator);
        assert_eq!(a.log, "warn");
        // Untouched by either: the defaults.
        assert_eq!(a.addr, "127.0.0.1:4500".parse().unwrap());
        assert_eq!(a.work_mem_mb, 256);

        let a = parse(&[], file).unwrap();
        assert_eq!(
            a.data_dir,
            PathBuf::from("/etc/ferrisdb/data"),
            "relative to the file"
        );
        assert_eq!(a.pg_max_connections, 7);
    }

    #[test]
    fn tls_paths_come_from_the_file_relative_to_it_and_only_in_pairs() {
        let a = parse(
            &[],
            "tls_cert = \"certs/server.pem\"\ntls_key = \"/keys/k.pem\"",
        )
        .unwrap();
        assert_eq!(
            a.tls_cert,
            Some(PathBuf::from("/etc/ferrisdb/certs/server.pem"))
        );
        assert_eq!(a.tls_key, Some(PathBuf::from("/keys/k.pem")));
        let e = parse(&[], "tls_cert = \"c.pem\"").unwrap_err();
        assert!(e.contains("tls_cert and tls_key go together"), "{e}");
        assert!(
            parse(&["--tls-key", "k.pem"], "").is_err(),
            "clap requires the pair"
        );
    }

    #[test]
    fn a_flag_given_with_its_default_value_still_wins() {
        let a = parse(&["--auth", "password"], "auth = \"trust\"").unwrap();
        assert_eq!(a.auth, Auth::Password);
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let e = parse(&[], "pg_adress = \"127.0.0.1:1\"").unwrap_err();
        assert!(e.contains("unknown field `pg_adress`"), "{e}");
        assert!(e.contains("line 1"), "{e}");
        let e = parse(&[], "\n\npg_max_connections = \"many\"").unwrap_err();
        assert!(
            e.contains("line 3") && e.contains("pg_max_connections"),
            "{e}"
        );
        let e = parse(&[], "pg_addr = \"localhost\"").unwrap_err();
        assert!(e.contains("pg_addr"), "{e}");
        let e = parse(&[], "auth = \"md5\"").unwrap_err();
        assert!(e.contains("password, trust"), "{e}");
        let e = parse(&[], "data_dir = ").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }
}
