//! The undo journal behind savepoints: while a savepoint is open, every write the SQL
//! layer makes first records the key's prior value, so ROLLBACK TO can restore it.
//!
//! A `ferrisdb_txn::Transaction` buffers its writes and cannot forget some of them, so a
//! rollback to a savepoint is done forward: each journaled key is written back to the
//! value it had when the savepoint was set (or cleared if it had none), newest entry
//! first. The transaction's mutation list then holds both the undone writes and their
//! undoing, whose net effect is the savepoint's state; the write conflict ranges stay,
//! as PostgreSQL keeps the locks a rolled-back subtransaction took.
//!
//! ```text
//!   journal: [ (key, prior value | absent), ... ]     oldest first
//!   savepoint s = journal length when SAVEPOINT s ran
//!   ROLLBACK TO s: pop and restore entries until the length is s's again
//! ```
//!
//! Prior values are read with snapshot reads (no read conflict, the transaction's own
//! writes included). A range clear journals every key in the range, so DROP TABLE inside
//! a savepoint reads the table once. Without an open savepoint nothing is journaled and a
//! write costs what it did before. Every SQL-layer write goes through [`set`], [`clear`]
//! and [`clear_range`]; the journal is installed for the duration of a statement with
//! [`with_journal`] (a scoped thread-local, as statement parameters are: writes happen
//! deep inside the store and catalog, on the thread running the statement).
//!
//! Being the one door for writes, this is also where a write to the catalog space marks
//! the transaction as changing metadata (`Transaction::touch_metadata_version`): the
//! catalog's reads are served from a cache that a committed catalog change invalidates for
//! every session (see `ferrisdb_txn::MetadataCache`).

use std::cell::RefCell;

use ferrisdb_kv::{key_after, KeyRange};
use ferrisdb_txn::Transaction;

use crate::catalog::CATALOG_SPACE;
use crate::error::SqlError;
use crate::store::kv_err;

/// One journaled key and the value it had before.
#[derive(Clone, Debug, PartialEq)]
pub struct Undo {
    key: Vec<u8>,
    prior: Option<Vec<u8>>,
}

thread_local! {
    static JOURNAL: RefCell<Option<Vec<Undo>>> = const { RefCell::new(None) };
}

/// Runs `f` with writes journaled into `journal`.
pub fn with_journal<R>(journal: &mut Vec<Undo>, f: impl FnOnce() -> R) -> R {
    let saved = JOURNAL.with(|j| j.replace(Some(std::mem::take(journal))));
    let r = f();
    *journal = JOURNAL
        .with(|j| std::mem::replace(&mut *j.borrow_mut(), saved))
        .unwrap_or_default();
    r
}

fn journaling() -> bool {
    JOURNAL.with(|j| j.borrow().is_some())
}

fn record(txn: &mut Transaction, key: &[u8]) -> Result<(), SqlError> {
    if !journaling() {
        return Ok(());
    }
    let prior = txn.snapshot_get(key).map_err(kv_err)?;
    JOURNAL.with(|j| {
        if let Some(j) = j.borrow_mut().as_mut() {
            j.push(Undo {
                key: key.to_vec(),
                prior,
            });
        }
    });
    Ok(())
}

/// Marks `txn` as changing the catalog when `key` is a catalog key.
fn touch_if_catalog(txn: &mut Transaction, key: &[u8]) -> Result<(), SqlError> {
    if key.first() == Some(&CATALOG_SPACE) {
        txn.touch_metadata_version().map_err(kv_err)?;
    }
    Ok(())
}

/// `txn.set`, journaled.
pub fn set(txn: &mut Transaction, key: &[u8], value: &[u8]) -> Result<(), SqlError> {
    record(txn, key)?;
    touch_if_catalog(txn, key)?;
    txn.set(key, value).map_err(kv_err)
}

/// `txn.clear`, journaled.
pub fn clear(txn: &mut Transaction, key: &[u8]) -> Result<(), SqlError> {
    record(txn, key)?;
    touch_if_catalog(txn, key)?;
    txn.clear(key).map_err(kv_err)
}

/// `txn.clear_range`, journaling every key present in the range.
pub fn clear_range(txn: &mut Transaction, range: &KeyRange) -> Result<(), SqlError> {
    let catalog = KeyRange::new(vec![CATALOG_SPACE], vec![CATALOG_SPACE + 1]);
    if range.intersects(&catalog) {
        txn.touch_metadata_version().map_err(kv_err)?;
    }
    if journaling() {
        let mut rest = range.clone();
        loop {
            let page = txn.snapshot_get_range(&rest, 256, false).map_err(kv_err)?;
            JOURNAL.with(|j| {
                if let Some(j) = j.borrow_mut().as_mut() {
                    j.extend(page.iter().map(|(k, v)| Undo {
                        key: k.clone(),
                        prior: Some(v.clone()),
                    }));
                }
            });
            match page.last() {
                Some((k, _)) if page.len() == 256 => rest.begin = key_after(k),
                _ => break,
            }
        }
    }
    txn.clear_range(range).map_err(kv_err)
}

/// Restores every key journaled after position `mark`, newest first, and forgets those
/// entries.
pub fn rollback_to(
    txn: &mut Transaction,
    journal: &mut Vec<Undo>,
    mark: usize,
) -> Result<(), SqlError> {
    while journal.len() > mark {
        let Some(u) = journal.pop() else { break };
        touch_if_catalog(txn, &u.key)?;
        match &u.prior {
            Some(v) => txn.set(&u.key, v).map_err(kv_err)?,
            None => txn.clear(&u.key).map_err(kv_err)?,
        }
    }
    Ok(())
}
