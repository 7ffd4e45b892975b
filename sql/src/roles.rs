//! Roles: CREATE / ALTER / DROP ROLE (and USER), and what the wire server reads at login.
//!
//! Roles belong to the cluster, not to a database, so their catalog key has no database
//! part ([`crate::catalog`], `01 06`). As in PostgreSQL, CREATE USER is CREATE ROLE with
//! LOGIN as the default, and the bootstrap superuser `postgres` exists from the start
//! without an entry (like the `postgres` database); ALTER ROLE postgres writes one, which
//! then takes its place. Role DDL is transactional like any other catalog write.
//!
//! # Entry value, byte by byte
//!
//! ```text
//!   byte 0    format version, 1
//!   byte 1    flags: bit 0 LOGIN, bit 1 SUPERUSER, bit 2 CREATEDB, bit 3 CREATEROLE
//!   byte 2..  the password verifier's text form (UTF-8; see [`crate::auth`]),
//!             absent (no bytes) when the role has no password
//! ```
//!
//! # Privileges
//!
//! FerrisDB has no GRANTs, but role DDL is checked as PostgreSQL checks it, or any user
//! could set the superuser's password: a superuser may do anything; a CREATEROLE role may
//! manage roles that are not superusers; any role may change its own password. A session
//! whose user has no role (possible only with trust authentication, `--auth trust`) is
//! treated as a superuser, which is what trust means.
//!
//! Options PostgreSQL has but FerrisDB does not use (INHERIT, BYPASSRLS, REPLICATION,
//! CONNECTION LIMIT, VALID UNTIL) are accepted and ignored; role membership (IN ROLE,
//! ROLE, ADMIN) is 0A000.

use ferrisdb_txn::Transaction;
use sqlparser::ast::{
    AlterRoleOperation, CreateRole, Expr, ObjectType, Password, RoleOption, Statement, Value,
};

use crate::auth::{PasswordEncryption, StoredPassword};
use crate::bind::{ident_name, object_name};
use crate::catalog::{prefix_range, role_key, DEFAULT_DATABASE, ROLES_PREFIX};
use crate::error::SqlError;
use crate::session::StatementResult;
use crate::store::kv_err;

/// The role every cluster starts with.
pub const BOOTSTRAP_SUPERUSER: &str = DEFAULT_DATABASE;

const FORMAT: u8 = 1;
const LOGIN: u8 = 1;
const SUPERUSER: u8 = 2;
const CREATEDB: u8 = 4;
const CREATEROLE: u8 = 8;

/// A role as login and DDL see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInfo {
    pub name: String,
    pub can_login: bool,
    pub superuser: bool,
    pub create_db: bool,
    pub create_role: bool,
    pub password: Option<StoredPassword>,
}

