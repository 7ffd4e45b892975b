//! SQL cursors: `DECLARE name [BINARY] [SCROLL | NO SCROLL] CURSOR [WITH | WITHOUT HOLD] FOR
//! query`, `FETCH [direction] [FROM | IN] name` and `CLOSE name | ALL`, as PostgreSQL has
//! them (psycopg's named cursors and psql's `FETCH_COUNT` page through large results with
//! them).
//!
//! A cursor holds its query's result, computed at DECLARE in the declaring transaction: the
//! rows a later FETCH returns are the ones visible at that transaction's read version, as
//! PostgreSQL's snapshot gives them (and what a WITH HOLD cursor keeps past COMMIT). The
//! result counts against the statement memory limit like any other. Positions follow
//! PostgreSQL: before the first row (0), on row `k` (1..=n), or after the last row (n + 1);
//! every direction works on every cursor, forward or backward.
//!
//! Lifetime: a cursor without HOLD closes at the end of its transaction; one WITH HOLD
//! survives COMMIT, and ROLLBACK closes it if its own transaction is the one rolled back.
//! DECLARE without HOLD outside a transaction block is refused (25P01); an unknown name is
//! 34000, a name in use 42P03.

use sqlparser::ast::{CloseCursor, Declare, DeclareType, FetchDirection, Ident, Value};

use crate::bind::Column;
use crate::datum::Datum;
use crate::error::SqlError;
use crate::session::StatementResult;

/// One open cursor.
pub(crate) struct Cursor {
    name: String,
    columns: Vec<Column>,
    rows: Vec<Vec<Datum>>,
    /// 0: before the first row; `k` in 1..=n: on row k; n + 1: after the last.
    pos: usize,
    hold: bool,
    /// Declared in the transaction still open (ROLLBACK closes it even WITH HOLD).
    in_open_block: bool,
}

/// The session's open cursors, by name.
#[derive(Default)]
pub(crate) struct Cursors {
    open: Vec<Cursor>,
}

/// What `DECLARE` needs from the statement, checked.
pub(crate) struct Declaration<'a> {
    pub(crate) name: String,
    pub(crate) hold: bool,
    pub(crate) query: &'a sqlparser::ast::Query,
}

/// The cursor declaration in `stmts` (PostgreSQL's DECLARE declares exactly one).
pub(crate) fn declaration(stmts: &[Declare]) -> Result<Declaration<'_>, SqlError> {
    let [d] = stmts else {
        return Err(SqlError::unsupported("DECLARE of several names"));
    };
    let (Some(DeclareType::Cursor), Some(query), [name]) =
        (&d.declare_type, &d.for_query, d.names.as_slice())
    else {
        return Err(SqlError::unsupported(
            "DECLARE other than DECLARE name CURSOR FOR query",
        ));
    };
    if d.binary == Some(true) {
        return Err(SqlError::unsupported("DECLARE BINARY"));
    }
    Ok(Declaration {
        name: ident(name),
        hold: d.hold == Some(true),
        query,
    })
}

fn ident(i: &Ident) -> String {
    match i.quote_style {
        Some(_) => i.value.clone(),
        None => i.value.to_lowercase(),
    }
}

impl Cursors {
    pub(crate) fn check_free(&self, name: &str) -> Result<(), SqlError> {
        match self.open.iter().any(|c| c.name == name) {
            true => Err(SqlError::DuplicateCursor { name: name.into() }),
            false => Ok(()),
        }
    }

    /// Open `name` over a computed result (`result` is a query's).
    pub(crate) fn declare(
        &mut self,
        name: String,
        hold: bool,
        in_block: bool,
        result: StatementResult,
    ) -> Result<StatementResult, SqlError> {
        self.check_free(&name)?;
        let StatementResult::Query { columns, rows, .. } = result else {
            return Err(SqlError::Internal {
                message: "a cursor's query returned no rows description".into(),
            });
        };
        self.open.push(Cursor {
            name,
            columns,
            rows,
            pos: 0,
            hold,
            in_open_block: in_block,
        });
        Ok(StatementResult::command("DECLARE CURSOR"))
    }

    /// The columns a FETCH from `name` returns (Describe).
    pub(crate) fn columns(&self, name: &Ident) -> Result<Vec<Column>, SqlError> {
        Ok(self.get(name)?.columns.clone())
    }

