//! Notifications end to end: the real `gate` binary, receivers on
//! 127.0.0.1 written in Python (tests/notify/receiver.py). Webhook
//! signatures are verified by the `standardwebhooks` package, the Standard
//! Webhooks reference library (scripts/install-deps), never by gate's own
//! code; the Slack receiver is a local stand-in for Slack's Web API, since
//! no real Slack can run here.

#[path = "services/mod.rs"]
mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use services::receiver::{Receiver, SECRET, TOKEN, counts};
use services::rollout::{Backend, Load, LoadOptions, RolloutBed, SIDES, backend};

fn gate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    cmd.env("GATE_USER", "ci")
        .env("GATE_TEST_WEBHOOK_SECRET", SECRET)
        .env("GATE_TEST_SLACK_TOKEN", TOKEN)
        .env(
            "GATE_AUDIT_KEY",
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join("gate-notify-test")
                .join("audit.key"),
        );
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A policy whose one gate fails (a required variable is missing) and
/// whose exemption expires in 5 days (GATE_TEST_NOW is pinned), with a
/// webhook rule for both events.
fn failing_policy(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            r#"[policy]
name = "notify-test"

[[gate]]
name = "preflight"
checks = ["config.env-vars"]

[[check]]
id = "config.env-vars"
params = {{ required = ["GATE_NOTIFY_TEST_NEVER_SET"] }}

[[exemption]]
check = "config.env-vars"
match = "nothing-matches-this"
reason = "test"
approved_by = "secops@example.com"
expires = 2026-12-08

[[notify]]
name = "ops"
target = "webhook"
url = "{url}/hooks/gate"
secret_env = "GATE_TEST_WEBHOOK_SECRET"
events = ["evaluation-failed", "exemption-expiring"]
exemption_days = [30, 7, 1]
timeout_ms = 1000
"#
        ),
    )
    .unwrap();
    path
}

fn evaluate(policy: &Path) -> Command {
    let mut cmd = gate();
    cmd.args(["evaluate", "--policy", policy.to_str().unwrap()])
        .env("GATE_TEST_NOW", "2026-12-03T12:00:00Z")
        .env_remove("GATE_NOTIFY_TEST_NEVER_SET");
    cmd
}

