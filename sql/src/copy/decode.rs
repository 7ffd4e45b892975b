//! COPY FROM's input: a byte stream cut into rows of fields, in PostgreSQL's text and CSV
//! formats, fed in arbitrary pieces (CopyData messages split rows anywhere).
//!
//! # Text format (PostgreSQL `CopyReadLineText` / `CopyReadAttributesText`)
//!
//! ```text
//!   row   = field (DELIM field)* ("\n" | "\r\n")       DELIM is a tab by default
//!   field = raw bytes; a backslash escapes the next byte, newline and DELIM included
//!   "\N"  (the NULL string, compared with the raw field) is NULL
//!   escapes: \b \f \n \r \t \v, \ooo (1-3 octal digits), \xhh (1-2 hex digits),
//!            \c for any other c is c itself
//!   "\." alone on a line ends the data; anything after it is ignored
//! ```
//!
//! # CSV format (`CopyReadLineCSV` / `CopyReadAttributesCSV`)
//!
//! ```text
//!   row   = field (DELIM field)* ("\n" | "\r\n"), newlines inside quotes are data
//!   field = (plain | QUOTE quoted QUOTE)*; inside quotes ESCAPE QUOTE and ESCAPE ESCAPE
//!           stand for QUOTE and ESCAPE (ESCAPE defaults to QUOTE: "" is one ")
//!   an unquoted field equal to the NULL string ("" by default) is NULL; a quoted one is
//!   not (FORCE_NOT_NULL / FORCE_NULL change that per column)
//!   "\." alone on a line (outside quotes) ends the data
//! ```
//!
//! With HEADER the first line is skipped. Line numbers count from 1 and include the
//! header, as in PostgreSQL's `CONTEXT: COPY t, line 3`.
//!
//! Invariants: memory holds at most one incomplete row plus the rows of one `feed`; every
//! byte is bounds-checked (the input is the client's); field text must be UTF-8 (22021).

use crate::copy::options::{CopyFormat, CopyOptions};
use crate::error::SqlError;

/// One input row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based line number (CSV: the logical line, which may span physical lines).
    pub line: u64,
    /// The line as PostgreSQL quotes it in CONTEXT (at most 100 bytes, then "...").
    pub text: String,
    pub fields: Vec<Option<String>>,
}

/// The streaming decoder of one COPY FROM.
pub struct Decoder {
    opts: CopyOptions,
    /// Per field position: FORCE_NOT_NULL / FORCE_NULL (CSV).
    force_not_null: Vec<bool>,
    force_null: Vec<bool>,
    buf: Vec<u8>,
    /// Where scanning for the end of the current row resumes.
    scan: usize,
    /// CSV: inside a quoted section at `scan`.
    in_quote: bool,
    /// Lines seen so far (the number of the last complete row).
    line: u64,
    /// The end marker was seen: ignore the rest.
    ended: bool,
}

/// The longest line text shown in an error context (PostgreSQL's MAX_COPY_DATA_DISPLAY).
const MAX_DISPLAY: usize = 100;

pub fn bad_format(message: impl Into<String>) -> SqlError {
    SqlError::BadCopyFileFormat {
        message: message.into(),
    }
}

impl Decoder {
    pub fn new(opts: &CopyOptions, force_not_null: Vec<bool>, force_null: Vec<bool>) -> Decoder {
        Decoder {
            opts: opts.clone(),
            force_not_null,
            force_null,
            buf: Vec::new(),
            scan: 0,
            in_quote: false,
            line: 0,
            ended: false,
        }
    }

    /// The number of the line being read (for error context).
    pub fn line(&self) -> u64 {
        self.line + 1
    }

    /// Bytes buffered for an incomplete row.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Adds `data` and appends every row it completes to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<RawRow>) -> Result<(), SqlError> {
        if self.ended {
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        let mut start = 0;
        let mut i = self.scan;
        let csv = self.opts.format == CopyFormat::Csv;
        while i < self.buf.len() {
            let c = self.buf[i];
            if csv {
                if c == self.opts.quote {
                    self.in_quote = !self.in_quote;
                } else if self.in_quote
                    && c == self.opts.escape
                    && self.opts.escape != self.opts.quote
                {
                    // ESCAPE inside quotes takes the next byte with it.
                    if i + 1 >= self.buf.len() {
                        break;
                    }
                    i += 1;
                }
            } else if c == b'\\' {
                if i + 1 >= self.buf.len() {
                    break;
                }
                i += 1;
            }
            if c == b'\n' && !self.in_quote {
                let end = i;
                i += 1;
                let line = self.buf[start..end].to_vec();
                start = i;
                if self.take_line(&line, out)? {
                    self.buf.clear();
                    self.scan = 0;
                    return Ok(());
                }
                continue;
            }
            i += 1;
        }
        self.buf.drain(..start);
        self.scan = i - start;
        Ok(())
    }

