//! `information_schema.tables`, `.columns`, `.schemata`, `.views` and `.sequences`: the SQL-standard
//! views over the same catalog as [`super`], with PostgreSQL's column names.
//!
//! PostgreSQL types these columns with its information-schema domains
//! (`sql_identifier`, `character_data`, `cardinal_number`, `yes_or_no`); here they are
//! the domains' base types (`name`, `text`, `integer`, `text`). Catalog relations are
//! listed too, under `pg_catalog` and `information_schema`, as PostgreSQL lists them to
//! a superuser.

use ferrisdb_txn::Transaction;

use super::schema::Columns;
use super::tables::view_column_types;
use super::{text, Snapshot, VirtualTable, TABLES as VIRTUAL};
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::Row;
use crate::types::DataType;

const ID: DataType = DataType::Name;
const CHARS: DataType = DataType::Text;
const NUM: DataType = DataType::Int4;

const fn is(name: &'static str, oid: u32, columns: Columns, rows: super::RowsFn) -> VirtualTable {
    VirtualTable {
        schema: "information_schema",
        name,
        oid,
        relkind: "v",
        columns,
        rows,
    }
}

pub const TABLES: VirtualTable = is("tables", 13300, TABLES_COLUMNS, tables);
pub const COLUMNS: VirtualTable = is("columns", 13310, COLUMNS_COLUMNS, columns);
pub const SCHEMATA: VirtualTable = is("schemata", 13320, SCHEMATA_COLUMNS, schemata);
pub const VIEWS: VirtualTable = is("views", 13330, VIEWS_COLUMNS, views);
pub const SEQUENCES: VirtualTable = is("sequences", 13340, SEQUENCES_COLUMNS, sequences);

static SEQUENCES_COLUMNS: Columns = &[
    ("sequence_catalog", ID),
    ("sequence_schema", ID),
    ("sequence_name", ID),
    ("data_type", CHARS),
    ("numeric_precision", NUM),
    ("numeric_precision_radix", NUM),
    ("numeric_scale", NUM),
    ("start_value", CHARS),
    ("minimum_value", CHARS),
    ("maximum_value", CHARS),
    ("increment", CHARS),
    ("cycle_option", CHARS),
];

fn sequences(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(snap
        .sequences()
        .map(|q| {
            let bits = match q.data_type {
                DataType::Int2 => 16,
                DataType::Int4 => 32,
                _ => 64,
            };
            vec![
                text(&snap.database),
                text("public"),
                text(&q.name),
                text(&q.data_type.to_string()),
                Datum::Int(bits),
                Datum::Int(2),
                Datum::Int(0),
                Datum::Text(q.start.to_string()),
                Datum::Text(q.min.to_string()),
                Datum::Text(q.max.to_string()),
                Datum::Text(q.increment.to_string()),
                text(if q.cycle { "YES" } else { "NO" }),
            ]
        })
        .collect())
}

static TABLES_COLUMNS: Columns = &[
    ("table_catalog", ID),
    ("table_schema", ID),
    ("table_name", ID),
    ("table_type", CHARS),
    ("self_referencing_column_name", ID),
    ("reference_generation", CHARS),
    ("user_defined_type_catalog", ID),
    ("user_defined_type_schema", ID),
    ("user_defined_type_name", ID),
    ("is_insertable_into", CHARS),
    ("is_typed", CHARS),
    ("commit_action", CHARS),
];

static COLUMNS_COLUMNS: Columns = &[
    ("table_catalog", ID),
    ("table_schema", ID),
    ("table_name", ID),
    ("column_name", ID),
    ("ordinal_position", NUM),
    ("column_default", CHARS),
    ("is_nullable", CHARS),
    ("data_type", CHARS),
    ("character_maximum_length", NUM),
    ("character_octet_length", NUM),
    ("numeric_precision", NUM),
    ("numeric_precision_radix", NUM),
    ("numeric_scale", NUM),
    ("datetime_precision", NUM),
    ("interval_type", CHARS),
    ("interval_precision", NUM),
    ("udt_catalog", ID),
    ("udt_schema", ID),
    ("udt_name", ID),
    ("is_identity", CHARS),
    ("is_generated", CHARS),
    ("is_updatable", CHARS),
];

static SCHEMATA_COLUMNS: Columns = &[
    ("catalog_name", ID),
    ("schema_name", ID),
    ("schema_owner", ID),
    ("default_character_set_catalog", ID),
    ("default_character_set_schema", ID),
    ("default_character_set_name", ID),
    ("sql_path", CHARS),
];

static VIEWS_COLUMNS: Columns = &[
    ("table_catalog", ID),
    ("table_schema", ID),
    ("table_name", ID),
    ("view_definition", CHARS),
    ("check_option", CHARS),
    ("is_updatable", CHARS),
    ("is_insertable_into", CHARS),
];

fn table_row(db: &str, schema: &str, name: &str, kind: &str, insertable: bool) -> Row {
    let yes_no = |b: bool| text(if b { "YES" } else { "NO" });
    vec![
        text(db),
        text(schema),
        text(name),
        text(kind),
        Datum::Null,
        Datum::Null,
        Datum::Null,
        Datum::Null,
        Datum::Null,
        yes_no(insertable),
        text("NO"),
        Datum::Null,
    ]
}

