//! The byte encoding of relation descriptors.
//!
//! A descriptor is a flat list of datums written with the row encoding
//! ([`crate::encoding::encode_row`]), so it inherits that format's checks (lengths, UTF-8,
//! exact end) and this file only decides the order of the fields:
//!
//! ```text
//!   table:  Text "table", Int 1 (descriptor version), Int id, Text name,
//!           Int ncols, then per column:
//!               Text name, Int type oid, Int typmod, Bool not_null, Text default | Null
//!           Int nindexes, then per index:
//!               Int id, Text name, Bool unique, Bool primary, Int ncols, Int column...
//!           Int nchecks, then per check: Text name, Text expression
//!           Int next_index_id
//!           [Int n, Int index id...]   (the indexes backing UNIQUE constraints; absent in
//!                                       older descriptors: none)
//!           [Int lease_until, Bytes scratch]   (a batched schema change's lock; absent
//!                                               when there is none)
//!   view:   Text "view", Int 1, Text name, Text sql, Int ncols, Text column...
//!           [Int ndeps, Text relation...]   (absent in older descriptors: none)
//!           [Int id]                         (absent in older descriptors: 0)
//! ```
//!
//! A type is its PostgreSQL OID and typmod (the same pair RowDescription carries), mapped
//! back by [`type_from_oid`]. Decoding trusts nothing: every count is bounded by the
//! fields left and every column position by the column count.

use super::{CheckDef, ColumnDef, IndexDef, Relation, SchemaLock, SequenceDef, TableDef, ViewDef};
use crate::datum::Datum;
use crate::encoding::{decode_row, encode_row};
use crate::error::SqlError;
use crate::types::{DataType, OidKind};

const VERSION: i64 = 1;

/// Encodes a descriptor (see the module doc).
pub fn encode_relation(rel: &Relation) -> Vec<u8> {
    let mut d = Vec::new();
    let int = |v: usize| Datum::Int(v as i64);
    match rel {
        Relation::Table(t) => {
            d.extend([Datum::Text("table".into()), Datum::Int(VERSION)]);
            d.extend([Datum::Int(t.id as i64), Datum::Text(t.name.clone())]);
            d.push(int(t.columns.len()));
            for c in &t.columns {
                d.push(Datum::Text(c.name.clone()));
                d.push(Datum::Int(i64::from(c.data_type.oid())));
                d.push(Datum::Int(i64::from(c.data_type.typmod())));
                d.push(Datum::Bool(c.not_null));
                d.push(c.default.clone().map(Datum::Text).unwrap_or(Datum::Null));
            }
            d.push(int(t.indexes.len()));
            for ix in &t.indexes {
                d.push(Datum::Int(i64::from(ix.id)));
                d.push(Datum::Text(ix.name.clone()));
                d.extend([Datum::Bool(ix.unique), Datum::Bool(ix.primary)]);
                d.push(int(ix.columns.len()));
                d.extend(ix.columns.iter().map(|c| int(*c)));
            }
            d.push(int(t.checks.len()));
            for c in &t.checks {
                d.extend([Datum::Text(c.name.clone()), Datum::Text(c.expr.clone())]);
            }
            d.push(Datum::Int(i64::from(t.next_index_id)));
            let constraints: Vec<&IndexDef> = t.indexes.iter().filter(|i| i.constraint).collect();
            d.push(int(constraints.len()));
            d.extend(constraints.iter().map(|i| Datum::Int(i64::from(i.id))));
            if let Some(lock) = &t.lock {
                d.push(Datum::Int(lock.lease_until));
                d.push(Datum::Bytes(lock.scratch.clone()));
            }
        }
        Relation::View(v) => {
            d.extend([Datum::Text("view".into()), Datum::Int(VERSION)]);
            d.extend([Datum::Text(v.name.clone()), Datum::Text(v.sql.clone())]);
            d.push(int(v.columns.len()));
            d.extend(v.columns.iter().map(|c| Datum::Text(c.clone())));
            d.push(int(v.depends_on.len()));
            d.extend(v.depends_on.iter().map(|c| Datum::Text(c.clone())));
            d.push(Datum::Int(v.id as i64));
        }
        Relation::Sequence(q) => {
            d.extend([Datum::Text("sequence".into()), Datum::Int(VERSION)]);
            d.extend([Datum::Int(q.id as i64), Datum::Text(q.name.clone())]);
            d.push(Datum::Int(i64::from(q.data_type.oid())));
            d.extend([q.start, q.increment, q.min, q.max, q.cache].map(Datum::Int));
            d.push(Datum::Bool(q.cycle));
            match &q.owned_by {
                Some((table, column)) => {
                    d.extend([Datum::Int(*table as i64), Datum::Text(column.clone())])
                }
                None => d.extend([Datum::Null, Datum::Null]),
            }
        }
    }
    encode_row(&d)
}