#[test]
fn failing_timing_out_and_429_receivers_get_each_event_exactly_once() {
    // Per webhook-id: a 500, a hang past the 1 s timeout, a 429 with
    // Retry-After in seconds, one with an HTTP-date, then success.
    let rx = Receiver::start("webhook", "500,timeout,429:1,429-date:1,200");
    let dir = tempfile::tempdir().unwrap();
    let policy = failing_policy(dir.path(), &rx.url);
    let started = Instant::now();
    let out = evaluate(&policy).output().unwrap();
    // The verdict is the evaluation's: notifications never change it.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let after_evaluate = started.elapsed();
    // Whatever the evaluation's 5 s budget left is delivered now.
    let out = gate()
        .args(["notify", "deliver", "--policy", policy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = rx.stats();
    assert_eq!(
        s["bad_signature"], 0,
        "standardwebhooks refused a signature: {s}"
    );
    let delivered = counts(&s["delivered"]);
    let attempts = counts(&s["attempts"]);
    // Two events: the failed evaluation and the exemption within 7 days.
    assert_eq!(delivered.len(), 2, "{s}");
    assert!(
        delivered.values().all(|n| *n == 1),
        "delivered more than once: {s}"
    );
    // The same webhook-id on every attempt: five attempts per id.
    assert!(attempts.values().all(|n| *n == 5), "{s}");
    let types: Vec<&str> = s["types"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"evaluation.failed") && types.contains(&"exemption.expiring"),
        "{s}"
    );
    let first = counts(&s["first_ms"]);
    let done = counts(&s["delivered_ms"]);
    for (id, t0) in &first {
        eprintln!(
            "{id}: {} attempts, delivered {} ms after the first",
            attempts[id],
            done[id] - t0
        );
    }
    eprintln!("gate evaluate took {after_evaluate:?} with notifications");

    // Evaluated again: the exemption's event at this threshold was sent
    // already; a new failed evaluation is a new event.
    let out = evaluate(&policy).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = gate()
        .args(["notify", "deliver", "--policy", policy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = rx.stats();
    let delivered = counts(&s["delivered"]);
    assert_eq!(delivered.len(), 3, "{s}");
    assert!(delivered.values().all(|n| *n == 1), "{s}");
    let expiring = s["types"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| *v == "exemption.expiring")
        .count();
    assert_eq!(
        expiring, 1,
        "the exemption was notified twice at one threshold: {s}"
    );
    // Nothing secret on disk or in the output.
    let outbox = dir.path().join(".gate/notify");
    for entry in std::fs::read_dir(&outbox).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    }
    let listed = gate()
        .args([
            "notify",
            "list",
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["delivered_ms"].is_u64())
    );
}

#[test]
fn killed_mid_retry_then_run_again_neither_duplicates_nor_loses() {
    // The receiver fails every first three attempts of an id.
    let rx = Receiver::start("webhook", "500,500,500,200");
    let dir = tempfile::tempdir().unwrap();
    let policy = failing_policy(dir.path(), &rx.url);
    let mut child = evaluate(&policy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once both events have had an attempt, before any can succeed.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let a = counts(&rx.stats()["attempts"]);
        if a.len() == 2 && a.values().all(|n| *n >= 1) {
            break;
        }
        assert!(Instant::now() < until, "no attempts: {}", rx.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = rx.stats();
    assert!(counts(&before["delivered"]).is_empty(), "{before}");
    // Run again: `gate notify deliver` picks up the pending entries.
    let out = gate()
        .args([
            "notify",
            "deliver",
            "--policy",
            policy.to_str().unwrap(),
            "--timeout",
            "60",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // And once more: nothing is pending, nothing is sent.
    let out = gate()
        .args(["notify", "deliver", "--policy", policy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = rx.stats();
    let delivered = counts(&s["delivered"]);
    assert_eq!(delivered.len(), 2, "lost an event: {s}");
    assert!(delivered.values().all(|n| *n == 1), "duplicated: {s}");
    assert_eq!(s["bad_signature"], 0, "{s}");
}

#[test]
fn notify_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        r#"[policy]
name = "x"

[[notify]]
name = "ops"
target = "webhok"
events = ["evaluation-failed"]

[[notify]]
name = "chat"
target = "webhook"
url = "ftp://example.com/x"
secret_env = "whsec_abc"
events = ["evaluation-faild", "step"]
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"#,
    )
    .unwrap();
    let out = gate()
        .args(["policy", "lint", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    assert!(
        err.contains(&format!("{p}:6:10:")) && err.contains("webhok"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{p}:15:1:")) && err.contains("`secret` is not allowed"),
        "{err}"
    );
    assert!(err.contains("evaluation-faild"), "{err}");
    // The secret never appears in an error.
    assert!(!err.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{err}");
}

// ---- rollouts ---------------------------------------------------------------

/// `gate notify list --spec SPEC --format json`: the outbox's entries.
fn outbox_rows(spec: &Path) -> Value {
    let out = gate()
        .args(["notify", "list", "--format", "json", "--spec"])
        .arg(spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rollout_spec(bed: &RolloutBed, name: &str, webhook: &str, slack: &str) -> PathBuf {
    let body = format!(
        r#"{SIDES}
[canary]
steps = [20, 50]
pause = "1s"

[[analysis]]
name = "error-rate"
provider = "haproxy"
query = "candidate_5xx_ratio"
max = 0.01
interval = "500ms"
min_samples = 30
failure_limit = 0

[[notify]]
name = "ops"
target = "webhook"
url = "{webhook}/gate"
secret_env = "GATE_TEST_WEBHOOK_SECRET"
events = ["rollout-started", "step", "promoted", "rolled-back", "analysis-failed"]
timeout_ms = 1000

[[notify]]
name = "chat"
target = "slack"
url = "{slack}/api"
token_env = "GATE_TEST_SLACK_TOKEN"
channel = "C0DEPLOYS"
events = ["rollout-started", "step", "promoted", "rolled-back", "analysis-failed"]

[[notify]]
name = "status-page"
target = "markdown"
dir = "status"
events = ["promoted", "rolled-back"]
"#
    );
    bed.write_spec(name, "canary", &body)
}

fn load(bed: &RolloutBed) -> Load {
    Load::start(
        &bed.frontend,
        LoadOptions {
            concurrency: 4,
            rate_per_sec: Some(300.0),
            max_requests: 30_000,
            max_duration: Duration::from_secs(90),
        },
    )
}

fn events(bed: &RolloutBed, name: &str) -> Vec<Value> {
    std::fs::read_to_string(bed.dir.join("state").join(format!("{name}.events.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ts_of(evs: &[Value], kind: &str) -> u64 {
    evs.iter()
        .find(|e| e["event"] == kind)
        .unwrap_or_else(|| panic!("no {kind}: {evs:#?}"))["ts_ms"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_rollout_notifies_each_receiver_once_and_keeps_one_slack_message() {
    let hook = Receiver::start("webhook", "200");
    let slack = Receiver::start("slack", "200");
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = rollout_spec(&bed, "web", &hook.url, &slack.url);
    let load = load(&bed);
    let started = Instant::now();
    let out = gate()
        .args(["rollout", "--spec", spec.to_str().unwrap()])
        .output()
        .unwrap();
    let took = started.elapsed();
    let report = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report.failed(), 0, "{}", report.summary());
    let s = hook.stats();
    assert_eq!(s["bad_signature"], 0, "{s}");
    let mut types: Vec<String> = s["types"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    types.sort();
    // started, two steps (20 %, 50 %) and the promotion (its 100 % write is
    // not a step event), each once.
    assert_eq!(
        types,
        [
            "rollout.promoted",
            "rollout.started",
            "rollout.step",
            "rollout.step"
        ],
        "{s}"
    );
    assert!(counts(&s["delivered"]).values().all(|n| *n == 1), "{s}");
    // One Slack message, posted once and updated with every later event.
    let c = slack.stats();
    assert_eq!(c["posts"], 1, "{c}");
    assert_eq!(c["updates"], 3, "{c}");
    assert_eq!(c["bad_token"], 0, "{c}");
    let message = c["messages"].as_object().unwrap().values().next().unwrap();
    let text_now = message["text"].as_str().unwrap();
    assert!(text_now.starts_with("### Promoted: web"), "{text_now}");
    assert!(text_now.contains("*Timeline*"), "{text_now}");
    // The status page.
    let page = std::fs::read_to_string(bed.dir.join("status/web.md")).unwrap();
    assert!(page.contains("`v2` now serves all traffic"), "{page}");
    // The outbox beside the state holds every entry, delivered.
    let rows = outbox_rows(&spec);
    assert_eq!(rows.as_array().unwrap().len(), 4 + 4 + 1, "{rows}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["delivered_ms"].is_u64()),
        "{rows}"
    );
    eprintln!("rollout with notifications took {took:?}");
    let evs = events(&bed, "web");
    let first = counts(&s["first_ms"]);
    let promote_ms = ts_of(&evs, "promote");
    let latest = first.values().max().unwrap();
    eprintln!(
        "last webhook attempt {} ms after the promote event",
        latest.saturating_sub(promote_ms)
    );
}

#[test]
fn a_bad_canary_notifies_the_rollback_and_a_receiver_down_changes_nothing() {
    // A receiver that is down: nothing listens on its port.
    let down = format!("http://127.0.0.1:{}", services::free_port());
    let hook = Receiver::start("webhook", "200");
    let slack = Receiver::start("slack", "200");
    let mut took = Vec::new();
    for (name, webhook) in [("bad-up", hook.url.as_str()), ("bad-down", down.as_str())] {
        let bed = RolloutBed::start(
            &[
                backend("blue1", "v1"),
                Backend {
                    error_percent: 20,
                    ..backend("green1", "v2")
                },
            ],
            &[100, 0],
        );
        let spec = rollout_spec(&bed, name, webhook, &slack.url);
        let load = load(&bed);
        let started = Instant::now();
        let out = gate()
            .args(["rollout", "--spec", spec.to_str().unwrap()])
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let _ = load.stop();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let evs = events(&bed, name);
        let step = ts_of(&evs, "step");
        let rolled_back = ts_of(&evs, "rolled-back");
        took.push((name, rolled_back - step, elapsed));
        let page = std::fs::read_to_string(bed.dir.join(format!("status/{name}.md"))).unwrap();
        assert!(
            page.starts_with(&format!("### Rolled back: {name}")),
            "{page}"
        );
        // It names the incident the rollback opened.
        let opened = evs
            .iter()
            .find(|e| e["event"] == "incident")
            .unwrap_or_else(|| panic!("no incident event: {evs:#?}"));
        let id = opened["incident"].as_str().unwrap();
        assert!(
            page.contains(&format!("- Incident: `{id}` (`gate incident show {id}`)")),
            "{page}"
        );
        if webhook == down {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("not delivered yet"), "{err}");
            let rows = outbox_rows(&spec);
            let pending: Vec<&Value> = rows
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["target"] == "ops")
                .collect();
            assert!(
                !pending.is_empty()
                    && pending
                        .iter()
                        .all(|r| r["delivered_ms"].is_null() && r["attempts"].as_u64() >= Some(1)),
                "{rows}"
            );
            assert!(
                pending.iter().all(|r| r["last_error"]
                    .as_str()
                    .unwrap()
                    .contains("could not connect")),
                "{rows}"
            );
        }
    }
    let s = hook.stats();
    let mut types: Vec<String> = s["types"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    types.sort();
    types.dedup();
    assert!(
        types.contains(&"rollout.rolled_back".to_string())
            && types.contains(&"rollout.analysis_failed".to_string()),
        "{s}"
    );
    assert!(counts(&s["delivered"]).values().all(|n| *n == 1), "{s}");
    let c = slack.stats();
    assert_eq!(c["posts"], 2, "one message per rollout: {c}");
    for (name, decision_ms, elapsed) in &took {
        eprintln!("{name}: step → rolled back in {decision_ms} ms; gate rollout took {elapsed:?}");
    }
    // The rollback's timing does not depend on the receiver: the decision
    // is the analysis interval's (500 ms) either way, within a second.
    let (up, down) = (took[0].1, took[1].1);
    assert!(down <= up + 1000, "receiver down: {down} ms vs {up} ms");
    // And gate's exit waits at most the flush grace (3 s) more.
    assert!(took[1].2 <= took[0].2 + Duration::from_secs(4), "{took:?}");
}

// ---- snapshots ----------------------------------------------------------------

#[test]
fn help_snapshots() {
    for args in [
        &["notify", "--help"][..],
        &["notify", "deliver", "--help"],
        &["notify", "list", "--help"],
        &["notify", "render", "--help"],
    ] {
        let out = gate().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_")),
            String::from_utf8_lossy(&out.stdout).to_string()
        );
    }
}

/// The built-in templates, rendered with each kind's sample event.
#[test]
fn default_templates_render() {
    for kind in [
        "rollout-started",
        "step",
        "awaiting-approval",
        "promoted",
        "rolled-back",
        "analysis-failed",
        "evaluation-failed",
        "exemption-expiring",
        "drill-result",
    ] {
        let out = gate()
            .args(["notify", "render", "--event", kind])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        insta::assert_snapshot!(
            format!("template_{kind}"),
            String::from_utf8_lossy(&out.stdout).to_string()
        );
    }
}
