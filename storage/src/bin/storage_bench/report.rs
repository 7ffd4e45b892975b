//! Measurements, the child-to-parent line protocol, peak memory, and the combined table.
//!
//! A child prints one line per workload:
//! `@result workload=NAME ops=N secs=F bytes=N found=N|- wa=F|-`
//! and finally `@peak_kb N` (VmHWM). Anything else on stdout is ignored by the parent, and
//! progress goes to stderr, so the protocol cannot be confused by chatter.

use crate::options::BenchOptions;

/// One workload's result on one engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub workload: String,
    pub ops: u64,
    pub secs: f64,
    /// Key + value bytes written or returned.
    pub bytes: u64,
    /// Read workloads: how many lookups/seeks found their key.
    pub found: Option<u64>,
    pub write_amp: Option<f64>,
}

impl Measurement {
    pub fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    /// MiB per second, as db_bench's "MB/s".
    pub fn mb_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.bytes as f64 / 1_048_576.0 / self.secs
        } else {
            0.0
        }
    }

    pub fn to_line(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        format!(
            "@result workload={} ops={} secs={:.6} bytes={} found={} wa={}",
            self.workload,
            self.ops,
            self.secs,
            self.bytes,
            opt(self.found.map(|f| f.to_string())),
            opt(self.write_amp.map(|w| format!("{w:.4}"))),
        )
    }

    pub fn from_line(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("@result ")?;
        let field = |name: &str| {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        let optional = |name: &str| field(name).filter(|v| *v != "-");
        Some(Measurement {
            workload: field("workload")?.to_string(),
            ops: field("ops")?.parse().ok()?,
            secs: field("secs")?.parse().ok()?,
            bytes: field("bytes")?.parse().ok()?,
            found: optional("found").and_then(|v| v.parse().ok()),
            write_amp: optional("wa").and_then(|v| v.parse().ok()),
        })
    }
}

/// Everything the parent learned about one engine.
#[derive(Debug, Clone)]
pub struct EngineRun {
    pub name: String,
    pub results: Vec<Measurement>,
    pub peak_kb: Option<u64>,
    pub error: Option<String>,
}

impl EngineRun {
    pub fn new(name: &str) -> Self {
        EngineRun {
            name: name.to_string(),
            results: Vec::new(),
            peak_kb: None,
            error: None,
        }
    }

    pub fn failed(mut self, why: String) -> Self {
        self.error = Some(why);
        self
    }

    fn get(&self, workload: &str) -> Option<&Measurement> {
        self.results.iter().find(|m| m.workload == workload)
    }
}

/// This process's peak resident set (VmHWM) in KiB, from `/proc/self/status`.
pub fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Workload rows in display order.
pub fn workload_order(opts: &BenchOptions) -> Vec<String> {
    let mut w: Vec<String> = [
        "fillseq",
        "fillrandom",
        "overwrite",
        "readrandom",
        "readseq",
        "seekrandom",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    w.extend(opts.sync_threads.iter().map(|t| format!("fillsync-{t}")));
    w
}

const CELL: usize = 32;
const LABEL: usize = 17;

fn cell(m: Option<&Measurement>) -> String {
    let Some(m) = m else {
        return format!("{:>CELL$}", "-");
    };
    let wa = match (
        m.write_amp,
        m.workload.starts_with("fill") || m.workload == "overwrite",
    ) {
        (Some(w), _) => format!("{w:.2}"),
        (None, true) => "n/a".to_string(),
        (None, false) => String::new(),
    };
    format!(
        "{:>12} {:>9.1} {:>9}",
        thousands(m.ops_per_sec().round() as u64),
        m.mb_per_sec(),
        wa
    )
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The combined side-by-side table.
pub fn render_table(opts: &BenchOptions, runs: &[EngineRun]) -> String {
    let mut t = String::new();
    t.push_str(&format!("storage-bench: {}\n\n", opts.describe()));
    t.push_str(&format!("{:<LABEL$}", "workload"));
    for r in runs {
        t.push_str(&format!(" | {:^CELL$}", r.name));
    }
    t.push_str(&format!("\n{:<LABEL$}", ""));
    for _ in runs {
        t.push_str(&format!(" | {:>12} {:>9} {:>9}", "ops/s", "MB/s", "W-amp"));
    }
    t.push_str(&format!(
        "\n{}\n",
        "-".repeat(LABEL + runs.len() * (CELL + 3))
    ));
    for w in workload_order(opts) {
        t.push_str(&format!("{w:<LABEL$}"));
        for r in runs {
            t.push_str(&format!(" | {}", cell(r.get(&w))));
        }
        t.push('\n');
    }
    t.push_str(&format!(
        "{}\n",
        "-".repeat(LABEL + runs.len() * (CELL + 3))
    ));
    t.push_str(&footer_rows(runs));
    t.push_str(
        "\nW-amp = table bytes written by flushes + compactions / user key+value bytes of the \
         phase (WAL excluded); n/a = not exposed by the engine's API.\n",
    );
    for r in runs {
        if let Some(e) = &r.error {
            t.push_str(&format!("{}: FAILED: {e}\n", r.name));
        }
    }
    t
}

fn footer_rows(runs: &[EngineRun]) -> String {
    let mut t = String::new();
    for w in ["readrandom", "seekrandom"] {
        t.push_str(&format!("{:<LABEL$}", format!("{w} found")));
        for r in runs {
            let v = r
                .get(w)
                .and_then(|m| {
                    m.found
                        .map(|f| format!("{} of {}", thousands(f), thousands(m.ops)))
                })
                .unwrap_or_else(|| "-".into());
            t.push_str(&format!(" | {v:>CELL$}"));
        }
        t.push('\n');
    }
    t.push_str(&format!("{:<LABEL$}", "peak memory"));
    for r in runs {
        let v = r
            .peak_kb
            .map(|kb| format!("{:.1} MiB VmHWM", kb as f64 / 1024.0))
            .unwrap_or_else(|| "-".into());
        t.push_str(&format!(" | {v:>CELL$}"));
    }
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_line_round_trips() {
        let m = Measurement {
            workload: "fillsync-4".into(),
            ops: 20_000,
            secs: 1.5,
            bytes: 2_320_000,
            found: None,
            write_amp: Some(1.25),
        };
        assert_eq!(Measurement::from_line(&m.to_line()), Some(m.clone()));
        let r = Measurement {
            found: Some(7),
            write_amp: None,
            ..m
        };
        assert_eq!(Measurement::from_line(&r.to_line()), Some(r));
        assert_eq!(Measurement::from_line("fillseq : 1 ops"), None);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
