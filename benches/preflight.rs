//! `cargo bench --bench preflight`: whole-process `gate evaluate` of the whole
//! built-in catalogue (27 checks) against local services: PostgreSQL with a
//! streaming replica, HAProxy with two nginx servers, Prometheus, Redis, TLS
//! and HTTP endpoints (the scenario of `tests/catalogue/mod.rs`, also run by
//! `tests/catalogue.rs`).
//!
//! Runs the policy `GATE_BENCH_RUNS` times (default 15) with a warm cache,
//! after one cold run for reference, and prints medians with quartiles: the
//! whole-process wall time, where it goes (start-up, the concurrent check
//! phase, the rest of the process), the time the checks spent in plugins
//! (guest code) and in host capabilities, and the slowest checks. The
//! machines are noisy, so no single run means much.

#[path = "../tests/catalogue/mod.rs"]
mod catalogue;
#[path = "../tests/services/mod.rs"]
mod services;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use catalogue::{CHECKS, Catalogue, Evaluation};

/// (q1, median, q3) of `v`.
fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    assert!(!v.is_empty());
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn median(v: Vec<f64>) -> f64 {
    quartiles(v).1
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// Children's user + system CPU time so far (from /proc/self/stat, in
/// clock ticks of 10 ms): the delta around one `gate` run is its CPU time.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 16 and 17 (cutime, cstime); `fields[0]` is field 3.
    let ticks: u64 = [13, 14]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// One measured run.
struct Sample {
    wall_ms: f64,
    cpu_ms: f64,
    startup_ms: f64,
    checks_ms: f64,
    plugin_ms: f64,
    host_ms: f64,
    /// check id → (duration_ms, host_ms)
    per_check: BTreeMap<String, (f64, f64)>,
}

fn measure(cat: &Catalogue, cache: &Path) -> Sample {
    let cpu_before = children_cpu();
    let run = cat.evaluate(cache);
    let cpu = children_cpu().saturating_sub(cpu_before);
    check_healthy(&run);
    let t = &run.report["timings"];
    let ms = |v: &serde_json::Value| v.as_f64().expect("timing in ms");
    let per_check = run
        .checks()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                (ms(&c["duration_ms"]), ms(&c["host_ms"])),
            )
        })
        .collect();
    Sample {
        wall_ms: run.wall.as_secs_f64() * 1000.0,
        cpu_ms: cpu.as_secs_f64() * 1000.0,
        startup_ms: ms(&t["startup_ms"]),
        checks_ms: ms(&t["checks_ms"]),
        plugin_ms: ms(&t["plugin_ms"]),
        host_ms: ms(&t["host_ms"]),
        per_check,
    }
}

/// A bench of a failing policy measures the wrong thing: stop loudly.
fn check_healthy(run: &Evaluation) {
    assert!(
        run.code == 0 && run.not_passing().is_empty() && run.checks().len() == CHECKS.len(),
        "the catalogue did not pass (exit {}):\n{}",
        run.code,
        run.explain()
    );
}

fn row(label: &str, v: Vec<f64>) -> f64 {
    let n = v.len();
    let (q1, med, q3) = quartiles(v);
    println!("{label:<46} median {med:>8.1} ms   (q1 {q1:.1}, q3 {q3:.1}, n={n})");
    med
}

