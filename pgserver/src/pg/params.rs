//! Parameters of prepared statements: finding `$n` in the SQL text, the types we can know
//! for them, and substituting bound values as typed literals.
//!
//! The SQL engine's API takes SQL text and has no placeholder support, so the extended
//! protocol binds values here: each `$n` is replaced by a literal built from the *decoded,
//! typed* value, never by the client's bytes spliced into the text:
//!
//! ```text
//!   $n bound to a value v of known type T   ->  ('<text of v, each ' doubled>'::T)
//!   $n bound to NULL of known type T        ->  (NULL::T)
//!   $n of unknown type (OID 0, text format) ->  '<the client's text, each ' doubled>'
//! ```
//!
//! With `standard_conforming_strings = on` a backslash is an ordinary character inside
//! `'...'`, so doubling `'` is the complete escape: a value cannot end its literal early.
//! An unknown-typed value becomes an untyped literal, which the engine types from context
//! exactly as PostgreSQL types an unknown parameter (`WHERE id = $1` makes it `id`'s type).
//!
//! Finding `$n` needs a lexer, not a search: `'$1'`, `"$1"`, `$$ $1 $$`, `$tag$..$tag$`,
//! `-- $1`, `/* $1 */` and the identifier `a$1` contain no parameter. [`scan`] skips
//! string literals (with `''` and, in `E'...'`, backslash escapes), quoted identifiers,
//! dollar-quoted strings, line comments and nested block comments.
//!
//! Parameter types: a type the client names in Parse wins; otherwise `$n::type` (a cast
//! directly applied to the parameter) gives `type`, which is PostgreSQL's rule for that
//! form; otherwise the type is unknown and Describe reports `text`. (Full inference
//! belongs in the engine's binder; see the report in `pg/mod.rs`.)
//!
//! Substitution moves text, so [`PositionMap`] maps an error position in the rewritten
//! text back to the client's text (a position inside a literal maps to its `$n`).

use ferrisdb_sql::{DataType, Datum};

use super::errors::PgError;

/// PostgreSQL's limit on the number of parameters (an int16 count in Bind).
pub const MAX_PARAMS: usize = 65_535;

/// One `$n` in the SQL text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Placeholder {
    /// Byte range of `$n` in the text.
    start: usize,
    end: usize,
    /// 1-based parameter number.
    number: usize,
}

/// SQL text with its placeholders located.
#[derive(Clone, Debug)]
pub struct ScannedSql {
    pub text: String,
    placeholders: Vec<Placeholder>,
    /// The highest `$n` referenced.
    pub max_param: usize,
    /// Per parameter (index n-1), the type of a `$n::type` cast, if any.
    pub cast_types: Vec<Option<DataType>>,
    /// The first keyword, lowercased (`select`, `insert`, `with`, ...).
    pub first_word: String,
    /// Whether the word `returning` appears outside literals and comments.
    pub has_returning: bool,
    /// Whether anything but whitespace and comments follows a `;`.
    pub multiple: bool,
}

