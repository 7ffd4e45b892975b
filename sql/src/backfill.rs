//! Schema changes too large for one transaction: CREATE INDEX, ALTER TABLE ADD UNIQUE and
//! ADD PRIMARY KEY over a table whose rows do not fit the KV layer's 10 MB transaction
//! limit (pgbench's `alter table pgbench_accounts add primary key (aid)` re-keys a
//! million rows at scale 10).
//!
//! Every such statement first runs as one transaction, atomic as any other. Only when
//! that fails with 54000 (too large) and the statement runs outside a transaction block
//! does the session hand it here, where it runs as a *job* of many transactions:
//!
//! 1. **Lock.** One transaction checks the statement again ([`crate::ddl::plan_index`],
//!    [`crate::alter::plan_key_constraint`]), takes the new index id (or a new table id
//!    for a re-key) and writes a [`SchemaLock`] into the table's descriptor: a lease and
//!    the key prefix the job writes under (its *scratch*).
//! 2. **Backfill.** Transactions of at most [`BATCH_ROWS`] rows or [`BATCH_BYTES`] read
//!    the next rows of the table in key order and write their new index entries (or
//!    their re-keyed rows with all index entries), checking uniqueness against what
//!    earlier batches wrote, and renew the lease.
//! 3. **Swap.** One transaction installs the new index (or the re-keyed descriptor, with
//!    the old rows cleared by one range clear) and drops the lock.
//!
//! The lock is PostgreSQL's ACCESS EXCLUSIVE, for writers only: every statement that
//! changes the table reads its descriptor through [`catalog::get_table`], which refuses
//! it with 55P03 while the lease holds; autocommit statements wait and retry, statements
//! in a block get the error (their snapshot would never see the lock go). Because a
//! writer reads the descriptor the lock transaction writes, a writer that raced the lock
//! either committed first (and its rows are backfilled) or conflicts and retries. Readers
//! are not blocked: nothing changes the old layout until the swap, and the swap is one
//! commit.
//!
//! Failure anywhere after the lock (a duplicate key, a NULL key column, an error from
//! storage) clears the scratch prefix and the lock before the error is returned. If the
//! process dies instead, the lease lapses ([`LEASE_MICROS`] after the last batch) and the
//! next writer of the table clears both in its own transaction. A lease is wall-clock
//! time, so it assumes the clocks of the processes that share a table agree to within a
//! lease.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrisdb_kv::key_after;
use ferrisdb_txn::{Database, Transaction};
use sqlparser::ast::{AlterTableOperation, Statement};

use crate::bind::object_name;
use crate::catalog::{self, prefix_range, IndexDef, Relation, SchemaLock, TableDef};
use crate::error::SqlError;
use crate::session::{in_own_transaction, StatementResult};
use crate::store::{self, kv_err};

/// Rows per backfill transaction.
pub const BATCH_ROWS: usize = 4096;
/// Bytes of row values read per backfill transaction (a re-key writes about as many).
pub const BATCH_BYTES: usize = 2 << 20;
/// How long a lock outlives its last renewal.
pub const LEASE_MICROS: i64 = 30_000_000;

/// What a job builds.
#[derive(Clone, Debug)]
pub enum Change {
    /// A new secondary index `IndexDef` on the table (whose next index id is taken).
    Index(TableDef, IndexDef),
    /// The table `old`, keyed by hidden row ids, re-keyed by a primary key as `new`.
    PrimaryKey { old: TableDef, new: TableDef },
}

/// Wall-clock Unix microseconds.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Runs `stmt` as a job if it is a statement this module builds in batches; `None`
/// otherwise (the caller reports its original error).
pub fn run_statement(db: &Database, stmt: &Statement) -> Option<Result<StatementResult, SqlError>> {
    match stmt {
        Statement::CreateIndex(c) => Some(
            run(db, |txn| {
                Ok(crate::ddl::plan_index(txn, c)?.map(|(t, ix)| Change::Index(t, ix)))
            })
            .map(|()| StatementResult::command("CREATE INDEX")),
        ),
        Statement::AlterTable(a) => match a.operations.as_slice() {
            [AlterTableOperation::AddConstraint { constraint, .. }] => Some(
                run(db, |txn| {
                    let t = catalog::get_table(txn, &object_name(&a.name)?)?;
                    crate::alter::plan_key_constraint(txn, t, constraint).map(Some)
                })
                .map(|()| StatementResult::command("ALTER TABLE")),
            ),
            _ => None,
        },
        _ => None,
    }
}