fn main() {
    let runs: usize = std::env::var("GATE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(15);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    println!(
        "gate evaluate, whole catalogue ({} checks) against local services; {runs} warm runs, {cpus} CPUs, load average {load} at start\n",
        CHECKS.len()
    );

    let started = Instant::now();
    let cat = Catalogue::start();
    for (step, took) in &cat.startup {
        println!("  start-up: {step:<60} {took:>8.2?}");
    }
    println!(
        "  services and fixtures ready in {:.2?}\n",
        started.elapsed()
    );

    let scratch = tempfile::tempdir().expect("scratch dir");
    let cache = scratch.path().join("cache");
    // Cold: empty cache, the three built-in plugins are compiled.
    let cold = measure(&cat, &cache);
    // One warm-up, then the measured runs.
    measure(&cat, &cache);
    let samples: Vec<Sample> = (0..runs).map(|_| measure(&cat, &cache)).collect();
    let col = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();

    println!("cold cache (compiles the plugins), 1 run:");
    println!(
        "  whole process {:.1} ms, of which start-up {:.1} ms; checks {:.1} ms\n",
        cold.wall_ms, cold.startup_ms, cold.checks_ms
    );

    println!("warm cache, whole process:");
    let wall = row("  wall time", col(|s| s.wall_ms));
    let cpu = row("  CPU time (user + system)", col(|s| s.cpu_ms));
    println!();

    println!("wall-clock split (from the report's timings):");
    let startup = row("  start-up (to the first check)", col(|s| s.startup_ms));
    let checks = row(
        "  check phase (27 checks, concurrent)",
        col(|s| s.checks_ms),
    );
    let rest = row(
        "  rest (exec, report, exit)",
        col(|s| (s.wall_ms - s.startup_ms - s.checks_ms).max(0.0)),
    );
    println!(
        "  shares of the median wall time: start-up {:.0}%, check phase {:.0}%, rest {:.0}%\n",
        pct(startup, wall),
        pct(checks, wall),
        pct(rest, wall)
    );

    println!("time inside checks, summed over the 27 checks (they overlap):");
    let plugin = row("  plugins (guest code)", col(|s| s.plugin_ms));
    let host = row("  host capabilities (and WASI)", col(|s| s.host_ms));
    let host_share = median(col(|s| pct(s.host_ms, s.host_ms + s.plugin_ms)));
    let overlap = median(col(|s| (s.plugin_ms + s.host_ms) / s.checks_ms.max(1.0)));
    println!(
        "  host share of check time {host_share:.0}%, plugin share {:.0}%; summed check time is {overlap:.1}x the check phase's wall time",
        100.0 - host_share
    );
    // The check phase's wall time, attributed pro rata to plugin and host.
    let in_plugin = checks * (100.0 - host_share) / 100.0;
    let in_host = checks * host_share / 100.0;
    println!(
        "  whole-process attribution: start-up {:.0}%, plugins {:.0}%, host {:.0}%, rest {:.0}% (check phase split pro rata)\n",
        pct(startup, wall),
        pct(in_plugin, wall),
        pct(in_host, wall),
        pct(rest, wall)
    );

    println!("slowest checks (median duration; host share = host / duration, summed over runs):");
    let mut per_check: Vec<(String, f64, f64, f64, f64)> = CHECKS
        .iter()
        .map(|id| {
            let d: Vec<f64> = samples.iter().map(|s| s.per_check[*id].0).collect();
            let h: Vec<f64> = samples.iter().map(|s| s.per_check[*id].1).collect();
            let share = pct(h.iter().sum(), d.iter().sum());
            let (q1, med, q3) = quartiles(d);
            (id.to_string(), med, q1, q3, share)
        })
        .collect();
    per_check.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    for (id, med, q1, q3, share) in per_check.iter().take(5) {
        println!("  {id:<32} median {med:>7.1} ms   (q1 {q1:.1}, q3 {q3:.1})   host {share:>3.0}%");
    }
    let (slowest, slowest_ms, _, _, slowest_host) = per_check[0].clone();

    let bound = if host_share >= 60.0 {
        "the checks mostly wait on host calls (handshakes, queries, HTTP, file reads) rather than run Wasm"
    } else if host_share <= 40.0 {
        "by the report's accounting, most check time is outside host calls"
    } else {
        "check time divides between plugins and host calls"
    };
    let cores_busy = cpu / wall;
    let phase = if slowest_ms >= 0.75 * checks {
        format!(
            "The check phase lasts about as long as its slowest check, {slowest} ({slowest_ms:.0} ms, \
             {slowest_host:.0}% of it in host calls)"
        )
    } else {
        format!(
            "The slowest check, {slowest} ({slowest_ms:.0} ms, {slowest_host:.0}% in host calls), \
             takes {:.0}% of the check phase",
            pct(slowest_ms, checks)
        )
    };
    println!(
        "\ninterpretation: a warm `gate evaluate` of the whole catalogue against live local services \
         takes {wall:.0} ms median and {cpu:.0} ms of CPU, {cores_busy:.1} cores busy on average on \
         this {cpus}-CPU machine. Start-up (policy, engine, three plugins loaded from the compilation \
         cache) is {:.0}% of the wall time, the concurrent check phase {:.0}%, and process launch, \
         report and exit the remaining {:.0}%. {phase}. Summed over the 27 checks ({:.0} ms, {overlap:.1}x \
         the phase's wall time, since they overlap), {host_share:.0}% of check time is inside host \
         capabilities and {:.0}% is plugin time, so {bound}; plugin time is the report's duration minus \
         host time, so it also holds instantiation and waiting for a CPU. A cold cache adds {:.0} ms of \
         compilation to start-up. The machine may be shared with other work: compare medians, not runs.",
        pct(startup, wall),
        pct(checks, wall),
        pct(rest, wall),
        plugin + host,
        100.0 - host_share,
        (cold.startup_ms - startup).max(0.0),
    );
}
