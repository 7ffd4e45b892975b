//! `ferrisdb bench sql`: in-process SQL micro-benchmarks (issue 4), one session on an
//! embedded cluster in a temporary directory, every statement in autocommit:
//!
//! ```text
//!   point pk     SELECT v FROM kv WHERE id = $random                 (primary-key lookup)
//!   point index  SELECT id FROM kv WHERE k2 = $random                (secondary-index lookup)
//!   range 1000   SELECT id, v FROM kv WHERE id >= $r AND id < $r + 1000
//!   insert       INSERT INTO ins VALUES ($n, $n, 'x...')             (one durable commit each)
//!   hash join    SELECT count(*) FROM a JOIN b ON a.x = b.y          (10,000 x 10,000 rows)
//!   group by     SELECT k2 % 100, count(*), sum(id) FROM kv GROUP BY 1   (over --rows rows)
//! ```
//!
//! `kv` has `--rows` rows (default 100,000): `id` is the primary key, `k2 = id * 7 mod rows`
//! has a secondary index, `v` is 100 bytes. Each workload runs for `--seconds` (at least one
//! statement); the report gives statements per second and p50/p99 latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrisdb_sql::{Engine, Session, StatementResult};
use ferrisdb_txn::{Database, EmbeddedCluster, EmbeddedOptions};

pub struct BenchArgs {
    pub rows: u64,
    pub seconds: f64,
    /// Run only the workloads whose name contains one of these (all when empty).
    pub only: Vec<String>,
}

fn exec(s: &mut Session, sql: &str) -> Result<Vec<StatementResult>, String> {
    s.execute(sql).map_err(|e| format!("{sql}: {e}"))
}

fn load(s: &mut Session, rows: u64) -> Result<(), String> {
    exec(
        s,
        "CREATE TABLE kv (id BIGINT PRIMARY KEY, k2 BIGINT, v TEXT)",
    )?;
    exec(s, "CREATE INDEX kv_k2 ON kv (k2)")?;
    exec(
        s,
        "CREATE TABLE ins (id BIGINT PRIMARY KEY, k2 BIGINT, v TEXT)",
    )?;
    exec(s, "CREATE TABLE a (id INT PRIMARY KEY, x INT)")?;
    exec(s, "CREATE TABLE b (id INT PRIMARY KEY, y INT)")?;
    let value = "v".repeat(100);
    let mut n = 0;
    while n < rows {
        let end = (n + 1000).min(rows);
        let values: Vec<String> = (n..end)
            .map(|i| format!("({i}, {}, '{value}')", i * 7 % rows))
            .collect();
        exec(s, &format!("INSERT INTO kv VALUES {}", values.join(",")))?;
        n = end;
    }
    for (t, col) in [("a", "x"), ("b", "y")] {
        for chunk in 0..10 {
            let values: Vec<String> = (chunk * 1000..(chunk + 1) * 1000)
                .map(|i| format!("({i}, {})", i * 13 % 10_000))
                .collect();
            exec(
                s,
                &format!("INSERT INTO {t} (id, {col}) VALUES {}", values.join(",")),
            )?;
        }
    }
    Ok(())
}

struct Row {
    name: &'static str,
    ops: usize,
    per_sec: f64,
    p50_us: u128,
    p99_us: u128,
}

fn measure(
    name: &'static str,
    seconds: f64,
    only: &[String],
    mut op: impl FnMut(u64) -> Result<(), String>,
) -> Result<Option<Row>, String> {
    if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
        return Ok(None);
    }
    let start = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    let mut lat = Vec::new();
    let mut i = 0u64;
    while lat.is_empty() || start.elapsed() < budget {
        let t = Instant::now();
        op(i)?;
        lat.push(t.elapsed().as_micros());
        i += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    eprintln!("  {name}: {} statements", lat.len());
    Ok(Some(Row {
        name,
        ops: lat.len(),
        per_sec: lat.len() as f64 / elapsed,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
    }))
}

fn rows_of(r: &[StatementResult]) -> usize {
    match r.last() {
        Some(StatementResult::Query { rows, .. }) => rows.len(),
        _ => 0,
    }
}

fn rand(i: u64, n: u64) -> u64 {
    (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17) % n.max(1)
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cluster =
        EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).map_err(|e| e.to_string())?;
    let engine = Engine::new(Database::from_backend(Arc::new(cluster)));
    let mut s = engine.session();
    let t = Instant::now();
    load(&mut s, args.rows)?;
    eprintln!(
        "loaded {} rows in {:.1} s",
        args.rows,
        t.elapsed().as_secs_f64()
    );
    let (n, secs) = (args.rows, args.seconds);
    let mut out = Vec::new();
    out.extend(measure(
        "point select by primary key",
        secs,
        &args.only,
        |i| {
            let r = exec(
                &mut s,
                &format!("SELECT v FROM kv WHERE id = {}", rand(i, n)),
            )?;
            (rows_of(&r) == 1)
                .then_some(())
                .ok_or("point select found no row".into())
        },
    )?);
    out.extend(measure(
        "point select by secondary index",
        secs,
        &args.only,
        |i| {
            let r = exec(
                &mut s,
                &format!("SELECT id FROM kv WHERE k2 = {}", rand(i, n)),
            )?;
            (rows_of(&r) >= 1)
                .then_some(())
                .ok_or("index select found no row".into())
        },
    )?);
    out.extend(measure("1,000-row range scan", secs, &args.only, |i| {
        let lo = rand(i, n.saturating_sub(1000));
        let r = exec(
            &mut s,
            &format!(
                "SELECT id, v FROM kv WHERE id >= {lo} AND id < {}",
                lo + 1000
            ),
        )?;
        (rows_of(&r) == 1000.min(n as usize))
            .then_some(())
            .ok_or("range scan came up short".into())
    })?);
    out.extend(measure("single-row INSERT", secs, &args.only, |i| {
        exec(
            &mut s,
            &format!("INSERT INTO ins VALUES ({i}, {i}, 'xxxxxxxxxxxxxxxxxxxx')"),
        )
        .map(|_| ())
    })?);
    out.extend(measure("10k x 10k hash join", secs, &args.only, |_| {
        exec(&mut s, "SELECT count(*) FROM a JOIN b ON a.x = b.y").map(|_| ())
    })?);
    out.extend(measure(
        "GROUP BY over all kv rows",
        secs,
        &args.only,
        |_| {
            let r = exec(
                &mut s,
                "SELECT k2 % 100, count(*), sum(id) FROM kv GROUP BY 1",
            )?;
            (rows_of(&r) == 100.min(n as usize))
                .then_some(())
                .ok_or("group by lost groups".into())
        },
    )?);
    println!(
        "{:34} {:>8} {:>12} {:>9} {:>9}",
        "workload", "runs", "per second", "p50 us", "p99 us"
    );
    for r in &out {
        println!(
            "{:34} {:>8} {:>12.1} {:>9} {:>9}",
            r.name, r.ops, r.per_sec, r.p50_us, r.p99_us
        );
    }
    if let Ok(plan) = exec(&mut s, "EXPLAIN SELECT count(*) FROM a JOIN b ON a.x = b.y") {
        if let Some(StatementResult::Query { rows, columns, .. }) = plan.last() {
            println!("\nplan of the join:");
            for r in rows {
                for (d, c) in r.iter().zip(columns) {
                    println!("  {}", d.to_text(&c.data_type).unwrap_or_default());
                }
            }
        }
    }
    Ok(())
}
