//! `pg_type` and `pg_proc`: the types FerrisDB implements, described with PostgreSQL's
//! OIDs and attributes, and the input/output functions those rows name.
//!
//! The list is [`BASE_TYPES`] (every [`DataType`] base the engine has) plus one array
//! type per element of [`crate::array::ELEMENTS`]. Each entry carries what `pg_type` says
//! about the type in PostgreSQL 15 (length, alignment, storage, category, collation,
//! I/O functions), so drivers that look types up by OID or name get the answers they
//! expect. `pg_proc` holds the I/O functions those rows point at, which are exactly the
//! parse and print routines of [`crate::datum`].

use ferrisdb_txn::Transaction;

use super::{oid, text, Snapshot, PG_CATALOG_OID, ROLE_OID};
use crate::array::ELEMENTS;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::exec::Row;
use crate::types::{DataType, OidKind};

/// What `pg_type` records about a base type.
#[derive(Clone, Copy, Debug)]
pub struct TypeInfo {
    pub data_type: DataType,
    pub name: &'static str,
    pub len: i16,
    pub byval: bool,
    pub category: &'static str,
    pub preferred: bool,
    pub align: &'static str,
    pub storage: &'static str,
    pub collation: u32,
    /// (input, output) function OIDs and names.
    pub io: (u32, &'static str, u32, &'static str),
}

#[allow(clippy::too_many_arguments)] // one row of a table
const fn ti(
    data_type: DataType,
    name: &'static str,
    len: i16,
    byval: bool,
    cat: (&'static str, bool),
    align: &'static str,
    storage: &'static str,
    collation: u32,
    io: (u32, &'static str, u32, &'static str),
) -> TypeInfo {
    TypeInfo {
        data_type,
        name,
        len,
        byval,
        category: cat.0,
        preferred: cat.1,
        align,
        storage,
        collation,
        io,
    }
}

/// The base types, as PostgreSQL 15's `pg_type` rows describe them.
pub static BASE_TYPES: &[TypeInfo] = &[
    ti(
        DataType::Bool,
        "bool",
        1,
        true,
        ("B", true),
        "c",
        "p",
        0,
        (1242, "boolin", 1243, "boolout"),
    ),
    ti(
        DataType::Bytea,
        "bytea",
        -1,
        false,
        ("U", false),
        "i",
        "x",
        0,
        (1244, "byteain", 31, "byteaout"),
    ),
    ti(
        DataType::InternalChar,
        "char",
        1,
        true,
        ("Z", false),
        "c",
        "p",
        0,
        (1245, "charin", 33, "charout"),
    ),
    ti(
        DataType::Name,
        "name",
        64,
        false,
        ("S", false),
        "c",
        "p",
        950,
        (34, "namein", 35, "nameout"),
    ),
    ti(
        DataType::Int8,
        "int8",
        8,
        true,
        ("N", false),
        "d",
        "p",
        0,
        (460, "int8in", 461, "int8out"),
    ),
    ti(
        DataType::Int2,
        "int2",
        2,
        true,
        ("N", false),
        "s",
        "p",
        0,
        (38, "int2in", 39, "int2out"),
    ),
    ti(
        DataType::Int4,
        "int4",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (42, "int4in", 43, "int4out"),
    ),
    ti(
        DataType::Oid(OidKind::RegProc),
        "regproc",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (44, "regprocin", 45, "regprocout"),
    ),
    ti(
        DataType::Text,
        "text",
        -1,
        false,
        ("S", true),
        "i",
        "x",
        100,
        (46, "textin", 47, "textout"),
    ),
    ti(
        DataType::Oid(OidKind::Oid),
        "oid",
        4,
        true,
        ("N", true),
        "i",
        "p",
        0,
        (1798, "oidin", 1799, "oidout"),
    ),
    ti(
        DataType::Float4,
        "float4",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (200, "float4in", 201, "float4out"),
    ),
    ti(
        DataType::Float8,
        "float8",
        8,
        true,
        ("N", true),
        "d",
        "p",
        0,
        (214, "float8in", 215, "float8out"),
    ),
    ti(
        DataType::Unknown,
        "unknown",
        -2,
        false,
        ("X", false),
        "c",
        "p",
        0,
        (109, "unknownin", 110, "unknownout"),
    ),
    ti(
        DataType::Void,
        "void",
        4,
        true,
        ("P", false),
        "i",
        "p",
        0,
        (2298, "void_in", 2299, "void_out"),
    ),
    ti(
        DataType::Char(1),
        "bpchar",
        -1,
        false,
        ("S", false),
        "i",
        "x",
        100,
        (1044, "bpcharin", 1045, "bpcharout"),
    ),
    ti(
        DataType::Varchar(None),
        "varchar",
        -1,
        false,
        ("S", false),
        "i",
        "x",
        100,
        (1046, "varcharin", 1047, "varcharout"),
    ),
    ti(
        DataType::Date,
        "date",
        4,
        true,
        ("D", false),
        "i",
        "p",
        0,
        (1084, "date_in", 1085, "date_out"),
    ),
    ti(
        DataType::Timestamp,
        "timestamp",
        8,
        true,
        ("D", false),
        "d",
        "p",
        0,
        (1312, "timestamp_in", 1313, "timestamp_out"),
    ),
    ti(
        DataType::TimestampTz,
        "timestamptz",
        8,
        true,
        ("D", true),
        "d",
        "p",
        0,
        (1150, "timestamptz_in", 1151, "timestamptz_out"),
    ),
    ti(
        DataType::Interval,
        "interval",
        16,
        false,
        ("T", true),
        "d",
        "p",
        0,
        (1160, "interval_in", 1161, "interval_out"),
    ),
    ti(
        DataType::NUMERIC,
        "numeric",
        -1,
        false,
        ("N", false),
        "i",
        "m",
        0,
        (1701, "numeric_in", 1702, "numeric_out"),
    ),
    ti(
        DataType::Oid(OidKind::RegClass),
        "regclass",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (2218, "regclassin", 2219, "regclassout"),
    ),
    ti(
        DataType::Oid(OidKind::RegType),
        "regtype",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (2220, "regtypein", 2221, "regtypeout"),
    ),
    ti(
        DataType::Oid(OidKind::RegNamespace),
        "regnamespace",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (4084, "regnamespacein", 4085, "regnamespaceout"),
    ),
    ti(
        DataType::Oid(OidKind::RegRole),
        "regrole",
        4,
        true,
        ("N", false),
        "i",
        "p",
        0,
        (4098, "regrolein", 4092, "regroleout"),
    ),
];

/// `array_in` / `array_out`.
pub const ARRAY_IO: (u32, &str, u32, &str) = (750, "array_in", 751, "array_out");

/// The `pg_type` facts of `t`'s base type (arrays get their element's row, see
/// [`info_of_oid`] for array rows).
pub fn info(t: &DataType) -> Option<&'static TypeInfo> {
    let base = match t {
        DataType::Char(_) => DataType::Char(1),
        other => other.base(),
    };
    BASE_TYPES.iter().find(|i| i.data_type == base)
}

