//! The catalog: tables, views and indexes, stored as KV entries and read inside the
//! statement's own transaction, so DDL is transactional like any other write.
//!
//! # Key layout, byte by byte
//!
//! Every key the SQL layer writes starts with one *space* byte, all below the 0xff system
//! keyspace. Numbers and names inside keys use the tuple encoding of
//! [`crate::encoding::encode_key_datum`] (ascending), written `tuple(..)` below.
//!
//! ```text
//!   01 01                          next object id: u64 little-endian (absent = 1)
//!   01 02 tuple(Text db) tuple(Text name)
//!                                  relation descriptor (table or view), see codec
//!   01 03 tuple(Text db) tuple(Text name)
//!                                  index name -> table name (one namespace per database)
//!   01 04 ...                      unused (was a per-table row-id counter; row ids now
//!                                  come from [`crate::rowid`])
//!   01 05 tuple(Text db)           a database created by CREATE DATABASE (empty value);
//!                                  `postgres` exists without one
//!   01 06 tuple(Text role)         a role (cluster-wide, no database part): its flags and
//!                                  password verifier, see [`crate::roles`]; the
//!                                  bootstrap superuser `postgres` exists without one
//!   01 07 tuple(Int sequence id)   a sequence's next value, i128 little-endian (absent:
//!                                  its START), written outside the statement's
//!                                  transaction, see [`crate::sequence`]
//!   02 tuple(Int table id) tuple(Int index id) key...
//!        index id 1 (primary):     key   = encode_key(primary-key columns)
//!                                          or tuple(Int row id) without a primary key
//!                                          (a [`crate::rowid`] id)
//!                                  value = encode_row(every column, in table order)
//!        index id >= 2 (secondary): key  = encode_key(index columns)
//!                                          ++ the primary key part above
//!                                  value = empty
//! ```
//!
//! A secondary entry carries the primary key so that equal index values stay distinct
//! keys; a unique index checks for an existing entry with the same index-column prefix
//! before writing (NULLs never collide, as in PostgreSQL). Because rows and entries of one
//! table share the prefix `02 tuple(id)`, DROP TABLE and TRUNCATE are one range clear.
//!
//! Databases are name spaces: only names are per database. Table ids come from one
//! counter, so rows of tables of different databases never share a key, and DROP
//! DATABASE clears each of its tables' ranges and its two name ranges. The database a
//! statement works in is installed for its duration with [`with_database`] (a scoped
//! thread-local, like statement parameters: every catalog read and write below needs it,
//! and they happen on the thread running the statement).
//!
//! Each statement reads the descriptors it names with `Transaction::get_cached`: one point
//! read each, answered from the database handle's metadata cache while no catalog change
//! has committed (every catalog write goes through [`crate::undo`], which marks the
//! transaction as changing metadata, and its commit starts a new cache epoch). A cached
//! read still puts the key in the transaction's read set, so a concurrent DDL change
//! committed before this transaction does makes a stale statement conflict (40001) instead
//! of running on an old schema.

mod codec;

pub use codec::type_from_oid;

use ferrisdb_kv::{strinc, KeyRange};
use ferrisdb_txn::Transaction;

use crate::datum::Datum;
use crate::encoding::encode_key_datum;
use crate::error::SqlError;
use crate::store::kv_err;
use crate::types::DataType;
use ferrisdb_kv::tuple::Order;

pub use codec::{decode_relation, encode_relation};

/// Key space of catalog entries.
pub const CATALOG_SPACE: u8 = 0x01;
/// Key space of table rows and index entries.
pub const DATA_SPACE: u8 = 0x02;
/// The index id of every table's primary index (its rows).
pub const PRIMARY_INDEX: u32 = 1;

/// One column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub not_null: bool,
    /// The DEFAULT expression as SQL text, parsed again when used.
    pub default: Option<String>,
}

