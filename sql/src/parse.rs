//! Parsing SQL text with sqlparser's PostgreSQL dialect, and turning its errors into
//! PostgreSQL's 42601 wording (`syntax error at or near "FROM"`, `syntax error at end of
//! input`) with the 1-based character position when sqlparser reports a line and column.

use sqlparser::ast::{Expr, Ident, Statement, VacuumStatement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use crate::error::SqlError;

/// How deeply sqlparser may nest (parenthesized expressions, subqueries). PostgreSQL
/// accepts 5000 nested parentheses; beyond ours it is 54001, as PostgreSQL's own limit.
/// The statement thread's stack ([`crate::session`]) is sized for this depth.
pub const MAX_PARSE_DEPTH: usize = 5000;

/// Parses a semicolon-separated script into statements.
///
/// This is sqlparser's statement loop with one addition: VACUUM is parsed here in
/// PostgreSQL's grammar (sqlparser knows only Redshift's), one statement per table named.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>, SqlError> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(MAX_PARSE_DEPTH)
        .try_with_sql(sql)
        .and_then(|mut p| statements(&mut p))
        .map_err(|e| syntax_error(sql, e))
}

fn statements(p: &mut Parser) -> Result<Vec<Statement>, ParserError> {
    let mut stmts = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while p.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        match &p.peek_token_ref().token {
            Token::EOF => break,
            _ if expecting_delimiter => {
                return p.expected_ref("end of statement", p.peek_token_ref())
            }
            Token::Word(w) if w.keyword == Keyword::VACUUM => stmts.extend(vacuum(p)?),
            Token::Word(w) if w.keyword == Keyword::CREATE && is_create_user(p) => {
                stmts.push(create_user(p)?)
            }
            Token::Word(w) if w.keyword == Keyword::FETCH => stmts.push(fetch(p)?),
            Token::Word(w) if w.keyword == Keyword::ALTER && is_alter_sequence_start(p) => {
                stmts.push(alter_sequence(p)?)
            }
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("move") => {
                stmts.push(fetch(p)?)
            }
            _ => stmts.push(p.parse_statement()?),
        }
        expecting_delimiter = true;
    }
    Ok(stmts)
}

/// `VACUUM [ ( option [, ...] ) ] [ FULL ] [ FREEZE ] [ VERBOSE ] [ ANALYZE ]
/// [ table [ ( column [, ...] ) ] [, ...] ]`: the options are accepted and ignored (see
/// [`crate::session`] for what VACUUM does here), each table becomes one statement.
fn vacuum(p: &mut Parser) -> Result<Vec<Statement>, ParserError> {
    p.expect_keyword(Keyword::VACUUM)?;
    if p.consume_token(&Token::LParen) {
        skip_to_close_paren(p)?;
    }
    let full = p.parse_keyword(Keyword::FULL);
    for kw in [Keyword::FREEZE, Keyword::VERBOSE, Keyword::ANALYZE] {
        let _ = p.parse_keyword(kw);
    }
    let one = |table_name| {
        Statement::Vacuum(VacuumStatement {
            full,
            sort_only: false,
            delete_only: false,
            reindex: false,
            recluster: false,
            table_name,
            threshold: None,
            boost: false,
        })
    };
    if matches!(p.peek_token_ref().token, Token::EOF | Token::SemiColon) {
        return Ok(vec![one(None)]);
    }
    let mut out = Vec::new();
    loop {
        let name = p.parse_object_name(false)?;
        if p.consume_token(&Token::LParen) {
            p.parse_comma_separated(|p| p.parse_identifier())?;
            p.expect_token(&Token::RParen)?;
        }
        out.push(one(Some(name)));
        if !p.consume_token(&Token::Comma) {
            return Ok(out);
        }
    }
}

