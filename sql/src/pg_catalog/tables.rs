//! The relation catalogs: `pg_namespace`, `pg_class`, `pg_attribute`, `pg_index`,
//! `pg_constraint`, `pg_attrdef`, and the views `pg_tables`, `pg_views`, `pg_indexes`,
//! computed from the current database's tables, views and indexes (plus the virtual
//! relations themselves, so `\d pg_class` works too).
//!
//! User relations live in `public`. A table without a PRIMARY KEY has no primary-key
//! index row (its rows are keyed by a hidden row id, which PostgreSQL has no
//! counterpart for). `reltuples` is -1 (never analyzed), `relpages` 0: FerrisDB keeps no
//! statistics.

use ferrisdb_txn::Transaction;

use super::deparse::{constraints, index_def};
use super::types::{collation, layout};
use super::{
    index_oid, oid, table_oid, text, view_oid, Snapshot, VirtualTable, INFORMATION_SCHEMA_OID,
    PG_CATALOG_OID, PUBLIC_OID, ROLE_OID, TABLES,
};
use crate::bind::Binder;
use crate::catalog::{TableDef, ViewDef};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::Row;
use crate::types::DataType;

/// `pg_am`'s heap and btree.
pub const HEAP_AM: u32 = 2;
pub const BTREE_AM: u32 = 403;

fn namespace_of(v: &VirtualTable) -> u32 {
    if v.schema == "pg_catalog" {
        PG_CATALOG_OID
    } else {
        INFORMATION_SCHEMA_OID
    }
}

pub fn pg_namespace(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    // PostgreSQL 15: public belongs to pg_database_owner (6171).
    Ok([
        (PG_CATALOG_OID, "pg_catalog", ROLE_OID),
        (PUBLIC_OID, "public", 6171),
        (INFORMATION_SCHEMA_OID, "information_schema", ROLE_OID),
    ]
    .iter()
    .map(|(o, n, owner)| vec![oid(*o), text(n), oid(*owner), Datum::Null])
    .collect())
}

/// One `pg_class` row.
struct ClassRow<'a> {
    oid: u32,
    name: &'a str,
    namespace: u32,
    am: u32,
    kind: &'a str,
    natts: usize,
    checks: usize,
    has_index: bool,
}

impl ClassRow<'_> {
    fn row(&self) -> Row {
        let b = Datum::Bool;
        vec![
            oid(self.oid),
            text(self.name),
            oid(self.namespace),
            oid(0),
            oid(0),
            oid(ROLE_OID),
            oid(self.am),
            oid(if self.kind == "v" { 0 } else { self.oid }),
            oid(0),
            Datum::Int(0),
            Datum::Float(-1.0),
            Datum::Int(0),
            oid(0),
            b(self.has_index),
            b(false),
            text("p"),
            text(self.kind),
            Datum::Int(self.natts as i64),
            Datum::Int(self.checks as i64),
            b(false),
            b(false),
            b(false),
            b(false),
            b(false),
            b(true),
            text(if self.kind == "r" { "d" } else { "n" }),
            b(false),
            oid(0),
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]
    }
}

/// The indexes of `t` that PostgreSQL would show (not the hidden row-id key).
pub fn visible_indexes(t: &TableDef) -> impl Iterator<Item = &crate::catalog::IndexDef> {
    t.indexes.iter().filter(|ix| !ix.columns.is_empty())
}

pub fn pg_class(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    for t in snap.tables() {
        rows.push(
            ClassRow {
                oid: table_oid(t.id),
                name: &t.name,
                namespace: PUBLIC_OID,
                am: HEAP_AM,
                kind: "r",
                natts: t.columns.len(),
                checks: t.checks.len(),
                has_index: visible_indexes(t).next().is_some(),
            }
            .row(),
        );
        for ix in visible_indexes(t) {
            rows.push(
                ClassRow {
                    oid: index_oid(t, ix.id),
                    name: &ix.name,
                    namespace: PUBLIC_OID,
                    am: BTREE_AM,
                    kind: "i",
                    natts: ix.columns.len(),
                    checks: 0,
                    has_index: false,
                }
                .row(),
            );
        }
    }
    for v in snap.views() {
        rows.push(view_class(v).row());
    }
    for q in snap.sequences() {
        rows.push(
            ClassRow {
                oid: table_oid(q.id),
                name: &q.name,
                namespace: PUBLIC_OID,
                am: 0,
                kind: "S",
                natts: 3,
                checks: 0,
                has_index: false,
            }
            .row(),
        );
    }
    for v in TABLES {
        rows.push(
            ClassRow {
                oid: v.oid,
                name: v.name,
                namespace: namespace_of(v),
                am: if v.relkind == "r" { HEAP_AM } else { 0 },
                kind: v.relkind,
                natts: v.columns.len(),
                checks: 0,
                has_index: false,
            }
            .row(),
        );
    }
    Ok(rows)
}

