//! Session settings: SET, SET LOCAL, RESET, SHOW, `current_setting`, `set_config` and the
//! rows of `pg_settings`, with PostgreSQL's transactional behaviour.
//!
//! A session's [`Settings`] hold only what differs from the defaults of [`defs::DEFS`]:
//!
//! ```text
//!   session   SET / SET SESSION / set_config(.., false)     kept until RESET
//!   local     SET LOCAL / set_config(.., true) in a block   dropped when the block ends
//!   saved     the session values at BEGIN (and at each SAVEPOINT)
//! ```
//!
//! A value is looked up in `local`, then `session`, then the default. As in PostgreSQL,
//! a SET inside a block that rolls back is undone (the session values go back to those
//! saved at BEGIN, or at the savepoint rolled back to), SET LOCAL lasts until the block
//! ends either way, and SET LOCAL outside a block has no effect. Names are
//! case-insensitive; a name with a dot (`ferrisdb.x`) is a custom parameter any value
//! may be given to, as PostgreSQL's placeholders; any other unknown name is 42704.
//!
//! While a statement runs, the session's settings are installed in a thread-local
//! ([`Session::with_settings`]) so that functions deep in the executor
//! (`current_setting`, `set_config`) and the `pg_settings` relation reach them without
//! threading them through every call, the same way the current database is installed.

pub mod defs;
mod statement;
pub mod values;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::SqlError;
use crate::session::Session;
use defs::{find, Def, Kind};

pub use statement::{show_columns, SettingCommand};

type Values = BTreeMap<String, String>;

/// One session's parameter values (see the module doc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    session: Values,
    local: Values,
    /// The session values when the block began (`None` outside a block).
    at_begin: Option<Values>,
    /// The session values at each open savepoint, oldest first.
    at_savepoint: Vec<(Values, Values)>,
}

/// 42704 `unrecognized configuration parameter "x"`.
fn unrecognized(name: &str) -> SqlError {
    SqlError::UnrecognizedParameter {
        name: name.to_string(),
    }
}

/// The key a parameter is stored under and its definition (`None` for a custom one).
fn key(name: &str) -> Result<(String, Option<&'static Def>), SqlError> {
    let lower = name.to_ascii_lowercase();
    match find(&lower) {
        Some(d) => Ok((lower, Some(d))),
        None if lower.contains('.') => Ok((lower, None)),
        None => Err(unrecognized(name)),
    }
}

impl Settings {
    /// The value SHOW prints for `name`; 42704 if the parameter is unknown (or a custom
    /// parameter never set).
    pub fn get(&self, name: &str) -> Result<String, SqlError> {
        let (k, d) = key(name)?;
        if k == "transaction_isolation" && !self.in_block() {
            return self.get("default_transaction_isolation");
        }
        if let Some(v) = self.local.get(&k).or_else(|| self.session.get(&k)) {
            return Ok(v.clone());
        }
        d.map(|d| d.default.to_string())
            .ok_or_else(|| unrecognized(name))
    }

    /// The name SHOW uses as its column: PostgreSQL's spelling for known parameters.
    pub fn display_name(name: &str) -> String {
        find(name)
            .map(|d| d.name.to_string())
            .unwrap_or_else(|| name.to_ascii_lowercase())
    }

    fn in_block(&self) -> bool {
        self.at_begin.is_some()
    }

    /// SET (`local` false) or SET LOCAL; `None` is SET ... TO DEFAULT. Returns the new
    /// value as SHOW prints it.
    pub fn set(
        &mut self,
        name: &str,
        value: Option<&str>,
        local: bool,
    ) -> Result<String, SqlError> {
        let (k, d) = key(name)?;
        let normalized = match (value, d) {
            (Some(v), Some(d)) => Some(values::normalize(d, v)?),
            (Some(v), None) => Some(v.to_string()),
            (None, Some(d)) if d.context == defs::Context::Internal => {
                return Err(SqlError::CantChangeParameter {
                    name: d.name.to_string(),
                })
            }
            (None, _) => None,
        };
        if local {
            if self.in_block() {
                let v = match &normalized {
                    Some(v) => v.clone(),
                    None => self.default_or_empty(&k, d),
                };
                self.local.insert(k.clone(), v);
            }
        } else {
            self.local.remove(&k);
            match &normalized {
                Some(v) => self.session.insert(k.clone(), v.clone()),
                None => self.session.remove(&k),
            };
        }
        Ok(self.get(&k).unwrap_or_default())
    }

    fn default_or_empty(&self, k: &str, d: Option<&Def>) -> String {
        match d {
            Some(d) => d.default.to_string(),
            None => self.session.get(k).cloned().unwrap_or_default(),
        }
    }

    /// RESET ALL: every parameter back to its default (custom ones forgotten).
    pub fn reset_all(&mut self) {
        self.session.clear();
        self.local.clear();
    }

