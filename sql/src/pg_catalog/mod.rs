//! `pg_catalog` and `information_schema`: PostgreSQL's system catalogs as virtual,
//! read-only relations computed from FerrisDB's own catalog.
//!
//! psql's `\d`, the drivers' metadata calls and tools such as pgbench read PostgreSQL's
//! catalogs with ordinary SQL. FerrisDB answers that SQL by binding each catalog name
//! ([`lookup`]) to a [`crate::plan::Plan::Virtual`] scan whose rows are computed, when
//! the scan first runs, from the descriptors read in the statement's own transaction
//! ([`Snapshot::read`]) and cached for the rest of the statement. Nothing is stored: the
//! rows are a function of the tables, views and indexes that exist, the type system
//! ([`types`]), the settings ([`crate::settings`]) and the databases.
//!
//! Name resolution follows PostgreSQL: `pg_catalog.x` and `information_schema.x` name the
//! virtual relation; an unqualified name is looked up in `pg_catalog` first (it is
//! implicitly first on every search path), so a user table called `pg_class` is reached
//! only as `public.pg_class`.
//!
//! # OIDs
//!
//! Objects get stable OIDs derived from their catalog ids, in PostgreSQL's user range:
//!
//! ```text
//!   table or view with id t     16384 + (t - 1) * 1024
//!   its index with id i         table oid + i            (i < 256; 1 = primary key)
//!   constraint of index i       table oid + 256 + i      (PRIMARY KEY, UNIQUE)
//!   its k-th CHECK constraint   table oid + 512 + k      (k < 256)
//!   default of column n         table oid + 768 + n      (n < 256; pg_attrdef)
//!   database                    postgres = 5; others 0x7000_0000 + a hash of the name
//!   namespaces                  pg_catalog 11, public 2200, information_schema 13207
//!   types, functions, catalogs  PostgreSQL's own OIDs
//!   the one role (postgres)     10
//! ```
//!
//! Views created before views had ids get an OID from a hash of their name, in the
//! database range's upper half. Tables and views share one id counter, so no two
//! relations of any database share an OID.

pub mod deparse;
pub mod functions;
pub mod information_schema;
pub mod procs;
pub mod reg;
pub mod schema;
mod system;
mod tables;
pub mod types;

use ferrisdb_txn::Transaction;

use crate::bind::Column;
use crate::catalog::{self, Relation, SequenceDef, TableDef, ViewDef};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::Row;
use schema::Columns;

/// `pg_catalog`'s OID.
pub const PG_CATALOG_OID: u32 = 11;
/// `public`'s OID.
pub const PUBLIC_OID: u32 = 2200;
/// `information_schema`'s OID.
pub const INFORMATION_SCHEMA_OID: u32 = 13207;
/// The one role, `postgres`, the bootstrap superuser.
pub const ROLE_OID: u32 = 10;
/// The OID of database `postgres`.
pub const POSTGRES_DB_OID: u32 = 5;
/// First OID of user objects.
pub const FIRST_USER_OID: u32 = 16384;
const STRIDE: u64 = 1024;

/// Computes a virtual relation's rows.
pub type RowsFn = fn(&mut Transaction, &Snapshot) -> Result<Vec<Row>, SqlError>;

/// One virtual relation.
pub struct VirtualTable {
    pub schema: &'static str,
    pub name: &'static str,
    pub oid: u32,
    /// `r` (a catalog table) or `v` (a catalog view).
    pub relkind: &'static str,
    pub columns: Columns,
    pub rows: RowsFn,
}

/// A relation with no rows (features FerrisDB does not have: triggers, policies, ...).
fn no_rows(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(Vec::new())
}

const fn pg(
    name: &'static str,
    oid: u32,
    relkind: &'static str,
    columns: Columns,
    rows: RowsFn,
) -> VirtualTable {
    VirtualTable {
        schema: "pg_catalog",
        name,
        oid,
        relkind,
        columns,
        rows,
    }
}

