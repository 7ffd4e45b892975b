use super::*;
use crate::copy::options::CopyOptions;

fn opts(format: CopyFormat) -> CopyOptions {
    CopyOptions::defaults(format)
}

fn decode_with(o: &CopyOptions, pieces: &[&[u8]]) -> Result<Vec<RawRow>, SqlError> {
    let mut d = Decoder::new(o, Vec::new(), Vec::new());
    let mut out = Vec::new();
    for p in pieces {
        d.feed(p, &mut out)?;
    }
    d.finish(&mut out)?;
    Ok(out)
}

fn fields(rows: &[RawRow]) -> Vec<Vec<Option<&str>>> {
    rows.iter()
        .map(|r| r.fields.iter().map(|f| f.as_deref()).collect())
        .collect()
}

#[test]
fn text_escapes_nulls_and_end_marker() {
    let o = opts(CopyFormat::Text);
    let rows = decode_with(
        &o,
        &[b"1\t\\N\ta\\tb\n2\t\\\\N\t\\101\\x41\\x4g\\q\n\\.\nignored\tafter\n"],
    )
    .unwrap();
    assert_eq!(
        fields(&rows),
        vec![
            vec![Some("1"), None, Some("a\tb")],
            vec![Some("2"), Some("\\N"), Some("AA\x04gq")],
        ]
    );
    assert_eq!((rows[0].line, rows[1].line), (1, 2));
}

#[test]
fn text_escaped_newline_and_delimiter_stay_in_the_field() {
    let o = opts(CopyFormat::Text);
    let rows = decode_with(&o, &[b"a\\\nb\tc\\\td\r\n\n"]).unwrap();
    assert_eq!(
        fields(&rows),
        vec![vec![Some("a\nb"), Some("c\td")], vec![Some("")]]
    );
}

#[test]
fn rows_split_anywhere_across_pieces_decode_the_same() {
    let o = opts(CopyFormat::Csv);
    let data: &[u8] = b"1,\"x,\"\"y\"\"\nz\",\n2,,\"\"\n";
    let whole = decode_with(&o, &[data]).unwrap();
    assert_eq!(
        fields(&whole),
        vec![
            vec![Some("1"), Some("x,\"y\"\nz"), None],
            vec![Some("2"), None, Some("")],
        ]
    );
    for cut in 0..data.len() {
        let (a, b) = data.split_at(cut);
        assert_eq!(decode_with(&o, &[a, b]).unwrap(), whole, "cut at {cut}");
    }
    let t = opts(CopyFormat::Text);
    let text: &[u8] = b"a\\\\\tb\\\nc\n\\N\td\n";
    let whole = decode_with(&t, &[text]).unwrap();
    for cut in 0..text.len() {
        let (a, b) = text.split_at(cut);
        assert_eq!(decode_with(&t, &[a, b]).unwrap(), whole, "cut at {cut}");
    }
}

#[test]
fn csv_header_last_line_without_newline_and_quotes_mid_field() {
    let mut o = opts(CopyFormat::Csv);
    o.header = true;
    let rows = decode_with(&o, &[b"a,b\nx\"y,z\"w,2\n\\.\n"]).unwrap();
    assert_eq!(fields(&rows), vec![vec![Some("xy,zw"), Some("2")]]);
    assert_eq!(rows[0].line, 2);
    let rows = decode_with(&opts(CopyFormat::Csv), &[b"1,2"]).unwrap();
    assert_eq!(fields(&rows), vec![vec![Some("1"), Some("2")]]);
    // A quoted "\." is data, not the end marker.
    let rows = decode_with(&opts(CopyFormat::Csv), &[b"\"\\.\"\n"]).unwrap();
    assert_eq!(fields(&rows), vec![vec![Some("\\.")]]);
}

#[test]
fn csv_custom_escape_and_force_options() {
    let mut o = opts(CopyFormat::Csv);
    o.escape = b'\\';
    let rows = decode_with(&o, &[b"\"a\\\"b\\\\c\",\"\"\n"]).unwrap();
    assert_eq!(fields(&rows), vec![vec![Some("a\"b\\c"), Some("")]]);
    let o = opts(CopyFormat::Csv);
    let mut d = Decoder::new(&o, vec![true, false], vec![false, true]);
    let mut out = Vec::new();
    d.feed(b",\"\"\n", &mut out).unwrap();
    assert_eq!(fields(&out), vec![vec![Some(""), None]]);
}

#[test]
fn csv_unterminated_quote_is_22p04() {
    let e = decode_with(&opts(CopyFormat::Csv), &[b"1,\"abc\n"]).unwrap_err();
    assert_eq!(e.sqlstate(), "22P04");
    assert_eq!(e.to_string(), "unterminated CSV quoted field");
}

#[test]
fn invalid_utf8_is_22021_and_context_text_is_cut() {
    let e = decode_with(&opts(CopyFormat::Text), &[b"\\xff\n"]).unwrap_err();
    assert_eq!(e.sqlstate(), "22021");
    assert_eq!(
        e.to_string(),
        "invalid byte sequence for encoding \"UTF8\": 0xff"
    );
    let long = vec![b'a'; 150];
    let rows = decode_with(&opts(CopyFormat::Text), &[&long]).unwrap();
    assert_eq!(rows[0].text, format!("{}...", "a".repeat(100)));
}

#[test]
fn custom_null_string_is_compared_raw() {
    let mut o = opts(CopyFormat::Text);
    o.null = "NULL".into();
    o.delimiter = b'|';
    let rows = decode_with(&o, &[b"NULL|\\N|a\\|b\n"]).unwrap();
    assert_eq!(fields(&rows), vec![vec![None, Some("N"), Some("a|b")]]);
}