    /// A transaction block began.
    pub fn begin_block(&mut self) {
        self.at_begin = Some(self.session.clone());
        self.local.clear();
        self.at_savepoint.clear();
    }

    /// The block ended; `committed` false undoes its SETs.
    pub fn end_block(&mut self, committed: bool) {
        if let Some(saved) = self.at_begin.take() {
            if !committed {
                self.session = saved;
            }
        }
        self.local.clear();
        self.at_savepoint.clear();
    }

    /// A savepoint was set (its position among the open savepoints is `depth`).
    pub fn savepoint(&mut self, depth: usize) {
        self.at_savepoint.truncate(depth);
        self.at_savepoint
            .push((self.session.clone(), self.local.clone()));
    }

    /// ROLLBACK TO the savepoint at `depth`: SETs since then are undone.
    pub fn rollback_to(&mut self, depth: usize) {
        if let Some((s, l)) = self.at_savepoint.get(depth) {
            self.session = s.clone();
            self.local = l.clone();
        }
        self.at_savepoint.truncate(depth + 1);
    }

    /// The statement time limit (`statement_timeout`), `None` when 0 (no limit). Read
    /// for every statement, so it skips the general lookup when nothing set it.
    pub fn statement_timeout(&self) -> Option<Duration> {
        const NAME: &str = "statement_timeout";
        let ms = match self.local.get(NAME).or_else(|| self.session.get(NAME)) {
            Some(v) => values::millis_of(v),
            None => {
                static DEFAULT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
                *DEFAULT.get_or_init(|| {
                    values::millis_of(&Settings::default().get(NAME).unwrap_or_default())
                })
            }
        };
        (ms > 0).then(|| Duration::from_millis(ms as u64))
    }

    /// A hash of every value in effect: equal fingerprints mean no setting changed (the
    /// wire server checks it before re-reading the parameters it reports).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.session.hash(&mut h);
        self.local.hash(&mut h);
        h.finish()
    }

    /// `(name, value, description)` for SHOW ALL: the known parameters, then custom ones.
    pub fn all(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = defs::DEFS
            .iter()
            .map(|d| {
                let v = self.get(d.name).unwrap_or_default();
                (d.name.to_string(), v, d.description.to_string())
            })
            .collect();
        let custom = self.session.keys().chain(self.local.keys());
        for k in custom.filter(|k| find(k).is_none()) {
            if !out.iter().any(|(n, _, _)| n == k) {
                let v = self.get(k).unwrap_or_default();
                out.push((k.clone(), v, String::new()));
            }
        }
        out.sort_by_key(|(n, _, _)| n.to_ascii_lowercase());
        out
    }

    /// Rows of `pg_settings`: name, setting, unit, category, short_desc, context,
    /// vartype, source, min_val, max_val, enumvals, boot_val, reset_val.
    pub fn pg_settings_rows(&self) -> Vec<PgSetting> {
        defs::DEFS
            .iter()
            .map(|d| {
                let shown = self.get(d.name).unwrap_or_default();
                let changed = self.session.contains_key(&d.name.to_ascii_lowercase())
                    || self.local.contains_key(&d.name.to_ascii_lowercase());
                PgSetting::of(d, shown, changed)
            })
            .collect()
    }
}

/// One row of `pg_settings`, in PostgreSQL's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct PgSetting {
    pub name: &'static str,
    pub setting: String,
    pub unit: Option<&'static str>,
    pub category: &'static str,
    pub short_desc: &'static str,
    pub context: &'static str,
    pub vartype: &'static str,
    pub source: &'static str,
    pub min_val: Option<String>,
    pub max_val: Option<String>,
    pub enumvals: Option<Vec<String>>,
    pub boot_val: String,
}