    fn get(&self, name: &Ident) -> Result<&Cursor, SqlError> {
        let name = ident(name);
        self.open
            .iter()
            .find(|c| c.name == name)
            .ok_or(SqlError::InvalidCursorName { name })
    }

    /// FETCH, or MOVE (`only_move`: the same repositioning, answered with a row count
    /// instead of the rows).
    pub(crate) fn fetch(
        &mut self,
        name: &Ident,
        direction: &FetchDirection,
        only_move: bool,
    ) -> Result<StatementResult, SqlError> {
        let step = Step::of(direction)?;
        let key = ident(name);
        let c = self
            .open
            .iter_mut()
            .find(|c| c.name == key)
            .ok_or(SqlError::InvalidCursorName { name: key })?;
        let rows = c.step(step);
        if only_move {
            return Ok(StatementResult::command(format!("MOVE {}", rows.len())));
        }
        Ok(StatementResult::Query {
            columns: c.columns.clone(),
            tag: Some(format!("FETCH {}", rows.len())),
            rows,
        })
    }

    pub(crate) fn close(&mut self, which: &CloseCursor) -> Result<StatementResult, SqlError> {
        match which {
            CloseCursor::All => {
                self.open.clear();
                return Ok(StatementResult::command("CLOSE CURSOR ALL"));
            }
            CloseCursor::Specific { name } => {
                let key = ident(name);
                let i = self
                    .open
                    .iter()
                    .position(|c| c.name == key)
                    .ok_or(SqlError::InvalidCursorName { name: key })?;
                self.open.remove(i);
            }
        }
        Ok(StatementResult::command("CLOSE CURSOR"))
    }

    /// The transaction block ended: cursors without HOLD close; a ROLLBACK also closes the
    /// HOLD cursors it declared.
    pub(crate) fn end_block(&mut self, committed: bool) {
        self.open
            .retain(|c| c.hold && (committed || !c.in_open_block));
        for c in &mut self.open {
            c.in_open_block = false;
        }
    }
}

/// A FETCH direction, resolved to counts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// Up to `n` rows forward (`usize::MAX`: ALL).
    Forward(usize),
    Backward(usize),
    /// To row `i` (negative: from the end; 0: before the first row).
    Absolute(i64),
    Relative(i64),
}

impl Step {
    fn of(d: &FetchDirection) -> Result<Step, SqlError> {
        let count = |v: &sqlparser::ast::ValueWithSpan| -> Result<i64, SqlError> {
            match &v.value {
                Value::Number(n, _) => n.parse::<i64>().map_err(|_| SqlError::Syntax {
                    message: format!("invalid FETCH count {n}"),
                    position: None,
                }),
                other => Err(SqlError::Syntax {
                    message: format!("invalid FETCH count {other}"),
                    position: None,
                }),
            }
        };
        // A negative count runs the other way, as in PostgreSQL.
        let signed = |n: i64, forward: bool| match (n >= 0) == forward {
            true => Step::Forward(n.unsigned_abs() as usize),
            false => Step::Backward(n.unsigned_abs() as usize),
        };
        Ok(match d {
            FetchDirection::Next => Step::Forward(1),
            FetchDirection::Prior => Step::Backward(1),
            FetchDirection::First => Step::Absolute(1),
            FetchDirection::Last => Step::Absolute(-1),
            FetchDirection::Absolute { limit } => Step::Absolute(count(limit)?),
            FetchDirection::Relative { limit } => Step::Relative(count(limit)?),
            FetchDirection::Count { limit } => signed(count(limit)?, true),
            FetchDirection::All | FetchDirection::ForwardAll => Step::Forward(usize::MAX),
            FetchDirection::BackwardAll => Step::Backward(usize::MAX),
            FetchDirection::Forward { limit: None } => Step::Forward(1),
            FetchDirection::Forward { limit: Some(l) } => signed(count(l)?, true),
            FetchDirection::Backward { limit: None } => Step::Backward(1),
            FetchDirection::Backward { limit: Some(l) } => signed(count(l)?, false),
        })
    }
}