/// `pg_type.typname` of the type with OID `oid`.
pub fn type_name(type_oid: u32) -> Option<String> {
    if let Some(i) = BASE_TYPES.iter().find(|i| i.data_type.oid() == type_oid) {
        return Some(i.name.to_string());
    }
    ELEMENTS
        .iter()
        .find(|(_, a)| *a == type_oid)
        .and_then(|(e, _)| info(e))
        .map(|i| format!("_{}", i.name))
}

/// The type with OID `oid`, unmodified.
pub fn type_of_oid(type_oid: u32) -> Option<DataType> {
    BASE_TYPES
        .iter()
        .find(|i| i.data_type.oid() == type_oid)
        .map(|i| i.data_type)
        .or_else(|| crate::array::array_type_by_oid(type_oid))
}

/// `typcollation` of a column of type `t`.
pub fn collation(t: &DataType) -> u32 {
    match t {
        DataType::Array(e) => collation(e),
        _ => info(t).map_or(0, |i| i.collation),
    }
}

/// `(typlen, typbyval, typalign, typstorage)` of `t`.
pub fn layout(t: &DataType) -> (i16, bool, &'static str, &'static str) {
    match t {
        DataType::Array(e) => {
            let align = if matches!(
                e,
                DataType::Int8
                    | DataType::Float8
                    | DataType::Timestamp
                    | DataType::TimestampTz
                    | DataType::Interval
            ) {
                "d"
            } else {
                "i"
            };
            (-1, false, align, "x")
        }
        _ => info(t).map_or((-1, false, "i", "x"), |i| {
            (i.len, i.byval, i.align, i.storage)
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn type_row(
    type_oid: u32,
    name: String,
    i: &TypeInfo,
    len: i16,
    byval: bool,
    category: &str,
    elem: u32,
    array: u32,
    io: (u32, &str, u32, &str),
) -> Row {
    let (align, storage) = if elem != 0 {
        (if i.align == "d" { "d" } else { "i" }, "x")
    } else {
        (i.align, i.storage)
    };
    vec![
        oid(type_oid),
        Datum::Text(name),
        oid(PG_CATALOG_OID),
        oid(ROLE_OID),
        Datum::Int(i64::from(len)),
        Datum::Bool(byval),
        text(
            if matches!(i.data_type, DataType::Unknown | DataType::Void) {
                "p"
            } else {
                "b"
            },
        ),
        text(category),
        Datum::Bool(i.preferred && elem == 0),
        Datum::Bool(true),
        text(","),
        oid(0),
        oid(if elem != 0 { 6179 } else { 0 }),
        oid(elem),
        oid(array),
        oid(io.0),
        oid(io.2),
        oid(0),
        oid(0),
        oid(0),
        oid(0),
        oid(0),
        text(align),
        text(storage),
        Datum::Bool(false),
        oid(0),
        Datum::Int(-1),
        Datum::Int(0),
        oid(i.collation),
        Datum::Null,
        Datum::Null,
        Datum::Null,
    ]
}

/// `pg_type`: the base types, then their array types.
pub fn pg_type(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    for i in BASE_TYPES {
        let array = crate::array::array_type_oid(&i.data_type);
        let elem = if i.data_type == DataType::Name { 18 } else { 0 };
        let mut r = type_row(
            i.data_type.oid(),
            i.name.to_string(),
            i,
            i.len,
            i.byval,
            i.category,
            0,
            array,
            i.io,
        );
        r[13] = oid(elem);
        rows.push(r);
    }
    for (e, array_oid) in ELEMENTS {
        if let Some(i) = info(e) {
            let name = format!("_{}", i.name);
            rows.push(type_row(
                *array_oid,
                name,
                i,
                -1,
                false,
                "A",
                e.oid(),
                0,
                ARRAY_IO,
            ));
        }
    }
    Ok(rows)
}

/// `pg_proc`: the type I/O functions `pg_type` names, then the built-in functions and
/// aggregates ([`super::procs`]).
pub fn pg_proc(_: &mut Transaction, _: &Snapshot) -> Result<Vec<Row>, SqlError> {
    let mut rows = Vec::new();
    let io = |fn_oid: u32, name: &str, ret: u32, arg: u32| {
        let f = ProcRow {
            kind: 'f',
            strict: true,
            volatility: 'i',
            parallel: 's',
        };
        f.row(fn_oid, name, ret, &[arg], name)
    };
    for i in BASE_TYPES {
        rows.push(io(i.io.0, i.io.1, i.data_type.oid(), 2275));
        rows.push(io(i.io.2, i.io.3, 2275, i.data_type.oid()));
    }
    rows.push(io(ARRAY_IO.0, ARRAY_IO.1, 2277, 2275));
    rows.push(io(ARRAY_IO.2, ARRAY_IO.3, 2275, 2277));
    for p in super::procs::builtin() {
        let f = ProcRow {
            kind: p.kind,
            strict: p.strict,
            volatility: p.volatility,
            parallel: p.parallel,
        };
        let args: Vec<u32> = p.args.iter().map(DataType::oid).collect();
        let src = if p.kind == 'a' {
            "aggregate_dummy"
        } else {
            p.name
        };
        rows.push(f.row(p.oid, p.name, p.result.oid(), &args, src));
    }
    Ok(rows)
}

/// The flags of a built-in `pg_proc` row (language internal, owner postgres, cost 1).
struct ProcRow {
    kind: char,
    strict: bool,
    volatility: char,
    parallel: char,
}

impl ProcRow {
    fn row(&self, fn_oid: u32, name: &str, ret: u32, args: &[u32], src: &str) -> Row {
        vec![
            oid(fn_oid),
            text(name),
            oid(PG_CATALOG_OID),
            oid(ROLE_OID),
            oid(12),
            Datum::Float(1.0),
            Datum::Float(0.0),
            oid(0),
            oid(0),
            text(&self.kind.to_string()),
            Datum::Bool(false),
            Datum::Bool(false),
            Datum::Bool(self.strict),
            Datum::Bool(false),
            text(&self.volatility.to_string()),
            text(&self.parallel.to_string()),
            Datum::Int(args.len() as i64),
            Datum::Int(0),
            oid(ret),
            Datum::Array(args.iter().map(|a| oid(*a)).collect()),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            text(src),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]
    }
}

/// The name of function `fn_oid` (`regproc` output), if it is one of `pg_proc`'s.
pub fn proc_name(fn_oid: i64) -> Option<&'static str> {
    if let Some(p) = super::procs::by_oid(fn_oid) {
        return Some(p.name);
    }
    if fn_oid == i64::from(ARRAY_IO.0) {
        return Some(ARRAY_IO.1);
    }
    if fn_oid == i64::from(ARRAY_IO.2) {
        return Some(ARRAY_IO.3);
    }
    BASE_TYPES.iter().find_map(|i| {
        if i64::from(i.io.0) == fn_oid {
            Some(i.io.1)
        } else if i64::from(i.io.2) == fn_oid {
            Some(i.io.3)
        } else {
            None
        }
    })
}

/// The OID of function `name` (`regproc` input).
pub fn proc_oid(name: &str) -> Option<u32> {
    let mut builtin = super::procs::builtin().iter().filter(|p| p.name == name);
    if let (Some(p), None) = (builtin.next(), builtin.next()) {
        return Some(p.oid);
    }
    if name == ARRAY_IO.1 {
        return Some(ARRAY_IO.0);
    }
    if name == ARRAY_IO.3 {
        return Some(ARRAY_IO.2);
    }
    BASE_TYPES.iter().find_map(|i| {
        if i.io.1 == name {
            Some(i.io.0)
        } else if i.io.3 == name {
            Some(i.io.2)
        } else {
            None
        }
    })
}
