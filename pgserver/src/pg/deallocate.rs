//! `DEALLOCATE [PREPARE] { name | ALL }` sent as SQL: drops prepared statements of the
//! extended protocol, which live in the connection (`extended`), not in the engine.
//!
//! psycopg 3 depends on it: once it has prepared statements (`_pg3_N`, after five runs
//! of a query) and sees a DROP, ALTER or ROLLBACK succeed, it sends `DEALLOCATE ALL` as a
//! simple Query and treats an error there as the connection's failure. So the whole
//! simple Query is recognised here when it is exactly one DEALLOCATE (psycopg and
//! PgBouncer never batch it); inside a multi-statement string it still reaches the
//! engine, which refuses it. Names follow SQL identifier rules: unquoted ones fold to
//! lower case, `"quoted"` ones keep their case with `""` for a quote. The command tag
//! is `DEALLOCATE` or `DEALLOCATE ALL`; an unknown name is 26000, as in PostgreSQL.

/// What one DEALLOCATE statement drops.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Deallocate {
    All,
    Name(String),
}

/// `Some` when `sql` is exactly one DEALLOCATE statement (an optional trailing `;`).
pub(super) fn parse(sql: &str) -> Option<Deallocate> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let rest = strip_keyword(sql, "deallocate")?;
    let rest = strip_keyword(rest, "prepare").unwrap_or(rest);
    if rest.eq_ignore_ascii_case("all") {
        return Some(Deallocate::All);
    }
    identifier(rest).map(Deallocate::Name)
}

/// `s` after the keyword `kw` and the whitespace following it (required).
fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let head = s.get(..kw.len())?;
    let rest = &s[kw.len()..];
    let starts_space = rest.starts_with(|c: char| c.is_ascii_whitespace());
    (head.eq_ignore_ascii_case(kw) && starts_space).then(|| rest.trim_start())
}

/// The whole of `s` as one identifier, or `None`.
fn identifier(s: &str) -> Option<String> {
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let unescaped = inner.replace("\"\"", "\"");
        let lone_quote = unescaped.matches('"').count() * 2 != inner.matches('"').count();
        return (!inner.is_empty() && !lone_quote).then_some(unescaped);
    }
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    (first_ok && rest_ok).then(|| s.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_deallocate_forms_and_nothing_else() {
        let name = |n: &str| Some(Deallocate::Name(n.into()));
        assert_eq!(parse("DEALLOCATE ALL"), Some(Deallocate::All));
        assert_eq!(parse("  deallocate prepare all ; "), Some(Deallocate::All));
        assert_eq!(parse("DEALLOCATE _pg3_0"), name("_pg3_0"));
        assert_eq!(parse("DEALLOCATE PREPARE S_1"), name("s_1"));
        assert_eq!(parse("DEALLOCATE \"My\"\"S\""), name("My\"S"));
        assert_eq!(parse("DEALLOCATE prepare"), name("prepare"));
        for other in [
            "DEALLOCATE",
            "DEALLOCATEALL",
            "DEALLOCATE a b",
            "DEALLOCATE \"a\"b\"",
            "DEALLOCATE \"\"",
            "DEALLOCATE ALL; SELECT 1",
            "SELECT 'DEALLOCATE ALL'",
            "DEALLOCATE 1x",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
