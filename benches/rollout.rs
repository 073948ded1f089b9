//! `cargo bench --bench rollout`: how fast traffic moves. On a real HAProxy
//! in front of two nginx servers, with a paced load generator running through
//! it, it repeats `GATE_BENCH_RUNS` times (default 9):
//!
//! - a blue-green `gate rollout` (no analysis), and measures the **switch
//!   latency**: from the controller's decision (the `decided_ts_ms` of its
//!   `step` event) to the first response from the new version;
//! - a `gate rollback` of a canary paused at 50 %, and measures the
//!   **rollback time**: from starting `gate rollback` to the last response from
//!   the candidate.
//!
//! It also reports the whole `gate rollout` wall time of the blue-green run
//! (process start to exit). Medians with quartiles; the machines are noisy.

#[path = "../tests/services/mod.rs"]
mod services;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use services::rollout::{Backend, Load, LoadOptions, RolloutBed, now_ms};

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    assert!(!v.is_empty());
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn gate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gate"))
        .args(args)
        .env("GATE_USER", "bench")
        .output()
        .expect("running gate")
}

fn spec(
    bed: &RolloutBed,
    name: &str,
    strategy: &str,
    stable: &str,
    candidate: &str,
    extra: &str,
) -> String {
    let text = format!(
        r#"[rollout]
name = "{name}"
strategy = "{strategy}"
state_dir = "state"

[router]
kind = "haproxy"
admin_socket = "{socket}"
backend = "web"

[stable]
servers = ["{stable}"]
version = "{stable}"

[candidate]
servers = ["{candidate}"]
version = "{candidate}"
{extra}
"#,
        socket = bed.admin_socket.display()
    );
    let path = bed.dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn events(bed: &RolloutBed, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bed.dir.join("state").join(format!("{name}.events.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn main() {
    let runs: usize = std::env::var("GATE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    // Each server stamps its own name as its version, so direction does not matter.
    let server = |name| Backend {
        name,
        version: name,
        error_percent: 0,
        healthy: true,
    };
    let bed = RolloutBed::start(&[server("blue"), server("green")], &[200, 0]);
    let load = Load::start(
        &bed.frontend,
        LoadOptions {
            concurrency: 8,
            rate_per_sec: Some(2000.0),
            max_requests: 2_000_000,
            max_duration: Duration::from_secs(600),
        },
    );
    std::thread::sleep(Duration::from_millis(300));

    let mut switch = Vec::new();
    let mut wall = Vec::new();
    let mut rollback = Vec::new();
    let (mut from, mut to) = ("blue", "green");
    for i in 0..runs {
        // Blue-green switch from `from` to `to`.
        let name = format!("bg{i}");
        let path = spec(
            &bed,
            &name,
            "blue-green",
            from,
            to,
            "\n[blue_green]\npost_promotion = \"0s\"\n",
        );
        let t = Instant::now();
        let out = gate(&["rollout", "--quiet", "--spec", &path]);
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
        let evs = events(&bed, &name);
        let decided = evs
            .iter()
            .find(|e| e["event"] == "step" && e["candidate_percent"] == 100)
            .and_then(|e| e["decided_ts_ms"].as_u64())
            .expect("a switch event");
        let report = load.snapshot();
        let first = report
            .first_at(to, decided)
            .expect("the new version answered");
        switch.push((first.saturating_sub(decided)) as f64);
        std::mem::swap(&mut from, &mut to);

        // A canary held at 50 % until approved, then `gate rollback`.
        let name = format!("rb{i}");
        let path = spec(
            &bed,
            &name,
            "canary",
            from,
            to,
            "\n[canary]\nsteps = [50, 100]\npause = \"until-approved\"\n",
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_gate"))
            .args(["rollout", "--quiet", "--spec", &path])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while !events(&bed, &name)
            .iter()
            .any(|e| e["event"] == "awaiting-approval")
        {
            assert!(Instant::now() < until, "canary never paused");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        let t0 = now_ms();
        let out = gate(&["rollback", "--spec", &path]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(300));
        let report = load.snapshot();
        let last = report
            .samples
            .iter()
            .filter(|s| s.version.as_deref() == Some(to))
            .map(|s| s.at_ms)
            .max()
            .unwrap_or(t0);
        rollback.push(last.saturating_sub(t0) as f64);
    }
    let report = load.stop();
    let failed = report.failed();
    let (q1, m, q3) = quartiles(switch);
    println!(
        "blue-green switch latency (decision → first response from the new version), {runs} runs:"
    );
    println!("  median {m:.0} ms (q1 {q1:.0}, q3 {q3:.0})   target < 50 ms");
    let (q1, m, q3) = quartiles(rollback);
    println!("rollback time (`gate rollback` start → last candidate response), {runs} runs:");
    println!("  median {m:.0} ms (q1 {q1:.0}, q3 {q3:.0})   target < 1000 ms");
    let (q1, m, q3) = quartiles(wall);
    println!("whole `gate rollout` of a blue-green without analysis:");
    println!("  median {m:.0} ms (q1 {q1:.0}, q3 {q3:.0})");
    println!(
        "load through HAProxy meanwhile: {} requests, {failed} failed",
        report.total()
    );
    assert_eq!(failed, 0, "requests failed during the bench");
}
