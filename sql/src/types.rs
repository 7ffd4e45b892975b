//! [`DataType`]: the SQL types FerrisDB supports, with PostgreSQL's names, OIDs, categories
//! and implicit-cast rules.
//!
//! A type is a base type plus its modifier (`varchar(10)`, `numeric(10,2)`): the modifier
//! changes what a value may hold (checked by [`crate::cast`]) but never how it is stored.
//!
//! # Type resolution, as PostgreSQL does it
//!
//! PostgreSQL resolves mixed-type expressions with three ingredients, reproduced here:
//!
//! - **categories** ([`TypeCategory`]): numeric, string, datetime, timespan, boolean, user
//!   (bytea), unknown. Values of different categories never mix implicitly.
//! - **the implicit-cast table** ([`implicit_castable`]), a copy of the `i` rows of
//!   `pg_cast` for our types: `int2 -> int4 -> int8 -> numeric -> float4 -> float8` along
//!   the numeric tower (every step skippable), `date -> timestamp -> timestamptz`, the
//!   string types into each other, and `unknown` into anything.
//! - **preferred types** (`float8`, `text`, `timestamptz`, `interval`, `bool`).
//!
//! [`common_supertype`] is PostgreSQL's `select_common_type` (UNION, CASE, COALESCE, VALUES,
//! GREATEST): unknown inputs are skipped (all unknown gives `text`); the first known type is
//! the candidate; a later type of another category is an error (42804); a later type
//! replaces the candidate when the candidate is not preferred and casts implicitly to it but
//! not back. So `int4, int8 -> int8`, `int, numeric -> numeric`, `int, float8 -> float8`,
//! but `varchar, text -> varchar` and `text, varchar -> text` (those cast both ways, so the
//! first wins, as in PostgreSQL). Operators resolve in [`crate::ops`].

use std::fmt;

use sqlparser::ast::{CharacterLength, ExactNumberInfo, TimezoneInfo};

use crate::error::SqlError;

/// Longest `varchar(n)` / `char(n)` PostgreSQL allows.
pub const MAX_CHAR_LENGTH: u32 = 10_485_760;
/// Largest numeric precision PostgreSQL allows.
pub const MAX_NUMERIC_PRECISION: u32 = 1000;

/// A SQL type. `Display` is PostgreSQL's `format_type` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric`, `numeric(p)` (= scale 0) or `numeric(p,s)`. `scale` is `Some` whenever
    /// `precision` is.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Text,
    /// `varchar(n)`; `None` is unlimited.
    Varchar(Option<u32>),
    /// `char(n)` (`bpchar`), blank-padded to `n`.
    Char(u32),
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    Interval,
    /// An untyped literal or NULL whose type is not yet decided (PostgreSQL's `unknown`).
    Unknown,
    /// `void`: the result of a function that returns nothing (`pg_sleep`); its one value
    /// prints as the empty string.
    Void,
    /// `oid` and the `reg*` alias types over it (an `Int` datum), see [`OidKind`].
    Oid(OidKind),
    /// `name`: a catalog identifier (text of at most 63 bytes).
    Name,
    /// `"char"`: the one-byte type of catalog codes such as `relkind`.
    InternalChar,
    /// A one-dimensional array of a modifier-free element type ([`crate::array`]);
    /// `oidvector` and `int2vector` are `oid[]` and `int2[]` here.
    Array(&'static DataType),
}

/// `oid` and the object-identifier alias types, whose text form is the object's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OidKind {
    Oid,
    RegClass,
    RegType,
    RegProc,
    RegNamespace,
    RegRole,
}

impl OidKind {
    pub fn name(&self) -> &'static str {
        match self {
            OidKind::Oid => "oid",
            OidKind::RegClass => "regclass",
            OidKind::RegType => "regtype",
            OidKind::RegProc => "regproc",
            OidKind::RegNamespace => "regnamespace",
            OidKind::RegRole => "regrole",
        }
    }

    pub fn oid(&self) -> u32 {
        match self {
            OidKind::Oid => 26,
            OidKind::RegClass => 2205,
            OidKind::RegType => 2206,
            OidKind::RegProc => 24,
            OidKind::RegNamespace => 4089,
            OidKind::RegRole => 4096,
        }
    }
}