fn view_class(v: &ViewDef) -> ClassRow<'_> {
    ClassRow {
        oid: view_oid(v),
        name: &v.name,
        namespace: PUBLIC_OID,
        am: 0,
        kind: "v",
        natts: v.columns.len(),
        checks: 0,
        has_index: false,
    }
}

/// One `pg_attribute` row.
fn attribute(rel: u32, name: &str, num: usize, t: DataType, not_null: bool, has_def: bool) -> Row {
    let (len, byval, align, storage) = layout(&t);
    let b = Datum::Bool;
    vec![
        oid(rel),
        text(name),
        oid(t.oid()),
        Datum::Int(-1),
        Datum::Int(i64::from(len)),
        Datum::Int(num as i64),
        Datum::Int(i64::from(matches!(t, DataType::Array(_)))),
        Datum::Int(-1),
        Datum::Int(i64::from(t.typmod())),
        b(byval),
        text(align),
        text(storage),
        text(""),
        b(not_null),
        b(has_def),
        b(false),
        text(""),
        text(""),
        b(false),
        b(true),
        Datum::Int(0),
        oid(collation(&t)),
        Datum::Null,
        Datum::Null,
        Datum::Null,
    ]
}

/// The column types of a view, found by binding its query (text if it no longer binds).
pub fn view_column_types(txn: &mut Transaction, v: &ViewDef) -> Vec<DataType> {
    let bound = crate::parse::parse_statements(&v.sql)
        .ok()
        .and_then(|mut s| s.pop())
        .and_then(|s| match s {
            sqlparser::ast::Statement::Query(q) => Binder::new(txn).bind_query(&q).ok(),
            _ => None,
        });
    match bound {
        Some(b) => b.columns.iter().map(|c| c.data_type).collect(),
        None => vec![DataType::Text; v.columns.len()],
    }
}

pub fn pg_attribute(txn: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    for t in snap.tables() {
        let rel = table_oid(t.id);
        for (i, c) in t.columns.iter().enumerate() {
            rows.push(attribute(
                rel,
                &c.name,
                i + 1,
                c.data_type,
                c.not_null,
                c.default.is_some(),
            ));
        }
        for ix in visible_indexes(t) {
            let rel = index_oid(t, ix.id);
            for (i, c) in ix
                .columns
                .iter()
                .filter_map(|c| t.columns.get(*c))
                .enumerate()
            {
                rows.push(attribute(rel, &c.name, i + 1, c.data_type, false, false));
            }
        }
    }
    for v in snap.views() {
        let types = view_column_types(txn, v);
        for (i, (name, t)) in v.columns.iter().zip(types).enumerate() {
            rows.push(attribute(view_oid(v), name, i + 1, t, false, false));
        }
    }
    for v in TABLES {
        for (i, (name, t)) in v.columns.iter().enumerate() {
            rows.push(attribute(v.oid, name, i + 1, *t, false, false));
        }
    }
    Ok(rows)
}

pub fn pg_index(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    let b = Datum::Bool;
    for t in snap.tables() {
        for ix in visible_indexes(t) {
            let n = ix.columns.len() as i64;
            let keys = ix
                .columns
                .iter()
                .map(|c| Datum::Int(*c as i64 + 1))
                .collect();
            let colls = ix
                .columns
                .iter()
                .map(|c| oid(t.columns.get(*c).map_or(0, |c| collation(&c.data_type))))
                .collect();
            rows.push(vec![
                oid(index_oid(t, ix.id)),
                oid(table_oid(t.id)),
                Datum::Int(n),
                Datum::Int(n),
                b(ix.unique),
                b(false),
                b(ix.primary),
                b(false),
                b(true),
                b(false),
                b(true),
                b(false),
                b(true),
                b(true),
                b(false),
                Datum::Array(keys),
                Datum::Array(colls),
                Datum::Array(vec![oid(0); ix.columns.len()]),
                Datum::Array(vec![Datum::Int(0); ix.columns.len()]),
                Datum::Null,
                Datum::Null,
            ]);
        }
    }
    Ok(rows)
}

