//! Table scans: full, primary-key range and secondary-index range, read in batches.
//!
//! A scan turns its [`Access`] into one key range when it opens (evaluating the bound
//! expressions then, so correlated lookups see the current outer row), and reads it
//! [`BATCH`] keys per `get_range`, continuing after the last key returned. A secondary
//! index scan reads index entries and fetches each row by its primary key.
//!
//! Key bounds over an index prefix `P` and a value `v` of the next column, whose encoding
//! `P v` prefixes every key with that value (the tuple encoding is prefix-free):
//!
//! ```text
//!   col >= v   begin = P v          col > v    begin = strinc(P v)
//!   col <  v   end   = P v          col <= v   end   = strinc(P v)
//! ```

use std::collections::VecDeque;

use ferrisdb_kv::{key_after, KeyRange};

use super::{eval, is_true, ExecCtx, Operator, Row};
use crate::catalog::{prefix_range, TableDef, PRIMARY_INDEX};
use crate::datum::Datum;
use crate::encoding::{decode_key, encode_key_datum};
use crate::error::SqlError;
use crate::plan::{Access, Expr, KeyBound};
use crate::store::{self, kv_err};
use ferrisdb_kv::strinc;
use ferrisdb_kv::tuple::Order;

/// Keys fetched per KV round trip.
pub const BATCH: usize = 256;

pub struct ScanOp<'p> {
    table: &'p TableDef,
    access: &'p Access,
    filter: Option<&'p Expr>,
    with_key: bool,
    range: Option<KeyRange>,
    /// The range holds at most one key, its begin (every primary-key column is bound by
    /// equality): read with one point get instead of a range read.
    point: bool,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    exhausted: bool,
}

impl<'p> ScanOp<'p> {
    pub fn new(
        table: &'p TableDef,
        access: &'p Access,
        filter: Option<&'p Expr>,
        with_key: bool,
    ) -> Self {
        ScanOp {
            table,
            access,
            filter,
            with_key,
            range: None,
            point: false,
            buf: VecDeque::new(),
            exhausted: false,
        }
    }

    /// The key range this scan covers, `None` when it can match nothing.
    fn open(&self, cx: &mut ExecCtx) -> Result<Option<KeyRange>, SqlError> {
        let Access::Index {
            index,
            eq,
            lower,
            upper,
        } = self.access
        else {
            return Ok(Some(prefix_range(&self.table.index_prefix(PRIMARY_INDEX))));
        };
        let mut prefix = self.table.index_prefix(index.id);
        for e in eq {
            let v = eval(e, &[], cx)?;
            if v.is_null() {
                return Ok(None);
            }
            encode_key_datum(&mut prefix, &v, Order::Asc);
        }
        let whole = prefix_range(&prefix);
        let bound =
            |b: &Option<KeyBound>, cx: &mut ExecCtx| -> Result<Option<(Vec<u8>, bool)>, SqlError> {
                let Some(b) = b else { return Ok(None) };
                let v = eval(&b.value, &[], cx)?;
                if v.is_null() {
                    return Err(SqlError::internal("null bound"));
                }
                let mut k = prefix.clone();
                encode_key_datum(&mut k, &v, Order::Asc);
                Ok(Some((k, b.inclusive)))
            };
        let (lo, hi) = match (bound(lower, cx), bound(upper, cx)) {
            (Ok(lo), Ok(hi)) => (lo, hi),
            _ => return Ok(None),
        };
        let begin = match lo {
            None => whole.begin,
            Some((k, true)) => k,
            Some((k, false)) => strinc(&k).unwrap_or(whole.end.clone()),
        };
        let end = match hi {
            None => whole.end,
            Some((k, false)) => k,
            Some((k, true)) => strinc(&k).unwrap_or(whole.end),
        };
        Ok((begin < end).then(|| KeyRange::new(begin, end)))
    }

    /// Whether the access binds the whole primary key by equality, so the range's begin
    /// is the only key it can hold (primary keys are exactly their encoded columns).
    fn is_point(&self) -> bool {
        match self.access {
            Access::Index {
                index,
                eq,
                lower: None,
                upper: None,
            } => {
                index.id == PRIMARY_INDEX
                    && !self.table.has_row_id()
                    && eq.len() == self.table.primary().columns.len()
            }
            _ => false,
        }
    }

    fn fill(&mut self, cx: &mut ExecCtx) -> Result<(), SqlError> {
        let Some(range) = self.range.as_mut() else {
            self.exhausted = true;
            return Ok(());
        };
        if self.point {
            self.exhausted = true;
            if cx.lock_points {
                cx.txn.lock_for_update(&range.begin).map_err(kv_err)?;
            }
            if let Some(v) = cx.txn.get(&range.begin).map_err(kv_err)? {
                self.buf.push_back((range.begin.clone(), v));
            }
            return Ok(());
        }
        let batch = cx.txn.get_range(range, BATCH, false).map_err(kv_err)?;
        if batch.len() < BATCH {
            self.exhausted = true;
        }
        if let Some((last, _)) = batch.last() {
            range.begin = key_after(last);
        }
        self.buf.extend(batch);
        Ok(())
    }

    /// The row of one fetched pair: a primary entry decodes directly, a secondary entry
    /// leads to its row by the primary key it carries.
    fn row_of(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        cx: &mut ExecCtx,
    ) -> Result<Option<Row>, SqlError> {
        let (pk, value) = match self.access {
            Access::Index { index, .. } if index.id != PRIMARY_INDEX => {
                let prefix_len = self.table.index_prefix(index.id).len();
                let cols = store::index_key_columns(self.table, index);
                let datums = decode_key(key.get(prefix_len..).unwrap_or(&[]), &cols)?;
                let pk_datums = datums.get(index.columns.len()..).unwrap_or(&[]);
                let pk = store::primary_key_of(self.table, pk_datums)?;
                match cx.txn.get(&pk).map_err(kv_err)? {
                    Some(v) => (pk, v),
                    None => return Ok(None),
                }
            }
            _ => (key, value),
        };
        let mut row = store::decode_table_row(self.table, &value)?;
        if self.with_key {
            row.push(Datum::Bytes(pk));
        }
        Ok(Some(row))
    }
}

impl Operator for ScanOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>, SqlError> {
        if self.range.is_none() && !self.exhausted {
            self.range = self.open(cx)?;
            self.point = self.is_point();
            if self.range.is_none() {
                self.exhausted = true;
            }
        }
        loop {
            crate::cancel::check()?;
            let Some((k, v)) = self.buf.pop_front() else {
                if self.exhausted {
                    return Ok(None);
                }
                self.fill(cx)?;
                continue;
            };
            let Some(row) = self.row_of(k, v, cx)? else {
                continue;
            };
            if let Some(f) = self.filter {
                if !is_true(&eval(f, &row, cx)?) {
                    continue;
                }
            }
            return Ok(Some(row));
        }
    }
}