/// Every virtual relation.
pub static TABLES: &[VirtualTable] = &[
    pg(
        "pg_namespace",
        2615,
        "r",
        schema::PG_NAMESPACE,
        tables::pg_namespace,
    ),
    pg("pg_class", 1259, "r", schema::PG_CLASS, tables::pg_class),
    pg(
        "pg_attribute",
        1249,
        "r",
        schema::PG_ATTRIBUTE,
        tables::pg_attribute,
    ),
    pg("pg_type", 1247, "r", schema::PG_TYPE, types::pg_type),
    pg("pg_index", 2610, "r", schema::PG_INDEX, tables::pg_index),
    pg(
        "pg_constraint",
        2606,
        "r",
        schema::PG_CONSTRAINT,
        tables::pg_constraint,
    ),
    pg(
        "pg_attrdef",
        2604,
        "r",
        schema::PG_ATTRDEF,
        tables::pg_attrdef,
    ),
    pg("pg_am", 2601, "r", schema::PG_AM, system::pg_am),
    pg(
        "pg_database",
        1262,
        "r",
        schema::PG_DATABASE,
        system::pg_database,
    ),
    pg("pg_roles", 12001, "v", schema::PG_ROLES, system::pg_roles),
    pg("pg_authid", 1260, "r", schema::PG_AUTHID, system::pg_authid),
    pg("pg_user", 12005, "v", schema::PG_USER, system::pg_user),
    pg(
        "pg_auth_members",
        1261,
        "r",
        schema::PG_AUTH_MEMBERS,
        no_rows,
    ),
    pg("pg_proc", 1255, "r", schema::PG_PROC, types::pg_proc),
    pg(
        "pg_language",
        2612,
        "r",
        schema::PG_LANGUAGE,
        system::pg_language,
    ),
    pg("pg_description", 2609, "r", schema::PG_DESCRIPTION, no_rows),
    pg("pg_range", 3541, "r", schema::PG_RANGE, no_rows),
    pg("pg_enum", 3501, "r", schema::PG_ENUM, no_rows),
    pg(
        "pg_settings",
        12010,
        "v",
        schema::PG_SETTINGS,
        system::pg_settings,
    ),
    pg(
        "pg_prepared_statements",
        12030,
        "v",
        schema::PG_PREPARED_STATEMENTS,
        system::pg_prepared_statements,
    ),
    pg(
        "pg_collation",
        3456,
        "r",
        schema::PG_COLLATION,
        system::pg_collation,
    ),
    pg(
        "pg_tablespace",
        1213,
        "r",
        schema::PG_TABLESPACE,
        system::pg_tablespace,
    ),
    pg("pg_inherits", 2611, "r", schema::PG_INHERITS, no_rows),
    pg("pg_policy", 3256, "r", schema::PG_POLICY, no_rows),
    pg(
        "pg_statistic_ext",
        3381,
        "r",
        schema::PG_STATISTIC_EXT,
        no_rows,
    ),
    pg("pg_publication", 6104, "r", schema::PG_PUBLICATION, no_rows),
    pg(
        "pg_publication_rel",
        6106,
        "r",
        schema::PG_PUBLICATION_REL,
        no_rows,
    ),
    pg(
        "pg_publication_namespace",
        6237,
        "r",
        schema::PG_PUBLICATION_NAMESPACE,
        no_rows,
    ),
    pg(
        "pg_partitioned_table",
        3350,
        "r",
        schema::PG_PARTITIONED_TABLE,
        no_rows,
    ),
    pg("pg_trigger", 2620, "r", schema::PG_TRIGGER, no_rows),
    pg("pg_rewrite", 2618, "r", schema::PG_REWRITE, no_rows),
    pg(
        "pg_foreign_table",
        3118,
        "r",
        schema::PG_FOREIGN_TABLE,
        no_rows,
    ),
    pg(
        "pg_sequence",
        2224,
        "r",
        schema::PG_SEQUENCE,
        tables::pg_sequence,
    ),
    pg("pg_depend", 2608, "r", schema::PG_DEPEND, tables::pg_depend),
    pg(
        "pg_sequences",
        12040,
        "v",
        schema::PG_SEQUENCES,
        tables::pg_sequences,
    ),
    pg("pg_extension", 3079, "r", schema::PG_EXTENSION, no_rows),
    pg(
        "pg_tables",
        12020,
        "v",
        schema::PG_TABLES,
        tables::pg_tables,
    ),
    pg("pg_views", 12015, "v", schema::PG_VIEWS, tables::pg_views),
    pg(
        "pg_indexes",
        12025,
        "v",
        schema::PG_INDEXES,
        tables::pg_indexes,
    ),
    information_schema::TABLES,
    information_schema::COLUMNS,
    information_schema::SCHEMATA,
    information_schema::VIEWS,
    information_schema::SEQUENCES,
];

