//! The built-in functions and aggregates as `pg_proc` rows, for `\df`, `\da` and the
//! drivers' function metadata.
//!
//! The list is derived from what the binder resolves, not written beside it: the scalar
//! functions are [`crate::functions::signatures`] of [`SCALAR_NAMES`], the system functions
//! are [`SYSTEM`] resolved through [`super::functions::resolve`], and the aggregates are
//! [`aggregates`], each checked by a test that binds a call to every row's name and argument
//! types and compares the result type. OIDs are PostgreSQL 15's own for the same signature
//! ([`PG_OIDS`]); a signature PostgreSQL does not have would get none, and a test refuses it.
//! Functions taking `"any"` or `anyarray` (concat, pg_typeof, array_to_string, the
//! privilege checks) are not listed: their parameter types cannot be written as ours.

use std::sync::OnceLock;

use crate::functions::signatures;
use crate::types::{DataType, OidKind};

/// One `pg_proc` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Proc {
    pub oid: u32,
    pub name: &'static str,
    pub args: Vec<DataType>,
    pub result: DataType,
    /// `f` function, `a` aggregate.
    pub kind: char,
    /// `i` immutable, `s` stable, `v` volatile (PostgreSQL's).
    pub volatility: char,
    /// `s` safe, `r` restricted, `u` unsafe (PostgreSQL's).
    pub parallel: char,
    pub strict: bool,
}

/// The scalar functions listed, by their `pg_proc` name (aliases the grammar turns into
/// another function, such as `trim` or `current_date`, are not functions in PostgreSQL).
pub const SCALAR_NAMES: &[&str] = &[
    "abs",
    "ascii",
    "btrim",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "chr",
    "date_part",
    "date_trunc",
    "exp",
    "floor",
    "initcap",
    "left",
    "length",
    "ln",
    "log",
    "log10",
    "lower",
    "lpad",
    "ltrim",
    "md5",
    "mod",
    "now",
    "octet_length",
    "pi",
    "pow",
    "power",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "rpad",
    "rtrim",
    "sign",
    "split_part",
    "sqrt",
    "starts_with",
    "statement_timestamp",
    "strpos",
    "substr",
    "substring",
    "to_timestamp",
    "transaction_timestamp",
    "trunc",
    "upper",
];

/// The system functions listed, with their number of arguments.
pub const SYSTEM: &[(&str, usize)] = &[
    ("col_description", 2),
    ("current_database", 0),
    ("current_schema", 0),
    ("current_schemas", 1),
    ("current_setting", 1),
    ("current_setting", 2),
    ("currval", 1),
    ("format_type", 2),
    ("lastval", 0),
    ("nextval", 1),
    ("obj_description", 1),
    ("obj_description", 2),
    ("pg_backend_pid", 0),
    ("pg_encoding_to_char", 1),
    ("pg_function_is_visible", 1),
    ("pg_get_constraintdef", 1),
    ("pg_get_constraintdef", 2),
    ("pg_get_expr", 2),
    ("pg_get_expr", 3),
    ("pg_get_function_arguments", 1),
    ("pg_get_function_identity_arguments", 1),
    ("pg_get_function_result", 1),
    ("pg_get_indexdef", 1),
    ("pg_get_indexdef", 3),
    ("pg_get_serial_sequence", 2),
    ("pg_get_userbyid", 1),
    ("pg_get_viewdef", 1),
    ("pg_get_viewdef", 2),
    ("pg_is_in_recovery", 0),
    ("pg_sleep", 1),
    ("pg_table_is_visible", 1),
    ("pg_type_is_visible", 1),
    ("quote_ident", 1),
    ("set_config", 3),
    ("setval", 2),
    ("setval", 3),
    ("shobj_description", 2),
    ("to_regclass", 1),
    ("to_regnamespace", 1),
    ("to_regproc", 1),
    ("to_regrole", 1),
    ("to_regtype", 1),
    ("version", 0),
];

/// The aggregates listed: name, argument types, result type (what the binder gives).
pub fn aggregates() -> Vec<(&'static str, Vec<DataType>, DataType)> {
    use DataType::*;
    const N: DataType = DataType::NUMERIC;
    let mut v = vec![("count", vec![], Int8)];
    for (arg, sum, avg) in [
        (Int2, Int8, N),
        (Int4, Int8, N),
        (Int8, N, N),
        (N, N, N),
        (Float4, Float4, Float8),
        (Float8, Float8, Float8),
        (Interval, Interval, Interval),
    ] {
        v.push(("sum", vec![arg], sum));
        v.push(("avg", vec![arg], avg));
    }
    for t in [
        Int2,
        Int4,
        Int8,
        N,
        Float4,
        Float8,
        Text,
        Date,
        Timestamp,
        TimestampTz,
        Interval,
        DataType::Oid(OidKind::Oid),
    ] {
        v.push(("max", vec![t], t));
        v.push(("min", vec![t], t));
    }
    for name in ["bool_and", "bool_or", "every"] {
        v.push((name, vec![Bool], Bool));
    }
    v.push(("string_agg", vec![Text, Text], Text));
    v
}