pub fn pg_constraint(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    let b = Datum::Bool;
    for t in snap.tables() {
        for c in constraints(t) {
            let key = if c.kind == "c" {
                Datum::Null
            } else {
                Datum::Array(
                    c.columns
                        .iter()
                        .map(|i| Datum::Int(*i as i64 + 1))
                        .collect(),
                )
            };
            rows.push(vec![
                oid(c.oid),
                text(c.name),
                oid(PUBLIC_OID),
                text(c.kind),
                b(false),
                b(false),
                b(true),
                oid(table_oid(t.id)),
                oid(0),
                oid(c.index.map_or(0, |ix| index_oid(t, ix.id))),
                oid(0),
                oid(0),
                text(" "),
                text(" "),
                text(" "),
                b(true),
                Datum::Int(0),
                b(false),
                key,
                Datum::Null,
                Datum::Null,
                Datum::Null,
                Datum::Null,
                Datum::Null,
                Datum::Null,
                c.check.map_or(Datum::Null, text),
            ]);
        }
    }
    Ok(rows)
}

/// The OID of the default of column `num` (1-based) of `t`.
pub fn attrdef_oid(t: &TableDef, num: usize) -> u32 {
    table_oid(t.id).saturating_add(768 + num.min(255) as u32)
}

pub fn pg_attrdef(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    for t in snap.tables() {
        for (i, c) in t.columns.iter().enumerate() {
            if let Some(d) = &c.default {
                rows.push(vec![
                    oid(attrdef_oid(t, i + 1)),
                    oid(table_oid(t.id)),
                    Datum::Int(i as i64 + 1),
                    text(d),
                ]);
            }
        }
    }
    Ok(rows)
}

pub fn pg_tables(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let b = Datum::Bool;
    let mut rows: Vec<Row> = snap
        .tables()
        .map(|t| {
            let has = visible_indexes(t).next().is_some();
            vec![
                text("public"),
                text(&t.name),
                text("postgres"),
                Datum::Null,
                b(has),
                b(false),
                b(false),
                b(false),
            ]
        })
        .collect();
    for v in TABLES.iter().filter(|v| v.relkind == "r") {
        rows.push(vec![
            text(v.schema),
            text(v.name),
            text("postgres"),
            Datum::Null,
            b(false),
            b(false),
            b(false),
            b(false),
        ]);
    }
    Ok(rows)
}

pub fn pg_views(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(snap
        .views()
        .map(|v| {
            vec![
                text("public"),
                text(&v.name),
                text("postgres"),
                Datum::Text(format!(" {};", v.sql)),
            ]
        })
        .collect())
}

pub fn pg_indexes(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    for t in snap.tables() {
        for ix in visible_indexes(t) {
            rows.push(vec![
                text("public"),
                text(&t.name),
                text(&ix.name),
                Datum::Null,
                Datum::Text(index_def(t, ix)),
            ]);
        }
    }
    Ok(rows)
}

/// `pg_sequence`: each sequence's options.
pub fn pg_sequence(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(snap
        .sequences()
        .map(|q| {
            vec![
                oid(table_oid(q.id)),
                oid(q.data_type.oid()),
                Datum::Int(q.start),
                Datum::Int(q.increment),
                Datum::Int(q.max),
                Datum::Int(q.min),
                Datum::Int(q.cache),
                Datum::Bool(q.cycle),
            ]
        })
        .collect())
}

/// `pg_depend`: the dependencies psql and drivers look up, which are sequences owned by a
/// column (`serial`, identity, OWNED BY), as PostgreSQL's automatic ('a') ones. Other
/// dependencies (indexes, views, defaults) are not listed.
pub fn pg_depend(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    const PG_CLASS: u32 = 1259;
    let mut rows = Vec::new();
    for q in snap.sequences() {
        let Some((table_id, column)) = &q.owned_by else {
            continue;
        };
        let Some(t) = snap.tables().find(|t| t.id == *table_id) else {
            continue;
        };
        let Some(attnum) = t.column_index(column) else {
            continue;
        };
        rows.push(vec![
            oid(PG_CLASS),
            oid(table_oid(q.id)),
            Datum::Int(0),
            oid(PG_CLASS),
            oid(table_oid(t.id)),
            Datum::Int(attnum as i64 + 1),
            text("a"),
        ]);
    }
    Ok(rows)
}

/// `pg_sequences`: the sequences with their options and last value (NULL until first
/// used), as PostgreSQL's view shows them.
pub fn pg_sequences(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    for q in snap.sequences() {
        let state = crate::sequence::state(q)?;
        rows.push(vec![
            text("public"),
            text(&q.name),
            text("postgres"),
            oid(q.data_type.oid()),
            Datum::Int(q.start),
            Datum::Int(q.min),
            Datum::Int(q.max),
            Datum::Int(q.increment),
            Datum::Bool(q.cycle),
            Datum::Int(q.cache),
            if state.is_called {
                Datum::Int(state.last_value)
            } else {
                Datum::Null
            },
        ]);
    }
    Ok(rows)
}