/// `FETCH [direction] [FROM | IN] cursor` in PostgreSQL's grammar (sqlparser's wants a
/// direction and takes no signed counts): direction is NEXT, PRIOR, FIRST, LAST, ABSOLUTE n,
/// RELATIVE n, n, ALL, FORWARD [n | ALL] or BACKWARD [n | ALL], NEXT when omitted.
///
/// `MOVE` (the same, returning no rows) comes back as a FETCH whose `into` is
/// [`MOVE_MARKER`]: sqlparser has no MOVE statement, and SQL-level FETCH has no INTO.
fn fetch(p: &mut Parser) -> Result<Statement, ParserError> {
    use sqlparser::ast::{FetchDirection as D, FetchPosition, Value};
    let is_move = !p.parse_keyword(Keyword::FETCH);
    if is_move {
        p.next_token(); // MOVE, checked by the caller
    }
    fn count(p: &mut Parser) -> Result<sqlparser::ast::ValueWithSpan, ParserError> {
        let minus = p.consume_token(&Token::Minus);
        if !minus {
            let _ = p.consume_token(&Token::Plus);
        }
        let t = p.next_token();
        match t.token {
            Token::Number(n, long) => {
                let n = if minus { format!("-{n}") } else { n };
                Ok(Value::Number(n, long).with_empty_span())
            }
            _ => p.expected("a row count", t),
        }
    }
    let starts_count = |p: &Parser| {
        matches!(
            p.peek_token_ref().token,
            Token::Number(..) | Token::Minus | Token::Plus
        )
    };
    let direction = if p.parse_keyword(Keyword::NEXT) {
        D::Next
    } else if p.parse_keyword(Keyword::PRIOR) {
        D::Prior
    } else if p.parse_keyword(Keyword::FIRST) {
        D::First
    } else if p.parse_keyword(Keyword::LAST) {
        D::Last
    } else if p.parse_keyword(Keyword::ABSOLUTE) {
        D::Absolute { limit: count(p)? }
    } else if p.parse_keyword(Keyword::RELATIVE) {
        D::Relative { limit: count(p)? }
    } else if p.parse_keyword(Keyword::ALL) {
        D::All
    } else if p.parse_keyword(Keyword::FORWARD) {
        if p.parse_keyword(Keyword::ALL) {
            D::ForwardAll
        } else if starts_count(p) {
            D::Forward {
                limit: Some(count(p)?),
            }
        } else {
            D::Forward { limit: None }
        }
    } else if p.parse_keyword(Keyword::BACKWARD) {
        if p.parse_keyword(Keyword::ALL) {
            D::BackwardAll
        } else if starts_count(p) {
            D::Backward {
                limit: Some(count(p)?),
            }
        } else {
            D::Backward { limit: None }
        }
    } else if starts_count(p) {
        D::Count { limit: count(p)? }
    } else {
        D::Next
    };
    let position = if p.parse_keyword(Keyword::IN) {
        FetchPosition::In
    } else {
        let _ = p.parse_keyword(Keyword::FROM);
        FetchPosition::From
    };
    Ok(Statement::Fetch {
        name: p.parse_identifier()?,
        direction,
        position,
        into: is_move.then(|| sqlparser::ast::ObjectName::from(vec![Ident::new(MOVE_MARKER)])),
    })
}

/// The `into` of a FETCH statement that is really a MOVE (see [`fetch`]).
pub const MOVE_MARKER: &str = "\u{0}move";

/// The mark of an ALTER SEQUENCE: the first option of the CREATE SEQUENCE it is carried
/// in (sqlparser has no ALTER SEQUENCE; a CACHE taking an identifier is not valid SQL).
pub const ALTER_SEQUENCE_MARKER: &str = "\u{0}alter";

fn is_alter_sequence_start(p: &Parser) -> bool {
    matches!(&p.peek_nth_token_ref(1).token, Token::Word(w) if w.keyword == Keyword::SEQUENCE)
}

/// Marks RESTART in an ALTER SEQUENCE's options: `Cache(Tuple([marker]))`, or
/// `Cache(Tuple([marker, n]))` for RESTART WITH n (sqlparser has no such option).
pub const RESTART_MARKER: &str = "\u{0}restart";

/// Marks OWNER TO in an ALTER SEQUENCE's options: `Cache(Tuple([marker, role]))`.
pub const OWNER_MARKER: &str = "\u{0}owner";

/// The role of an ALTER SEQUENCE's OWNER TO option (see [`OWNER_MARKER`]).
pub fn as_owner(o: &sqlparser::ast::SequenceOptions) -> Option<&Ident> {
    match marked(o, OWNER_MARKER)? {
        [Expr::Identifier(role)] => Some(role),
        _ => None,
    }
}