/// Locates every `$n` of `sql`; see the module doc for what is skipped.
pub fn scan(sql: &str) -> Result<ScannedSql, PgError> {
    let b = sql.as_bytes();
    let mut placeholders = Vec::new();
    let mut casts: Vec<(usize, DataType)> = Vec::new();
    let (mut first_word, mut has_returning) = (String::new(), false);
    let (mut after_semicolon, mut multiple) = (false, false);
    let mut i = 0;
    while i < b.len() {
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        let start = i;
        let mut significant = true;
        i = match b[i] {
            b'\'' => {
                let escapes =
                    i > 0 && matches!(b[i - 1], b'e' | b'E') && !(i > 1 && is_ident(b[i - 2]));
                skip_quoted(b, i, b'\'', escapes)
            }
            b'"' => skip_quoted(b, i, b'"', false),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                significant = false;
                b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p + 1)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                significant = false;
                skip_block_comment(b, i)
            }
            b'$' if !prev_ident && b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let end = i + 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                let number: usize = sql[i + 1..end].parse().unwrap_or(usize::MAX);
                if number == 0 || number > MAX_PARAMS {
                    return Err(PgError::UndefinedParameter(number.min(MAX_PARAMS + 1)));
                }
                if let Some(ty) = cast_after(sql, end) {
                    casts.push((number, ty));
                }
                placeholders.push(Placeholder {
                    start: i,
                    end,
                    number,
                });
                end
            }
            b'$' if !prev_ident => skip_dollar_quoted(b, i),
            c if is_ident(c) => {
                let end = i + 1 + b[i + 1..].iter().take_while(|&&c| is_ident(c)).count();
                let word = sql[i..end].to_ascii_lowercase();
                has_returning |= word == "returning";
                if first_word.is_empty() {
                    first_word = word;
                }
                end
            }
            b';' => {
                after_semicolon = true;
                significant = false;
                i + 1
            }
            c => {
                significant = !c.is_ascii_whitespace();
                i + 1
            }
        };
        if significant && after_semicolon && start > 0 {
            multiple = true;
        }
    }
    let max_param = placeholders.iter().map(|p| p.number).max().unwrap_or(0);
    let mut cast_types = vec![None; max_param];
    for (number, ty) in casts {
        cast_types[number - 1].get_or_insert(ty);
    }
    Ok(ScannedSql {
        text: sql.to_string(),
        placeholders,
        max_param,
        cast_types,
        first_word,
        has_returning,
        multiple,
    })
}

/// The type a client names by OID in Parse; `None` for 0 (unspecified) and `unknown`.
pub fn type_for_oid(oid: u32) -> Result<Option<DataType>, PgError> {
    Ok(Some(match oid {
        0 | 705 => return Ok(None),
        16 => DataType::Bool,
        21 => DataType::Int2,
        23 => DataType::Int4,
        20 => DataType::Int8,
        700 => DataType::Float4,
        701 => DataType::Float8,
        1700 => DataType::NUMERIC,
        // A parameter has no length modifier: bpchar without one is text-like.
        25 | 1042 => DataType::Text,
        1043 => DataType::Varchar(None),
        17 => DataType::Bytea,
        1082 => DataType::Date,
        1114 => DataType::Timestamp,
        1184 => DataType::TimestampTz,
        1186 => DataType::Interval,
        other => return Err(PgError::UnsupportedType(other)),
    }))
}

/// Identifier characters (PostgreSQL allows `$` after the first; non-ASCII letters too).
fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The index after the quoted token starting at `i` (unterminated: the end of the text).
fn skip_quoted(b: &[u8], mut i: usize, quote: u8, backslash_escapes: bool) -> usize {
    i += 1;
    while i < b.len() {
        if backslash_escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// `$tag$ ... $tag$` starting at `i`; a lone `$` that opens no such string is skipped.
fn skip_dollar_quoted(b: &[u8], i: usize) -> usize {
    let tag_len = b[i + 1..]
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80)
        .count();
    let close = i + 1 + tag_len;
    if b.get(close) != Some(&b'$') || b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return i + 1;
    }
    let tag = &b[i..=close];
    let body = close + 1;
    b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag.len())
}

/// The type named by a `::type` cast starting at byte `i`, if it is one we know.
fn cast_after(sql: &str, i: usize) -> Option<DataType> {
    let rest = sql[i..].trim_start().strip_prefix("::")?.trim_start();
    let rest = rest.strip_prefix("pg_catalog.").unwrap_or(rest);
    let mut words = Vec::new();
    let mut tail = rest;
    for _ in 0..4 {
        let len = tail
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if len == 0 {
            break;
        }
        words.push(tail[..len].to_ascii_lowercase());
        tail = tail[len..].trim_start();
    }
    // Longest match first: `double precision`, `timestamp with time zone`.
    (1..=words.len())
        .rev()
        .find_map(|n| DataType::from_name(&words[..n].join(" ")).ok())
}