/// PostgreSQL's `typcategory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypeCategory {
    Boolean,
    Numeric,
    String,
    DateTime,
    Timespan,
    User,
    Unknown,
    /// `oid` and the `reg*` types (PostgreSQL files them as numeric; they are kept apart
    /// here so that integer arithmetic never applies to them).
    Oid,
    Array,
    /// `void` and PostgreSQL's other pseudo-types.
    Pseudo,
}

impl DataType {
    /// Unconstrained `numeric`.
    pub const NUMERIC: DataType = DataType::Numeric {
        precision: None,
        scale: None,
    };

    /// PostgreSQL's type OID (of the base type; modifiers do not change it).
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Int2 => 21,
            DataType::Int4 => 23,
            DataType::Int8 => 20,
            DataType::Float4 => 700,
            DataType::Float8 => 701,
            DataType::Numeric { .. } => 1700,
            DataType::Text => 25,
            DataType::Varchar(_) => 1043,
            DataType::Char(_) => 1042,
            DataType::Bytea => 17,
            DataType::Date => 1082,
            DataType::Timestamp => 1114,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::Unknown => 705,
            DataType::Void => 2278,
            DataType::Oid(k) => k.oid(),
            DataType::Name => 19,
            DataType::InternalChar => 18,
            DataType::Array(elem) => crate::array::array_type_oid(elem),
        }
    }

    /// The type's `typlen` as pgwire's RowDescription reports it (-1 for variable length).
    pub fn type_len(&self) -> i16 {
        match self {
            DataType::Bool => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Date | DataType::Oid(_) => 4,
            DataType::Name => 64,
            DataType::InternalChar => 1,
            DataType::Int8 | DataType::Float8 | DataType::Timestamp | DataType::TimestampTz => 8,
            DataType::Interval => 16,
            DataType::Unknown => -2,
            _ => -1,
        }
    }

    /// The type modifier as pgwire's RowDescription reports it (`atttypmod`), -1 if none.
    pub fn typmod(&self) -> i32 {
        match *self {
            DataType::Varchar(Some(n)) | DataType::Char(n) => n as i32 + 4,
            DataType::Numeric {
                precision: Some(p),
                scale,
            } => (((p << 16) | scale.unwrap_or(0)) + 4) as i32,
            _ => -1,
        }
    }

    pub fn category(&self) -> TypeCategory {
        match self {
            DataType::Bool => TypeCategory::Boolean,
            DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric { .. } => TypeCategory::Numeric,
            DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Name
            | DataType::InternalChar => TypeCategory::String,
            DataType::Oid(_) => TypeCategory::Oid,
            DataType::Array(_) => TypeCategory::Array,
            DataType::Bytea => TypeCategory::User,
            DataType::Date | DataType::Timestamp | DataType::TimestampTz => TypeCategory::DateTime,
            DataType::Interval => TypeCategory::Timespan,
            DataType::Unknown => TypeCategory::Unknown,
            DataType::Void => TypeCategory::Pseudo,
        }
    }

    /// PostgreSQL's `typispreferred`.
    pub fn is_preferred(&self) -> bool {
        matches!(
            self,
            DataType::Bool
                | DataType::Float8
                | DataType::Text
                | DataType::TimestampTz
                | DataType::Interval
        )
    }

    /// The type without its modifier (`varchar(3)` -> `varchar`).
    pub fn base(&self) -> DataType {
        match self {
            DataType::Numeric { .. } => DataType::NUMERIC,
            DataType::Varchar(_) => DataType::Varchar(None),
            other => *other,
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, DataType::Int2 | DataType::Int4 | DataType::Int8)
    }

    pub fn is_string(&self) -> bool {
        self.category() == TypeCategory::String
    }

    /// Resolves a type name as written in SQL (`int`, `int4`, `bpchar`,
    /// `timestamptz`, ...), case-insensitively, without modifiers.
    pub fn from_name(name: &str) -> Result<DataType, SqlError> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => DataType::Bool,
            "int2" | "smallint" => DataType::Int2,
            "int" | "int4" | "integer" => DataType::Int4,
            "int8" | "bigint" => DataType::Int8,
            "float4" | "real" => DataType::Float4,
            "float8" | "float" | "double precision" => DataType::Float8,
            "numeric" | "decimal" => DataType::NUMERIC,
            "text" => DataType::Text,
            "varchar" | "character varying" => DataType::Varchar(None),
            "char" | "character" => DataType::Char(1),
            "bpchar" => DataType::Text,
            "bytea" => DataType::Bytea,
            "date" => DataType::Date,
            "timestamp" | "timestamp without time zone" => DataType::Timestamp,
            "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
            "interval" => DataType::Interval,
            "unknown" => DataType::Unknown,
            "oid" => DataType::Oid(OidKind::Oid),
            "regclass" => DataType::Oid(OidKind::RegClass),
            "regtype" => DataType::Oid(OidKind::RegType),
            "regproc" | "regprocedure" => DataType::Oid(OidKind::RegProc),
            "regnamespace" => DataType::Oid(OidKind::RegNamespace),
            "regrole" => DataType::Oid(OidKind::RegRole),
            "name" => DataType::Name,
            "oidvector" => DataType::Array(&crate::array::OID),
            "int2vector" => DataType::Array(&crate::array::INT2),
            "aclitem" | "pg_node_tree" => DataType::Text,
            other => {
                return Err(SqlError::UndefinedObject {
                    kind: "type".into(),
                    name: other.to_string(),
                })
            }
        })
    }

    /// Maps sqlparser's type syntax to a [`DataType`], with PostgreSQL's aliases and checks on
    /// modifiers. Types FerrisDB lacks are 0A000 (or 42704 for an unknown name).
    pub fn from_sqlparser(t: &sqlparser::ast::DataType) -> Result<DataType, SqlError> {
        use sqlparser::ast::DataType as P;
        Ok(match t {
            P::Bool | P::Boolean => DataType::Bool,
            P::Int2(_) | P::SmallInt(_) => DataType::Int2,
            P::Int(_) | P::Int4(_) | P::Integer(_) => DataType::Int4,
            P::Int8(_) | P::BigInt(_) => DataType::Int8,
            P::Float4 | P::Real => DataType::Float4,
            P::Float8 | P::DoublePrecision | P::Double(ExactNumberInfo::None) => DataType::Float8,
            P::Float(info) => match info {
                ExactNumberInfo::None => DataType::Float8,
                ExactNumberInfo::Precision(p) if (1..=24).contains(p) => DataType::Float4,
                ExactNumberInfo::Precision(p) if (25..=53).contains(p) => DataType::Float8,
                _ => return Err(invalid_modifier(&format!("{t}"))),
            },
            P::Numeric(info) | P::Decimal(info) | P::Dec(info) => numeric_type(info)?,
            P::Text => DataType::Text,
            P::Varchar(len) | P::CharacterVarying(len) | P::CharVarying(len) => {
                DataType::Varchar(char_length(len.as_ref(), "varchar")?)
            }
            P::Char(len) | P::Character(len) => {
                DataType::Char(char_length(len.as_ref(), "char")?.unwrap_or(1))
            }
            P::Bytea => DataType::Bytea,
            P::Date => DataType::Date,
            P::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => DataType::TimestampTz,
            P::Timestamp(_, _) => DataType::Timestamp,
            P::Interval { fields: None, .. } => DataType::Interval,
            P::Custom(name, mods) if mods.is_empty() => custom_type(name)?,
            P::Regclass => DataType::Oid(OidKind::RegClass),
            P::Array(sqlparser::ast::ArrayElemTypeDef::SquareBracket(inner, _))
            | P::Array(sqlparser::ast::ArrayElemTypeDef::AngleBracket(inner)) => {
                crate::array::array_of(&DataType::from_sqlparser(inner)?)?
            }
            other => {
                return Err(SqlError::unsupported(format!(
                    "type {other} is not supported"
                )))
            }
        })
    }
}