impl RoleInfo {
    fn bootstrap() -> RoleInfo {
        RoleInfo {
            name: BOOTSTRAP_SUPERUSER.into(),
            can_login: true,
            superuser: true,
            create_db: true,
            create_role: true,
            password: None,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let flags = [
            (self.can_login, LOGIN),
            (self.superuser, SUPERUSER),
            (self.create_db, CREATEDB),
            (self.create_role, CREATEROLE),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit);
        let mut out = vec![FORMAT, flags];
        if let Some(p) = &self.password {
            out.extend_from_slice(p.to_text().as_bytes());
        }
        out
    }

    fn decode(name: &str, bytes: &[u8]) -> Result<RoleInfo, SqlError> {
        let corrupt = |offset, reason: &str| SqlError::DataCorrupted {
            what: "role",
            offset,
            reason: reason.into(),
        };
        let [version, flags, password @ ..] = bytes else {
            return Err(corrupt(0, "shorter than its header"));
        };
        if *version != FORMAT {
            return Err(corrupt(0, "unknown format version"));
        }
        let password = match password {
            [] => None,
            text => {
                let text = std::str::from_utf8(text).map_err(|_| corrupt(2, "not UTF-8"))?;
                Some(StoredPassword::parse(text).ok_or_else(|| corrupt(2, "not a verifier"))?)
            }
        };
        Ok(RoleInfo {
            name: name.to_string(),
            can_login: flags & LOGIN != 0,
            superuser: flags & SUPERUSER != 0,
            create_db: flags & CREATEDB != 0,
            create_role: flags & CREATEROLE != 0,
            password,
        })
    }
}

/// The role called `name`, if it exists.
pub fn get_role(txn: &mut Transaction, name: &str) -> Result<Option<RoleInfo>, SqlError> {
    match txn.get(&role_key(name)).map_err(kv_err)? {
        Some(bytes) => RoleInfo::decode(name, &bytes).map(Some),
        None if name == BOOTSTRAP_SUPERUSER => Ok(Some(RoleInfo::bootstrap())),
        None => Ok(None),
    }
}

/// Every role, in name order (for `pg_roles`).
pub fn list_roles(txn: &mut Transaction) -> Result<Vec<RoleInfo>, SqlError> {
    let mut range = prefix_range(&ROLES_PREFIX);
    let mut out = Vec::new();
    loop {
        let batch = txn.get_range(&range, 256, false).map_err(kv_err)?;
        for (k, v) in &batch {
            let name = crate::catalog::role_of_key(k)?;
            out.push(RoleInfo::decode(&name, v)?);
        }
        match batch.last() {
            Some((k, _)) if batch.len() == 256 => range.begin = ferrisdb_kv::key_after(k),
            _ => break,
        }
    }
    if !out.iter().any(|r| r.name == BOOTSTRAP_SUPERUSER) {
        out.push(RoleInfo::bootstrap());
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(out)
}

fn put_role(txn: &mut Transaction, role: &RoleInfo) -> Result<(), SqlError> {
    crate::undo::set(txn, &role_key(&role.name), &role.encode())
}

/// The options of CREATE or ALTER ROLE that FerrisDB keeps.
#[derive(Clone, Debug, Default)]
pub struct RoleOptions {
    login: Option<bool>,
    superuser: Option<bool>,
    create_db: Option<bool>,
    create_role: Option<bool>,
    /// `Some(None)`: PASSWORD NULL.
    password: Option<Option<String>>,
}

/// A role statement.
#[derive(Clone, Debug)]
pub enum RoleCommand {
    Create { name: String, options: RoleOptions },
    Alter { name: String, options: RoleOptions },
    Rename { from: String, to: String },
    Drop { names: Vec<String>, if_exists: bool },
}

impl RoleCommand {
    /// The command `stmt` is, if it is a role statement.
    pub fn of(stmt: &Statement) -> Option<Result<RoleCommand, SqlError>> {
        match stmt {
            Statement::CreateRole(c) => Some(create(c)),
            Statement::AlterRole { name, operation } => Some(alter(&ident_name(name), operation)),
            Statement::Drop {
                object_type: ObjectType::Role | ObjectType::User,
                names,
                if_exists,
                ..
            } => Some(
                names
                    .iter()
                    .map(object_name)
                    .collect::<Result<_, _>>()
                    .map(|names| RoleCommand::Drop {
                        names,
                        if_exists: *if_exists,
                    }),
            ),
            _ => None,
        }
    }

    /// Runs the command for a session logged in as `user`.
    pub fn run(
        &self,
        txn: &mut Transaction,
        user: &str,
        encryption: PasswordEncryption,
    ) -> Result<StatementResult, SqlError> {
        let actor = get_role(txn, user)?;
        let actor = Actor {
            name: user,
            superuser: actor.as_ref().is_none_or(|r| r.superuser),
            create_role: actor.as_ref().is_none_or(|r| r.create_role),
        };
        match self {
            RoleCommand::Create { name, options } => {
                create_role(txn, &actor, name, options, encryption)
            }
            RoleCommand::Alter { name, options } => {
                alter_role(txn, &actor, name, options, encryption)
            }
            RoleCommand::Rename { from, to } => rename_role(txn, &actor, from, to),
            RoleCommand::Drop { names, if_exists } => {
                for name in names {
                    drop_role(txn, &actor, name, *if_exists)?;
                }
                Ok(StatementResult::command("DROP ROLE"))
            }
        }
    }
}

fn create(c: &CreateRole) -> Result<RoleCommand, SqlError> {
    let [name] = c.names.as_slice() else {
        return Err(SqlError::unsupported(
            "CREATE ROLE of several roles is not supported",
        ));
    };
    if !(c.in_role.is_empty()
        && c.in_group.is_empty()
        && c.role.is_empty()
        && c.user.is_empty()
        && c.admin.is_empty())
    {
        return Err(SqlError::unsupported("role membership is not supported"));
    }
    let password = c.password.as_ref().map(password_text).transpose()?;
    Ok(RoleCommand::Create {
        name: object_name(name)?,
        options: RoleOptions {
            login: c.login,
            superuser: c.superuser,
            create_db: c.create_db,
            create_role: c.create_role,
            password,
        },
    })
}

fn alter(name: &str, operation: &AlterRoleOperation) -> Result<RoleCommand, SqlError> {
    let options = match operation {
        AlterRoleOperation::RenameRole { role_name } => {
            return Ok(RoleCommand::Rename {
                from: name.to_string(),
                to: ident_name(role_name),
            })
        }
        AlterRoleOperation::WithOptions { options } => options,
        other => {
            return Err(SqlError::unsupported(format!(
                "ALTER ROLE {other} is not supported"
            )))
        }
    };
    let mut out = RoleOptions::default();
    for option in options {
        match option {
            RoleOption::Login(b) => out.login = Some(*b),
            RoleOption::SuperUser(b) => out.superuser = Some(*b),
            RoleOption::CreateDB(b) => out.create_db = Some(*b),
            RoleOption::CreateRole(b) => out.create_role = Some(*b),
            RoleOption::Password(p) => out.password = Some(password_text(p)?),
            RoleOption::BypassRLS(_)
            | RoleOption::ConnectionLimit(_)
            | RoleOption::Inherit(_)
            | RoleOption::Replication(_)
            | RoleOption::ValidUntil(_) => {}
        }
    }
    Ok(RoleCommand::Alter {
        name: name.to_string(),
        options: out,
    })
}

/// The password a PASSWORD clause gives; `None` for NULL. PostgreSQL clears the password
/// for an empty string too ("empty string is not a valid password").
fn password_text(p: &Password) -> Result<Option<String>, SqlError> {
    let text = match p {
        Password::NullPassword => return Ok(None),
        Password::Password(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => s.clone(),
            Value::DollarQuotedString(d) => d.value.clone(),
            Value::Null => return Ok(None),
            _ => return Err(not_a_string()),
        },
        Password::Password(_) => return Err(not_a_string()),
    };
    Ok(Some(text).filter(|t| !t.is_empty()))
}

fn not_a_string() -> SqlError {
    SqlError::InvalidParameterValue {
        message: "a password must be a string constant".into(),
    }
}

/// Who runs a role statement.
struct Actor<'a> {
    name: &'a str,
    superuser: bool,
    create_role: bool,
}

impl Actor<'_> {
    /// Whether this role may create, change or drop `target` (PostgreSQL's rule).
    fn may_manage(&self, target_superuser: bool, verb: &str) -> Result<(), SqlError> {
        let message = if target_superuser && !self.superuser {
            format!("must be superuser to {verb} superusers")
        } else if !self.superuser && !self.create_role {
            format!("permission denied to {verb} role")
        } else {
            return Ok(());
        };
        Err(SqlError::InsufficientPrivilege { message })
    }
}