fn virtual_tables() -> impl Iterator<Item = &'static VirtualTable> {
    VIRTUAL.iter()
}

fn tables(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let db = &snap.database;
    let mut rows: Vec<Row> = snap
        .tables()
        .map(|t| table_row(db, "public", &t.name, "BASE TABLE", true))
        .collect();
    rows.extend(
        snap.views()
            .map(|v| table_row(db, "public", &v.name, "VIEW", false)),
    );
    for v in virtual_tables() {
        let kind = if v.relkind == "r" {
            "BASE TABLE"
        } else {
            "VIEW"
        };
        rows.push(table_row(db, v.schema, v.name, kind, false));
    }
    Ok(rows)
}

/// The SQL-standard name of a type (`information_schema.columns.data_type`).
fn standard_type_name(t: &DataType) -> String {
    match t {
        DataType::Varchar(_) => "character varying".into(),
        DataType::Char(_) => "character".into(),
        DataType::Numeric { .. } => "numeric".into(),
        DataType::Array(_) => "ARRAY".into(),
        other => other.to_string(),
    }
}

/// (character_maximum_length, octet length, numeric precision, radix, scale,
/// datetime precision).
fn type_facets(t: &DataType) -> [Datum; 6] {
    let n = |v: u32| Datum::Int(i64::from(v));
    let none = || {
        [
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]
    };
    let mut f = none();
    match *t {
        DataType::Varchar(Some(len)) | DataType::Char(len) => {
            f[0] = n(len);
            f[1] = n(len.saturating_mul(4));
        }
        DataType::Varchar(None) | DataType::Text => f[1] = n(1_073_741_824),
        DataType::Int2 | DataType::Int4 | DataType::Int8 => {
            f[2] = n(match t {
                DataType::Int2 => 16,
                DataType::Int4 => 32,
                _ => 64,
            });
            f[3] = n(2);
            f[4] = n(0);
        }
        DataType::Float4 | DataType::Float8 => {
            f[2] = n(if *t == DataType::Float4 { 24 } else { 53 });
            f[3] = n(2);
        }
        DataType::Numeric { precision, scale } => {
            f[2] = precision.map_or(Datum::Null, n);
            f[3] = n(10);
            f[4] = scale.map_or(Datum::Null, n);
        }
        DataType::Date => f[5] = n(0),
        DataType::Timestamp | DataType::TimestampTz | DataType::Interval => f[5] = n(6),
        _ => {}
    }
    f
}

#[allow(clippy::too_many_arguments)]
fn column_row(
    db: &str,
    schema: &str,
    table: &str,
    name: &str,
    pos: usize,
    t: DataType,
    default: Option<&str>,
    nullable: bool,
    updatable: bool,
) -> Row {
    let udt = super::types::type_name(t.oid()).unwrap_or_default();
    let mut r = vec![
        text(db),
        text(schema),
        text(table),
        text(name),
        Datum::Int(pos as i64),
        default.map_or(Datum::Null, text),
        text(if nullable { "YES" } else { "NO" }),
        Datum::Text(standard_type_name(&t)),
    ];
    r.extend(type_facets(&t));
    r.extend([
        Datum::Null,
        Datum::Null,
        text(db),
        text("pg_catalog"),
        Datum::Text(udt),
        text("NO"),
        text("NEVER"),
        text(if updatable { "YES" } else { "NO" }),
    ]);
    r
}

fn columns(txn: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let db = &snap.database;
    let mut rows = Vec::new();
    for t in snap.tables() {
        for (i, c) in t.columns.iter().enumerate() {
            let d = c.default.as_deref();
            rows.push(column_row(
                db,
                "public",
                &t.name,
                &c.name,
                i + 1,
                c.data_type,
                d,
                !c.not_null,
                true,
            ));
        }
    }
    for v in snap.views() {
        let types = view_column_types(txn, v);
        for (i, (name, t)) in v.columns.iter().zip(types).enumerate() {
            rows.push(column_row(
                db,
                "public",
                &v.name,
                name,
                i + 1,
                t,
                None,
                true,
                false,
            ));
        }
    }
    for v in virtual_tables() {
        for (i, (name, t)) in v.columns.iter().enumerate() {
            rows.push(column_row(
                db,
                v.schema,
                v.name,
                name,
                i + 1,
                *t,
                None,
                true,
                false,
            ));
        }
    }
    Ok(rows)
}

fn schemata(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok([
        ("pg_catalog", "postgres"),
        ("public", "pg_database_owner"),
        ("information_schema", "postgres"),
    ]
    .iter()
    .map(|(n, owner)| {
        vec![
            text(&snap.database),
            text(n),
            text(owner),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]
    })
    .collect())
}

fn views(_: &mut Transaction, snap: &Snapshot) -> Result<Vec<Row>, SqlError> {
    Ok(snap
        .views()
        .map(|v| {
            vec![
                text(&snap.database),
                text("public"),
                text(&v.name),
                Datum::Text(format!(" {};", v.sql)),
                text("NONE"),
                text("NO"),
                text("NO"),
            ]
        })
        .collect())
}
