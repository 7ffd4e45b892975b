//! Table rows and index entries in KV: writing a row with its index entries and unique
//! checks, deleting one, and decoding what scans read. The byte layout is documented in
//! [`crate::catalog`].
//!
//! Every write keeps the invariant *a row exists iff each secondary index holds exactly
//! one entry for it*: [`insert_row`] writes the row and one entry per index,
//! [`delete_row`] clears both. Unique checks read the index in the same transaction, so
//! two concurrent inserts of one key conflict at commit (the loser retries or gets 40001)
//! rather than both succeeding.

use ferrisdb_txn::{Transaction, TxnError};

use crate::catalog::{prefix_range, IndexDef, TableDef, PRIMARY_INDEX};
use crate::datum::Datum;
use crate::encoding::{decode_row, encode_key, encode_key_datum, encode_row, KeyColumn};
use crate::error::SqlError;
use crate::types::DataType;
use ferrisdb_kv::tuple::Order;

/// Maps a KV failure to the SQL error clients see: conflicts and expired read versions
/// are 40001 (retryable), anything else an internal error naming the cause.
pub fn kv_err(e: TxnError) -> SqlError {
    match e {
        TxnError::RetryLimit { last, .. } => kv_err(*last),
        TxnError::TransactionTooLarge { size, max } => SqlError::ProgramLimitExceeded {
            message: format!(
                "transaction is too large: its writes would take {size} bytes, more than the limit of {max}"
            ),
            hint: None,
        },
        TxnError::NotCommitted { range, .. } => SqlError::SerializationFailure {
            reason: "concurrent update".into(),
            conflict_key: Some(range.begin),
        },
        e if e.is_retryable() => SqlError::SerializationFailure {
            reason: format!("concurrent update ({e})"),
            conflict_key: None,
        },
        e => SqlError::internal(format!("storage error: {e}")),
    }
}

fn asc(data_type: DataType) -> KeyColumn {
    KeyColumn {
        data_type,
        order: Order::Asc,
    }
}

/// The key columns of the primary key (a bigint row id without a declared one).
pub fn primary_key_columns(t: &TableDef) -> Vec<KeyColumn> {
    if t.has_row_id() {
        return vec![asc(DataType::Int8)];
    }
    t.primary()
        .columns
        .iter()
        .map(|c| asc(t.columns[*c].data_type))
        .collect()
}

/// The key columns of a secondary index entry: its columns, then the primary key.
pub fn index_key_columns(t: &TableDef, ix: &IndexDef) -> Vec<KeyColumn> {
    if ix.id == PRIMARY_INDEX {
        return primary_key_columns(t);
    }
    let mut cols: Vec<KeyColumn> = ix
        .columns
        .iter()
        .map(|c| asc(t.columns[*c].data_type))
        .collect();
    cols.extend(primary_key_columns(t));
    cols
}

/// The full KV key of the row whose primary-key values are `pk`.
pub fn primary_key_of(t: &TableDef, pk: &[Datum]) -> Result<Vec<u8>, SqlError> {
    let mut k = t.index_prefix(PRIMARY_INDEX);
    k.extend(encode_key(pk, &primary_key_columns(t))?);
    Ok(k)
}

/// The primary-key values of `row` (given its row id, for tables without a primary key).
pub fn primary_values(t: &TableDef, row: &[Datum], row_id: Option<i64>) -> Vec<Datum> {
    match row_id {
        Some(id) if t.has_row_id() => vec![Datum::Int(id)],
        _ => t
            .primary()
            .columns
            .iter()
            .map(|c| row[*c].clone())
            .collect(),
    }
}

/// The primary-key values stored in a row key (the bytes after the primary prefix).
pub fn primary_values_of_key(t: &TableDef, key: &[u8]) -> Result<Vec<Datum>, SqlError> {
    let prefix = t.index_prefix(PRIMARY_INDEX).len();
    crate::encoding::decode_key(key.get(prefix..).unwrap_or(&[]), &primary_key_columns(t))
}

/// Decodes a stored row value, checking its width against the table.
pub fn decode_table_row(t: &TableDef, value: &[u8]) -> Result<Vec<Datum>, SqlError> {
    let row = decode_row(value)?;
    if row.len() != t.columns.len() {
        return Err(SqlError::DataCorrupted {
            what: "row",
            offset: 0,
            reason: format!(
                "{} columns stored for table \"{}\" of {}",
                row.len(),
                t.name,
                t.columns.len()
            ),
        });
    }
    Ok(row)
}

fn entry_key(
    t: &TableDef,
    ix: &IndexDef,
    row: &[Datum],
    pk: &[Datum],
) -> Result<Vec<u8>, SqlError> {
    let mut k = t.index_prefix(ix.id);
    for c in &ix.columns {
        encode_key_datum(&mut k, &row[*c], Order::Asc);
    }
    k.extend(encode_key(pk, &primary_key_columns(t))?);
    Ok(k)
}

