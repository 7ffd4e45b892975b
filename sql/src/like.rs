//! `LIKE` / `ILIKE` pattern matching, as PostgreSQL does it.
//!
//! `%` matches any run of characters (including none), `_` exactly one character, and the
//! escape character (backslash unless `ESCAPE` says otherwise) makes the next character
//! literal. Matching is by characters, not bytes, so `_` matches one `é`. A pattern ending
//! in the escape character is 22025. `ILIKE` compares lower-cased text.
//!
//! The matcher is the classic greedy walk with one backtrack point (the last `%`): linear
//! space and O(text * pattern) worst case, never exponential, so a hostile pattern costs
//! at most quadratic time.

use crate::error::SqlError;

/// One pattern element after escape processing.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    Lit(char),
    One,
    Any,
}

fn compile(pattern: &str, escape: Option<char>) -> Result<Vec<Tok>, SqlError> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(n) => out.push(Tok::Lit(n)),
                None => {
                    return Err(SqlError::InvalidEscapeSequence {
                        message: "LIKE pattern must not end with escape character".into(),
                    })
                }
            }
        } else if c == '%' {
            // Collapse runs of % so backtracking stays simple.
            if out.last() != Some(&Tok::Any) {
                out.push(Tok::Any);
            }
        } else if c == '_' {
            out.push(Tok::One);
        } else {
            out.push(Tok::Lit(c));
        }
    }
    Ok(out)
}

/// Whether `text` matches `pattern`; `case_insensitive` for ILIKE. `escape` is the escape
/// character (`Some('\\')` by default, `None` for `ESCAPE ''`).
pub fn like(
    text: &str,
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
) -> Result<bool, SqlError> {
    let (text, pattern) = if case_insensitive {
        (text.to_lowercase(), pattern.to_lowercase())
    } else {
        (text.to_string(), pattern.to_string())
    };
    let pat = compile(&pattern, escape)?;
    let t: Vec<char> = text.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match pat.get(pi) {
            Some(Tok::Any) => {
                backtrack = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some(Tok::One) => {
                ti += 1;
                pi += 1;
                continue;
            }
            Some(Tok::Lit(c)) if *c == t[ti] => {
                ti += 1;
                pi += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bp, bt)) => {
                backtrack = Some((bp, bt + 1));
                pi = bp + 1;
                ti = bt + 1;
            }
            None => return Ok(false),
        }
    }
    Ok(pat[pi..].iter().all(|t| *t == Tok::Any))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str, pattern: &str) -> bool {
        like(text, pattern, Some('\\'), false).unwrap()
    }

    #[test]
    fn like_matches_postgres() {
        assert!(m("abc", "abc"));
        assert!(m("abc", "a%"));
        assert!(m("abc", "%c"));
        assert!(m("abc", "_b_"));
        assert!(!m("abc", "_b"));
        assert!(m("", "%"));
        assert!(!m("", "_"));
        assert!(m("a%c", "a\\%c"));
        assert!(!m("abc", "a\\%c"));
        assert!(m("a_c", "a\\_c"));
        assert!(m("é", "_"));
        assert!(m("mississippi", "%iss%ppi"));
        assert!(!m("mississippi", "%iss%ppx"));
        assert!(m("aaa", "%%a%%"));
        assert!(!m("ABC", "abc"));
        assert!(like("ABC", "a%", Some('\\'), true).unwrap());
        assert!(like("a!%", "a!!!%", Some('!'), false).unwrap());
        let e = like("a", "a\\", Some('\\'), false).unwrap_err();
        assert_eq!(e.sqlstate(), "22025");
        assert!(like("a\\", "a\\", None, false).unwrap());
    }
}
