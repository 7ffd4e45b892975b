//! Result rows on the wire: `RowDescription` and `DataRow` in text or binary format.
//!
//! ```text
//!   RowDescription  'T' | int32 len | int16 ncols | per column:
//!                   cstring name | int32 table oid (0) | int16 column no (0)
//!                   | int32 type oid | int16 typlen | int32 typmod | int16 format
//!   DataRow         'D' | int32 len | int16 ncols | per column:
//!                   int32 length (-1 = NULL) | bytes (text output or binary send form)
//! ```
//!
//! Result formats come from Bind: none means all text, one applies to every column,
//! otherwise one per column. A simple Query always gets text.

use bytes::{BufMut, BytesMut};
use ferrisdb_sql::Datum;
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};

use super::binary;
use super::errors::PgError;
use super::session::OutputColumn;

pub const TEXT: i16 = 0;
pub const BINARY: i16 = 1;

/// The format of column `i` under Bind's result format codes.
pub fn format_of(formats: &[i16], i: usize) -> i16 {
    match formats {
        [] => TEXT,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(TEXT),
    }
}

/// Checks that every format code is text or binary.
pub fn check_codes(formats: &[i16]) -> Result<(), PgError> {
    match formats.iter().find(|f| !matches!(**f, TEXT | BINARY)) {
        Some(bad) => Err(PgError::FormatCode(*bad)),
        None => Ok(()),
    }
}

/// Checks Bind's result format codes against a result of `columns` columns.
pub fn check_formats(formats: &[i16], columns: usize) -> Result<(), PgError> {
    check_codes(formats)?;
    if formats.len() > 1 && formats.len() != columns {
        return Err(PgError::ResultFormatCount {
            given: formats.len(),
            needed: columns,
        });
    }
    Ok(())
}

pub fn row_description(columns: &[OutputColumn], formats: &[i16]) -> RowDescription {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldDescription::new(
                c.name.clone(),
                0,
                0,
                c.data_type.oid(),
                c.data_type.type_len(),
                c.data_type.typmod(),
                format_of(formats, i),
            )
        })
        .collect();
    RowDescription::new(fields)
}

pub fn data_row(
    row: &[Datum],
    columns: &[OutputColumn],
    formats: &[i16],
) -> Result<DataRow, PgError> {
    if row.len() != columns.len() {
        return Err(PgError::Encode(format!(
            "a row of {} values for {} columns",
            row.len(),
            columns.len()
        )));
    }
    let mut data = BytesMut::new();
    let mut value = Vec::new();
    for (i, (datum, column)) in row.iter().zip(columns).enumerate() {
        if datum.is_null() {
            data.put_i32(-1);
            continue;
        }
        value.clear();
        if format_of(formats, i) == BINARY {
            binary::encode(datum, &column.data_type, &mut value)?;
        } else if let Some(text) = datum.to_text(&column.data_type) {
            value.extend_from_slice(text.as_bytes());
        }
        let len = i32::try_from(value.len())
            .map_err(|_| PgError::Encode("a value longer than 2 GiB".into()))?;
        data.put_i32(len);
        data.put_slice(&value);
    }
    let count =
        i16::try_from(row.len()).map_err(|_| PgError::Encode("more than 32767 columns".into()))?;
    Ok(DataRow::new(data, count))
}
