//! Bulk loads inside a transaction block into a table the block itself created or
//! truncated: pgbench's `begin; truncate ...; copy pgbench_accounts from stdin; commit`
//! writes 13 MB per scale unit, past the KV layer's 10 MB transaction limit.
//!
//! TRUNCATE gives the table a new table id (PostgreSQL gives it a new relfilenode): the
//! descriptor, rewritten in the block's transaction, points at an empty key range no
//! other transaction can reach, because every other transaction resolves the table
//! through the committed descriptor. So until the block commits, nobody but the block
//! reads or writes that range, and a COPY in the block can write its rows there in
//! transactions of its own, batch by batch (*side writes*), without breaking isolation:
//! the rows become visible exactly when the block's descriptor change commits. The same
//! holds for a table CREATEd in the block.
//!
//! Conditions, checked by the session: the table was created or truncated earlier in
//! this block, nothing but queries, COPYs and INSERTs into other tables ran in the block
//! since, no savepoint is
//! open (a ROLLBACK TO could not take side writes back), and the COPY is larger than one
//! batch (5,000 rows or 2 MB; a smaller one goes into the block's transaction as
//! usual, as does any COPY failing the conditions, with 54000 beyond the limit).
//!
//! The block's own snapshot predates the side-written rows, so it cannot read them:
//! after a side-writing COPY the block accepts only COPY, COMMIT and ROLLBACK (0A000 for
//! anything else) rather than answer from a table that looks empty to it.
//!
//! A block that ends without committing (ROLLBACK, a failed commit, an error, the client
//! going away) clears the side-written ranges in a transaction of its own. A crash before
//! that leaves rows under an id no descriptor names: unreachable garbage, not data.

use sqlparser::ast::{Statement, TableObject};

use crate::catalog::{self, Relation};
use crate::error::SqlError;
use crate::session::{in_own_transaction, Session};

/// The block's bulk-load state: ids of tables fresh in this block, and of those COPY
/// has side-written.
#[derive(Default, Debug)]
pub(crate) struct Fresh {
    /// (name, id) of the tables fresh in this block.
    tables: Vec<(String, u64)>,
    side_written: Vec<u64>,
}

impl Fresh {
    /// Whether a COPY into table `id` may side-write.
    pub(crate) fn allows(&self, id: u64) -> bool {
        self.tables.iter().any(|(_, t)| *t == id)
    }

    /// A statement other than COPY, COMMIT or ROLLBACK after a side-writing COPY is
    /// refused: the block's snapshot predates the side-written rows, so it would read the
    /// table as empty (0A000 rather than a wrong answer).
    pub(crate) fn check_statement(&self) -> Result<(), SqlError> {
        if self.side_written.is_empty() {
            return Ok(());
        }
        Err(SqlError::unsupported(
            "after a COPY of more than one batch into a table created or truncated in this transaction block, the block can only COPY, COMMIT or ROLLBACK",
        ))
    }

    pub(crate) fn side_written(&mut self, id: u64) {
        if !self.side_written.contains(&id) {
            self.side_written.push(id);
        }
    }
}

impl Session {
    /// Updates the fresh-table state after `stmt` succeeded inside the block.
    /// An INSERT makes only its own table stale (its rows are in the block's
    /// transaction, where side writes could not see them); other writes and DDL make
    /// every table stale.
    pub(crate) fn note_block_statement(&mut self, stmt: &Statement) {
        let names: Vec<String> = match stmt {
            Statement::Truncate(t) => t
                .table_names
                .iter()
                .filter_map(|t| crate::bind::object_name(&t.name).ok())
                .collect(),
            Statement::CreateTable(c) => crate::bind::object_name(&c.name).into_iter().collect(),
            Statement::Query(_) | Statement::Copy { .. } => return,
            Statement::Insert(i) => {
                match &i.table {
                    TableObject::TableName(n) => match crate::bind::object_name(n) {
                        Ok(name) => self.fresh.tables.retain(|(t, _)| *t != name),
                        Err(_) => self.fresh.tables.clear(),
                    },
                    _ => self.fresh.tables.clear(),
                }
                return;
            }
            _ => {
                self.fresh.tables.clear();
                return;
            }
        };
        let Some(txn) = self.txn.as_mut() else { return };
        let db = self.database.clone();
        let ids: Vec<(String, u64)> = catalog::with_database(&db, || {
            names
                .iter()
                .filter_map(|n| match catalog::get_relation(txn, n) {
                    Ok(Some(Relation::Table(t))) => Some((n.clone(), t.id)),
                    _ => None,
                })
                .collect()
        });
        self.fresh.tables.extend(ids);
    }

    /// The block committed: side writes are the table's rows now.
    pub(crate) fn fresh_committed(&mut self) {
        self.fresh = Fresh::default();
    }

    /// The block ended without committing: clear what COPY side-wrote.
    pub(crate) fn fresh_discarded(&mut self) {
        let fresh = std::mem::take(&mut self.fresh);
        for id in fresh.side_written {
            let range = catalog::table_data_range(id);
            let r =
                in_own_transaction(&self.engine.db, |txn| crate::undo::clear_range(txn, &range));
            if let Err(e) = r {
                tracing::warn!(table_id = id, error = %e, "could not clear a rolled-back COPY's rows");
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.txn.is_some() {
            self.fresh_discarded();
        }
    }
}