/// An index of a table; the primary index holds the rows themselves.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexDef {
    pub id: u32,
    pub name: String,
    /// Column positions in the table. Empty for the primary index of a table without a
    /// primary key (keyed by a hidden row id).
    pub columns: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
    /// Made for a UNIQUE constraint (CREATE TABLE, ALTER TABLE ADD), not by CREATE
    /// UNIQUE INDEX: PostgreSQL lists the former in `pg_constraint` too.
    pub constraint: bool,
}

/// A named CHECK constraint; the expression is SQL text over the table's columns.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

/// A table's descriptor.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub id: u64,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// `indexes[0]` is the primary index.
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    pub next_index_id: u32,
    /// Set while a schema change rebuilds the table in batches ([`crate::backfill`]).
    pub lock: Option<SchemaLock>,
}

/// A batched schema change in progress on a table, PostgreSQL's ACCESS EXCLUSIVE lock
/// for writers: statements that would write the table wait for it to go (reads go on,
/// on the old layout, which nothing changes until the final swap).
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaLock {
    /// Wall-clock Unix microseconds until which the holder is presumed alive; it renews
    /// the lease with every batch. A lapsed lease means the holder died (a crash or a
    /// killed session): the next writer clears `scratch` and removes the lock.
    pub lease_until: i64,
    /// Key prefix of everything the change has written so far (the new index's
    /// entries, or the re-keyed table's new data range).
    pub scratch: Vec<u8>,
}

/// A view: its defining query, bound again at every use.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewDef {
    pub name: String,
    pub sql: String,
    pub columns: Vec<String>,
    /// The relations (tables and views) its query names directly, for DROP's
    /// dependency check.
    pub depends_on: Vec<String>,
    /// An id from the table-id counter, which its catalog OID derives from
    /// ([`crate::pg_catalog`]); 0 for views created before views had ids.
    pub id: u64,
}

/// A sequence ([`crate::sequence`]): its options. Its value lives under its own key
/// (`01 07 tuple(Int id)`), outside every transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDef {
    /// An id from the table-id counter (its OID derives from it, as a table's does).
    pub id: u64,
    pub name: String,
    /// `smallint`, `integer` or `bigint` (`AS type`; bounds its default MINVALUE/MAXVALUE).
    pub data_type: DataType,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// The column that owns it (`serial`, `OWNED BY t.c`): table id and column name.
    /// Dropping that table drops the sequence.
    pub owned_by: Option<(u64, String)>,
}

/// What a relation name denotes.
#[derive(Clone, Debug, PartialEq)]
pub enum Relation {
    Table(TableDef),
    View(ViewDef),
    Sequence(SequenceDef),
}

impl Relation {
    pub fn name(&self) -> &str {
        match self {
            Relation::Table(t) => &t.name,
            Relation::View(v) => &v.name,
            Relation::Sequence(q) => &q.name,
        }
    }
}

impl TableDef {
    pub fn primary(&self) -> &IndexDef {
        &self.indexes[0]
    }