impl PgSetting {
    fn of(d: &'static Def, shown: String, changed: bool) -> PgSetting {
        let (vartype, unit, min, max, enumvals) = match d.kind {
            Kind::Bool => ("bool", None, None, None, None),
            Kind::Int { min, max } => (
                "integer",
                None,
                Some(min.to_string()),
                Some(max.to_string()),
                None,
            ),
            Kind::Millis => (
                "integer",
                Some("ms"),
                Some("0".to_string()),
                Some("2147483647".to_string()),
                None,
            ),
            Kind::Enum(v) => (
                "enum",
                None,
                None,
                None,
                Some(v.iter().map(|s| s.to_string()).collect()),
            ),
            Kind::Str | Kind::Special => ("string", None, None, None, None),
        };
        let raw = |v: &str| match d.kind {
            Kind::Millis => values::millis_of(v).to_string(),
            _ => v.to_string(),
        };
        PgSetting {
            name: d.name,
            setting: raw(&shown),
            unit,
            category: d.category,
            short_desc: d.description,
            context: match d.context {
                defs::Context::Internal => "internal",
                defs::Context::User => "user",
            },
            vartype,
            source: if changed { "session" } else { "default" },
            min_val: min,
            max_val: max,
            enumvals,
            boot_val: raw(d.default),
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Settings>> = const { RefCell::new(None) };
}

/// Runs `f` on the settings of the statement running on this thread (a fresh default set
/// when none is installed, e.g. a statement run outside a session).
pub fn with_current<R>(f: impl FnOnce(&mut Settings) -> R) -> R {
    CURRENT.with(|c| {
        let mut slot = c.borrow_mut();
        let s = slot.get_or_insert_with(Settings::default);
        f(s)
    })
}

/// `current_setting(name [, missing_ok])`.
pub fn current_setting(name: &str, missing_ok: bool) -> Result<Option<String>, SqlError> {
    match with_current(|s| s.get(name)) {
        Ok(v) => Ok(Some(v)),
        Err(SqlError::UnrecognizedParameter { .. }) if missing_ok => Ok(None),
        Err(e) => Err(e),
    }
}

/// `set_config(name, value, is_local)`: the new value.
pub fn set_config(name: &str, value: Option<&str>, local: bool) -> Result<String, SqlError> {
    with_current(|s| s.set(name, value, local))
}

impl Session {
    /// Runs `f` with this session's settings installed for the statement (see the
    /// module doc); what `f` changed is kept.
    pub(crate) fn with_settings<R>(&mut self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mine = std::mem::take(&mut self.settings);
        let outer = CURRENT.with(|c| c.replace(Some(mine)));
        let outer_prepared = crate::prepared::install(std::mem::take(&mut self.prepared));
        let outer_sequences = crate::sequence::install(
            self.engine.db.clone(),
            self.engine.sequence_blocks.clone(),
            std::mem::take(&mut self.sequences),
        );
        let r = f(self);
        self.sequences = crate::sequence::uninstall(outer_sequences);
        self.prepared = crate::prepared::install(outer_prepared);
        let mine = CURRENT.with(|c| c.replace(outer)).unwrap_or_default();
        self.settings = mine;
        r
    }

    /// The session's `statement_timeout`, `None` when unlimited, for the wire server to
    /// enforce.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.settings.statement_timeout()
    }

    /// The value SHOW prints for parameter `name` (42704 if unknown).
    pub fn setting(&self, name: &str) -> Result<String, SqlError> {
        self.settings.get(name)
    }

    /// See [`Settings::fingerprint`].
    pub fn settings_fingerprint(&self) -> u64 {
        self.settings.fingerprint()
    }

    /// Sets parameter `name` for the session as SET does (a startup parameter such as
    /// `application_name` or `DateStyle`); returns the value SHOW now prints. The wire
    /// server decides what to do with a value FerrisDB refuses (0A000 for a time zone
    /// other than UTC, for instance).
    pub fn set_parameter(&mut self, name: &str, value: &str) -> Result<String, SqlError> {
        self.settings.set(name, Some(value), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_undoes_set_and_local_ends_with_the_block() {
        let mut s = Settings::default();
        s.set("application_name", Some("a"), false).unwrap();
        s.begin_block();
        s.set("application_name", Some("b"), false).unwrap();
        assert_eq!(s.get("application_name").unwrap(), "b");
        s.end_block(false);
        assert_eq!(s.get("application_name").unwrap(), "a");
        s.begin_block();
        s.set("application_name", Some("loc"), true).unwrap();
        assert_eq!(s.get("APPLICATION_NAME").unwrap(), "loc");
        s.end_block(true);
        assert_eq!(s.get("application_name").unwrap(), "a");
        s.set("application_name", Some("ignored"), true).unwrap();
        assert_eq!(s.get("application_name").unwrap(), "a");
    }

    #[test]
    fn unknown_and_custom_parameters() {
        let mut s = Settings::default();
        let e = s.set("foo", Some("1"), false).unwrap_err();
        assert_eq!(
            (e.to_string().as_str(), e.sqlstate()),
            ("unrecognized configuration parameter \"foo\"", "42704")
        );
        assert_eq!(s.get("ferrisdb.x").unwrap_err().sqlstate(), "42704");
        s.set("FerrisDB.X", Some("y"), false).unwrap();
        assert_eq!(s.get("ferrisdb.x").unwrap(), "y");
        assert!(s
            .all()
            .iter()
            .any(|(n, v, _)| n == "ferrisdb.x" && v == "y"));
    }

    #[test]
    fn statement_timeout_is_exposed() {
        let mut s = Settings::default();
        assert_eq!(s.statement_timeout(), None);
        s.set("statement_timeout", Some("1.5s"), false).unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_millis(1500)));
        assert_eq!(s.get("statement_timeout").unwrap(), "1500ms");
    }
}