struct Reader {
    fields: std::vec::IntoIter<Datum>,
    at: usize,
}

impl Reader {
    fn bad(&self, reason: &str) -> SqlError {
        SqlError::DataCorrupted {
            what: "catalog descriptor",
            offset: self.at,
            reason: reason.to_string(),
        }
    }

    fn next(&mut self) -> Result<Datum, SqlError> {
        self.at += 1;
        self.fields.next().ok_or_else(|| self.bad("truncated"))
    }

    fn int(&mut self) -> Result<i64, SqlError> {
        match self.next()? {
            Datum::Int(i) => Ok(i),
            _ => Err(self.bad("expected an integer")),
        }
    }

    /// A count or position: non-negative and at most `max`.
    fn small(&mut self, max: usize) -> Result<usize, SqlError> {
        let v = self.int()?;
        usize::try_from(v)
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| self.bad("count out of range"))
    }

    fn text(&mut self) -> Result<String, SqlError> {
        match self.next()? {
            Datum::Text(s) => Ok(s),
            _ => Err(self.bad("expected text")),
        }
    }

    fn opt_text(&mut self) -> Result<Option<String>, SqlError> {
        match self.next()? {
            Datum::Text(s) => Ok(Some(s)),
            Datum::Null => Ok(None),
            _ => Err(self.bad("expected text or null")),
        }
    }

    fn bool(&mut self) -> Result<bool, SqlError> {
        match self.next()? {
            Datum::Bool(b) => Ok(b),
            _ => Err(self.bad("expected a boolean")),
        }
    }

    fn left(&self) -> usize {
        self.fields.len()
    }
}

/// Decodes a descriptor written by [`encode_relation`].
pub fn decode_relation(bytes: &[u8]) -> Result<Relation, SqlError> {
    let fields = decode_row(bytes)?;
    let mut r = Reader {
        fields: fields.into_iter(),
        at: 0,
    };
    let kind = r.text()?;
    if r.int()? != VERSION {
        return Err(r.bad("unknown descriptor version"));
    }
    match kind.as_str() {
        "table" => Ok(Relation::Table(decode_table(&mut r)?)),
        "view" => {
            let name = r.text()?;
            let sql = r.text()?;
            let n = r.small(r.left())?;
            let columns = (0..n).map(|_| r.text()).collect::<Result<_, _>>()?;
            let depends_on = if r.left() == 0 {
                Vec::new()
            } else {
                let n = r.small(r.left())?;
                (0..n).map(|_| r.text()).collect::<Result<_, _>>()?
            };
            let id = if r.left() == 0 {
                0
            } else {
                u64::try_from(r.int()?).map_err(|_| r.bad("negative view id"))?
            };
            Ok(Relation::View(ViewDef {
                name,
                sql,
                columns,
                depends_on,
                id,
            }))
        }
        "sequence" => {
            let id = u64::try_from(r.int()?).map_err(|_| r.bad("negative sequence id"))?;
            let name = r.text()?;
            let data_type = type_from_oid(r.int()?, -1)
                .filter(|t| t.is_integer())
                .ok_or_else(|| r.bad("sequence type"))?;
            let (start, increment, min, max, cache) =
                (r.int()?, r.int()?, r.int()?, r.int()?, r.int()?);
            let cycle = r.bool()?;
            let owned_by = match r.next()? {
                Datum::Int(table) => Some((
                    u64::try_from(table).map_err(|_| r.bad("owner table id"))?,
                    r.text()?,
                )),
                Datum::Null => match r.next()? {
                    Datum::Null => None,
                    _ => return Err(r.bad("expected no owner column")),
                },
                _ => return Err(r.bad("expected the owner table id")),
            };
            if r.left() != 0 {
                return Err(r.bad("trailing fields"));
            }
            Ok(Relation::Sequence(SequenceDef {
                id,
                name,
                data_type,
                start,
                increment,
                min,
                max,
                cache,
                cycle,
                owned_by,
            }))
        }
        _ => Err(r.bad("unknown relation kind")),
    }
}