    /// Whether rows are keyed by a hidden row id (no PRIMARY KEY declared).
    pub fn has_row_id(&self) -> bool {
        self.indexes[0].columns.is_empty()
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The key prefix `02 tuple(id) tuple(index)` of one index.
    pub fn index_prefix(&self, index_id: u32) -> Vec<u8> {
        let mut k = vec![DATA_SPACE];
        encode_key_datum(&mut k, &Datum::Int(self.id as i64), Order::Asc);
        encode_key_datum(&mut k, &Datum::Int(i64::from(index_id)), Order::Asc);
        k
    }

    /// Every row and index entry of the table.
    pub fn data_range(&self) -> KeyRange {
        table_data_range(self.id)
    }
}

/// Every row and index entry of the table with id `id`.
pub fn table_data_range(id: u64) -> KeyRange {
    let mut k = vec![DATA_SPACE];
    encode_key_datum(&mut k, &Datum::Int(id as i64), Order::Asc);
    prefix_range(&k)
}

/// `[prefix, strinc(prefix))`; prefixes here never consist of 0xff bytes only.
pub fn prefix_range(prefix: &[u8]) -> KeyRange {
    let end = strinc(prefix).unwrap_or_else(|| vec![0xff]);
    KeyRange::new(prefix.to_vec(), end)
}

/// The database every connection starts in, which always exists.
pub const DEFAULT_DATABASE: &str = "postgres";

thread_local! {
    static DATABASE: std::cell::RefCell<String> =
        std::cell::RefCell::new(DEFAULT_DATABASE.to_string());
}

/// Runs `f` with catalog names resolved in database `db`.
pub fn with_database<R>(db: &str, f: impl FnOnce() -> R) -> R {
    let saved = DATABASE.with(|d| d.replace(db.to_string()));
    let r = f();
    DATABASE.with(|d| *d.borrow_mut() = saved);
    r
}

/// The database statements on this thread resolve names in.
pub fn current_database() -> String {
    DATABASE.with(|d| d.borrow().clone())
}

/// The prefix of the current database's names of `kind` (`01 kind tuple(db)`).
fn names_prefix(kind: u8) -> Vec<u8> {
    let mut k = vec![CATALOG_SPACE, kind];
    DATABASE.with(|d| encode_key_datum(&mut k, &Datum::Text(d.borrow().clone()), Order::Asc));
    k
}

fn named_key(kind: u8, name: &str) -> Vec<u8> {
    let mut k = names_prefix(kind);
    encode_key_datum(&mut k, &Datum::Text(name.to_string()), Order::Asc);
    k
}

fn database_key(db: &str) -> Vec<u8> {
    let mut k = vec![CATALOG_SPACE, 0x05];
    encode_key_datum(&mut k, &Datum::Text(db.to_string()), Order::Asc);
    k
}

/// The prefix of every role entry (`01 06`).
pub const ROLES_PREFIX: [u8; 2] = [CATALOG_SPACE, 0x06];

/// The key of role `name`.
pub fn role_key(name: &str) -> Vec<u8> {
    let mut k = ROLES_PREFIX.to_vec();
    encode_key_datum(&mut k, &Datum::Text(name.to_string()), Order::Asc);
    k
}

/// The role name in a key made by [`role_key`].
pub fn role_of_key(key: &[u8]) -> Result<String, SqlError> {
    use crate::encoding::{decode_key, KeyColumn};
    let rest = key.strip_prefix(&ROLES_PREFIX[..]).unwrap_or(key);
    let column = KeyColumn {
        data_type: DataType::Text,
        order: Order::Asc,
    };
    match decode_key(rest, &[column])?.pop() {
        Some(Datum::Text(name)) => Ok(name),
        _ => Err(SqlError::DataCorrupted {
            what: "role key",
            offset: 2,
            reason: "not a name".into(),
        }),
    }
}

/// Whether database `db` exists.
pub fn database_exists(txn: &mut Transaction, db: &str) -> Result<bool, SqlError> {
    Ok(db == DEFAULT_DATABASE || txn.get_cached(&database_key(db)).map_err(kv_err)?.is_some())
}

/// Every database name, `postgres` included, in name order.
pub fn list_databases(txn: &mut Transaction) -> Result<Vec<String>, SqlError> {
    use crate::encoding::{decode_key, KeyColumn};
    let prefix = [CATALOG_SPACE, 0x05];
    let batch = txn
        .get_range(&prefix_range(&prefix), 100_000, false)
        .map_err(kv_err)?;
    let mut out = vec![DEFAULT_DATABASE.to_string()];
    let col = [KeyColumn {
        data_type: DataType::Text,
        order: Order::Asc,
    }];
    for (k, _) in &batch {
        if let Ok(mut v) = decode_key(&k[prefix.len()..], &col) {
            if let Some(Datum::Text(name)) = v.pop() {
                if name != DEFAULT_DATABASE {
                    out.push(name);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Registers database `db`.
pub fn put_database(txn: &mut Transaction, db: &str) -> Result<(), SqlError> {
    crate::undo::set(txn, &database_key(db), &[])
}

/// Removes database `db`: its tables' rows, its names, its registration.
pub fn delete_database(txn: &mut Transaction, db: &str) -> Result<(), SqlError> {
    with_database(db, || {
        for rel in list_relations(txn)? {
            if let Relation::Table(t) = rel {
                crate::undo::clear_range(txn, &t.data_range())?;
            }
        }
        crate::undo::clear_range(txn, &prefix_range(&names_prefix(0x02)))?;
        crate::undo::clear_range(txn, &prefix_range(&names_prefix(0x03)))
    })?;
    crate::undo::clear(txn, &database_key(db))
}

fn read_counter(txn: &mut Transaction, key: &[u8]) -> Result<u64, SqlError> {
    Ok(match txn.get(key).map_err(kv_err)? {
        Some(v) if v.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&v);
            u64::from_le_bytes(b)
        }
        Some(_) => {
            return Err(SqlError::DataCorrupted {
                what: "counter",
                offset: 0,
                reason: "not 8 bytes".into(),
            })
        }
        None => 1,
    })
}

/// Allocates `n` consecutive values of a counter key, returning the first.
fn allocate(txn: &mut Transaction, key: &[u8], n: u64) -> Result<u64, SqlError> {
    let first = read_counter(txn, key)?;
    let next = first
        .checked_add(n)
        .ok_or_else(|| SqlError::internal("counter overflow"))?;
    crate::undo::set(txn, key, &next.to_le_bytes())?;
    Ok(first)
}

/// A new table id.
pub fn allocate_table_id(txn: &mut Transaction) -> Result<u64, SqlError> {
    allocate(txn, &[CATALOG_SPACE, 0x01], 1)
}

/// The key of sequence `id`'s value (`01 07 tuple(id)`).
pub fn sequence_value_key(id: u64) -> Vec<u8> {
    let mut k = vec![CATALOG_SPACE, 0x07];
    encode_key_datum(&mut k, &Datum::Int(id as i64), Order::Asc);
    k
}

/// The relation called `name`, if any.
pub fn get_relation(txn: &mut Transaction, name: &str) -> Result<Option<Relation>, SqlError> {
    match txn.get_cached(&named_key(0x02, name)).map_err(kv_err)? {
        Some(bytes) => Ok(Some(decode_relation(&bytes)?)),
        None => Ok(None),
    }
}

/// Every view, in name order (dependency checks of DROP).
pub fn list_views(txn: &mut Transaction) -> Result<Vec<ViewDef>, SqlError> {
    Ok(list_relations(txn)?
        .into_iter()
        .filter_map(|r| match r {
            Relation::View(v) => Some(v),
            _ => None,
        })
        .collect())
}

/// Every relation, in name order.
pub fn list_relations(txn: &mut Transaction) -> Result<Vec<Relation>, SqlError> {
    scan_relations(txn, false)
}

/// [`list_relations`] as a snapshot read: no read conflict on the catalog, so the
/// transaction stays refreshable (a long one is not cut off by the MVCC window).
pub fn list_relations_snapshot(txn: &mut Transaction) -> Result<Vec<Relation>, SqlError> {
    scan_relations(txn, true)
}

fn scan_relations(txn: &mut Transaction, snapshot: bool) -> Result<Vec<Relation>, SqlError> {
    let mut range = prefix_range(&names_prefix(0x02));
    let mut out = Vec::new();
    loop {
        let batch = if snapshot {
            txn.snapshot_get_range(&range, 256, false)
        } else {
            txn.get_range(&range, 256, false)
        }
        .map_err(kv_err)?;
        for (_, v) in &batch {
            out.push(decode_relation(v)?);
        }
        match batch.last() {
            Some((k, _)) if batch.len() == 256 => range.begin = ferrisdb_kv::key_after(k),
            _ => return Ok(out),
        }
    }
}

/// The relation a key belongs to, for error messages: a table's rows and index
/// entries, or a relation's descriptor. `None` for other keys.
pub fn relation_of_key(txn: &mut Transaction, key: &[u8]) -> Result<Option<String>, SqlError> {
    use crate::encoding::{decode_key, decode_key_prefix, KeyColumn};
    let col = |data_type| KeyColumn {
        data_type,
        order: Order::Asc,
    };
    match key {
        [DATA_SPACE, rest @ ..] => {
            let Ok(id) = decode_key_prefix(rest, col(DataType::Int8)) else {
                return Ok(None);
            };
            Ok(list_relations(txn)?.into_iter().find_map(|r| match r {
                Relation::Table(t) if Datum::Int(t.id as i64) == id => Some(t.name),
                _ => None,
            }))
        }
        [CATALOG_SPACE, 0x02, rest @ ..] => Ok(
            match decode_key(rest, &[col(DataType::Text), col(DataType::Text)]) {
                Ok(mut v) => match v.pop() {
                    Some(Datum::Text(name)) => Some(name),
                    _ => None,
                },
                Err(_) => None,
            },
        ),
        _ => Ok(None),
    }
}

/// The table called `name`; 42P01 if there is none (or it is a view: 42809 in
/// PostgreSQL, reported here as "is not a table").
///
/// Every caller is about to change the table (DML or DDL), so a table under a batched
/// schema change ([`SchemaLock`]) is [`SqlError::RelationLocked`] while the lock's lease
/// holds, and is cleaned up here, in the caller's transaction, once it has lapsed.
pub fn get_table(txn: &mut Transaction, name: &str) -> Result<TableDef, SqlError> {
    match get_relation(txn, name)? {
        Some(Relation::Table(mut t)) => {
            if let Some(lock) = &t.lock {
                if lock.lease_until > crate::backfill::now_micros() {
                    return Err(SqlError::RelationLocked {
                        name: name.to_string(),
                    });
                }
                tracing::warn!(
                    table = name,
                    "clearing the lock of an abandoned schema change"
                );
                crate::undo::clear_range(txn, &prefix_range(&lock.scratch))?;
                t.lock = None;
                put_relation(txn, &Relation::Table(t.clone()))?;
            }
            Ok(t)
        }
        Some(Relation::View(_) | Relation::Sequence(_)) => Err(SqlError::WrongObjectType {
            message: format!("\"{name}\" is not a table"),
        }),
        None => Err(SqlError::UndefinedTable {
            name: name.to_string(),
        }),
    }
}

/// Writes (creates or replaces) a relation's descriptor.
pub fn put_relation(txn: &mut Transaction, rel: &Relation) -> Result<(), SqlError> {
    let name = rel.name();
    let bytes = encode_relation(rel);
    // A descriptor that does not read back would make the relation, and every catalog
    // listing that meets it, unusable: refuse to store it instead.
    match decode_relation(&bytes) {
        Ok(back) if back == *rel => {}
        other => {
            return Err(SqlError::internal(format!(
                "the descriptor of \"{name}\" does not read back as written ({})",
                match other {
                    Ok(_) => "it decodes differently".to_string(),
                    Err(e) => e.to_string(),
                }
            )))
        }
    }
    crate::undo::set(txn, &named_key(0x02, name), &bytes)
}

/// Removes a relation's descriptor (not its data).
pub fn delete_relation(txn: &mut Transaction, name: &str) -> Result<(), SqlError> {
    crate::undo::clear(txn, &named_key(0x02, name))
}

/// The table owning index `name`, if the index exists.
pub fn index_owner(txn: &mut Transaction, name: &str) -> Result<Option<String>, SqlError> {
    Ok(txn
        .get_cached(&named_key(0x03, name))
        .map_err(kv_err)?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

pub fn put_index_name(txn: &mut Transaction, name: &str, table: &str) -> Result<(), SqlError> {
    crate::undo::set(txn, &named_key(0x03, name), table.as_bytes())
}

pub fn delete_index_name(txn: &mut Transaction, name: &str) -> Result<(), SqlError> {
    crate::undo::clear(txn, &named_key(0x03, name))
}