/// Whether another row holds `row`'s values in unique index `ix` (NULLs never collide).
/// `own_pk` is the row's own primary key, not counted.
pub fn unique_conflict(
    txn: &mut Transaction,
    t: &TableDef,
    ix: &IndexDef,
    row: &[Datum],
    own_pk: Option<&[u8]>,
) -> Result<bool, SqlError> {
    if ix.columns.iter().any(|c| row[*c].is_null()) {
        return Ok(false);
    }
    if ix.primary {
        let pk = primary_key_of(t, &primary_values(t, row, None))?;
        if own_pk == Some(pk.as_slice()) {
            return Ok(false);
        }
        return Ok(txn.get(&pk).map_err(kv_err)?.is_some());
    }
    let mut prefix = t.index_prefix(ix.id);
    for c in &ix.columns {
        encode_key_datum(&mut prefix, &row[*c], Order::Asc);
    }
    let found = txn
        .get_range(&prefix_range(&prefix), 2, false)
        .map_err(kv_err)?;
    let own_suffix = own_pk.map(|pk| pk[t.index_prefix(PRIMARY_INDEX).len()..].to_vec());
    Ok(found
        .iter()
        .any(|(k, _)| own_suffix.as_deref() != Some(&k[prefix.len()..])))
}

/// The first unique index (primary included) `row` would violate, if any.
pub fn find_unique_violation<'t>(
    txn: &mut Transaction,
    t: &'t TableDef,
    row: &[Datum],
    own_pk: Option<&[u8]>,
) -> Result<Option<&'t IndexDef>, SqlError> {
    for ix in &t.indexes {
        let keyed_by_row_id = ix.primary && t.has_row_id();
        if ix.unique && !keyed_by_row_id && unique_conflict(txn, t, ix, row, own_pk)? {
            return Ok(Some(ix));
        }
    }
    Ok(None)
}

/// Writes a new row (already checked) and its index entries; returns its row key.
pub fn insert_row(
    txn: &mut Transaction,
    t: &TableDef,
    row: &[Datum],
    row_id: Option<i64>,
) -> Result<Vec<u8>, SqlError> {
    let pk = primary_values(t, row, row_id);
    let key = primary_key_of(t, &pk)?;
    crate::undo::set(txn, &key, &encode_row(row))?;
    for ix in t.indexes.iter().skip(1) {
        crate::undo::set(txn, &entry_key(t, ix, row, &pk)?, &[])?;
    }
    Ok(key)
}

/// Deletes the row stored under `key` (whose values are `row`) and its index entries.
pub fn delete_row(
    txn: &mut Transaction,
    t: &TableDef,
    key: &[u8],
    row: &[Datum],
) -> Result<(), SqlError> {
    let pk = primary_values_of_key(t, key)?;
    crate::undo::clear(txn, key)?;
    for ix in t.indexes.iter().skip(1) {
        crate::undo::clear(txn, &entry_key(t, ix, row, &pk)?)?;
    }
    Ok(())
}

/// 23505 "could not create unique index" with PostgreSQL's `Key (a)=(1) is duplicated.`
pub fn duplicated(t: &TableDef, ix: &IndexDef, row: &[Datum]) -> SqlError {
    let names: Vec<&str> = ix
        .columns
        .iter()
        .map(|c| t.columns[*c].name.as_str())
        .collect();
    let values: Vec<String> = ix
        .columns
        .iter()
        .map(|c| {
            row[*c]
                .to_text(&t.columns[*c].data_type)
                .unwrap_or_else(|| "null".into())
        })
        .collect();
    SqlError::UniqueIndexBuild {
        index: ix.name.clone(),
        detail: format!(
            "Key ({})=({}) is duplicated.",
            names.join(", "),
            values.join(", ")
        ),
    }
}

/// Writes the entries of a new index `ix` for every existing row (CREATE INDEX), checking
/// uniqueness as it goes.
pub fn build_index(txn: &mut Transaction, t: &TableDef, ix: &IndexDef) -> Result<(), SqlError> {
    let mut range = prefix_range(&t.index_prefix(PRIMARY_INDEX));
    loop {
        let batch = txn.get_range(&range, 256, false).map_err(kv_err)?;
        for (k, v) in &batch {
            let row = decode_table_row(t, v)?;
            let pk = primary_values_of_key(t, k)?;
            if ix.unique && unique_conflict(txn, t, ix, &row, Some(k))? {
                return Err(duplicated(t, ix, &row));
            }
            crate::undo::set(txn, &entry_key(t, ix, &row, &pk)?, &[])?;
        }
        match batch.last() {
            Some((k, _)) if batch.len() == 256 => range.begin = ferrisdb_kv::key_after(k),
            _ => return Ok(()),
        }
    }
}