/// The values after `marker` in an option we carry as `Cache(Tuple([marker, ...]))`.
fn marked<'a>(o: &'a sqlparser::ast::SequenceOptions, marker: &str) -> Option<&'a [Expr]> {
    match o {
        sqlparser::ast::SequenceOptions::Cache(Expr::Tuple(parts)) => match parts.as_slice() {
            [Expr::Identifier(m), rest @ ..] if m.value == marker => Some(rest),
            _ => None,
        },
        _ => None,
    }
}

/// `ALTER SEQUENCE [IF EXISTS] name option ...` with PostgreSQL's options (AS, INCREMENT
/// BY, [NO] MINVALUE / MAXVALUE, START WITH, RESTART [WITH], CACHE, [NO] CYCLE, OWNED BY,
/// OWNER TO),
/// carried as a CREATE SEQUENCE whose first option is [`ALTER_SEQUENCE_MARKER`] and whose
/// `if_not_exists` means IF EXISTS. Other forms (RENAME, SET SCHEMA, ...) come
/// back with no option after the mark (the session refuses them with 0A000); their words
/// are skipped.
fn alter_sequence(p: &mut Parser) -> Result<Statement, ParserError> {
    use sqlparser::ast::SequenceOptions;
    p.expect_keyword(Keyword::ALTER)?;
    p.expect_keyword(Keyword::SEQUENCE)?;
    let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let name = p.parse_object_name(false)?;
    let marker = SequenceOptions::Cache(Expr::Identifier(Ident::new(ALTER_SEQUENCE_MARKER)));
    let mut options = vec![marker.clone()];
    let done = |p: &Parser| matches!(p.peek_token_ref().token, Token::EOF | Token::SemiColon);
    while !done(p) {
        let option = if p.parse_keywords(&[Keyword::OWNED, Keyword::BY]) {
            let target = if p.parse_keyword(Keyword::NONE) {
                None
            } else {
                Some(p.parse_object_name(false)?)
            };
            SequenceOptions::OwnedBy(target)
        } else if p.parse_keyword(Keyword::AS) {
            SequenceOptions::DataType(p.parse_data_type()?)
        } else if p.parse_keyword(Keyword::INCREMENT) {
            let by = p.parse_keyword(Keyword::BY);
            SequenceOptions::IncrementBy(p.parse_expr()?, by)
        } else if p.parse_keyword(Keyword::MINVALUE) {
            SequenceOptions::MinValue(Some(p.parse_expr()?))
        } else if p.parse_keyword(Keyword::MAXVALUE) {
            SequenceOptions::MaxValue(Some(p.parse_expr()?))
        } else if p.parse_keywords(&[Keyword::NO, Keyword::MINVALUE]) {
            SequenceOptions::MinValue(None)
        } else if p.parse_keywords(&[Keyword::NO, Keyword::MAXVALUE]) {
            SequenceOptions::MaxValue(None)
        } else if p.parse_keywords(&[Keyword::NO, Keyword::CYCLE]) {
            SequenceOptions::Cycle(true)
        } else if p.parse_keyword(Keyword::CYCLE) {
            SequenceOptions::Cycle(false)
        } else if p.parse_keyword(Keyword::START) {
            let with = p.parse_keyword(Keyword::WITH);
            SequenceOptions::StartWith(p.parse_expr()?, with)
        } else if p.parse_keyword(Keyword::CACHE) {
            SequenceOptions::Cache(p.parse_expr()?)
        } else if p.parse_keywords(&[Keyword::OWNER, Keyword::TO]) {
            let role = p.parse_identifier()?;
            SequenceOptions::Cache(Expr::Tuple(vec![
                Expr::Identifier(Ident::new(OWNER_MARKER)),
                Expr::Identifier(role),
            ]))
        } else if p.parse_keyword(Keyword::RESTART) {
            let mut parts = vec![Expr::Identifier(Ident::new(RESTART_MARKER))];
            let with = p.parse_keyword(Keyword::WITH);
            if with
                || !done(p) && matches!(p.peek_token_ref().token, Token::Number(..) | Token::Minus)
            {
                parts.push(p.parse_expr()?);
            }
            SequenceOptions::Cache(Expr::Tuple(parts))
        } else {
            // A form we do not run: the session refuses it.
            while !done(p) {
                p.next_token();
            }
            options.truncate(1);
            break;
        };
        options.push(option);
    }
    Ok(Statement::CreateSequence {
        temporary: false,
        if_not_exists: if_exists,
        name,
        sequence_options: options,
    })
}