/// Plans, locks, backfills and swaps (see the module doc).
fn run(
    db: &Database,
    mut plan: impl FnMut(&mut Transaction) -> Result<Option<Change>, SqlError>,
) -> Result<(), SqlError> {
    let change = in_own_transaction(db, |txn| {
        let Some(change) = plan(txn)? else {
            return Ok(None);
        };
        let change = match change {
            Change::PrimaryKey { old, mut new } => {
                new.id = catalog::allocate_table_id(txn)?;
                Change::PrimaryKey { old, new }
            }
            index => index,
        };
        let mut locked = table_of(&change).clone();
        locked.lock = Some(SchemaLock {
            lease_until: now_micros() + LEASE_MICROS,
            scratch: scratch_of(&change),
        });
        catalog::put_relation(txn, &Relation::Table(locked))?;
        Ok(Some(change))
    })?;
    let Some(change) = change else {
        return Ok(());
    };
    let r = backfill(db, &change).and_then(|()| in_own_transaction(db, |txn| swap(txn, &change)));
    if let Err(e) = r {
        tracing::info!(error = %e, "schema change failed; clearing what it wrote");
        in_own_transaction(db, |txn| abandon(txn, &change))?;
        return Err(e);
    }
    Ok(())
}

fn table_of(change: &Change) -> &TableDef {
    match change {
        Change::Index(t, _) | Change::PrimaryKey { old: t, .. } => t,
    }
}

fn scratch_of(change: &Change) -> Vec<u8> {
    match change {
        Change::Index(t, ix) => t.index_prefix(ix.id),
        Change::PrimaryKey { new, .. } => new.data_range().begin,
    }
}

/// The table's descriptor as the job sees it: still there and still locked by this job.
fn locked_table(txn: &mut Transaction, change: &Change) -> Result<TableDef, SqlError> {
    let name = &table_of(change).name;
    match catalog::get_relation(txn, name)? {
        Some(Relation::Table(t))
            if t.lock.as_ref().map(|l| &l.scratch) == Some(&scratch_of(change)) =>
        {
            Ok(t)
        }
        _ => Err(SqlError::internal(format!(
            "the schema change of \"{name}\" lost its lock (its lease lapsed)"
        ))),
    }
}

/// Step 2: batches over the table's rows in key order.
fn backfill(db: &Database, change: &Change) -> Result<(), SqlError> {
    let t = table_of(change);
    let mut begin = prefix_range(&t.index_prefix(catalog::PRIMARY_INDEX)).begin;
    loop {
        let next = in_own_transaction(db, |txn| batch(txn, change, &begin))?;
        match next {
            Some(after) => begin = after,
            None => return Ok(()),
        }
    }
}

/// One backfill transaction from `begin`; returns where the next one starts, or `None`
/// after the last row.
fn batch(
    txn: &mut Transaction,
    change: &Change,
    begin: &[u8],
) -> Result<Option<Vec<u8>>, SqlError> {
    let mut t = locked_table(txn, change)?;
    let mut range = prefix_range(&t.index_prefix(catalog::PRIMARY_INDEX));
    range.begin = begin.to_vec();
    let (mut rows, mut bytes) = (0usize, 0usize);
    let mut next = None;
    'read: while rows < BATCH_ROWS && bytes < BATCH_BYTES {
        let want = (BATCH_ROWS - rows).min(256);
        let got = txn.get_range(&range, want, false).map_err(kv_err)?;
        for (k, v) in &got {
            match change {
                Change::Index(t, ix) => store::index_row(txn, t, ix, k, v)?,
                Change::PrimaryKey { old, new } => {
                    store::rekey_row(txn, new, &store::decode_table_row(old, v)?)?
                }
            }
            rows += 1;
            bytes += k.len() + v.len();
            range.begin = key_after(k);
            next = Some(range.begin.clone());
        }
        if got.len() < want {
            next = None;
            break 'read;
        }
    }
    if let Some(lock) = t.lock.as_mut() {
        lock.lease_until = now_micros() + LEASE_MICROS;
    }
    catalog::put_relation(txn, &Relation::Table(t))?;
    Ok(next)
}

