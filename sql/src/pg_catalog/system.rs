//! The cluster-wide catalogs: `pg_database`, the role catalogs, `pg_am`,
//! `pg_collation`, `pg_tablespace` and `pg_settings`.
//!
//! FerrisDB has one role, the superuser `postgres` (OID 10), which every session acts as;
//! databases are the name spaces of [`crate::database`], all UTF8 with the C collation;
//! storage is the LSM key space, which `pg_am` presents as PostgreSQL's `heap` (tables)
//! and `btree` (ordered indexes) since that is how clients expect ordered storage to be
//! named.

use ferrisdb_txn::Transaction;

use super::tables::{BTREE_AM, HEAP_AM};
use super::{database_oid, oid, text, Snapshot, PG_CATALOG_OID, ROLE_OID};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::Row;

/// The one role.
pub const ROLE_NAME: &str = "postgres";
/// `pg_default`, the tablespace of every relation.
pub const DEFAULT_TABLESPACE: u32 = 1663;

pub fn pg_am(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(vec![
        vec![oid(HEAP_AM), text("heap"), oid(3), text("t")],
        vec![oid(BTREE_AM), text("btree"), oid(330), text("i")],
    ])
}

/// `pg_language`: the languages PostgreSQL has from the start (FerrisDB's functions are all
/// built in, `prolang` 12 `internal`; there are no procedural languages).
pub fn pg_language(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok([
        (12, "internal", false, 2246),
        (13, "c", false, 2247),
        (14, "sql", true, 2248),
    ]
    .into_iter()
    .map(|(lang, name, trusted, validator)| {
        vec![
            oid(lang),
            text(name),
            oid(ROLE_OID),
            Datum::Bool(false),
            Datum::Bool(trusted),
            oid(0),
            oid(0),
            oid(validator),
            Datum::Null,
        ]
    })
    .collect())
}

pub fn pg_database(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(snap
        .databases
        .iter()
        .map(|d| {
            vec![
                oid(database_oid(d)),
                text(d),
                oid(ROLE_OID),
                Datum::Int(6),
                text("c"),
                Datum::Bool(false),
                Datum::Bool(true),
                Datum::Int(-1),
                oid(DEFAULT_TABLESPACE),
                text("C"),
                text("C"),
                Datum::Null,
                Datum::Null,
                Datum::Null,
            ]
        })
        .collect())
}

fn role_flags() -> [Datum; 6] {
    // rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication
    [true, true, true, true, true, true].map(Datum::Bool)
}

pub fn pg_roles(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut r = vec![text(ROLE_NAME)];
    r.extend(role_flags());
    r.extend([
        Datum::Int(-1),
        text("********"),
        Datum::Null,
        Datum::Bool(true),
        Datum::Null,
        oid(ROLE_OID),
    ]);
    Ok(vec![r])
}

pub fn pg_authid(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut r = vec![oid(ROLE_OID), text(ROLE_NAME)];
    r.extend(role_flags());
    r.extend([Datum::Bool(true), Datum::Int(-1), Datum::Null, Datum::Null]);
    Ok(vec![r])
}

pub fn pg_user(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let b = Datum::Bool;
    Ok(vec![vec![
        text(ROLE_NAME),
        oid(ROLE_OID),
        b(true),
        b(true),
        b(true),
        b(true),
        text("********"),
        Datum::Null,
        Datum::Null,
    ]])
}

pub fn pg_collation(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok([
        (100, "default", "d", ""),
        (950, "C", "c", "C"),
        (951, "POSIX", "c", "POSIX"),
    ]
    .iter()
    .map(|(o, name, provider, locale)| {
        let locale = if locale.is_empty() {
            Datum::Null
        } else {
            text(locale)
        };
        vec![
            oid(*o),
            text(name),
            oid(PG_CATALOG_OID),
            oid(ROLE_OID),
            text(provider),
            Datum::Bool(true),
            Datum::Int(-1),
            locale.clone(),
            locale,
            Datum::Null,
            Datum::Null,
        ]
    })
    .collect())
}

pub fn pg_tablespace(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok([(DEFAULT_TABLESPACE, "pg_default"), (1664, "pg_global")]
        .iter()
        .map(|(o, n)| vec![oid(*o), text(n), oid(ROLE_OID), Datum::Null, Datum::Null])
        .collect())
}

pub fn pg_prepared_statements(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(crate::prepared::with_current(|list| {
        list.iter()
            .map(|p| {
                let types = p
                    .parameter_types
                    .iter()
                    .map(|t| t.map_or(Datum::Null, |t| oid(t.oid())))
                    .collect();
                vec![
                    Datum::Text(p.name.clone()),
                    Datum::Text(p.statement.clone()),
                    Datum::TimestampTz(p.prepare_time),
                    Datum::Array(types),
                    Datum::Bool(false),
                    Datum::Int(0),
                    Datum::Int(0),
                ]
            })
            .collect()
    }))
}

pub fn pg_settings(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let opt = |v: Option<String>| v.map_or(Datum::Null, Datum::Text);
    let settings = crate::settings::with_current(|s| s.pg_settings_rows());
    Ok(settings
        .into_iter()
        .map(|s| {
            vec![
                text(s.name),
                Datum::Text(s.setting),
                opt(s.unit.map(str::to_string)),
                text(s.category),
                text(s.short_desc),
                Datum::Null,
                text(s.context),
                text(s.vartype),
                text(s.source),
                opt(s.min_val),
                opt(s.max_val),
                s.enumvals.map_or(Datum::Null, |v| {
                    Datum::Array(v.into_iter().map(Datum::Text).collect())
                }),
                Datum::Text(s.boot_val.clone()),
                Datum::Text(s.boot_val),
                Datum::Null,
                Datum::Null,
                Datum::Bool(false),
            ]
        })
        .collect())
}