fn decode_table(r: &mut Reader) -> Result<TableDef, SqlError> {
    let id = u64::try_from(r.int()?).map_err(|_| r.bad("negative table id"))?;
    let name = r.text()?;
    let ncols = r.small(r.left())?;
    let mut columns = Vec::with_capacity(ncols);
    for _ in 0..ncols {
        let name = r.text()?;
        let oid = r.int()?;
        let typmod = r.int()?;
        let data_type = type_from_oid(oid, typmod).ok_or_else(|| r.bad("unknown type"))?;
        let not_null = r.bool()?;
        let default = r.opt_text()?;
        columns.push(ColumnDef {
            name,
            data_type,
            not_null,
            default,
        });
    }
    let nidx = r.small(r.left())?;
    let mut indexes = Vec::with_capacity(nidx);
    for _ in 0..nidx {
        let id = u32::try_from(r.int()?).map_err(|_| r.bad("index id"))?;
        let name = r.text()?;
        let unique = r.bool()?;
        let primary = r.bool()?;
        let n = r.small(r.left())?;
        let cols = (0..n)
            .map(|_| r.small(ncols.saturating_sub(1)))
            .collect::<Result<_, _>>()?;
        indexes.push(IndexDef {
            id,
            name,
            columns: cols,
            unique,
            primary,
            constraint: false,
        });
    }
    if indexes.first().map(|i| i.primary) != Some(true) {
        return Err(r.bad("table without a primary index"));
    }
    let nchecks = r.small(r.left())?;
    let mut checks = Vec::with_capacity(nchecks);
    for _ in 0..nchecks {
        checks.push(CheckDef {
            name: r.text()?,
            expr: r.text()?,
        });
    }
    let next_index_id = u32::try_from(r.int()?).map_err(|_| r.bad("next index id"))?;
    if r.left() != 0 {
        let n = r.small(r.left())?;
        for _ in 0..n {
            let id = r.int()?;
            if let Some(ix) = indexes.iter_mut().find(|i| i64::from(i.id) == id) {
                ix.constraint = true;
            }
        }
    }
    let lock = if r.left() == 0 {
        None
    } else {
        let lease_until = r.int()?;
        match r.next()? {
            Datum::Bytes(scratch) => Some(SchemaLock {
                lease_until,
                scratch,
            }),
            _ => return Err(r.bad("expected the lock's key prefix")),
        }
    };
    if r.left() != 0 {
        return Err(r.bad("trailing fields"));
    }
    Ok(TableDef {
        id,
        name,
        columns,
        indexes,
        checks,
        next_index_id,
        lock,
    })
}

