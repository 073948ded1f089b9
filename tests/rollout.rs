//! End-to-end rollouts: the real `gate` binary drives a real HAProxy (runtime
//! API) in front of real nginx backends, while a bounded load generator sends
//! requests through HAProxy for the whole rollout and records which version
//! answered each one. Nothing here is mocked.

#[path = "services/mod.rs"]
mod services;

/// Incident records of rollbacks and aborts (docs/incidents.md).
#[path = "rollout/incidents.rs"]
mod incidents;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use services::rollout::{
    Backend, Load, LoadOptions, LoadReport, RolloutBed, SIDES, backend, now_ms,
};

fn gate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    cmd.env("GATE_USER", "ci");
    cmd
}

fn run(args: &[&str]) -> Output {
    gate().args(args).output().expect("running gate")
}

fn spawn(args: &[&str]) -> Child {
    gate()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning gate")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn error_rate(interval: &str, min_samples: u32) -> String {
    format!(
        r#"
[[analysis]]
name = "error-rate"
provider = "haproxy"
query = "candidate_5xx_ratio"
max = 0.01
interval = "{interval}"
min_samples = {min_samples}
failure_limit = 0
"#
    )
}

fn events(bed: &RolloutBed, name: &str) -> Vec<Value> {
    let path = bed.dir.join("state").join(format!("{name}.events.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("event is JSON"))
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

fn state(bed: &RolloutBed, name: &str) -> Value {
    let path = bed.dir.join("state").join(format!("{name}.state.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Load that outlives any rollout here: stopped by the test.
fn load(bed: &RolloutBed, rate: f64) -> Load {
    Load::start(
        &bed.frontend,
        LoadOptions {
            concurrency: 8,
            rate_per_sec: Some(rate),
            max_requests: 200_000,
            max_duration: Duration::from_secs(240),
        },
    )
}

fn assert_no_failures(report: &LoadReport, min_total: usize) {
    let failed = report.failed_samples();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failed.len(),
        report.total(),
        failed.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        report.total() >= min_total,
        "only {} requests were sent (need at least {min_total})",
        report.total()
    );
}

/// Waits (bounded) until the load has sent `n` requests.
fn wait_requests(load: &Load, n: usize, limit: Duration) {
    let until = Instant::now() + limit;
    while load.count() < n && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_event(bed: &RolloutBed, name: &str, kind: &str, limit: Duration) -> Value {
    let until = Instant::now() + limit;
    loop {
        if let Some(e) = of_kind(&events(bed, name), kind).last() {
            return (*e).clone();
        }
        assert!(Instant::now() < until, "no `{kind}` event within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Each step's observed split is within ±5 points of its weight: the window
/// runs from the step's router write to the next one (minus in-flight margins).
fn assert_splits(report: &LoadReport, evs: &[Value], end_ms: u64) {
    let steps: Vec<(u64, u64)> = of_kind(evs, "step")
        .iter()
        .filter_map(|e| {
            Some((
                e["applied_ts_ms"].as_u64()?,
                e["candidate_percent"].as_u64()?,
            ))
        })
        .collect();
    assert!(!steps.is_empty(), "no step events");
    for (i, (from, percent)) in steps.iter().enumerate() {
        let to = steps.get(i + 1).map_or(end_ms, |s| s.0);
        let (from, to) = (from + 100, to.saturating_sub(50));
        let n: usize = report.split(from, to).values().sum();
        // Every step is judged: a window too small to judge is a failure, not a skip.
        assert!(
            n >= 200,
            "step at {percent}%: only {n} requests in its window"
        );
        let share = report.share("v2", from, to);
        assert!(
            (share - *percent as f64).abs() <= 5.0,
            "step at {percent}%: observed {share:.1}% on v2 over {n} requests"
        );
    }
}

#[test]
fn canary_moves_traffic_step_by_step_with_zero_failed_requests() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec(
        "canary",
        "canary",
        &format!(
            "{SIDES}\n[canary]\nsteps = [10, 50, 100]\npause = \"4s\"\n{}",
            error_rate("1s", 50)
        ),
    );
    let load = load(&bed, 1000.0);
    wait_requests(&load, 300, Duration::from_secs(5));
    let started = Instant::now();
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    let took = started.elapsed();
    wait_requests(&load, 10_500, Duration::from_secs(30));
    let end = now_ms();
    let report = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let evs = events(&bed, "canary");
    assert_no_failures(&report, 10_000);
    assert_splits(
        &report,
        &evs,
        of_kind(&evs, "promote")[0]["ts_ms"].as_u64().unwrap(),
    );
    let steps: Vec<u64> = of_kind(&evs, "step")
        .iter()
        .map(|e| e["candidate_percent"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![10, 50, 100]);
    assert!(!of_kind(&evs, "analysis").is_empty(), "no analysis ran");
    // After promotion every request goes to v2.
    let split = report.split(end - 1000, end);
    assert_eq!(split.get("v1"), None, "{split:?}");
    let w = bed.weights();
    assert_eq!((w["blue1"], w["green1"]), (0, 200));
    let st = state(&bed, "canary");
    assert_eq!(st["phase"], "promoted");
    // A spec without [[stage]] has the one implicit stage, and it passed.
    assert_eq!(st["stages"][0]["name"], "rollout", "{st:#}");
    assert_eq!(st["stages"][0]["progress"], "passed", "{st:#}");
    eprintln!(
        "canary: {} requests, 0 failed, rollout took {:.1} s",
        report.total(),
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(300));
}

#[test]
fn blue_green_switches_at_once_and_reports_switch_latency() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec(
        "bg",
        "blue-green",
        &format!(
            "{SIDES}\n[blue_green]\npost_promotion = \"3s\"\n{}",
            error_rate("1s", 50)
        ),
    );
    let load = load(&bed, 1500.0);
    wait_requests(&load, 3000, Duration::from_secs(10));
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    wait_requests(&load, 10_500, Duration::from_secs(30));
    let report = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_failures(&report, 10_000);
    let evs = events(&bed, "bg");
    let switch = of_kind(&evs, "step")
        .into_iter()
        .find(|e| e["candidate_percent"] == 100)
        .expect("a switch to 100%")
        .clone();
    let decided = switch["decided_ts_ms"].as_u64().unwrap();
    let first_v2 = report.first_at("v2", decided).expect("v2 answered");
    let latency = first_v2.saturating_sub(decided);
    eprintln!(
        "blue-green: {} requests, 0 failed, switch latency {latency} ms (decision to first v2 response)",
        report.total()
    );
    assert!(latency < 50, "switch latency {latency} ms");
    // No v2 before the switch, no v1 from shortly after it.
    assert!(!report.split(0, decided).contains_key("v2"));
    let applied = switch["applied_ts_ms"].as_u64().unwrap();
    let late_v1 = report
        .samples
        .iter()
        .filter(|s| s.at_ms > applied + 100 && s.version.as_deref() == Some("v1"))
        .count();
    assert_eq!(late_v1, 0);
}

#[test]
fn rolling_replaces_each_server_after_draining_it() {
    let bed = RolloutBed::start(
        &[
            backend("web1", "v1"),
            backend("web2", "v1"),
            backend("web3", "v1"),
        ],
        &[100, 100, 100],
    );
    let ctl = bed.dir.join("servers").join("{server}").join("ctl");
    let spec = bed.write_spec(
        "rolling",
        "rolling",
        &format!(
            r#"
[stable]
servers = ["web1", "web2", "web3"]
version = "v1"

[candidate]
version = "v2"

[rolling]
servers = ["web1", "web2", "web3"]
start = "{ctl} start {{version}}"
stop = "{ctl} stop"
drain_timeout = "5s"
pause = "1s"
{}"#,
            error_rate("500ms", 20),
            ctl = ctl.display()
        ),
    );
    let load = load(&bed, 1000.0);
    wait_requests(&load, 300, Duration::from_secs(5));
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    wait_requests(&load, 10_500, Duration::from_secs(30));
    let end = now_ms();
    let report = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_failures(&report, 10_000);
    let evs = events(&bed, "rolling");
    assert_eq!(of_kind(&evs, "replace").len(), 3);
    let split = report.split(end - 1000, end);
    assert_eq!(
        split.get("v1"),
        None,
        "v1 still answers after the rollout: {split:?}"
    );
    assert_eq!(
        state(&bed, "rolling")["replaced"],
        serde_json::json!(["web1", "web2", "web3"])
    );
    eprintln!("rolling: {} requests, 0 failed", report.total());
}

#[test]
fn bad_canary_is_rolled_back_within_two_analysis_intervals() {
    let bad = Backend {
        name: "green1",
        version: "v2",
        error_percent: 5,
        healthy: true,
    };
    let bed = RolloutBed::start(&[backend("blue1", "v1"), bad], &[100, 0]);
    // 50% of 600 req/s gives the candidate ~300 samples per 1 s interval,
    // three times min_samples: the first measurement is a verdict.
    let spec = bed.write_spec("bad",
        "canary",
        &format!(
            "{SIDES}\n[canary]\nsteps = [50, 100]\npause = \"30s\"\n\n[hooks]\npost_rollback = [\"echo rolled-back-$GATE_ROLLOUT > post-rollback.txt\"]\n{}",
            error_rate("1s", 100)
        ),
    );
    let load = load(&bed, 600.0);
    wait_requests(&load, 300, Duration::from_secs(5));
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(1500));
    let report = load.stop();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let evs = events(&bed, "bad");
    let step = of_kind(&evs, "step")[0]["applied_ts_ms"].as_u64().unwrap();
    let rollback = of_kind(&evs, "rollback")[0]["ts_ms"].as_u64().unwrap();
    let verdicts: Vec<&Value> = of_kind(&evs, "analysis")
        .into_iter()
        .filter(|e| e["measurement"]["result"] == "failure")
        .collect();
    assert!(!verdicts.is_empty(), "no failed measurement: {evs:#?}");
    assert!(
        verdicts[0]["measurement"]["samples"].as_u64().unwrap() >= 100,
        "verdict before min_samples"
    );
    let took = rollback - step;
    eprintln!("bad canary: rolled back {took} ms after the step started (interval 1000 ms)");
    assert!(took <= 2 * 1000 + 500, "rollback took {took} ms");
    // After the rollback all traffic is on stable.
    let done = of_kind(&evs, "rolled-back")[0]["ts_ms"].as_u64().unwrap();
    let after = report.split(done + 100, report.stopped_ms);
    assert!(
        !after.contains_key("v2") && after.contains_key("v1"),
        "{after:?}"
    );
    let w = bed.weights();
    assert_eq!(w["green1"], 0);
    assert_eq!(state(&bed, "bad")["phase"], "rolled-back");
    // post_rollback ran in the spec's directory, and stable was re-checked.
    assert_eq!(
        std::fs::read_to_string(bed.dir.join("post-rollback.txt")).unwrap(),
        "rolled-back-bad\n"
    );
    assert!(!of_kind(&evs, "health").is_empty(), "stable not re-checked");
}

#[test]
fn unhealthy_candidate_never_gets_traffic() {
    let sick = Backend {
        name: "green1",
        version: "v2",
        error_percent: 0,
        healthy: false,
    };
    let bed = RolloutBed::start(&[backend("blue1", "v1"), sick], &[100, 0]);
    let spec = bed.write_spec(
        "sick",
        "canary",
        &format!("{SIDES}\n[canary]\nsteps = [10, 100]\npause = \"1s\"\n"),
    );
    let load = load(&bed, 300.0);
    wait_requests(&load, 100, Duration::from_secs(5));
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    let report = load.stop();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_failures(&report, 100);
    assert!(report.first_at("v2", 0).is_none(), "v2 answered a request");
    let evs = events(&bed, "sick");
    assert!(
        of_kind(&evs, "step").is_empty(),
        "weights were changed: {evs:#?}"
    );
    assert!(!of_kind(&evs, "health-failed").is_empty());
    assert_eq!(bed.weights()["green1"], 0);
}

/// Kills `gate rollout` at every step boundary, including between the router
/// write and the state fsync; each re-run finishes, and no request fails.
#[test]
fn killed_rollouts_resume_with_zero_failed_requests() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let load = load(&bed, 800.0);
    wait_requests(&load, 300, Duration::from_secs(5));
    let points = [
        "after-state-write:1",
        "after-intent:1",
        "after-router-write:1",
        "after-router-write:2",
        "after-analysis:2",
        "after-state-write:3",
    ];
    for (i, point) in points.iter().enumerate() {
        let name = format!("crash{i}");
        let spec = bed.write_spec(
            &name,
            "canary",
            &format!(
                "{SIDES}\n[canary]\nsteps = [20, 60, 100]\npause = \"600ms\"\n{}",
                error_rate("300ms", 10)
            ),
        );
        let spec = spec.to_str().unwrap();
        let out = run(&["rollout", "--spec", spec, "--failpoint", point]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: not killed: {}",
            text(&out)
        );
        let st = state(&bed, &name);
        let out = run(&["rollout", "--spec", spec]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{point}: re-run: {}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("resum"),
            "{point}: the re-run did not resume ({st}): {}",
            text(&out)
        );
        let w = bed.weights();
        assert_eq!((w["blue1"], w["green1"]), (0, 200), "{point}");
        // Back to v1 for the next round, as a new stable release would be.
        bed.command("set server web/blue1 weight 100");
        bed.command("set server web/green1 weight 0");
    }
    let report = load.stop();
    assert_no_failures(&report, 1000);
    eprintln!(
        "crash safety: {} kills, {} requests, 0 failed",
        points.len(),
        report.total()
    );
}

#[test]
fn manual_gates_record_who_and_rollback_is_fast() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec(
        "manual",
        "canary",
        &format!("{SIDES}\n[canary]\nsteps = [10, 50, 100]\npause = \"until-approved\"\n"),
    );
    let s = spec.to_str().unwrap();
    let load = load(&bed, 500.0);
    let child = spawn(&["rollout", "--spec", s]);
    wait_event(&bed, "manual", "awaiting-approval", Duration::from_secs(20));

    // A second rollout of the same spec is refused by the lock.
    let second = run(&["rollout", "--spec", s]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));

    let status = run(&["status", "--spec", s, "--format", "json"]);
    let st: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["step"], 1);
    assert_eq!(st["candidate_percent"], 10);
    assert_eq!(st["running"], true);
    assert_eq!(st["router_candidate_percent"], 10);

    // Someone changes HAProxy behind the controller's back: the next tick
    // reconciles with `show servers state` and restores the recorded split.
    bed.command("set server web/green1 weight 0");
    let until = Instant::now() + Duration::from_secs(10);
    while bed.weights()["green1"] != 20 {
        assert!(Instant::now() < until, "the drift was not reconciled");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!of_kind(&events(&bed, "manual"), "reconcile").is_empty());

    let ok = run(&["approve", "--spec", s, "--by", "alice"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    // The next step is reached, and waits again.
    let until = Instant::now() + Duration::from_secs(20);
    while state(&bed, "manual")["step"] != 2 {
        assert!(Instant::now() < until, "step 2 not reached after approval");
        std::thread::sleep(Duration::from_millis(50));
    }
    let approvals = state(&bed, "manual")["approvals"].clone();
    assert_eq!(approvals[0]["step"], 1);
    assert_eq!(approvals[0]["by"], "alice");
    // Without [approvals] in the spec, a name is recorded as given: unverified.
    assert_eq!(approvals[0]["verified"], false);
    assert!(approvals[0]["at"].as_str().unwrap().ends_with('Z'));
    std::thread::sleep(Duration::from_millis(500));

    let t0 = now_ms();
    let rb = run(&["rollback", "--spec", s, "--by", "bob"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let rollout = child.wait_with_output().unwrap();
    assert_eq!(rollout.status.code(), Some(1), "{}", text(&rollout));
    std::thread::sleep(Duration::from_millis(500));
    let report = load.stop();
    assert_no_failures(&report, 500);
    let last_v2 = report.last_at("v2").expect("v2 served during the canary");
    let rollback_ms = last_v2.saturating_sub(t0);
    eprintln!("rollback: last v2 response {rollback_ms} ms after `gate rollback` started");
    assert!(rollback_ms < 1000, "rollback took {rollback_ms} ms");
    let st = state(&bed, "manual");
    assert_eq!(st["phase"], "rolled-back");
    assert!(st["outcome"].as_str().unwrap().contains("by bob"), "{st}");
    assert_eq!(bed.weights()["green1"], 0);
}

#[test]
fn failed_preflight_stops_before_any_traffic_moves_and_hooks_run() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let policy = env_policy(&bed, "preflight", "GATE_TEST_SURELY_UNSET_VARIABLE");
    let marker = bed.dir.join("hooks.log");
    let body = format!(
        "{SIDES}\n[canary]\nsteps = [50, 100]\npause = \"200ms\"\n\n[hooks]\npre_rollout = [\"echo pre-$GATE_CANDIDATE_VERSION >> {m}\"]\npost_promote = [\"echo post-promote >> {m}\"]\n",
        m = marker.display()
    );
    let spec = bed.write_spec("pf", "canary", &body);
    let text_spec = std::fs::read_to_string(&spec).unwrap().replace(
        "state_dir = \"state\"",
        &format!(
            "state_dir = \"state\"\npreflight = {{ policy = \"{}\", gate = \"preflight\" }}",
            policy.display()
        ),
    );
    std::fs::write(&spec, text_spec).unwrap();
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pre-flight failed"),
        "{}",
        text(&out)
    );
    assert_eq!(bed.weights()["green1"], 0);
    assert!(
        !marker.exists(),
        "pre_rollout ran although pre-flight failed"
    );
    assert_eq!(state(&bed, "pf")["phase"], "aborted");
    // Without [[stage]], the pre-flight gate is the first stage: failed, and
    // the rollout's stage never started.
    let stages = state(&bed, "pf")["stages"].clone();
    assert_eq!(stages[0]["name"], "pre-flight");
    assert_eq!(stages[0]["progress"], "failed");
    assert_eq!(stages[1]["progress"], "skipped");
    // An abort before traffic opens an incident saying why, with no rollback.
    let opened = incidents::incident_list(&spec);
    assert_eq!(opened.len(), 1, "{opened:#?}");
    assert_eq!(opened[0]["trigger"]["kind"], "abort");
    assert_eq!(opened[0]["outcome"], "aborted");
    assert!(opened[0]["rollback"].is_null());

    // The same rollout without the pre-flight gate runs its hooks in order.
    let plain = bed.write_spec("hooks", "canary", &body);
    let out = run(&["rollout", "--spec", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "pre-v2\npost-promote\n"
    );
}

#[test]
fn bad_specs_exit_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.toml");
    std::fs::write(
        &path,
        "[rollout]\nname = \"web\"\nstrategy = \"canary\"\n\n[router]\nkind = \"haproxy\"\nadmin_socket = \"/nonexistent.sock\"\nbackend = \"web\"\n\n[stable]\nservers = [\"a\"]\n\n[candidate]\nservers = [\"b\"]\n\n[canary]\nsteps = [50, 10]\n",
    )
    .unwrap();
    let out = run(&["rollout", "--spec", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:17:1:", path.display())), "{err}");

    // A router that isn't there: nothing moves, exit 1, the message names the socket.
    let ok = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[50, 10]", "[50, 100]");
    std::fs::write(&path, ok).unwrap();
    let out = run(&["rollout", "--spec", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.sock"));
}

const PROM_5XX_RATIO: &str = r#"sum(increase(haproxy_server_http_responses_total{proxy="{{backend}}",server=~"{{servers}}",code="5xx"}[{{window}}])) / sum(increase(haproxy_server_http_responses_total{proxy="{{backend}}",server=~"{{servers}}"}[{{window}}]))"#;
const PROM_SAMPLES: &str = r#"sum(increase(haproxy_server_http_responses_total{proxy="{{backend}}",server=~"{{servers}}"}[{{window}}]))"#;

/// A relative condition read from a real Prometheus scraping HAProxy's exporter:
/// candidate's 5xx ratio compared with stable's over the same window.
#[test]
fn prometheus_relative_analysis_promotes_a_good_candidate() {
    let mut bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let prom = bed.with_prometheus();
    let spec = bed.write_spec(
        "prom",
        "canary",
        &format!(
            r#"{SIDES}
# A relative condition needs stable traffic to compare with, so the last
# analysed step is 50 %; promotion then moves the rest.
[canary]
steps = [50]
pause = "4s"

[[analysis]]
name = "relative-5xx"
provider = "prom"
query = '{PROM_5XX_RATIO}'
samples_query = '{PROM_SAMPLES}'
max_increase = 0.01
interval = "3s"
min_samples = 20
inconclusive_limit = 5

[metrics.prom]
url = "{prom}"
"#
        ),
    );
    let load = load(&bed, 400.0);
    wait_requests(&load, 1500, Duration::from_secs(10));
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    let report = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_failures(&report, 1000);
    let evs = events(&bed, "prom");
    let results: Vec<&Value> = of_kind(&evs, "analysis")
        .iter()
        .map(|e| &e["measurement"]["result"])
        .collect();
    assert!(
        results.iter().any(|r| *r == "success"),
        "no successful Prometheus measurement: {results:?}"
    );
    let ok = of_kind(&evs, "analysis")
        .into_iter()
        .find(|e| e["measurement"]["result"] == "success")
        .unwrap();
    assert!(ok["measurement"]["samples"].as_u64().unwrap() >= 20);
    assert!(ok["measurement"]["stable_value"].is_number(), "{ok}");
}

/// A provider that cannot be read is an error, never a success: with
/// consecutive_error_limit = 1 the second error rolls back.
#[test]
fn provider_outage_is_an_error_and_rolls_back() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let closed = services::free_port();
    let spec = bed.write_spec(
        "outage",
        "canary",
        &format!(
            r#"{SIDES}
[canary]
steps = [10, 100]
pause = "2s"

[[analysis]]
name = "from-prometheus"
provider = "down"
query = "up"
max = 2
interval = "200ms"
consecutive_error_limit = 1

[metrics.down]
url = "http://127.0.0.1:{closed}"
timeout_ms = 300
"#
        ),
    );
    let out = run(&["rollout", "--spec", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let evs = events(&bed, "outage");
    let results: Vec<String> = of_kind(&evs, "analysis")
        .iter()
        .map(|e| e["measurement"]["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results, vec!["error", "error"], "{evs:#?}");
    let reason = of_kind(&evs, "rollback")[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("from-prometheus"), "{reason}");
    assert_eq!(bed.weights()["green1"], 0);
}

/// A custom strategy plugin named by path and pinned by sha256 (here the
/// built-in component loaded from disk); a wrong digest is a spec error.
#[test]
fn custom_strategy_plugin_by_path_and_sha256() {
    use sha2::Digest;
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let wasm = std::path::Path::new(gate_sandbox::plugin::PLUGIN_BUILD_DIR)
        .join("gate_plugin_strategies.wasm");
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(&wasm).unwrap()));
    let body = format!("{SIDES}\n[canary]\nsteps = [50, 100]\npause = \"300ms\"\n");
    let custom = |name: &str, sha: &str| {
        let spec = bed.write_spec(name, "canary", &body);
        let t = std::fs::read_to_string(&spec).unwrap().replace(
            "strategy = \"canary\"",
            &format!(
                "strategy = {{ kind = \"canary\", path = \"{}\", sha256 = \"{sha}\" }}",
                wasm.display()
            ),
        );
        std::fs::write(&spec, t).unwrap();
        spec
    };
    let bad = custom("custom-bad", &"0".repeat(64));
    let out = run(&["rollout", "--spec", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sha256 mismatch"));
    assert_eq!(bed.weights()["green1"], 0);

    let good = custom("custom", &digest);
    let out = run(&["rollout", "--spec", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(bed.weights()["green1"], 200);
}

#[test]
fn rollout_help_snapshots() {
    for cmd in [
        "rollout", "status", "promote", "approve", "abort", "rollback",
    ] {
        let out = run(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        insta::assert_snapshot!(
            format!("help_{cmd}"),
            String::from_utf8_lossy(&out.stdout).to_string()
        );
    }
}

/// A component of another world named as the strategy is refused before any
/// traffic moves, with a message naming the plugin.
#[test]
fn a_non_strategy_component_is_refused_with_exit_2() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let wasm = std::path::Path::new(gate_sandbox::plugin::PLUGIN_BUILD_DIR)
        .join("gate_plugin_hostile.wasm");
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(&wasm).unwrap()));
    let path = dir.path().join("web.toml");
    std::fs::write(
        &path,
        format!(
            "[rollout]\nname = \"web\"\nstrategy = {{ kind = \"canary\", path = \"{}\", sha256 = \"{digest}\" }}\n\n[router]\nkind = \"haproxy\"\nadmin_socket = \"/nonexistent.sock\"\nbackend = \"web\"\n\n[stable]\nservers = [\"a\"]\n\n[candidate]\nservers = [\"b\"]\n",
            wasm.display()
        ),
    )
    .unwrap();
    let out = run(&["rollout", "--spec", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gate_plugin_hostile.wasm"), "{err}");
    assert!(err.contains("not a gate strategy component"), "{err}");
}

/// `gate rollout --check` validates a spec with the strategy plugin itself,
/// touching neither the router nor any state: the bundled examples pass, and a
/// strategy kind the plugin does not know is refused with its message.
#[test]
fn rollout_check_validates_specs_without_touching_anything() {
    use sha2::Digest;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for example in ["canary.toml", "blue-green.toml", "rolling.toml"] {
        let path = root.join("examples/rollouts").join(example);
        let out = run(&["rollout", "--check", "--spec", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{example}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
    }
    assert!(
        !root.join("examples/rollouts/.gate").exists(),
        "--check wrote state"
    );

    let dir = tempfile::tempdir().unwrap();
    let wasm = std::path::Path::new(gate_sandbox::plugin::PLUGIN_BUILD_DIR)
        .join("gate_plugin_strategies.wasm");
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(&wasm).unwrap()));
    let path = dir.path().join("web.toml");
    std::fs::write(
        &path,
        format!(
            "[rollout]\nname = \"web\"\nstrategy = {{ kind = \"linear\", path = \"{}\", sha256 = \"{digest}\" }}\n\n[router]\nkind = \"haproxy\"\nadmin_socket = \"/nonexistent.sock\"\nbackend = \"web\"\n\n[stable]\nservers = [\"a\"]\n\n[candidate]\nservers = [\"b\"]\n",
            wasm.display()
        ),
    )
    .unwrap();
    let out = run(&["rollout", "--check", "--spec", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("linear"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join(".gate").exists(), "--check wrote state");
}

/// `NAME.toml`: a policy whose gate `NAME` requires the environment
/// variable `var`, so it passes or fails with it.
fn env_policy(bed: &RolloutBed, name: &str, var: &str) -> PathBuf {
    let policy = bed.dir.join(format!("{name}.toml"));
    let text = format!(
        r#"[policy]
name = "{name}"

[[gate]]
name = "{name}"
checks = ["config.env-vars"]

[[check]]
id = "config.env-vars"
params = {{ required = ["{var}"] }}

[[plugin]]
name = "config"
[plugin.grants]
env = ["{var}"]
"#
    );
    std::fs::write(&policy, text).unwrap();
    policy
}

/// A policy whose gate `security` passes: `GATE_USER` is set for every
/// gate run here.
fn passing_policy(bed: &RolloutBed) -> PathBuf {
    env_policy(bed, "security", "GATE_USER")
}

fn pipeline_stages(policy: &std::path::Path, verify: &str) -> String {
    format!(
        r#"
[audit]
dir = "audit"

[[stage]]
name = "security-scan"
kind = "gate"
policy = "{}"
gate = "security"

[[stage]]
name = "sign-off"
kind = "approval"

[[stage]]
name = "deploy"
kind = "rollout"

[[stage]]
name = "bake"
kind = "verify"
{verify}
analysis = ["error-rate"]
"#,
        policy.display()
    )
}

/// The audit log's entries as `gate audit show --format json` gives them.
fn audit_entries(dir: &std::path::Path) -> Vec<Value> {
    let out = run(&[
        "audit",
        "show",
        "--audit",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("audit show is JSON");
    shown
        .as_array()
        .cloned()
        .unwrap_or_else(|| shown["entries"].as_array().cloned().expect("entries"))
}

/// A pipeline runs its stages in order: the gate stage's evaluation, then an
/// approval before any traffic moves, the canary, and a verify period after
/// promotion, every stage and audit entry under one run id.
#[test]
fn pipeline_stages_run_in_order_under_one_run_id() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let policy = passing_policy(&bed);
    let body = format!(
        "{SIDES}\n[canary]\nsteps = [50, 100]\npause = \"200ms\"\n{}{}",
        error_rate("300ms", 5),
        pipeline_stages(&policy, "duration = \"2s\"")
    );
    let spec = bed.write_spec("pipe", "canary", &body);
    let load = load(&bed, 100.0);
    let spec_arg = spec.to_str().unwrap();
    let child = spawn(&["rollout", "--quiet", "--spec", spec_arg]);
    wait_event(&bed, "pipe", "awaiting-approval", Duration::from_secs(30));
    // Approval before any traffic moves.
    assert_eq!(bed.weights()["green1"], 0);
    let out = run(&["status", "--spec", spec_arg, "--format", "json"]);
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let progress: Vec<(&str, &str)> = status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["progress"].as_str().unwrap()))
        .collect();
    assert_eq!(
        progress,
        [
            ("security-scan", "passed"),
            ("sign-off", "running"),
            ("deploy", "pending"),
            ("bake", "pending")
        ]
    );
    let human = run(&["status", "--spec", spec_arg]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains(
            "stages: security-scan passed → sign-off running → deploy pending → bake pending"
        ),
        "{}",
        text(&human)
    );
    let out = run(&["approve", "--spec", spec_arg, "--by", "alice"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = child.wait_with_output().unwrap();
    let _ = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let st = state(&bed, "pipe");
    assert_eq!(st["phase"], "promoted");
    assert!(
        st["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["progress"] == "passed"),
        "{st:#}"
    );
    let evs = events(&bed, "pipe");
    assert!(!of_kind(&evs, "verify").is_empty(), "no verify stage");
    // The bake measured after promotion, for its whole period.
    let promoted_at = of_kind(&evs, "verify")[0]["ts_ms"].as_u64().unwrap();
    let after: Vec<&Value> = of_kind(&evs, "analysis")
        .into_iter()
        .filter(|e| e["ts_ms"].as_u64().unwrap() > promoted_at)
        .collect();
    assert!(after.len() >= 3, "verify measured {} times", after.len());

    // The record: one run id; stages in order; the evaluation is in it; no
    // weights entry before the approval stage passed.
    let audit = bed.dir.join("audit");
    let entries = audit_entries(&audit);
    let run_id = st["run_id"].as_str().unwrap();
    assert!(
        entries.iter().all(|e| e["run_id"] == run_id),
        "{entries:#?}"
    );
    let stages: Vec<String> = entries
        .iter()
        .filter(|e| e["kind"] == "stage")
        .map(|e| {
            format!(
                "{} {}",
                e["detail"]["name"].as_str().unwrap(),
                e["detail"]["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            "security-scan started",
            "security-scan passed",
            "sign-off started",
            "sign-off passed",
            "deploy started",
            "deploy passed",
            "bake started",
            "bake passed"
        ]
    );
    let seq = |pred: &dyn Fn(&Value) -> bool| entries.iter().position(pred).unwrap();
    let signed_off = seq(&|e| {
        e["kind"] == "stage"
            && e["detail"]["name"] == "sign-off"
            && e["detail"]["state"] == "passed"
    });
    let first_weights = seq(&|e| e["detail"]["event"]["event"] == "weights");
    assert!(
        signed_off < first_weights,
        "traffic moved before the approval stage passed"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "evaluation" && e["detail"]["policy_name"] == "security")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["detail"]["event"]["event"] == "approval"
                && e["detail"]["event"]["by"] == "alice")
    );
    let out = run(&["audit", "verify", "--audit", audit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A candidate that fails after promotion is rolled back by the verify
/// stage, and the stage is recorded as failed.
#[test]
fn verify_stage_rolls_back_a_candidate_that_fails_after_promotion() {
    let bad = Backend {
        name: "green1",
        version: "v2",
        error_percent: 5,
        healthy: true,
    };
    let bed = RolloutBed::start(&[backend("blue1", "v1"), bad], &[100, 0]);
    let policy = passing_policy(&bed);
    // The blue-green switch itself measures nothing; only the verify stage does.
    let stages = pipeline_stages(&policy, "duration = \"60s\"").replace(
        "[[stage]]\nname = \"sign-off\"\nkind = \"approval\"\n\n",
        "",
    );
    let body = format!(
        "{SIDES}\n[blue_green]\npause = \"200ms\"\npost_promotion_analysis = []\n{}{stages}",
        error_rate("500ms", 50)
    );
    let spec = bed.write_spec("bake", "blue-green", &body);
    let load = load(&bed, 400.0);
    wait_requests(&load, 200, Duration::from_secs(5));
    // `--audit DIR` replaces the spec's [audit] dir.
    let elsewhere = bed.dir.join("record");
    let out = run(&[
        "rollout",
        "--quiet",
        "--spec",
        spec.to_str().unwrap(),
        "--audit",
        elsewhere.to_str().unwrap(),
    ]);
    let _ = load.stop();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        !bed.dir.join("audit").exists(),
        "recorded in the spec's [audit] dir"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("verify: analysis error-rate failed after promotion"),
        "{}",
        text(&out)
    );
    assert_eq!(bed.weights()["green1"], 0);
    let st = state(&bed, "bake");
    assert_eq!(st["phase"], "rolled-back");
    let progress: Vec<&str> = st["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["progress"].as_str().unwrap())
        .collect();
    assert_eq!(progress, ["passed", "passed", "failed"]);
    let entries = audit_entries(&elsewhere);
    assert!(entries.iter().any(|e| e["kind"] == "stage"
        && e["detail"]["name"] == "bake"
        && e["detail"]["state"] == "failed"));
    assert!(
        entries
            .iter()
            .any(|e| e["detail"]["event"]["event"] == "rolled-back")
    );
    // The failed verify stage opened an incident naming it and its analysis.
    let opened = incidents::incident_list(&spec);
    assert_eq!(opened.len(), 1, "{opened:#?}");
    assert_eq!(opened[0]["trigger"]["kind"], "verify");
    assert_eq!(opened[0]["trigger"]["stage"], "bake");
    assert_eq!(opened[0]["trigger"]["analysis"]["name"], "error-rate");
    assert!(entries.iter().any(|e| e["kind"] == "incident"));
}

/// The operations file of the migration stage tests: a NOT NULL column
/// filled from `name`.
const ADD_EMAIL: &str = r#"
name = "add_email"

[[operation]]
[operation.add_column]
table = "users"
column = "email"
type = "text"
not_null = true
up = "lower(name) || '@example.com'"
"#;

/// A PostgreSQL with a `users` table, the operations file beside the bed's
/// specs, and the spec's `[[stage]]` tables for a migration stage on it.
/// The backends here do not query the database (the expand/contract tests,
/// tests/migrate_expand.rs, run applications on both versions); these tests
/// check what the rollout does with the migration and when.
fn migration_bed(bed: &RolloutBed) -> (services::Postgres, String) {
    let pg = services::Postgres::start();
    pg.psql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
         INSERT INTO users SELECT g, 'User' || g FROM generate_series(1, 5000) g;",
    );
    std::fs::write(bed.dir.join("add_email.toml"), ADD_EMAIL).unwrap();
    let stages = r#"
[audit]
dir = "audit"

[[stage]]
name = "schema"
kind = "migration"
file = "add_email.toml"
url_env = "APP_DATABASE_URL"
batch_size = 500
flagd = "flags.json"
flag = "users-schema"

[[stage]]
name = "deploy"
kind = "rollout"
"#;
    (pg, stages.to_string())
}

fn migration_phase(pg: &services::Postgres) -> String {
    let out = gate()
        .args(["migrate", "status", "--format", "json"])
        .env("DATABASE_URL", &pg.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    status["phase"].as_str().unwrap().to_string()
}

/// The migration expands and backfills before any traffic moves and
/// contracts when the rollout is promoted; both are `migrate` entries of
/// the run in the audit log.
#[test]
fn migration_stage_expands_before_traffic_and_completes_at_promotion() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let (pg, stages) = migration_bed(&bed);
    // The team reads the new version everywhere once it exists.
    std::fs::write(
        bed.dir.join("flags.json"),
        r#"{"flags": {"users-schema": {"state": "ENABLED", "variants": {}, "defaultVariant": "new"}}}"#,
    )
    .unwrap();
    let body = format!(
        "{SIDES}\n[canary]\nsteps = [50, 100]\npause = \"300ms\"\n{}{stages}",
        error_rate("300ms", 5)
    );
    let spec = bed.write_spec("schema", "canary", &body);
    let load = load(&bed, 100.0);
    let out = gate()
        .args(["rollout", "--quiet", "--spec", spec.to_str().unwrap()])
        .env("APP_DATABASE_URL", &pg.url)
        .output()
        .unwrap();
    let report = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_failures(&report, 50);
    assert_eq!(migration_phase(&pg), "contracted");
    assert_eq!(
        pg.psql("SELECT count(*) FROM users WHERE email = lower(name) || '@example.com'"),
        "5000"
    );
    let evs = events(&bed, "schema");
    let expanded = of_kind(&evs, "migration")
        .into_iter()
        .find(|e| e["expanded"] == true)
        .expect("no expand event");
    let first_step = of_kind(&evs, "step")[0]["ts_ms"].as_u64().unwrap();
    assert!(
        expanded["ts_ms"].as_u64().unwrap() < first_step,
        "traffic moved before the expand"
    );
    let st = state(&bed, "schema");
    assert_eq!(st["stages"][0]["progress"], "passed", "{st:#}");
    let entries = audit_entries(&bed.dir.join("audit"));
    let migrate: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "migrate" && e["run_id"] == st["run_id"])
        .map(|e| e["detail"]["command"].as_str().unwrap())
        .collect();
    assert_eq!(migrate, ["start", "complete"], "{entries:#?}");
    let flags = std::fs::read_to_string(bed.dir.join("flags.json")).unwrap();
    let flag: Value =
        serde_json::from_str::<Value>(&flags).unwrap()["flags"]["users-schema"].clone();
    assert_eq!(flag["variants"]["old"], flag["variants"]["new"], "{flag:#}");
    assert_ne!(flag["variants"]["new"], "public", "{flag:#}");
}

/// A bad canary is rolled back, and so is its migration: only after the
/// last request reached the candidate, leaving the old version's rows as
/// they were.
#[test]
fn rollback_of_a_bad_canary_rolls_back_its_migration() {
    let bad = Backend {
        name: "green1",
        version: "v2",
        error_percent: 5,
        healthy: true,
    };
    let bed = RolloutBed::start(&[backend("blue1", "v1"), bad], &[100, 0]);
    let (pg, stages) = migration_bed(&bed);
    let before = pg.psql("SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM users");
    let body = format!(
        "{SIDES}\n[canary]\nsteps = [50, 100]\npause = \"30s\"\n{}{stages}",
        error_rate("1s", 100)
    );
    let spec = bed.write_spec("bad-schema", "canary", &body);
    let load = load(&bed, 600.0);
    wait_requests(&load, 300, Duration::from_secs(5));
    let out = gate()
        .args(["rollout", "--quiet", "--spec", spec.to_str().unwrap()])
        .env("APP_DATABASE_URL", &pg.url)
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let report = load.stop();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(migration_phase(&pg), "rolled-back");
    assert_eq!(
        pg.psql("SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM users"),
        before
    );
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'"
        ),
        "0"
    );
    let evs = events(&bed, "bad-schema");
    let undone = of_kind(&evs, "migration")
        .into_iter()
        .find(|e| e["rolled_back"] == true)
        .expect("no migration rollback event");
    let last_v2 = report.last_at("v2").expect("the candidate served requests");
    assert!(
        undone["ts_ms"].as_u64().unwrap() >= last_v2,
        "the new version was dropped while the candidate still served"
    );
    let st = state(&bed, "bad-schema");
    assert_eq!(st["stages"][0]["progress"], "failed", "{st:#}");
    let entries = audit_entries(&bed.dir.join("audit"));
    let migrate: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "migrate")
        .map(|e| e["detail"]["command"].as_str().unwrap())
        .collect();
    assert_eq!(migrate, ["start", "rollback"], "{entries:#?}");
    let flags = std::fs::read_to_string(bed.dir.join("flags.json")).unwrap();
    let flag: Value =
        serde_json::from_str::<Value>(&flags).unwrap()["flags"]["users-schema"].clone();
    assert_eq!(flag["variants"]["new"], "public", "{flag:#}");
    assert_eq!(flag["defaultVariant"], "old", "{flag:#}");
}

/// A migration stage whose operations file is bad stops the spec at the
/// file's line and column, before anything runs.
#[test]
fn a_migration_stage_with_a_bad_operations_file_is_refused() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    std::fs::write(
        bed.dir.join("ops-broken.toml"),
        "name = \"broken\"\n\n[[operation]]\nadd_column = { table = \"users\" }\n",
    )
    .unwrap();
    let body = format!(
        "{SIDES}\n[canary]\nsteps = [100]\n\n[[stage]]\nname = \"schema\"\nkind = \"migration\"\nfile = \"ops-broken.toml\"\nduration = \"1s\"\n\n[[stage]]\nname = \"deploy\"\nkind = \"rollout\"\n"
    );
    let spec = bed.write_spec("broken", "canary", &body);
    let out = run(&["rollout", "--check", "--spec", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad operations file: "), "{err}");
    assert!(err.contains("ops-broken.toml:4:"), "{err}");
    assert!(
        err.contains("`duration` does not apply to a `migration` stage"),
        "{err}"
    );
    assert_eq!(bed.weights()["green1"], 0);
}