/// Every listed function, in OID order; built once.
pub fn builtin() -> &'static [Proc] {
    static PROCS: OnceLock<Vec<Proc>> = OnceLock::new();
    PROCS.get_or_init(build)
}

/// The listed function with OID `oid`.
pub fn by_oid(oid: i64) -> Option<&'static Proc> {
    let all = builtin();
    all.binary_search_by_key(&oid, |p| i64::from(p.oid))
        .ok()
        .map(|i| &all[i])
}

/// PostgreSQL's OID, volatility and parallel safety for `name(args)`.
pub fn pg_oid(name: &str, args: &[DataType]) -> Option<(u32, char, char)> {
    let arg_oids: Vec<u32> = args.iter().map(DataType::oid).collect();
    PG_OIDS
        .iter()
        .find(|(n, a, ..)| *n == name && *a == arg_oids.as_slice())
        .map(|&(_, _, oid, volatility, parallel)| (oid, volatility, parallel))
}

fn build() -> Vec<Proc> {
    let mut out: Vec<Proc> = candidates()
        .into_iter()
        .filter_map(|p| {
            let (oid, volatility, parallel) = pg_oid(p.name, &p.args)?;
            Some(Proc {
                oid,
                volatility,
                parallel,
                ..p
            })
        })
        .collect();
    out.sort_by_key(|p| p.oid);
    out.dedup_by_key(|p| p.oid);
    out
}

/// Every signature the binder resolves for the listed names (OID and volatility not yet
/// assigned). Those PostgreSQL has no function for (`char_length(bytea)`, `pg_get_expr`
/// on text rather than `pg_node_tree`) are left out of `pg_proc`.
pub fn candidates() -> Vec<Proc> {
    let mut out = Vec::new();
    let mut add = |name: &'static str, args: Vec<DataType>, result, kind, strict| {
        out.push(Proc {
            oid: 0,
            name,
            args,
            result,
            kind,
            volatility: ' ',
            parallel: ' ',
            strict,
        })
    };
    for &name in SCALAR_NAMES {
        for (func, params, result) in signatures(name) {
            if let Some(params) = params {
                add(name, params, result, 'f', func.is_strict());
            }
        }
    }
    for &(name, n) in SYSTEM {
        let probe = vec![DataType::Unknown; n];
        if let Some(Ok((id, result))) = super::functions::resolve(name, &probe) {
            add(name, id.params, result, 'f', id.func.is_strict());
        }
    }
    for (name, args, result) in aggregates() {
        add(name, args, result, 'a', false);
    }
    out
}

