//! The performance table: for every configuration, ns per sample-step, GFLOP/s
//! (matrix products only, 2 FLOPs per multiply-add, as `tools/peers.py` counts) and peak RSS.
//!
//! ```text
//! cargo run --release --example perf_table              # a table for people
//! cargo run --release --example perf_table -- --json    # [{"name", "ns_per_step", "gflops", "peak_rss_mb"}, ...]
//! cargo run --release --example perf_table -- --configs lstm-b1-h32,seed-nested --seconds 3
//! ```
//!
//! Each configuration runs in a fresh child process of this program (`--one NAME`), so its
//! peak RSS (`VmHWM` of `/proc/self/status`) is its own. The figure is the median wall time of
//! one forward of the whole batch over the sequence, divided by batch × T; calls are timed one
//! by one for `--seconds` (default 2) after a warm-up.

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::process::Command;
use std::time::{Duration, Instant};

struct Row {
    name: String,
    ns_per_step: f64,
    gflops: f64,
    peak_rss_mb: f64,
}

impl Row {
    fn json(&self) -> String {
        format!(
            "{{\"name\": \"{}\", \"ns_per_step\": {:.2}, \"gflops\": {:.3}, \"peak_rss_mb\": {:.1}}}",
            self.name, self.ns_per_step, self.gflops, self.peak_rss_mb
        )
    }

    fn parse(line: &str) -> Option<Row> {
        let field = |key: &str| -> Option<&str> {
            let start = line.find(&format!("\"{key}\": "))? + key.len() + 4;
            let rest = &line[start..];
            let end = rest.find([',', '}'])?;
            Some(rest[..end].trim().trim_matches('"'))
        };
        Some(Row {
            name: field("name")?.to_string(),
            ns_per_step: field("ns_per_step")?.parse().ok()?,
            gflops: field("gflops")?.parse().ok()?,
            peak_rss_mb: field("peak_rss_mb")?.parse().ok()?,
        })
    }
}

/// Peak resident set size of this process, MB (`VmHWM`).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn measure(name: &str, seconds: f64) -> Row {
    let mut w = workloads::build(name).unwrap_or_else(|| {
        eprintln!(
            "unknown configuration {name}; known: {:?}",
            workloads::NAMES
        );
        std::process::exit(2)
    });
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs_f64(0.3) {
        (w.run)();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || start.elapsed() < Duration::from_secs_f64(seconds) {
        let t = Instant::now();
        (w.run)();
        times.push(t.elapsed().as_nanos() as f64);
    }
    times.sort_by(f64::total_cmp);
    let ns = times[times.len() / 2] / (w.batch * w.steps) as f64;
    Row {
        name: w.name.to_string(),
        ns_per_step: ns,
        gflops: w.flops_per_step / ns,
        peak_rss_mb: peak_rss_mb(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let seconds: f64 = value("--seconds").map_or(2.0, |s| s.parse().expect("--seconds S"));
    if let Some(name) = value("--one") {
        println!("{}", measure(&name, seconds).json());
        return;
    }
    let names: Vec<String> = match value("--configs") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => workloads::NAMES.iter().map(|s| s.to_string()).collect(),
    };
    let exe = std::env::current_exe().expect("own path");
    let mut rows = Vec::new();
    for name in &names {
        let out = Command::new(&exe)
            .args(["--one", name, "--seconds", &seconds.to_string()])
            .output()
            .expect("run a child");
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().last().and_then(Row::parse) {
            Some(row) if out.status.success() => rows.push(row),
            _ => {
                eprintln!("{name}: failed\n{}", String::from_utf8_lossy(&out.stderr));
                std::process::exit(1);
            }
        }
    }
    if args.iter().any(|a| a == "--json") {
        let items: Vec<String> = rows.iter().map(Row::json).collect();
        println!("[{}]", items.join(", "));
    } else {
        println!(
            "{:<24}{:>14}{:>10}{:>14}",
            "name", "ns/step", "GFLOP/s", "peak RSS MB"
        );
        for r in &rows {
            println!(
                "{:<24}{:>14.1}{:>10.2}{:>14.1}",
                r.name, r.ns_per_step, r.gflops, r.peak_rss_mb
            );
        }
    }
}