impl Cursor {
    /// Move as `step` says and return the rows passed over, in the order visited.
    fn step(&mut self, step: Step) -> Vec<Vec<Datum>> {
        let n = self.rows.len();
        let mut out = Vec::new();
        match step {
            Step::Forward(k) => {
                for _ in 0..k {
                    if self.pos > n {
                        break;
                    }
                    self.pos += 1;
                    match self.rows.get(self.pos - 1) {
                        Some(r) if self.pos <= n => out.push(r.clone()),
                        _ => break,
                    }
                }
            }
            Step::Backward(k) => {
                for _ in 0..k {
                    if self.pos == 0 {
                        break;
                    }
                    self.pos -= 1;
                    if self.pos == 0 {
                        break;
                    }
                    out.push(self.rows[self.pos - 1].clone());
                }
            }
            Step::Absolute(i) => self.go_to(i, &mut out),
            Step::Relative(i) => {
                let target = self.pos as i64 + i;
                if target <= 0 {
                    self.pos = 0;
                } else if target as usize > n {
                    self.pos = n + 1;
                } else {
                    self.pos = target as usize;
                    out.push(self.rows[self.pos - 1].clone());
                }
            }
        }
        out
    }

    fn go_to(&mut self, i: i64, out: &mut Vec<Vec<Datum>>) {
        let n = self.rows.len() as i64;
        let target = if i < 0 { n + 1 + i } else { i };
        if target <= 0 {
            self.pos = 0;
        } else if target > n {
            self.pos = self.rows.len() + 1;
        } else {
            self.pos = target as usize;
            out.push(self.rows[self.pos - 1].clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(n: i64) -> Cursor {
        Cursor {
            name: "c".into(),
            columns: Vec::new(),
            rows: (1..=n).map(|i| vec![Datum::Int(i)]).collect(),
            pos: 0,
            hold: false,
            in_open_block: true,
        }
    }

    fn ids(rows: Vec<Vec<Datum>>) -> Vec<i64> {
        rows.into_iter()
            .map(|r| match r[0] {
                Datum::Int(i) => i,
                _ => unreachable!(),
            })
            .collect()
    }

    /// The positions PostgreSQL 15 reports for the same FETCH sequence over 5 rows.
    #[test]
    fn fetch_directions_move_as_in_postgresql() {
        let mut c = cursor(5);
        assert_eq!(ids(c.step(Step::Forward(2))), vec![1, 2]);
        assert_eq!(ids(c.step(Step::Forward(1))), vec![3]);
        assert_eq!(ids(c.step(Step::Backward(2))), vec![2, 1]);
        assert_eq!(ids(c.step(Step::Backward(1))), Vec::<i64>::new());
        assert_eq!(c.pos, 0);
        assert_eq!(ids(c.step(Step::Forward(usize::MAX))), vec![1, 2, 3, 4, 5]);
        assert_eq!(c.pos, 6);
        assert_eq!(ids(c.step(Step::Forward(1))), Vec::<i64>::new());
        assert_eq!(ids(c.step(Step::Backward(1))), vec![5]);
        assert_eq!(ids(c.step(Step::Absolute(-2))), vec![4]);
        assert_eq!(ids(c.step(Step::Relative(0))), vec![4]);
        assert_eq!(ids(c.step(Step::Relative(-3))), vec![1]);
        assert_eq!(ids(c.step(Step::Relative(-1))), Vec::<i64>::new());
        assert_eq!(c.pos, 0);
        assert_eq!(ids(c.step(Step::Absolute(9))), Vec::<i64>::new());
        assert_eq!(c.pos, 6);
        assert_eq!(ids(c.step(Step::Backward(usize::MAX))), vec![5, 4, 3, 2, 1]);
        assert_eq!(ids(c.step(Step::Absolute(0))), Vec::<i64>::new());
        assert_eq!(c.pos, 0);
    }

    #[test]
    fn block_end_keeps_only_committed_hold_cursors() {
        let mut cs = Cursors::default();
        let mut held = cursor(1);
        held.name = "h".into();
        held.hold = true;
        cs.open.push(held);
        cs.open.push(cursor(1));
        cs.end_block(false);
        assert!(
            cs.open.is_empty(),
            "ROLLBACK closes even a HOLD cursor it declared"
        );
        let mut held = cursor(1);
        held.hold = true;
        cs.open.push(held);
        cs.end_block(true);
        assert_eq!(cs.open.len(), 1);
        cs.end_block(false);
        assert_eq!(
            cs.open.len(),
            1,
            "a later ROLLBACK keeps a committed HOLD cursor"
        );
    }
}
