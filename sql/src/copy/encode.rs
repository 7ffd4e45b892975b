//! COPY TO's output: one line per row in PostgreSQL's text or CSV format
//! (`CopyAttributeOutText` / `CopyAttributeOutCSV`).
//!
//! ```text
//!   text: fields joined by DELIM, "\n" after each row; NULL is the NULL string (\N);
//!         backslash, DELIM and the control characters are escaped:
//!         \\  \<DELIM>  \b \f \n \r \t \v
//!   CSV:  NULL is the NULL string unquoted (empty by default); a value is quoted when it
//!         contains DELIM, QUOTE, \r or \n, equals the NULL string, is "\." alone in a
//!         one-column row, or its column is in FORCE_QUOTE; inside quotes QUOTE and
//!         ESCAPE are preceded by ESCAPE ("" by default)
//! ```
//!
//! The header line (HEADER) carries the column names in the same quoting.

use crate::copy::options::{CopyFormat, CopyOptions};

/// Appends one row (`None` = NULL) and its newline to `out`. `force_quote[i]`: always
/// quote field `i` (CSV).
pub fn encode_row(
    opts: &CopyOptions,
    values: &[Option<String>],
    force_quote: &[bool],
    out: &mut Vec<u8>,
) {
    let single = values.len() == 1;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(opts.delimiter);
        }
        match v {
            None => out.extend_from_slice(opts.null.as_bytes()),
            Some(s) => match opts.format {
                CopyFormat::Text => text_field(opts, s, out),
                CopyFormat::Csv => {
                    let force = force_quote.get(i).copied().unwrap_or(false);
                    csv_field(opts, s, force, single, out)
                }
            },
        }
    }
    out.push(b'\n');
}

/// The header line: the column names as text (never NULL, never force-quoted).
pub fn encode_header(opts: &CopyOptions, names: &[String], out: &mut Vec<u8>) {
    let values: Vec<Option<String>> = names.iter().cloned().map(Some).collect();
    encode_row(opts, &values, &[], out);
}

fn text_field(opts: &CopyOptions, s: &str, out: &mut Vec<u8>) {
    for &c in s.as_bytes() {
        match c {
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x0b => out.extend_from_slice(b"\\v"),
            c if c == b'\\' || c == opts.delimiter => {
                out.push(b'\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

fn csv_field(opts: &CopyOptions, s: &str, force: bool, single: bool, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let quote = force
        || s == opts.null
        || (single && s == "\\.")
        || bytes
            .iter()
            .any(|&c| c == opts.delimiter || c == opts.quote || c == b'\n' || c == b'\r');
    if !quote {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(opts.quote);
    for &c in bytes {
        if c == opts.quote || c == opts.escape {
            out.push(opts.escape);
        }
        out.push(c);
    }
    out.push(opts.quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::decode::Decoder;

    fn line(opts: &CopyOptions, values: &[Option<&str>], force: &[bool]) -> String {
        let values: Vec<Option<String>> = values.iter().map(|v| v.map(String::from)).collect();
        let mut out = Vec::new();
        encode_row(opts, &values, force, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_output_escapes_like_postgres() {
        let o = CopyOptions::defaults(CopyFormat::Text);
        assert_eq!(
            line(&o, &[Some("a\tb\\c\nd\r"), None, Some("")], &[]),
            "a\\tb\\\\c\\nd\\r\t\\N\t\n"
        );
        let mut o = o;
        o.delimiter = b'|';
        assert_eq!(line(&o, &[Some("x|y"), Some("\\N")], &[]), "x\\|y|\\\\N\n");
    }

    #[test]
    fn csv_output_quotes_only_when_needed() {
        let o = CopyOptions::defaults(CopyFormat::Csv);
        assert_eq!(
            line(
                &o,
                &[
                    Some("plain"),
                    Some("a,b"),
                    Some("say \"hi\""),
                    None,
                    Some("")
                ],
                &[]
            ),
            "plain,\"a,b\",\"say \"\"hi\"\"\",,\"\"\n"
        );
        assert_eq!(line(&o, &[Some("\\.")], &[]), "\"\\.\"\n");
        assert_eq!(
            line(&o, &[Some("x"), Some("y")], &[false, true]),
            "x,\"y\"\n"
        );
    }

    #[test]
    fn encoded_rows_decode_back_to_the_same_values() {
        let values = [
            Some("tab\there"),
            None,
            Some(""),
            Some("quote\" comma, nl\n back\\slash"),
            Some("\\N"),
        ];
        for format in [CopyFormat::Text, CopyFormat::Csv] {
            let o = CopyOptions::defaults(format);
            let text = line(&o, &values, &[]);
            let mut d = Decoder::new(&o, Vec::new(), Vec::new());
            let mut rows = Vec::new();
            d.feed(text.as_bytes(), &mut rows).unwrap();
            let got: Vec<Option<&str>> = rows[0].fields.iter().map(|f| f.as_deref()).collect();
            assert_eq!(got, values, "{format:?}: {text:?}");
        }
    }
}
