//! CREATE DATABASE / DROP DATABASE: databases as isolated name spaces of one cluster
//! (the key layout is in [`crate::catalog`]). A session works in one database, chosen
//! when it opens ([`crate::Engine::session_for`]); `postgres` always exists.
//!
//! As in PostgreSQL, neither statement runs inside a transaction block (25001), a
//! session cannot drop the database it is connected to (55006), and the names are
//! `42P04` when taken and `3D000` when missing. Unlike PostgreSQL, dropping a database
//! other sessions are connected to is not refused: their statements then find no
//! relations.

use ferrisdb_txn::Transaction;
use sqlparser::ast::{ObjectName, ObjectType, Statement};

use crate::bind::object_name;
use crate::catalog::{self, DEFAULT_DATABASE};
use crate::error::SqlError;
use crate::session::StatementResult;

/// What a CREATE/DROP DATABASE statement asks for.
pub struct DatabaseCommand {
    name: String,
    create: bool,
    /// IF NOT EXISTS (create) / IF EXISTS (drop).
    tolerant: bool,
}

impl DatabaseCommand {
    /// The command `stmt` is, if it is CREATE or DROP DATABASE.
    pub fn of(stmt: &Statement) -> Option<Result<DatabaseCommand, SqlError>> {
        let (names, create, tolerant): (Vec<&ObjectName>, bool, bool) = match stmt {
            Statement::CreateDatabase {
                db_name,
                if_not_exists,
                ..
            } => (vec![db_name], true, *if_not_exists),
            Statement::Drop {
                object_type: ObjectType::Database,
                names,
                if_exists,
                ..
            } => (names.iter().collect(), false, *if_exists),
            _ => return None,
        };
        let [name] = names.as_slice() else {
            return Some(Err(SqlError::unsupported(
                "DROP DATABASE of several databases",
            )));
        };
        Some(object_name(name).map(|name| DatabaseCommand {
            name,
            create,
            tolerant,
        }))
    }

    /// The statement's text for error messages ("CREATE DATABASE").
    pub fn verb(&self) -> &'static str {
        if self.create {
            "CREATE DATABASE"
        } else {
            "DROP DATABASE"
        }
    }

    /// Runs the command from a session connected to `current`.
    pub fn run(&self, txn: &mut Transaction, current: &str) -> Result<StatementResult, SqlError> {
        let exists = catalog::database_exists(txn, &self.name)?;
        if self.create {
            if exists {
                if self.tolerant {
                    return Ok(StatementResult::command("CREATE DATABASE"));
                }
                return Err(SqlError::DuplicateDatabase {
                    name: self.name.clone(),
                });
            }
            catalog::put_database(txn, &self.name)?;
            return Ok(StatementResult::command("CREATE DATABASE"));
        }
        if !exists {
            if self.tolerant {
                return Ok(StatementResult::command("DROP DATABASE"));
            }
            return Err(SqlError::UndefinedDatabase {
                name: self.name.clone(),
            });
        }
        if self.name == current {
            return Err(SqlError::ObjectInUse {
                message: "cannot drop the currently open database".into(),
            });
        }
        if self.name == DEFAULT_DATABASE {
            return Err(SqlError::unsupported("dropping the postgres database"));
        }
        catalog::delete_database(txn, &self.name)?;
        Ok(StatementResult::command("DROP DATABASE"))
    }
}