/// Maps 1-based character positions in rewritten SQL back to the client's text.
#[derive(Clone, Debug, Default)]
pub struct PositionMap {
    /// (start in the new text, start in the original, length in the new text, verbatim),
    /// all in characters, in order.
    segments: Vec<(usize, usize, usize, bool)>,
}

impl PositionMap {
    pub fn map(&self, position: u32) -> u32 {
        let p = (position as usize).saturating_sub(1);
        for &(new, orig, len, verbatim) in &self.segments {
            if p < new + len {
                let mapped = if verbatim {
                    orig + p.saturating_sub(new)
                } else {
                    orig
                };
                return u32::try_from(mapped + 1).unwrap_or(position);
            }
        }
        position
    }
}

/// A bound value ready to substitute: the value and the type it was decoded as (`None`:
/// unknown, the value is the client's text).
pub struct BoundValue {
    pub datum: Datum,
    pub ty: Option<DataType>,
}

/// The SQL text with every `$n` replaced by the literal of `values[n-1]` (the caller
/// checked there is one per parameter), and the map back to the original positions.
pub fn substitute(
    sql: &ScannedSql,
    values: &[BoundValue],
) -> Result<(String, PositionMap), PgError> {
    let mut out = String::with_capacity(sql.text.len() + 16 * values.len());
    let mut map = PositionMap::default();
    let (mut new_chars, mut orig_chars, mut at) = (0usize, 0usize, 0usize);
    for ph in &sql.placeholders {
        let verbatim = &sql.text[at..ph.start];
        let n = verbatim.chars().count();
        map.segments.push((new_chars, orig_chars, n, true));
        out.push_str(verbatim);
        new_chars += n;
        orig_chars += n;
        let value = values
            .get(ph.number - 1)
            .ok_or(PgError::UndefinedParameter(ph.number))?;
        let lit = literal(value);
        let lit_chars = lit.chars().count();
        map.segments.push((new_chars, orig_chars, lit_chars, false));
        out.push_str(&lit);
        new_chars += lit_chars;
        orig_chars += ph.end - ph.start;
        at = ph.end;
    }
    let tail = &sql.text[at..];
    map.segments
        .push((new_chars, orig_chars, tail.chars().count() + 1, true));
    out.push_str(tail);
    Ok((out, map))
}

fn literal(v: &BoundValue) -> String {
    let ty = v.ty.map(|t| sql_type_name(&t));
    let text =
        v.ty.and_then(|t| v.datum.to_text(&t))
            .or_else(|| match &v.datum {
                Datum::Text(s) => Some(s.clone()),
                _ => None,
            });
    match (text, ty) {
        (None, Some(ty)) => format!("(NULL::{ty})"),
        (None, None) => "NULL".to_string(),
        (Some(t), Some(ty)) => format!("('{}'::{ty})", t.replace('\'', "''")),
        (Some(t), None) => format!("'{}'", t.replace('\'', "''")),
    }
}

/// The SQL-standard spelling of a parameter's (modifier-free) type.
fn sql_type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Bool => "boolean",
        DataType::Int2 => "smallint",
        DataType::Int4 => "integer",
        DataType::Int8 => "bigint",
        DataType::Float4 => "real",
        DataType::Float8 => "double precision",
        DataType::Numeric { .. } => "numeric",
        DataType::Text | DataType::Char(_) | DataType::Unknown => "text",
        DataType::Void => "void",
        DataType::Varchar(_) => "varchar",
        DataType::Bytea => "bytea",
        DataType::Date => "date",
        DataType::Timestamp => "timestamp",
        DataType::TimestampTz => "timestamp with time zone",
        DataType::Interval => "interval",
        DataType::Oid(k) => k.name(),
        DataType::Name => "name",
        DataType::InternalChar => "\"char\"",
        // Array parameters are bound as typed values; this spelling is only the
        // literal-substitution fallback's.
        DataType::Array(_) => "text",
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
