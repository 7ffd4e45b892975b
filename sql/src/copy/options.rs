//! COPY's options: the `WITH (FORMAT csv, DELIMITER ',', ...)` list and the pre-9.0
//! spellings (`WITH CSV HEADER`, `DELIMITER ','`, `NULL 'x'`), checked with PostgreSQL 15's
//! rules (`ProcessCopyOptions`) and its messages and codes.
//!
//! sqlparser 0.64 parses `FREEZE` / `HEADER` with an optional `TRUE` / `FALSE` only;
//! `FREEZE on` (pgbench) is a syntax error there, so [`normalize_booleans`] rewrites
//! `on`/`off`/`1`/`0` after those two options before the statement is parsed.

use sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption, Ident};

use crate::error::SqlError;

/// The data format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// Every option of one COPY, defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    /// The spelling of NULL: `\N` in text, the empty string in CSV.
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
    /// Accepted and ignored: rows are visible to others once committed anyway.
    pub freeze: bool,
    pub force_quote: Vec<String>,
    pub force_not_null: Vec<String>,
    pub force_null: Vec<String>,
}

impl CopyOptions {
    /// The defaults of `format`.
    pub fn defaults(format: CopyFormat) -> CopyOptions {
        let csv = format == CopyFormat::Csv;
        CopyOptions {
            format,
            delimiter: if csv { b',' } else { b'\t' },
            null: if csv { String::new() } else { "\\N".into() },
            header: false,
            quote: b'"',
            escape: b'"',
            freeze: false,
            force_quote: Vec::new(),
            force_not_null: Vec::new(),
            force_null: Vec::new(),
        }
    }
}

/// What the options said, before defaults.
#[derive(Default)]
struct Given {
    format: Option<CopyFormat>,
    delimiter: Option<char>,
    null: Option<String>,
    header: Option<bool>,
    quote: Option<char>,
    escape: Option<char>,
    freeze: Option<bool>,
    force_quote: Option<Vec<String>>,
    force_not_null: Option<Vec<String>>,
    force_null: Option<Vec<String>>,
}

fn redundant() -> SqlError {
    SqlError::Syntax {
        message: "conflicting or redundant options".into(),
        position: None,
    }
}

fn set<T>(slot: &mut Option<T>, v: T) -> Result<(), SqlError> {
    if slot.is_some() {
        return Err(redundant());
    }
    *slot = Some(v);
    Ok(())
}

fn names(ids: &[Ident]) -> Vec<String> {
    ids.iter().map(crate::bind::ident_name).collect()
}

fn invalid(message: impl Into<String>) -> SqlError {
    SqlError::InvalidParameterValue {
        message: message.into(),
    }
}

fn format_of(name: &str) -> Result<CopyFormat, SqlError> {
    match name.to_ascii_lowercase().as_str() {
        "text" => Ok(CopyFormat::Text),
        "csv" => Ok(CopyFormat::Csv),
        "binary" => Err(SqlError::unsupported(
            "COPY BINARY is not supported; use FORMAT text or csv",
        )),
        other => Err(invalid(format!("COPY format \"{other}\" not recognized"))),
    }
}

fn modern(g: &mut Given, o: &CopyOption) -> Result<(), SqlError> {
    match o {
        CopyOption::Format(f) => set(&mut g.format, format_of(&f.value)?),
        CopyOption::Freeze(b) => set(&mut g.freeze, *b),
        CopyOption::Delimiter(c) => set(&mut g.delimiter, *c),
        CopyOption::Null(s) => set(&mut g.null, s.clone()),
        CopyOption::Header(b) => set(&mut g.header, *b),
        CopyOption::Quote(c) => set(&mut g.quote, *c),
        CopyOption::Escape(c) => set(&mut g.escape, *c),
        CopyOption::ForceQuote(c) => set(&mut g.force_quote, names(c)),
        CopyOption::ForceNotNull(c) => set(&mut g.force_not_null, names(c)),
        CopyOption::ForceNull(c) => set(&mut g.force_null, names(c)),
        CopyOption::Encoding(e) => {
            let norm = e.to_ascii_lowercase().replace(['-', '_'], "");
            if norm == "utf8" || norm == "unicode" {
                Ok(())
            } else {
                Err(SqlError::unsupported(format!(
                    "COPY ENCODING \"{e}\" is not supported; only UTF8 is"
                )))
            }
        }
    }
}

