//! POSIX regular expression matching for `~`, `!~`, `~*` and `!~*`.
//!
//! PostgreSQL's advanced regular expressions and the `regex` crate's syntax agree on
//! everything catalog queries and ordinary patterns use (anchors, groups, classes
//! including `[[:alpha:]]`, bounded repetition); PostgreSQL-only escapes such as `\m`
//! and `\y` are rejected as invalid patterns. A pattern that does not compile is 2201B
//! `invalid regular expression: ...`, as in PostgreSQL.
//!
//! Compiled patterns are cached per thread (at most [`CACHE_SIZE`], cleared when full),
//! since a filter evaluates the same pattern once per row.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

use crate::error::SqlError;

/// Patterns kept compiled per thread.
pub const CACHE_SIZE: usize = 64;

/// Patterns longer than this are refused (the compiled automaton grows with them).
const MAX_PATTERN: usize = 64 * 1024;

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex, SqlError> {
    if pattern.len() > MAX_PATTERN {
        return Err(SqlError::InvalidRegex {
            message: "regular expression is too large".into(),
        });
    }
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| SqlError::InvalidRegex {
            message: e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string(),
        })
}

/// Whether `text` contains a match of `pattern` (PostgreSQL's `~`, `~*` when
/// `case_insensitive`).
pub fn matches(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool, SqlError> {
    let key = (pattern.to_string(), case_insensitive);
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).map(|r| r.is_match(text))) {
        return Ok(hit);
    }
    let re = compile(pattern, case_insensitive)?;
    let m = re.is_match(text);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(key, re);
    });
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_postgres() {
        assert!(matches("t", "^(t)$", false).unwrap());
        assert!(!matches("tt", "^(t)$", false).unwrap());
        assert!(matches("pg_toast_1", "^pg_toast", false).unwrap());
        assert!(matches("ABC", "b", true).unwrap());
        assert!(!matches("ABC", "b", false).unwrap());
        assert!(matches("a1", "[[:digit:]]", false).unwrap());
        let e = matches("x", "(", false).unwrap_err();
        assert_eq!(e.sqlstate(), "2201B");
        assert!(
            e.to_string().starts_with("invalid regular expression"),
            "{e}"
        );
    }
}