/// The RESTART of an ALTER SEQUENCE option (see [`RESTART_MARKER`]): `Some(None)` for a
/// bare RESTART, `Some(Some(n))` for RESTART WITH n.
pub fn as_restart(o: &sqlparser::ast::SequenceOptions) -> Option<Option<&Expr>> {
    match marked(o, RESTART_MARKER)? {
        [] => Some(None),
        [n] => Some(Some(n)),
        _ => None,
    }
}

/// Whether `stmt` is an ALTER SEQUENCE (see [`ALTER_SEQUENCE_MARKER`]).
pub fn is_alter_sequence(stmt: &Statement) -> bool {
    use sqlparser::ast::SequenceOptions;
    matches!(stmt, Statement::CreateSequence { sequence_options, .. }
        if matches!(sequence_options.first(),
            Some(SequenceOptions::Cache(Expr::Identifier(i))) if i.value == ALTER_SEQUENCE_MARKER))
}

/// Whether `stmt` is a MOVE (a FETCH that returns no rows).
pub fn is_move(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Fetch { into: Some(n), .. } if n.to_string() == MOVE_MARKER)
}

/// Skips a parenthesized option list whose `(` was consumed.
/// `CREATE USER` but not `CREATE USER MAPPING`: sqlparser reads CREATE USER as
/// Snowflake's statement, PostgreSQL as CREATE ROLE with LOGIN by default.
fn is_create_user(p: &Parser) -> bool {
    let is = |n, k| matches!(&p.peek_nth_token_ref(n).token, Token::Word(w) if w.keyword == k);
    is(1, Keyword::USER) && !is(2, Keyword::MAPPING)
}

fn create_user(p: &mut Parser) -> Result<Statement, ParserError> {
    p.expect_keyword(Keyword::CREATE)?;
    p.expect_keyword(Keyword::USER)?;
    let mut role = p.parse_create_role(sqlparser::ast::RoleKeyword::Role)?;
    role.login.get_or_insert(true);
    Ok(Statement::CreateRole(role))
}

fn skip_to_close_paren(p: &mut Parser) -> Result<(), ParserError> {
    let mut depth = 1usize;
    while depth > 0 {
        let t = p.next_token();
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::EOF => return p.expected(")", t),
            _ => {}
        }
    }
    Ok(())
}

/// Parses one expression (stored defaults and CHECK constraints).
pub fn parse_expr(sql: &str) -> Result<Expr, SqlError> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(MAX_PARSE_DEPTH)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| syntax_error(sql, e))
}

fn syntax_error(sql: &str, e: ParserError) -> SqlError {
    if matches!(e, ParserError::RecursionLimitExceeded) {
        return SqlError::StackDepthExceeded;
    }
    let text = e.to_string();
    let found = text.split("found: ").nth(1).map(|rest| {
        rest.split(" at Line:")
            .next()
            .unwrap_or(rest)
            .trim()
            .to_string()
    });
    let message = match found.as_deref() {
        Some("EOF") | None if text.contains("EOF") => "syntax error at end of input".to_string(),
        Some(tok) => format!("syntax error at or near \"{}\"", tok.trim_matches('"')),
        None => format!("syntax error: {text}"),
    };
    SqlError::Syntax {
        message,
        position: position_of(sql, &text),
    }
}

/// The character offset of sqlparser's "Line: L, Column: C".
fn position_of(sql: &str, text: &str) -> Option<u32> {
    let after = text.split("Line: ").nth(1)?;
    let mut nums = after
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().ok());
    let line = nums.next()??;
    let col = nums.next()??;
    let before: usize = sql
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum();
    u32::try_from(before + col).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_42601_with_postgres_wording() {
        let e = parse_statements("SELECT FROM WHERE").unwrap_err();
        assert_eq!(e.sqlstate(), "42601");
        assert!(e.to_string().starts_with("syntax error"), "{e}");
        let e = parse_statements("SELECT (1").unwrap_err();
        assert_eq!(e.to_string(), "syntax error at end of input");
    }
}