fn legacy(g: &mut Given, o: &CopyLegacyOption) -> Result<(), SqlError> {
    match o {
        CopyLegacyOption::Binary => format_of("binary").map(|_| ()),
        CopyLegacyOption::Delimiter(c) => set(&mut g.delimiter, *c),
        CopyLegacyOption::Null(s) => set(&mut g.null, s.clone()),
        CopyLegacyOption::Header => set(&mut g.header, true),
        CopyLegacyOption::Csv(opts) => {
            set(&mut g.format, CopyFormat::Csv)?;
            for o in opts {
                match o {
                    CopyLegacyCsvOption::Header => set(&mut g.header, true)?,
                    CopyLegacyCsvOption::Quote(c) => set(&mut g.quote, *c)?,
                    CopyLegacyCsvOption::Escape(c) => set(&mut g.escape, *c)?,
                    CopyLegacyCsvOption::ForceQuote(c) => set(&mut g.force_quote, names(c))?,
                    CopyLegacyCsvOption::ForceNotNull(c) => set(&mut g.force_not_null, names(c))?,
                }
            }
            Ok(())
        }
        other => Err(SqlError::Syntax {
            message: format!("option \"{other}\" not recognized"),
            position: None,
        }),
    }
}

/// A one-byte (ASCII) option character, else 0A000 with `what`'s message.
fn one_byte(c: char, what: &str) -> Result<u8, SqlError> {
    if c.is_ascii() {
        Ok(c as u8)
    } else {
        Err(SqlError::unsupported(format!(
            "COPY {what} must be a single one-byte character"
        )))
    }
}

/// The options of a COPY `from` (true: COPY FROM) with PostgreSQL's checks.
pub fn parse_options(
    options: &[CopyOption],
    legacy_options: &[CopyLegacyOption],
    from: bool,
) -> Result<CopyOptions, SqlError> {
    let mut g = Given::default();
    for o in options {
        modern(&mut g, o)?;
    }
    for o in legacy_options {
        legacy(&mut g, o)?;
    }
    let mut o = CopyOptions::defaults(g.format.unwrap_or(CopyFormat::Text));
    let csv = o.format == CopyFormat::Csv;
    if let Some(d) = g.delimiter {
        o.delimiter = one_byte(d, "delimiter")?;
    }
    if let Some(n) = g.null {
        o.null = n;
    }
    o.header = g.header.unwrap_or(false);
    o.freeze = g.freeze.unwrap_or(false);
    if let Some(q) = g.quote {
        if !csv {
            return Err(SqlError::unsupported(
                "COPY quote available only in CSV mode",
            ));
        }
        o.quote = one_byte(q, "quote")?;
        o.escape = o.quote;
    }
    if let Some(e) = g.escape {
        if !csv {
            return Err(SqlError::unsupported(
                "COPY escape available only in CSV mode",
            ));
        }
        o.escape = one_byte(e, "escape")?;
    }
    force_lists(&mut o, g.force_quote, g.force_not_null, g.force_null, from)?;
    check_characters(&o)?;
    Ok(o)
}

fn force_lists(
    o: &mut CopyOptions,
    quote: Option<Vec<String>>,
    not_null: Option<Vec<String>>,
    null: Option<Vec<String>>,
    from: bool,
) -> Result<(), SqlError> {
    let csv = o.format == CopyFormat::Csv;
    let lists = [
        (quote, "force quote", false),
        (not_null, "force not null", true),
        (null, "force null", true),
    ];
    for (i, (list, what, for_from)) in lists.into_iter().enumerate() {
        let Some(list) = list else { continue };
        if !csv {
            return Err(SqlError::unsupported(format!(
                "COPY {what} available only in CSV mode"
            )));
        }
        if from != for_from {
            let using = if for_from { "COPY FROM" } else { "COPY TO" };
            return Err(SqlError::unsupported(format!(
                "COPY {what} only available using {using}"
            )));
        }
        match i {
            0 => o.force_quote = list,
            1 => o.force_not_null = list,
            _ => o.force_null = list,
        }
    }
    Ok(())
}