/// The type with PostgreSQL OID `oid` and modifier `typmod`.
pub fn type_from_oid(oid: i64, typmod: i64) -> Option<DataType> {
    let len = u32::try_from(typmod - 4).ok();
    Some(match oid {
        16 => DataType::Bool,
        21 => DataType::Int2,
        23 => DataType::Int4,
        20 => DataType::Int8,
        700 => DataType::Float4,
        701 => DataType::Float8,
        1700 => match len {
            Some(m) => DataType::Numeric {
                precision: Some(m >> 16),
                scale: Some(m & 0xffff),
            },
            None => DataType::NUMERIC,
        },
        25 => DataType::Text,
        1043 => DataType::Varchar(len),
        1042 => DataType::Char(len?),
        17 => DataType::Bytea,
        1082 => DataType::Date,
        1114 => DataType::Timestamp,
        1184 => DataType::TimestampTz,
        1186 => DataType::Interval,
        705 => DataType::Unknown,
        19 => DataType::Name,
        18 => DataType::InternalChar,
        26 => DataType::Oid(OidKind::Oid),
        2205 => DataType::Oid(OidKind::RegClass),
        2206 => DataType::Oid(OidKind::RegType),
        24 => DataType::Oid(OidKind::RegProc),
        4089 => DataType::Oid(OidKind::RegNamespace),
        4096 => DataType::Oid(OidKind::RegRole),
        other => crate::array::array_type_by_oid(u32::try_from(other).ok()?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Relation {
        Relation::Table(TableDef {
            id: 7,
            name: "t".into(),
            columns: vec![
                ColumnDef {
                    name: "a".into(),
                    data_type: DataType::Int4,
                    not_null: true,
                    default: None,
                },
                ColumnDef {
                    name: "b".into(),
                    data_type: DataType::Numeric {
                        precision: Some(10),
                        scale: Some(2),
                    },
                    not_null: false,
                    default: Some("1.5".into()),
                },
                ColumnDef {
                    name: "c".into(),
                    data_type: DataType::Varchar(Some(3)),
                    not_null: false,
                    default: None,
                },
            ],
            indexes: vec![
                IndexDef {
                    id: 1,
                    name: "t_pkey".into(),
                    columns: vec![0],
                    unique: true,
                    primary: true,
                    constraint: false,
                },
                IndexDef {
                    id: 2,
                    name: "t_b_idx".into(),
                    columns: vec![1, 2],
                    unique: false,
                    primary: false,
                    constraint: true,
                },
            ],
            checks: vec![CheckDef {
                name: "t_a_check".into(),
                expr: "a > 0".into(),
            }],
            next_index_id: 3,
            lock: None,
        })
    }

    #[test]
    fn a_schema_lock_round_trips() {
        let Relation::Table(mut t) = sample() else {
            unreachable!()
        };
        t.lock = Some(SchemaLock {
            lease_until: 1_800_000_000_000_000,
            scratch: vec![2, 0x15, 9],
        });
        let rel = Relation::Table(t);
        let bytes = encode_relation(&rel);
        assert_eq!(decode_relation(&bytes).unwrap(), rel);
        for cut in 0..bytes.len() {
            assert!(decode_relation(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn descriptors_round_trip() {
        let t = sample();
        assert_eq!(decode_relation(&encode_relation(&t)).unwrap(), t);
        let v = Relation::View(ViewDef {
            name: "v".into(),
            sql: "SELECT 1".into(),
            columns: vec!["x".into()],
            depends_on: vec!["t".into()],
            id: 7,
        });
        assert_eq!(decode_relation(&encode_relation(&v)).unwrap(), v);
        for owned_by in [None, Some((9, "id".to_string()))] {
            let q = Relation::Sequence(SequenceDef {
                id: 11,
                name: "t_id_seq".into(),
                data_type: DataType::Int4,
                start: 1,
                increment: -3,
                min: i64::MIN,
                max: i64::from(i32::MAX),
                cache: 1,
                cycle: true,
                owned_by,
            });
            let bytes = encode_relation(&q);
            assert_eq!(decode_relation(&bytes).unwrap(), q);
            for cut in 0..bytes.len() {
                assert!(decode_relation(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    /// Found by hand: `CREATE TABLE p (tags text[])` stored a descriptor whose array type
    /// the decoder did not know, so the table and every catalog listing (`\dt`) failed with
    /// "could not decode stored catalog descriptor". Every type a column can have must read
    /// back as itself.
    #[test]
    fn every_column_type_round_trips_through_its_oid_and_typmod() {
        use crate::types::OidKind as K;
        let mut types = vec![
            DataType::Bool,
            DataType::Int2,
            DataType::Int4,
            DataType::Int8,
            DataType::Float4,
            DataType::Float8,
            DataType::NUMERIC,
            DataType::Numeric {
                precision: Some(10),
                scale: Some(2),
            },
            DataType::Numeric {
                precision: Some(5),
                scale: Some(0),
            },
            DataType::Text,
            DataType::Varchar(None),
            DataType::Varchar(Some(20)),
            DataType::Char(3),
            DataType::Bytea,
            DataType::Date,
            DataType::Timestamp,
            DataType::TimestampTz,
            DataType::Interval,
            DataType::Unknown,
            DataType::Name,
            DataType::InternalChar,
        ];
        for k in [
            K::Oid,
            K::RegClass,
            K::RegType,
            K::RegProc,
            K::RegNamespace,
            K::RegRole,
        ] {
            types.push(DataType::Oid(k));
        }
        types.extend(
            crate::array::ELEMENTS
                .iter()
                .map(|(e, _)| DataType::Array(e)),
        );
        for t in types {
            assert_eq!(
                type_from_oid(i64::from(t.oid()), i64::from(t.typmod())),
                Some(t),
                "{t}"
            );
            let Relation::Table(mut table) = sample() else {
                unreachable!()
            };
            table.columns[0].data_type = t;
            let rel = Relation::Table(table);
            assert_eq!(decode_relation(&encode_relation(&rel)).unwrap(), rel, "{t}");
        }
    }

    #[test]
    fn truncated_or_garbled_descriptors_are_errors_not_panics() {
        let bytes = encode_relation(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_relation(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        for i in 0..bad.len() {
            bad[i] ^= 0x5a;
            let _ = decode_relation(&bad);
            bad[i] ^= 0x5a;
        }
    }
}