/// A type named by identifiers: `name`, `"char"`, or qualified by `pg_catalog`.
fn custom_type(name: &sqlparser::ast::ObjectName) -> Result<DataType, SqlError> {
    let parts: Vec<&sqlparser::ast::Ident> = name.0.iter().filter_map(|p| p.as_ident()).collect();
    let ident = match parts.as_slice() {
        [one] => one,
        [schema, one] if schema.value.eq_ignore_ascii_case("pg_catalog") => one,
        _ => return Err(SqlError::unsupported(format!("type {name}"))),
    };
    if ident.quote_style.is_some() && ident.value == "char" {
        return Ok(DataType::InternalChar);
    }
    DataType::from_name(&ident.value)
}

fn invalid_modifier(what: &str) -> SqlError {
    SqlError::InvalidParameterValue {
        message: format!("invalid type modifier for {what}"),
    }
}

fn numeric_type(info: &ExactNumberInfo) -> Result<DataType, SqlError> {
    let (p, s) = match *info {
        ExactNumberInfo::None => return Ok(DataType::NUMERIC),
        ExactNumberInfo::Precision(p) => (p, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (p, s),
    };
    if p < 1 || p > u64::from(MAX_NUMERIC_PRECISION) {
        return Err(SqlError::InvalidParameterValue {
            message: format!("NUMERIC precision {p} must be between 1 and 1000"),
        });
    }
    if s < 0 || s as u64 > p {
        return Err(SqlError::unsupported(format!(
            "NUMERIC scale {s} outside 0..=precision {p} is not supported"
        )));
    }
    Ok(DataType::Numeric {
        precision: Some(p as u32),
        scale: Some(s as u32),
    })
}

fn char_length(len: Option<&CharacterLength>, what: &str) -> Result<Option<u32>, SqlError> {
    match len {
        None => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => {
            if *length < 1 || *length > u64::from(MAX_CHAR_LENGTH) {
                let shown = if *length < 1 {
                    format!("length for type {what} must be at least 1")
                } else {
                    format!("length for type {what} cannot exceed {MAX_CHAR_LENGTH}")
                };
                return Err(SqlError::InvalidParameterValue { message: shown });
            }
            Ok(Some(*length as u32))
        }
        Some(CharacterLength::Max) => Err(SqlError::unsupported(format!("{what}(max)"))),
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bool => f.write_str("boolean"),
            DataType::Int2 => f.write_str("smallint"),
            DataType::Int4 => f.write_str("integer"),
            DataType::Int8 => f.write_str("bigint"),
            DataType::Float4 => f.write_str("real"),
            DataType::Float8 => f.write_str("double precision"),
            DataType::Numeric {
                precision: Some(p),
                scale,
            } => write!(f, "numeric({p},{})", scale.unwrap_or(0)),
            DataType::Numeric { .. } => f.write_str("numeric"),
            DataType::Text => f.write_str("text"),
            DataType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            DataType::Varchar(None) => f.write_str("character varying"),
            DataType::Char(n) => write!(f, "character({n})"),
            DataType::Bytea => f.write_str("bytea"),
            DataType::Date => f.write_str("date"),
            DataType::Timestamp => f.write_str("timestamp without time zone"),
            DataType::TimestampTz => f.write_str("timestamp with time zone"),
            DataType::Interval => f.write_str("interval"),
            DataType::Unknown => f.write_str("unknown"),
            DataType::Void => f.write_str("void"),
            DataType::Oid(k) => f.write_str(k.name()),
            DataType::Name => f.write_str("name"),
            DataType::InternalChar => f.write_str("\"char\""),
            DataType::Array(elem) => write!(f, "{elem}[]"),
        }
    }
}