/// `name(args)` to PostgreSQL 15's `pg_proc.oid`, `provolatile` and `proparallel`, for
/// every signature listed above (`SELECT proname, proargtypes, oid, provolatile,
/// proparallel FROM pg_proc`).
#[rustfmt::skip]
pub const PG_OIDS: &[(&str, &[u32], u32, char, char)] = &[
    ("version", &[], 89, 's', 's'),
    ("octet_length", &[17], 720, 'i', 's'),
    ("current_database", &[], 861, 's', 's'),
    ("strpos", &[25, 25], 868, 'i', 's'),
    ("lower", &[25], 870, 'i', 's'),
    ("upper", &[25], 871, 'i', 's'),
    ("initcap", &[25], 872, 'i', 's'),
    ("lpad", &[25, 23, 25], 873, 'i', 's'),
    ("rpad", &[25, 23, 25], 874, 'i', 's'),
    ("ltrim", &[25, 25], 875, 'i', 's'),
    ("rtrim", &[25, 25], 876, 'i', 's'),
    ("substr", &[25, 23, 23], 877, 'i', 's'),
    ("lpad", &[25, 23], 879, 'i', 's'),
    ("rpad", &[25, 23], 880, 'i', 's'),
    ("ltrim", &[25], 881, 'i', 's'),
    ("rtrim", &[25], 882, 'i', 's'),
    ("substr", &[25, 23], 883, 'i', 's'),
    ("btrim", &[25, 25], 884, 'i', 's'),
    ("btrim", &[25], 885, 'i', 's'),
    ("substring", &[25, 23, 23], 936, 'i', 's'),
    ("substring", &[25, 23], 937, 'i', 's'),
    ("mod", &[21, 21], 940, 'i', 's'),
    ("mod", &[23, 23], 941, 'i', 's'),
    ("mod", &[20, 20], 947, 'i', 's'),
    ("format_type", &[26, 23], 1081, 's', 's'),
    ("to_timestamp", &[701], 1158, 'i', 's'),
    ("date_part", &[25, 1184], 1171, 's', 's'),
    ("log10", &[701], 1194, 'i', 's'),
    ("obj_description", &[26, 19], 1215, 's', 's'),
    ("col_description", &[26, 23], 1216, 's', 's'),
    ("date_trunc", &[25, 1184], 1217, 's', 's'),
    ("quote_ident", &[25], 1282, 'i', 's'),
    ("now", &[], 1299, 's', 's'),
    ("length", &[25], 1317, 'i', 's'),
    ("log", &[701], 1340, 'i', 's'),
    ("ln", &[701], 1341, 'i', 's'),
    ("round", &[701], 1342, 'i', 's'),
    ("trunc", &[701], 1343, 'i', 's'),
    ("sqrt", &[701], 1344, 'i', 's'),
    ("pow", &[701, 701], 1346, 'i', 's'),
    ("exp", &[701], 1347, 'i', 's'),
    ("obj_description", &[26], 1348, 's', 's'),
    ("power", &[701, 701], 1368, 'i', 's'),
    ("character_length", &[25], 1369, 'i', 's'),
    ("octet_length", &[25], 1374, 'i', 's'),
    ("char_length", &[25], 1381, 'i', 's'),
    ("date_part", &[25, 1082], 1384, 'i', 's'),
    ("pg_get_constraintdef", &[26], 1387, 's', 's'),
    ("abs", &[700], 1394, 'i', 's'),
    ("abs", &[701], 1395, 'i', 's'),
    ("abs", &[20], 1396, 'i', 's'),
    ("abs", &[23], 1397, 'i', 's'),
    ("abs", &[21], 1398, 'i', 's'),
    ("current_schema", &[], 1402, 's', 'u'),
    ("current_schemas", &[16], 1403, 's', 'u'),
    ("nextval", &[2205], 1574, 'v', 'u'),
    ("currval", &[2205], 1575, 'v', 'u'),
    ("setval", &[2205, 20], 1576, 'v', 'u'),
    ("pg_encoding_to_char", &[23], 1597, 's', 's'),
    ("pi", &[], 1610, 'i', 's'),
    ("ascii", &[25], 1620, 'i', 's'),
    ("chr", &[23], 1621, 'i', 's'),
    ("repeat", &[25, 23], 1622, 'i', 's'),
    ("pg_get_viewdef", &[26], 1641, 's', 'r'),
    ("pg_get_userbyid", &[26], 1642, 's', 's'),
    ("pg_get_indexdef", &[26], 1643, 's', 's'),
    ("pg_get_serial_sequence", &[25, 25], 1665, 's', 's'),
    ("abs", &[1700], 1705, 'i', 's'),
    ("sign", &[1700], 1706, 'i', 's'),
    ("round", &[1700, 23], 1707, 'i', 's'),
    ("round", &[1700], 1708, 'i', 's'),
    ("trunc", &[1700, 23], 1709, 'i', 's'),
    ("trunc", &[1700], 1710, 'i', 's'),
    ("ceil", &[1700], 1711, 'i', 's'),
    ("floor", &[1700], 1712, 'i', 's'),
    ("mod", &[1700, 1700], 1728, 'i', 's'),
    ("sqrt", &[1700], 1730, 'i', 's'),
    ("setval", &[2205, 20, 16], 1765, 'v', 'u'),
    ("shobj_description", &[26, 19], 1993, 's', 's'),
    ("length", &[17], 2010, 'i', 's'),
    ("date_trunc", &[25, 1114], 2020, 'i', 's'),
    ("date_part", &[25, 1114], 2021, 'i', 's'),
    ("pg_backend_pid", &[], 2026, 's', 'r'),
    ("current_setting", &[25], 2077, 's', 's'),
    ("set_config", &[25, 25, 16], 2078, 'v', 'u'),
    ("pg_table_is_visible", &[26], 2079, 's', 's'),
    ("pg_type_is_visible", &[26], 2080, 's', 's'),
    ("pg_function_is_visible", &[26], 2081, 's', 's'),
    ("replace", &[25, 25, 25], 2087, 'i', 's'),
    ("split_part", &[25, 25, 23], 2088, 'i', 's'),
    ("avg", &[20], 2100, 'i', 's'),
    ("avg", &[23], 2101, 'i', 's'),
    ("avg", &[21], 2102, 'i', 's'),
    ("avg", &[1700], 2103, 'i', 's'),
    ("avg", &[700], 2104, 'i', 's'),
    ("avg", &[701], 2105, 'i', 's'),
    ("avg", &[1186], 2106, 'i', 's'),
    ("sum", &[20], 2107, 'i', 's'),
    ("sum", &[23], 2108, 'i', 's'),
    ("sum", &[21], 2109, 'i', 's'),
    ("sum", &[700], 2110, 'i', 's'),
    ("sum", &[701], 2111, 'i', 's'),
    ("sum", &[1186], 2113, 'i', 's'),
    ("sum", &[1700], 2114, 'i', 's'),
    ("max", &[20], 2115, 'i', 's'),
    ("max", &[23], 2116, 'i', 's'),
    ("max", &[21], 2117, 'i', 's'),
    ("max", &[26], 2118, 'i', 's'),
    ("max", &[700], 2119, 'i', 's'),
    ("max", &[701], 2120, 'i', 's'),
    ("max", &[1082], 2122, 'i', 's'),
    ("max", &[1114], 2126, 'i', 's'),
    ("max", &[1184], 2127, 'i', 's'),
    ("max", &[1186], 2128, 'i', 's'),
    ("max", &[25], 2129, 'i', 's'),
    ("max", &[1700], 2130, 'i', 's'),
    ("min", &[20], 2131, 'i', 's'),
    ("min", &[23], 2132, 'i', 's'),
    ("min", &[21], 2133, 'i', 's'),
    ("min", &[26], 2134, 'i', 's'),
    ("min", &[700], 2135, 'i', 's'),
    ("min", &[701], 2136, 'i', 's'),
    ("min", &[1082], 2138, 'i', 's'),
    ("min", &[1114], 2142, 'i', 's'),
    ("min", &[1184], 2143, 'i', 's'),
    ("min", &[1186], 2144, 'i', 's'),
    ("min", &[25], 2145, 'i', 's'),
    ("min", &[1700], 2146, 'i', 's'),
    ("pg_get_function_arguments", &[26], 2162, 's', 's'),
    ("pg_get_function_result", &[26], 2165, 's', 's'),
    ("ceiling", &[1700], 2167, 'i', 's'),
    ("pg_get_function_identity_arguments", &[26], 2232, 's', 's'),
    ("ceil", &[701], 2308, 'i', 's'),
    ("floor", &[701], 2309, 'i', 's'),
    ("sign", &[701], 2310, 'i', 's'),
    ("md5", &[25], 2311, 'i', 's'),
    ("ceiling", &[701], 2320, 'i', 's'),
    ("md5", &[17], 2321, 'i', 's'),
    ("pg_get_viewdef", &[26, 16], 2506, 's', 'r'),
    ("pg_get_indexdef", &[26, 23, 16], 2507, 's', 's'),
    ("pg_get_constraintdef", &[26, 16], 2508, 's', 's'),
    ("bool_and", &[16], 2517, 'i', 's'),
    ("bool_or", &[16], 2518, 'i', 's'),
    ("every", &[16], 2519, 'i', 's'),
    ("lastval", &[], 2559, 'v', 'u'),
    ("pg_sleep", &[701], 2626, 'v', 's'),
    ("transaction_timestamp", &[], 2647, 's', 's'),
    ("statement_timestamp", &[], 2648, 's', 's'),
    ("count", &[], 2803, 'i', 's'),
    ("left", &[25, 23], 3060, 'i', 's'),
    ("right", &[25, 23], 3061, 'i', 's'),
    ("reverse", &[25], 3062, 'i', 's'),
    ("current_setting", &[25, 16], 3294, 's', 's'),
    ("to_regtype", &[25], 3493, 's', 's'),
    ("to_regproc", &[25], 3494, 's', 's'),
    ("to_regclass", &[25], 3495, 's', 's'),
    ("string_agg", &[25, 25], 3538, 'i', 's'),
    ("starts_with", &[25, 25], 3696, 'i', 's'),
    ("pg_is_in_recovery", &[], 3810, 'v', 's'),
    ("to_regnamespace", &[25], 4086, 's', 's'),
    ("to_regrole", &[25], 4093, 's', 's'),
];