fn undefined(name: &str) -> SqlError {
    SqlError::UndefinedObject {
        kind: "role".into(),
        name: name.to_string(),
    }
}

fn create_role(
    txn: &mut Transaction,
    actor: &Actor<'_>,
    name: &str,
    options: &RoleOptions,
    encryption: PasswordEncryption,
) -> Result<StatementResult, SqlError> {
    actor.may_manage(options.superuser == Some(true), "create")?;
    if get_role(txn, name)?.is_some() {
        return Err(SqlError::DuplicateObject {
            kind: "role".into(),
            name: name.to_string(),
        });
    }
    let role = RoleInfo {
        name: name.to_string(),
        can_login: options.login.unwrap_or(false),
        superuser: options.superuser.unwrap_or(false),
        create_db: options.create_db.unwrap_or(false),
        create_role: options.create_role.unwrap_or(false),
        password: options
            .password
            .clone()
            .flatten()
            .map(|p| StoredPassword::from_input(&p, name, encryption)),
    };
    put_role(txn, &role)?;
    Ok(StatementResult::command("CREATE ROLE"))
}

fn alter_role(
    txn: &mut Transaction,
    actor: &Actor<'_>,
    name: &str,
    options: &RoleOptions,
    encryption: PasswordEncryption,
) -> Result<StatementResult, SqlError> {
    let mut role = get_role(txn, name)?.ok_or_else(|| undefined(name))?;
    let only_own_password = name == actor.name
        && options.login.is_none()
        && options.superuser.is_none()
        && options.create_db.is_none()
        && options.create_role.is_none();
    if !only_own_password {
        actor.may_manage(role.superuser || options.superuser.is_some(), "alter")?;
    }
    if name == BOOTSTRAP_SUPERUSER && options.superuser == Some(false) {
        return Err(SqlError::unsupported(
            "the bootstrap superuser must have the SUPERUSER attribute",
        ));
    }
    let set = |field: &mut bool, value: Option<bool>| *field = value.unwrap_or(*field);
    set(&mut role.can_login, options.login);
    set(&mut role.superuser, options.superuser);
    set(&mut role.create_db, options.create_db);
    set(&mut role.create_role, options.create_role);
    if let Some(p) = &options.password {
        role.password = p
            .as_deref()
            .map(|p| StoredPassword::from_input(p, name, encryption));
    }
    put_role(txn, &role)?;
    Ok(StatementResult::command("ALTER ROLE"))
}