/// The position of a numeric type along the implicit-cast tower
/// `int2 -> int4 -> int8 -> numeric -> float4 -> float8`.
fn numeric_rank(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 => 2,
        DataType::Numeric { .. } => 3,
        DataType::Float4 => 4,
        DataType::Float8 => 5,
        _ => return None,
    })
}

/// Whether PostgreSQL casts `from` to `to` implicitly (the `i` rows of `pg_cast`, plus
/// identity and length coercions within a base type).
pub fn implicit_castable(from: &DataType, to: &DataType) -> bool {
    if from.base() == to.base() || *from == DataType::Unknown {
        return true;
    }
    match (from, to) {
        (DataType::Oid(_), DataType::Oid(_)) => return true,
        (DataType::Oid(_), _) | (_, DataType::Oid(_)) => return from.is_integer(),
        (DataType::Array(a), DataType::Array(b)) => return implicit_castable(a, b),
        (DataType::Array(_), _) | (_, DataType::Array(_)) => return false,
        _ => {}
    }
    match (numeric_rank(from), numeric_rank(to)) {
        (Some(a), Some(b)) => return a < b,
        (None, None) => {}
        _ => return false,
    }
    matches!(
        (from, to),
        (DataType::Date, DataType::Timestamp | DataType::TimestampTz)
            | (DataType::Timestamp, DataType::TimestampTz)
    ) || (from.is_string() && to.is_string())
}