/// Step 3: the new layout becomes the table's.
fn swap(txn: &mut Transaction, change: &Change) -> Result<(), SqlError> {
    let locked = locked_table(txn, change)?;
    match change {
        Change::Index(_, ix) => {
            let mut t = locked;
            t.lock = None;
            crate::ddl::finish_index(txn, t, ix.clone())
        }
        Change::PrimaryKey { new, .. } => {
            crate::undo::clear_range(txn, &locked.data_range())?;
            catalog::put_index_name(txn, &new.primary().name, &new.name)?;
            crate::sequence::follow_table(txn, locked.id, new.id, false)?;
            catalog::put_relation(txn, &Relation::Table(new.clone()))
        }
    }
}

/// After a failure: what the job wrote goes, and so does its lock.
fn abandon(txn: &mut Transaction, change: &Change) -> Result<(), SqlError> {
    let Ok(mut t) = locked_table(txn, change) else {
        return Ok(());
    };
    crate::undo::clear_range(txn, &prefix_range(&scratch_of(change)))?;
    t.lock = None;
    catalog::put_relation(txn, &Relation::Table(t))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ferrisdb_txn::{EmbeddedCluster, EmbeddedOptions};

    use super::*;
    use crate::Engine;

    fn setup() -> (tempfile::TempDir, Database, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let db = Database::from_backend(Arc::new(cluster));
        let engine = Engine::new(db.clone());
        engine
            .session()
            .execute("CREATE TABLE t (a INT PRIMARY KEY)")
            .unwrap();
        (dir, db, engine)
    }

    /// Locks `t` as a job would, with a lease ending at `lease_until` and one entry
    /// written under the scratch prefix; returns the prefix.
    fn lock(db: &Database, lease_until: i64) -> Vec<u8> {
        in_own_transaction(db, |txn| {
            let mut t = catalog::get_table(txn, "t")?;
            let scratch = t.index_prefix(t.next_index_id);
            let mut entry = scratch.clone();
            entry.push(1);
            crate::undo::set(txn, &entry, b"")?;
            t.lock = Some(SchemaLock {
                lease_until,
                scratch: scratch.clone(),
            });
            catalog::put_relation(txn, &Relation::Table(t))?;
            Ok(scratch)
        })
        .unwrap()
    }

    fn scratch_entries(db: &Database, scratch: &[u8]) -> usize {
        let mut txn = db.begin();
        txn.get_range(&prefix_range(scratch), 10, false)
            .unwrap()
            .len()
    }

    #[test]
    fn a_writer_in_a_block_gets_55p03_while_the_lease_holds() {
        let (_dir, db, engine) = setup();
        lock(&db, now_micros() + LEASE_MICROS);
        let mut s = engine.session();
        s.execute("BEGIN").unwrap();
        let err = s.execute("INSERT INTO t VALUES (1)").unwrap_err();
        assert_eq!(err.sqlstate(), "55P03");
        assert_eq!(err.to_string(), "could not obtain lock on relation \"t\"");
        s.execute("ROLLBACK").unwrap();
        // Readers are not blocked.
        let r = s.execute("SELECT count(*) FROM t").unwrap();
        assert!(matches!(&r[0], StatementResult::Query { rows, .. } if rows.len() == 1));
    }

    #[test]
    fn a_lapsed_lease_is_cleaned_up_by_the_next_writer() {
        let (_dir, db, engine) = setup();
        let scratch = lock(&db, now_micros() - 1);
        assert_eq!(scratch_entries(&db, &scratch), 1);
        let mut s = engine.session();
        s.execute("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(scratch_entries(&db, &scratch), 0);
        let mut txn = db.begin();
        assert_eq!(catalog::get_table(&mut txn, "t").unwrap().lock, None);
    }

    #[test]
    fn an_autocommit_writer_waits_for_the_lock_to_go() {
        let (_dir, db, engine) = setup();
        lock(&db, now_micros() + LEASE_MICROS);
        let releaser = {
            let db = db.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                in_own_transaction(&db, |txn| {
                    let Some(Relation::Table(mut t)) = catalog::get_relation(txn, "t")? else {
                        unreachable!("t exists")
                    };
                    t.lock = None;
                    catalog::put_relation(txn, &Relation::Table(t))
                })
                .unwrap();
            })
        };
        let mut s = engine.session();
        let r = s.execute("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(r[0].tag(), "INSERT 0 1");
        releaser.join().unwrap();
    }
}