/// The virtual relation `schema.name` (`schema` `None`: unqualified, so `pg_catalog`).
pub fn lookup(schema: Option<&str>, name: &str) -> Option<usize> {
    let schema = schema.unwrap_or("pg_catalog");
    TABLES
        .iter()
        .position(|t| t.schema == schema && t.name == name)
}

/// The result columns of virtual relation `id`.
pub fn columns(id: usize) -> Vec<Column> {
    TABLES.get(id).map_or_else(Vec::new, |t| {
        t.columns
            .iter()
            .map(|(n, ty)| Column {
                name: n.to_string(),
                data_type: *ty,
            })
            .collect()
    })
}

/// The name of virtual relation `id` (EXPLAIN).
pub fn name(id: usize) -> String {
    TABLES
        .get(id)
        .map_or_else(String::new, |t| format!("{}.{}", t.schema, t.name))
}

/// The rows of virtual relation `id`, computed in `txn`.
pub fn rows(id: usize, txn: &mut Transaction) -> Result<Vec<Row>, SqlError> {
    let t = TABLES
        .get(id)
        .ok_or_else(|| SqlError::internal("unknown virtual relation"))?;
    let snap = Snapshot::read(txn)?;
    (t.rows)(txn, &snap)
}

/// What the catalog holds, read once per virtual scan.
pub struct Snapshot {
    /// The database the statement works in.
    pub database: String,
    pub databases: Vec<String>,
    /// The current database's tables and views, in name order.
    pub relations: Vec<Relation>,
}

impl Snapshot {
    pub fn read(txn: &mut Transaction) -> Result<Snapshot, SqlError> {
        Ok(Snapshot {
            database: catalog::current_database(),
            databases: catalog::list_databases(txn)?,
            relations: catalog::list_relations(txn)?,
        })
    }

    pub fn tables(&self) -> impl Iterator<Item = &TableDef> {
        self.relations.iter().filter_map(|r| match r {
            Relation::Table(t) => Some(t),
            _ => None,
        })
    }

    pub fn views(&self) -> impl Iterator<Item = &ViewDef> {
        self.relations.iter().filter_map(|r| match r {
            Relation::View(v) => Some(v),
            _ => None,
        })
    }

    pub fn sequences(&self) -> impl Iterator<Item = &SequenceDef> {
        self.relations.iter().filter_map(|r| match r {
            Relation::Sequence(q) => Some(q),
            _ => None,
        })
    }

    /// The sequence whose OID is `oid`.
    pub fn sequence_by_oid(&self, oid: i64) -> Option<&SequenceDef> {
        self.sequences().find(|q| i64::from(table_oid(q.id)) == oid)
    }

    /// The table whose OID (or one of whose index OIDs) is `oid`.
    pub fn table_by_oid(&self, oid: i64) -> Option<&TableDef> {
        self.tables().find(|t| {
            let base = i64::from(table_oid(t.id));
            (base..base + STRIDE as i64).contains(&oid)
        })
    }

