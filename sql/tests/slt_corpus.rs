//! A small sqllogictest reader run over SQLite's select1-3 corpus (the lead's runner crate
//! is the real one; this only measures the engine). Records are compared value-wise,
//! with `rowsort` / `valuesort`, and results of more than 8 values as the MD5 of the
//! values (one per line), as the corpus expects. Run with
//! `cargo test -p ferrisdb-sql --test slt_corpus -- --ignored --nocapture`.

use std::path::Path;
use std::sync::Arc;

use ferrisdb_sql::{Engine, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

mod md5 {
    /// MD5 (RFC 1321), hex.
    pub fn hex(data: &[u8]) -> String {
        let s: [u32; 64] = [
            7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20,
            5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
        ];
        let k: Vec<u32> = (0..64)
            .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
            .collect();
        let (mut a0, mut b0, mut c0, mut d0) =
            (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
        let mut msg = data.to_vec();
        let bits = (data.len() as u64).wrapping_mul(8);
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&bits.to_le_bytes());
        for chunk in msg.chunks(64) {
            let m: Vec<u32> = chunk
                .chunks(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect();
            let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
            for i in 0..64 {
                let (f, g) = match i / 16 {
                    0 => ((b & c) | (!b & d), i),
                    1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                    2 => (b ^ c ^ d, (3 * i + 5) % 16),
                    _ => (c ^ (b | !d), (7 * i) % 16),
                };
                let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
                a = d;
                d = c;
                c = b;
                b = b.wrapping_add(f.rotate_left(s[i]));
            }
            a0 = a0.wrapping_add(a);
            b0 = b0.wrapping_add(b);
            c0 = c0.wrapping_add(c);
            d0 = d0.wrapping_add(d);
        }
        [a0, b0, c0, d0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

struct Counts {
    passed: usize,
    failed: usize,
    first_failures: Vec<String>,
}

fn run_file(path: &Path) -> Counts {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    let mut s = engine.session();
    let text = std::fs::read_to_string(path).unwrap();
    let mut c = Counts {
        passed: 0,
        failed: 0,
        first_failures: Vec::new(),
    };
    let records: Vec<&str> = text.split("\n\n").collect();
    for rec in records {
        let lines: Vec<&str> = rec.lines().filter(|l| !l.starts_with('#')).collect();
        let mut i = 0;
        let mut skip = false;
        while i < lines.len() && (lines[i].starts_with("skipif") || lines[i].starts_with("onlyif"))
        {
            let label = lines[i].split_whitespace().nth(1).unwrap_or("");
            if lines[i].starts_with("skipif") && label == "postgresql" {
                skip = true;
            }
            if lines[i].starts_with("onlyif") && label != "postgresql" {
                skip = true;
            }
            i += 1;
        }
        if skip || i >= lines.len() {
            continue;
        }
        let head: Vec<&str> = lines[i].split_whitespace().collect();
        let body = &lines[i + 1..];
        let ok = match head.first().copied() {
            Some("statement") => {
                let sql = body.join("\n");
                let r = s.execute(&sql);
                (head.get(1) == Some(&"ok")) == r.is_ok()
            }
            Some("query") => {
                let sep = body.iter().position(|l| *l == "----").unwrap_or(body.len());
                let sql = body[..sep].join("\n");
                let expected: Vec<String> = body
                    .get(sep + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let sort = head.get(2).copied().unwrap_or("nosort");
                match s.execute(&sql) {
                    Ok(mut res) => match res.pop() {
                        Some(StatementResult::Query { columns, rows, .. }) => {
                            let mut rows: Vec<Vec<String>> = rows
                                .iter()
                                .map(|r| {
                                    r.iter()
                                        .zip(&columns)
                                        .map(|(d, c)| match d.to_text(&c.data_type) {
                                            None => "NULL".to_string(),
                                            Some(t) if t.is_empty() => "(empty)".to_string(),
                                            Some(t) => t,
                                        })
                                        .collect()
                                })
                                .collect();
                            if sort == "rowsort" {
                                rows.sort();
                            }
                            let mut vals: Vec<String> = rows.into_iter().flatten().collect();
                            if sort == "valuesort" {
                                vals.sort();
                            }
                            let got = if vals.len() > 8 {
                                let mut joined = vals.join("\n");
                                joined.push('\n');
                                vec![format!(
                                    "{} values hashing to {}",
                                    vals.len(),
                                    md5::hex(joined.as_bytes())
                                )]
                            } else {
                                vals
                            };
                            let ok = got == expected;
                            if !ok && c.first_failures.len() < 15 {
                                c.first_failures
                                    .push(format!("{sql}\n  expected {expected:?}\n  got {got:?}"));
                            }
                            ok
                        }
                        _ => false,
                    },
                    Err(e) => {
                        if c.first_failures.len() < 15 {
                            c.first_failures.push(format!("{sql}\n  error {e}"));
                        }
                        false
                    }
                }
            }
            _ => continue,
        };
        if ok {
            c.passed += 1;
        } else {
            c.failed += 1;
        }
    }
    c
}

#[test]
fn md5_matches_known_digest() {
    assert_eq!(md5::hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5::hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
}

#[test]
#[ignore = "slow: runs the SQLite select corpus; use --ignored --nocapture"]
fn sqlite_select_corpus() {
    let dir = Path::new("/work/shared/sqllogictest");
    for f in ["select1.test", "select2.test", "select3.test"] {
        let p = dir.join(f);
        if !p.exists() {
            continue;
        }
        let c = run_file(&p);
        println!("{f}: {} passed, {} failed", c.passed, c.failed);
        for x in &c.first_failures {
            println!("  FAIL {x}");
        }
    }
}