fn rename_role(
    txn: &mut Transaction,
    actor: &Actor<'_>,
    from: &str,
    to: &str,
) -> Result<StatementResult, SqlError> {
    let mut role = get_role(txn, from)?.ok_or_else(|| undefined(from))?;
    if from == actor.name {
        return Err(SqlError::unsupported("session user cannot be renamed"));
    }
    actor.may_manage(role.superuser, "rename")?;
    if from == BOOTSTRAP_SUPERUSER {
        return Err(SqlError::unsupported(
            "renaming the bootstrap superuser is not supported",
        ));
    }
    if get_role(txn, to)?.is_some() {
        return Err(SqlError::DuplicateObject {
            kind: "role".into(),
            name: to.to_string(),
        });
    }
    // An MD5 verifier is salted with the role name, so it is useless under the new one;
    // PostgreSQL clears it ("MD5 password cleared because of role rename").
    if matches!(role.password, Some(StoredPassword::Md5(_))) {
        role.password = None;
    }
    crate::undo::clear(txn, &role_key(from))?;
    role.name = to.to_string();
    put_role(txn, &role)?;
    Ok(StatementResult::command("ALTER ROLE"))
}

fn drop_role(
    txn: &mut Transaction,
    actor: &Actor<'_>,
    name: &str,
    if_exists: bool,
) -> Result<StatementResult, SqlError> {
    let Some(role) = get_role(txn, name)? else {
        if if_exists {
            return Ok(StatementResult::command("DROP ROLE"));
        }
        return Err(undefined(name));
    };
    actor.may_manage(role.superuser, "drop")?;
    if name == actor.name {
        return Err(SqlError::ObjectInUse {
            message: "current user cannot be dropped".into(),
        });
    }
    if name == BOOTSTRAP_SUPERUSER {
        return Err(SqlError::ObjectInUse {
            message: format!(
                "cannot drop role {name} because it is required by the database system"
            ),
        });
    }
    crate::undo::clear(txn, &role_key(name))?;
    Ok(StatementResult::command("DROP ROLE"))
}

#[cfg(test)]
#[path = "roles_tests.rs"]
mod tests;