    /// The name of the relation (table, index, view, catalog) with OID `oid`.
    pub fn relation_name(&self, oid: i64) -> Option<String> {
        for r in &self.relations {
            match r {
                Relation::Table(t) => {
                    if i64::from(table_oid(t.id)) == oid {
                        return Some(t.name.clone());
                    }
                    if let Some(ix) = t
                        .indexes
                        .iter()
                        .find(|ix| i64::from(index_oid(t, ix.id)) == oid)
                    {
                        return Some(ix.name.clone());
                    }
                }
                Relation::View(v) if i64::from(view_oid(v)) == oid => return Some(v.name.clone()),
                Relation::View(_) => {}
                Relation::Sequence(q) if i64::from(table_oid(q.id)) == oid => {
                    return Some(q.name.clone())
                }
                Relation::Sequence(_) => {}
            }
        }
        TABLES
            .iter()
            .find(|t| i64::from(t.oid) == oid)
            .map(|t| t.name.to_string())
    }

    /// The OID of the relation (table, view, index or catalog relation) called `name`.
    pub fn relation_oid(&self, schema: Option<&str>, name: &str) -> Option<u32> {
        if schema.is_none_or(|s| s == "pg_catalog" || s == "information_schema") {
            if let Some(t) = lookup(schema, name) {
                return Some(TABLES[t].oid);
            }
        }
        if schema.is_some_and(|s| s != "public") {
            return None;
        }
        for r in &self.relations {
            match r {
                Relation::Table(t) if t.name == name => return Some(table_oid(t.id)),
                Relation::Table(t) => {
                    let ix = t
                        .indexes
                        .iter()
                        .find(|ix| ix.name == name && !ix.columns.is_empty());
                    if let Some(ix) = ix {
                        return Some(index_oid(t, ix.id));
                    }
                }
                Relation::View(v) if v.name == name => return Some(view_oid(v)),
                Relation::View(_) => {}
                Relation::Sequence(q) if q.name == name => return Some(table_oid(q.id)),
                Relation::Sequence(_) => {}
            }
        }
        None
    }
}

/// The OID of the table (or view) with catalog id `id`.
pub fn table_oid(id: u64) -> u32 {
    let v = u64::from(FIRST_USER_OID).saturating_add(id.saturating_sub(1).saturating_mul(STRIDE));
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The OID of index `index_id` of `t`.
pub fn index_oid(t: &TableDef, index_id: u32) -> u32 {
    table_oid(t.id).saturating_add(index_id.min(255))
}

/// The OID of the PRIMARY KEY / UNIQUE constraint backed by index `index_id` of `t`.
pub fn index_constraint_oid(t: &TableDef, index_id: u32) -> u32 {
    table_oid(t.id).saturating_add(256 + index_id.min(255))
}

/// The OID of the `k`-th CHECK constraint of `t`.
pub fn check_oid(t: &TableDef, k: usize) -> u32 {
    table_oid(t.id).saturating_add(512 + k.min(255) as u32)
}

/// A stable hash of a name into `[base, base + 2^27)` (FNV-1a).
fn name_hash_oid(name: &str, base: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    base + (h & 0x07ff_ffff)
}

/// The OID of a view (see the module doc for views without an id).
pub fn view_oid(v: &ViewDef) -> u32 {
    if v.id == 0 {
        name_hash_oid(&v.name, 0x7800_0000)
    } else {
        table_oid(v.id)
    }
}

/// The OID of database `name`.
pub fn database_oid(name: &str) -> u32 {
    if name == catalog::DEFAULT_DATABASE {
        POSTGRES_DB_OID
    } else {
        name_hash_oid(name, 0x7000_0000)
    }
}

/// Shorthands for building rows.
pub(crate) fn oid(v: u32) -> Datum {
    Datum::Int(i64::from(v))
}

pub(crate) fn text(s: &str) -> Datum {
    Datum::Text(s.to_string())
}