/// Whether PostgreSQL allows the cast in an assignment (INSERT/UPDATE target): implicit
/// casts, the `a` rows of `pg_cast` (narrowing numerics, timestamptz -> timestamp, ... ->
/// date), and I/O conversion to a string type.
pub fn assignment_castable(from: &DataType, to: &DataType) -> bool {
    if implicit_castable(from, to) || to.is_string() {
        return true;
    }
    match (from, to) {
        (DataType::Oid(_), DataType::Int4 | DataType::Int8) => return true,
        (DataType::Array(a), DataType::Array(b)) => return assignment_castable(a, b),
        _ => {}
    }
    if numeric_rank(from).is_some() && numeric_rank(to).is_some() {
        return true;
    }
    matches!(
        (from, to),
        (DataType::TimestampTz, DataType::Timestamp)
            | (DataType::Timestamp | DataType::TimestampTz, DataType::Date)
    )
}

/// PostgreSQL's `select_common_type`: the type a UNION, CASE, COALESCE, VALUES column or
/// GREATEST/LEAST resolves to. `context` names the construct in the error ("UNION",
/// "CASE", "COALESCE"). See the module doc for the rules.
pub fn common_supertype(context: &str, types: &[DataType]) -> Result<DataType, SqlError> {
    let mut known = types.iter().filter(|t| **t != DataType::Unknown);
    let Some(first) = known.next() else {
        return Ok(DataType::Text);
    };
    let mut chosen = *first;
    for t in known {
        if t.base() == chosen.base() {
            // Same base type with different modifiers: the modifier is dropped.
            if *t != chosen {
                chosen = chosen.base();
            }
            continue;
        }
        if t.category() != chosen.category() {
            return Err(SqlError::DatatypeMismatch {
                message: format!("{context} types {chosen} and {t} cannot be matched"),
            });
        }
        if !chosen.is_preferred() && implicit_castable(&chosen, t) && !implicit_castable(t, &chosen)
        {
            chosen = *t;
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn parse_type(sql: &str) -> Result<DataType, SqlError> {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, &format!("SELECT CAST(1 AS {sql})"))
            .expect("test SQL parses");
        let sqlparser::ast::Statement::Query(q) = &stmt[0] else {
            panic!("not a query")
        };
        let sqlparser::ast::SetExpr::Select(s) = q.body.as_ref() else {
            panic!("not a select")
        };
        let sqlparser::ast::SelectItem::UnnamedExpr(sqlparser::ast::Expr::Cast {
            data_type, ..
        }) = &s.projection[0]
        else {
            panic!("not a cast")
        };
        DataType::from_sqlparser(data_type)
    }

    #[test]
    fn sqlparser_aliases_map_to_postgres_types() {
        let cases = [
            ("int", "integer"),
            ("int4", "integer"),
            ("integer", "integer"),
            ("int8", "bigint"),
            ("smallint", "smallint"),
            ("float", "double precision"),
            ("float(10)", "real"),
            ("real", "real"),
            ("double precision", "double precision"),
            ("decimal", "numeric"),
            ("numeric(10,2)", "numeric(10,2)"),
            ("numeric(7)", "numeric(7,0)"),
            ("varchar", "character varying"),
            ("character varying(10)", "character varying(10)"),
            ("char", "character(1)"),
            ("char(5)", "character(5)"),
            ("bytea", "bytea"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamp with time zone", "timestamp with time zone"),
            ("timestamp", "timestamp without time zone"),
            ("date", "date"),
            ("interval", "interval"),
            ("text", "text"),
            ("boolean", "boolean"),
        ];
        for (sql, name) in cases {
            let t = parse_type(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert_eq!(t.to_string(), name, "{sql}");
        }
        assert_eq!(parse_type("numeric(0)").unwrap_err().sqlstate(), "22023");
        assert_eq!(parse_type("varchar(0)").unwrap_err().sqlstate(), "22023");
        assert_eq!(parse_type("foo").unwrap_err().sqlstate(), "42704");
        assert_eq!(parse_type("json").unwrap_err().sqlstate(), "0A000");
    }

    #[test]
    fn oids_are_postgres_oids() {
        let cases = [
            (DataType::Bool, 16),
            (DataType::Int2, 21),
            (DataType::Int4, 23),
            (DataType::Int8, 20),
            (DataType::Float4, 700),
            (DataType::Float8, 701),
            (DataType::NUMERIC, 1700),
            (DataType::Text, 25),
            (DataType::Varchar(Some(3)), 1043),
            (DataType::Char(1), 1042),
            (DataType::Bytea, 17),
            (DataType::Date, 1082),
            (DataType::Timestamp, 1114),
            (DataType::TimestampTz, 1184),
            (DataType::Interval, 1186),
            (DataType::Unknown, 705),
        ];
        for (t, oid) in cases {
            assert_eq!(t.oid(), oid, "{t}");
        }
    }

    #[test]
    fn common_supertype_follows_select_common_type() {
        use DataType::*;
        let cs = |ts: &[DataType]| common_supertype("UNION", ts);
        assert_eq!(cs(&[Int4, Int8]), Ok(Int8));
        assert_eq!(cs(&[Int8, Int4]), Ok(Int8));
        assert_eq!(cs(&[Int4, DataType::NUMERIC]), Ok(DataType::NUMERIC));
        assert_eq!(cs(&[Int4, Float8]), Ok(Float8));
        assert_eq!(cs(&[Float4, DataType::NUMERIC]), Ok(Float4));
        assert_eq!(cs(&[Text, Unknown]), Ok(Text));
        assert_eq!(cs(&[Unknown, Unknown]), Ok(Text));
        assert_eq!(cs(&[Unknown, Int4]), Ok(Int4));
        assert_eq!(cs(&[Varchar(None), Text]), Ok(Varchar(None)));
        assert_eq!(cs(&[Text, Varchar(None)]), Ok(Text));
        assert_eq!(cs(&[Char(2), Varchar(None)]), Ok(Char(2)));
        assert_eq!(cs(&[Varchar(Some(2)), Varchar(Some(3))]), Ok(Varchar(None)));
        assert_eq!(cs(&[Date, TimestampTz]), Ok(TimestampTz));
        let err = cs(&[Int4, Text]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "UNION types integer and text cannot be matched"
        );
        assert_eq!(err.sqlstate(), "42804");
    }

    #[test]
    fn cast_contexts() {
        use DataType::*;
        assert!(implicit_castable(&Int4, &Int8));
        assert!(!implicit_castable(&Int8, &Int4));
        assert!(assignment_castable(&Int8, &Int4));
        assert!(!implicit_castable(&Int4, &Bool));
        assert!(!assignment_castable(&Int4, &Bool));
        assert!(assignment_castable(&Int4, &Text));
        assert!(assignment_castable(&TimestampTz, &Date));
        assert!(!assignment_castable(&Text, &Int4));
    }
}