    /// The end of the input (CopyDone): a last row without a newline is a row.
    pub fn finish(&mut self, out: &mut Vec<RawRow>) -> Result<(), SqlError> {
        if self.ended || self.buf.is_empty() {
            return Ok(());
        }
        if self.in_quote {
            return Err(bad_format("unterminated CSV quoted field"));
        }
        let line = std::mem::take(&mut self.buf);
        self.scan = 0;
        self.take_line(&line, out)?;
        Ok(())
    }

    /// Handles one complete line (without its `\n`); true at the end marker.
    fn take_line(&mut self, line: &[u8], out: &mut Vec<RawRow>) -> Result<bool, SqlError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"\\." {
            self.ended = true;
            return Ok(true);
        }
        self.line += 1;
        if self.opts.header && self.line == 1 {
            return Ok(false);
        }
        let fields = match self.opts.format {
            CopyFormat::Text => self.text_fields(line)?,
            CopyFormat::Csv => self.csv_fields(line)?,
        };
        out.push(RawRow {
            line: self.line,
            text: display(line),
            fields,
        });
        Ok(false)
    }

    fn text_fields(&self, line: &[u8]) -> Result<Vec<Option<String>>, SqlError> {
        let mut fields = Vec::new();
        let mut start = 0;
        let mut i = 0;
        loop {
            if i >= line.len() || line[i] == self.opts.delimiter {
                let raw = &line[start..i.min(line.len())];
                fields.push(if raw == self.opts.null.as_bytes() {
                    None
                } else {
                    Some(utf8(unescape_text(raw))?)
                });
                if i >= line.len() {
                    return Ok(fields);
                }
                start = i + 1;
            } else if line[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
    }

    fn csv_fields(&self, line: &[u8]) -> Result<Vec<Option<String>>, SqlError> {
        let (delim, quote, escape) = (self.opts.delimiter, self.opts.quote, self.opts.escape);
        let mut fields = Vec::new();
        let mut i = 0;
        loop {
            let start = i;
            let mut value = Vec::new();
            let mut saw_quote = false;
            let mut in_quote = false;
            while i < line.len() {
                let c = line[i];
                i += 1;
                if in_quote {
                    if c == escape && i < line.len() && (line[i] == quote || line[i] == escape) {
                        value.push(line[i]);
                        i += 1;
                    } else if c == quote {
                        in_quote = false;
                    } else {
                        value.push(c);
                    }
                } else if c == delim {
                    i -= 1;
                    break;
                } else if c == quote {
                    in_quote = true;
                    saw_quote = true;
                } else {
                    value.push(c);
                }
            }
            if in_quote {
                return Err(bad_format("unterminated CSV quoted field"));
            }
            let raw = &line[start..i];
            let n = fields.len();
            let is_null_text = if saw_quote {
                value == self.opts.null.as_bytes()
            } else {
                raw == self.opts.null.as_bytes()
            };
            let forced_null = saw_quote && self.force_null.get(n).copied().unwrap_or(false);
            let null = is_null_text
                && (!saw_quote || forced_null)
                && !self.force_not_null.get(n).copied().unwrap_or(false);
            fields.push(if null { None } else { Some(utf8(value)?) });
            if i >= line.len() {
                return Ok(fields);
            }
            i += 1; // the delimiter
        }
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, SqlError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bad = e.as_bytes().get(at).copied().unwrap_or(0);
        SqlError::CharacterNotInRepertoire {
            message: format!("invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"),
        }
    })
}

/// The line as CONTEXT shows it: lossy UTF-8, cut at 100 bytes with "...".
fn display(line: &[u8]) -> String {
    if line.len() <= MAX_DISPLAY {
        return String::from_utf8_lossy(line).into_owned();
    }
    let mut cut = MAX_DISPLAY;
    while cut > 0 && (line[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    format!("{}...", String::from_utf8_lossy(&line[..cut]))
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A text-format field with its backslash escapes resolved.
pub fn unescape_text(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = raw.get(i) else { break };
        i += 1;
        out.push(match e {
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                (v & 0xff) as u8
            }
            b'x' => match raw.get(i).copied().and_then(hex) {
                Some(h) => {
                    i += 1;
                    match raw.get(i).copied().and_then(hex) {
                        Some(l) => {
                            i += 1;
                            h * 16 + l
                        }
                        None => h,
                    }
                }
                None => b'x',
            },
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            other => other,
        });
    }
    out
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