/// PostgreSQL's checks of the delimiter, quote and NULL characters against each other.
fn check_characters(o: &CopyOptions) -> Result<(), SqlError> {
    let csv = o.format == CopyFormat::Csv;
    if matches!(o.delimiter, b'\r' | b'\n') {
        return Err(invalid(
            "COPY delimiter cannot be newline or carriage return",
        ));
    }
    if o.null.contains(['\r', '\n']) {
        return Err(invalid(
            "COPY null representation cannot use newline or carriage return",
        ));
    }
    if !csv && b"\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(&o.delimiter) {
        return Err(invalid(format!(
            "COPY delimiter cannot be \"{}\"",
            o.delimiter as char
        )));
    }
    if csv && o.delimiter == o.quote {
        return Err(invalid("COPY delimiter and quote must be different"));
    }
    if o.null.as_bytes().contains(&o.delimiter) {
        return Err(SqlError::unsupported(
            "COPY delimiter must not appear in the NULL specification",
        ));
    }
    if csv && o.null.as_bytes().contains(&o.quote) {
        return Err(SqlError::unsupported(
            "CSV quote character must not appear in the NULL specification",
        ));
    }
    Ok(())
}

/// Rewrites `FREEZE on|off|1|0` and `HEADER on|off|1|0` inside a COPY statement's option
/// list to `TRUE`/`FALSE`, which sqlparser accepts; any other text is returned unchanged.
/// Only applied to statements starting with `COPY` (see the session's parse step).
pub fn normalize_booleans(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    if !lower.trim_start().starts_with("copy") {
        return None;
    }
    let mut out = String::with_capacity(sql.len());
    let words: Vec<&str> = sql
        .split_inclusive(|c: char| !c.is_ascii_alphanumeric())
        .collect();
    let mut changed = false;
    let mut prev_option = false;
    for w in words {
        let word = w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        let rest = &w[word.len()..];
        let lw = word.to_ascii_lowercase();
        if prev_option && matches!(lw.as_str(), "on" | "off" | "1" | "0") {
            out.push_str(if matches!(lw.as_str(), "on" | "1") {
                "TRUE"
            } else {
                "FALSE"
            });
            out.push_str(rest);
            changed = true;
        } else {
            out.push_str(w);
        }
        if !word.is_empty() {
            prev_option = matches!(lw.as_str(), "freeze" | "header") && rest.trim().is_empty();
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Result<CopyOptions, SqlError> {
        let sql = normalize_booleans(sql).unwrap_or_else(|| sql.to_string());
        let stmts = crate::parse::parse_statements(&sql)?;
        match &stmts[0] {
            sqlparser::ast::Statement::Copy {
                options,
                legacy_options,
                to,
                ..
            } => parse_options(options, legacy_options, !to),
            other => panic!("not a COPY: {other}"),
        }
    }

    #[test]
    fn modern_and_legacy_spellings_agree() {
        let a = parse("COPY t FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';')").unwrap();
        let b = parse("COPY t FROM STDIN WITH CSV HEADER DELIMITER ';'").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.format, CopyFormat::Csv);
        assert_eq!((a.delimiter, a.null.as_str(), a.header), (b';', "", true));
        let t = parse("COPY t FROM STDIN").unwrap();
        assert_eq!(t, CopyOptions::defaults(CopyFormat::Text));
        assert_eq!((t.delimiter, t.null.as_str()), (b'\t', "\\N"));
    }

    #[test]
    fn pgbench_freeze_on_parses() {
        let o = parse("copy pgbench_accounts from stdin with (freeze on)").unwrap();
        assert!(o.freeze);
        let o = parse("COPY t FROM STDIN (FORMAT csv, HEADER off)").unwrap();
        assert!(!o.header);
        assert_eq!(normalize_booleans("SELECT 'freeze on'"), None);
    }

    #[test]
    fn postgres_option_errors() {
        let code = |sql: &str| parse(sql).unwrap_err().sqlstate();
        assert_eq!(code("COPY t FROM STDIN (FORMAT binary)"), "0A000");
        assert_eq!(code("COPY t FROM STDIN (FORMAT json)"), "22023");
        assert_eq!(code("COPY t FROM STDIN (QUOTE '''')"), "0A000");
        assert_eq!(
            code("COPY t FROM STDIN (FORMAT csv, DELIMITER '\"')"),
            "22023"
        );
        assert_eq!(code("COPY t FROM STDIN (DELIMITER 'a')"), "22023");
        assert_eq!(code("COPY t FROM STDIN (NULL 'x', NULL 'y')"), "42601");
        assert_eq!(
            code("COPY t FROM STDIN (DELIMITER ',', NULL 'a,b')"),
            "0A000"
        );
        assert_eq!(
            code("COPY t TO STDOUT (FORMAT csv, FORCE_NOT_NULL (a))"),
            "0A000"
        );
        let e = parse("COPY t FROM STDIN (FORMAT json)").unwrap_err();
        assert_eq!(e.to_string(), "COPY format \"json\" not recognized");
    }
}
