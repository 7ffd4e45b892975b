//! Catalog objects back to SQL text: `format_type`, `pg_get_indexdef`,
//! `pg_get_constraintdef`, `pg_get_viewdef`, `quote_ident`, with PostgreSQL's spelling.
//!
//! FerrisDB keeps DEFAULT, CHECK and view bodies as the SQL text the user wrote
//! (normalized by sqlparser's printer), so those come back as written rather than in
//! PostgreSQL's reconstructed form: `CHECK (n > 0)` where PostgreSQL prints
//! `CHECK (n > 0::numeric)`, and a default `'x'` where it prints `'x'::character
//! varying`.

use super::{check_oid, index_constraint_oid, Snapshot};
use crate::catalog::{IndexDef, TableDef};
use crate::types::DataType;

/// PostgreSQL's reserved key words (those `quote_ident` must quote).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// PostgreSQL's `quote_ident`: double quotes unless the name is a lower-case identifier
/// that is not a reserved word.
pub fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&s);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `format_type(type_oid, typmod)`; `None` for a NULL type.
pub fn format_type(type_oid: i64, typmod: Option<i64>) -> String {
    let typmod = typmod.unwrap_or(-1);
    let Ok(type_oid) = u32::try_from(type_oid) else {
        return "???".into();
    };
    if let Some(t) = crate::catalog::type_from_oid(i64::from(type_oid), typmod) {
        return t.to_string();
    }
    match super::types::type_of_oid(type_oid) {
        Some(DataType::InternalChar) => "\"char\"".into(),
        Some(t) => t.to_string(),
        None if type_oid == 0 => "-".into(),
        None => "???".into(),
    }
}

fn column_list(t: &TableDef, cols: &[usize]) -> String {
    cols.iter()
        .filter_map(|c| t.columns.get(*c))
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `pg_get_indexdef(index_oid)`.
pub fn index_def(t: &TableDef, ix: &IndexDef) -> String {
    format!(
        "CREATE {}INDEX {} ON public.{} USING btree ({})",
        if ix.unique { "UNIQUE " } else { "" },
        quote_ident(&ix.name),
        quote_ident(&t.name),
        column_list(t, &ix.columns)
    )
}

/// One constraint of a table, as `pg_constraint` lists it.
pub struct Constraint<'a> {
    pub oid: u32,
    pub name: &'a str,
    /// `p`, `u` or `c`.
    pub kind: &'static str,
    /// The backing index (PRIMARY KEY, UNIQUE).
    pub index: Option<&'a IndexDef>,
    /// Column positions, 0-based (empty for CHECK).
    pub columns: &'a [usize],
    /// The CHECK expression.
    pub check: Option<&'a str>,
}

/// The constraints of `t`: its primary key, the UNIQUE constraints, the CHECKs.
pub fn constraints(t: &TableDef) -> Vec<Constraint<'_>> {
    let mut out = Vec::new();
    for ix in &t.indexes {
        let kind = if ix.primary && !ix.columns.is_empty() {
            "p"
        } else if ix.constraint {
            "u"
        } else {
            continue;
        };
        out.push(Constraint {
            oid: index_constraint_oid(t, ix.id),
            name: &ix.name,
            kind,
            index: Some(ix),
            columns: &ix.columns,
            check: None,
        });
    }
    for (k, c) in t.checks.iter().enumerate() {
        out.push(Constraint {
            oid: check_oid(t, k),
            name: &c.name,
            kind: "c",
            index: None,
            columns: &[],
            check: Some(&c.expr),
        });
    }
    out
}

/// `pg_get_constraintdef(constraint_oid)`.
pub fn constraint_def(t: &TableDef, c: &Constraint) -> String {
    match (c.kind, c.check) {
        ("p", _) => format!("PRIMARY KEY ({})", column_list(t, c.columns)),
        ("u", _) => format!("UNIQUE ({})", column_list(t, c.columns)),
        (_, Some(expr)) => format!("CHECK ({expr})"),
        _ => String::new(),
    }
}

/// The constraint with OID `oid` and its table.
pub fn find_constraint(snap: &Snapshot, oid: i64) -> Option<(&TableDef, String)> {
    let t = snap.table_by_oid(oid)?;
    let def = constraints(t)
        .into_iter()
        .find(|c| i64::from(c.oid) == oid)
        .map(|c| constraint_def(t, &c))?;
    Some((t, def))
}

/// The index with OID `oid` and its table.
pub fn find_index(snap: &Snapshot, oid: i64) -> Option<(&TableDef, &IndexDef)> {
    let t = snap.table_by_oid(oid)?;
    let ix = t
        .indexes
        .iter()
        .find(|ix| i64::from(super::index_oid(t, ix.id)) == oid && !ix.columns.is_empty())?;
    Some((t, ix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_types_like_postgres() {
        assert_eq!(quote_ident("abc"), "abc");
        assert_eq!(quote_ident("Abc"), "\"Abc\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(format_type(23, Some(-1)), "integer");
        assert_eq!(format_type(1043, Some(24)), "character varying(20)");
        assert_eq!(format_type(1700, Some((10 << 16 | 2) + 4)), "numeric(10,2)");
        assert_eq!(format_type(1009, None), "text[]");
        assert_eq!(format_type(18, None), "\"char\"");
        assert_eq!(format_type(19, None), "name");
        assert_eq!(format_type(999_999, None), "???");
    }
}
