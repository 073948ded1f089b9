//! A rollout's state shared in PostgreSQL (`[rollout] state =
//! "postgres://…"`), end to end: the real `gate` binary against a real
//! PostgreSQL 15 and a real HAProxy in front of real nginx backends. Two
//! copies of the spec in different directories stand for two machines.
//!
//! - two runners: the second is refused while the first holds the lease;
//!   `status` and `approve` from the other copy reach the running rollout;
//!   after `kill -9` the second takes over once the lease expires, resumes
//!   at the recorded step and promotes; the audit log in PostgreSQL
//!   verifies and holds both runners' entries under one run id;
//! - fencing: a runner paused past its lease stops with exit 2 when it
//!   wakes, touching neither the router nor the state;
//! - the schema: created on a fresh database by runners starting at once,
//!   and a newer schema version refused;
//! - tampering with the audit rows is detected, naming the entry;
//! - `gate serve` shows the shared rollout and its audit log in PostgreSQL.

#[path = "services/mod.rs"]
mod services;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use services::Postgres;
use services::receiver::{Receiver, SECRET, counts};
use services::rollout::{Backend, RolloutBed};

/// A password in the URL: trust authentication ignores it, and it must
/// appear in no output, event, state or audit entry.
const PASSWORD: &str = "hunter2-not-shown";

fn gate(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    cmd.current_dir(dir)
        .env("GATE_USER", "ci")
        .env("GATE_TEST_WEBHOOK_SECRET", SECRET)
        .env("GATE_AUDIT_KEY", dir.parent().unwrap().join("audit.key"))
        .env_remove("PGPASSWORD");
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

fn bed() -> RolloutBed {
    let backend = |name, version| Backend {
        name,
        version,
        error_percent: 0,
        healthy: true,
    };
    RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    )
}

/// The spec, written into `machine` (a directory of its own), with the
/// state in `url`.
fn spec(bed: &RolloutBed, machine: &str, url: &str, pause: &str) -> PathBuf {
    spec_with(bed, machine, url, pause, "")
}

/// [`spec`] with `extra` tables after the canary's.
fn spec_with(bed: &RolloutBed, machine: &str, url: &str, pause: &str, extra: &str) -> PathBuf {
    let dir = bed.dir.join(machine);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        r#"[rollout]
name = "shared"
strategy = "canary"
state = "{url}"
lease_ttl = "2s"

[router]
kind = "haproxy"
admin_socket = "{socket}"
backend = "web"

[health]
path = "/healthz"

[stable]
servers = ["blue1"]
version = "v1"

[candidate]
servers = ["green1"]
version = "v2"

[canary]
steps = [10, 50, 100]
pause = "{pause}"
{extra}"#,
        socket = bed.admin_socket.display()
    );
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The URL with the password in it.
fn secret_url(pg: &Postgres) -> String {
    pg.url
        .replace("postgres://gate@", &format!("postgres://gate:{PASSWORD}@"))
}

fn spawn(spec: &Path, log: &Path, args: &[&str]) -> Child {
    let err = std::fs::File::create(log).unwrap();
    gate(spec.parent().unwrap())
        .args(["rollout", "--spec"])
        .arg(spec)
        .args(args)
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

fn run(spec: &Path, args: &[&str]) -> Output {
    gate(spec.parent().unwrap())
        .args(args)
        .arg("--spec")
        .arg(spec)
        .output()
        .unwrap()
}

/// The row of rollout `shared`: step, phase, revision, lease holder, token.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    step: u64,
    phase: String,
    revision: u64,
    holder: String,
    token: u64,
    expired: bool,
    candidate_percent: u64,
}

fn row(pg: &Postgres) -> Option<Row> {
    // Before the first runner connects there is no schema yet.
    let out = pg
        .try_psql(
            "SELECT coalesce(state->>'step', '0'), coalesce(state->>'phase', ''), revision, \
         coalesce(lease_holder, ''), lease_token, coalesce(lease_expires < now(), true), \
         coalesce(state->>'candidate_percent', '0') \
         FROM gate.rollouts WHERE name = 'shared'",
        )
        .ok()?;
    let f: Vec<&str> = out.trim().split('|').collect();
    (f.len() == 7).then(|| Row {
        step: f[0].parse().unwrap(),
        phase: f[1].to_string(),
        revision: f[2].parse().unwrap(),
        holder: f[3].to_string(),
        token: f[4].parse().unwrap(),
        expired: f[5] == "t",
        candidate_percent: f[6].parse().unwrap(),
    })
}

fn wait_for(pg: &Postgres, what: &str, secs: u64, ok: impl Fn(&Row) -> bool) -> Row {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(r) = row(pg).filter(|r| ok(r)) {
            return r;
        }
        assert!(Instant::now() < until, "{what}: {:?}", row(pg));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `step` has its weights on the router and the runner waits
/// for an approval.
fn wait_awaiting(pg: &Postgres, step: u64) -> Row {
    wait_for(pg, &format!("step {step} awaiting approval"), 60, |r| {
        r.step == step && r.phase == "progressing"
    });
    // The event that says so is written after the weights.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let n = pg.psql(&format!(
            "SELECT count(*) FROM gate.events WHERE rollout = 'shared' \
             AND body->>'event' = 'awaiting-approval' AND (body->>'step')::int = {step}"
        ));
        if n.trim() != "0" {
            return row(pg).unwrap();
        }
        assert!(
            Instant::now() < until,
            "no awaiting-approval event for step {step}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The candidate's share of the router's weights, in percent.
fn router_percent(bed: &RolloutBed) -> u32 {
    let w = bed.weights();
    let (green, blue) = (u32::from(w["green1"]), u32::from(w["blue1"]));
    (green * 100).checked_div(green + blue).unwrap_or(0)
}

/// Waits until `runner` holds the lease.
fn wait_holder(pg: &Postgres, runner: &Child) -> Row {
    wait_for(pg, "the runner holds the lease", 30, |r| {
        !r.holder.is_empty() && pid_of(&r.holder) == runner.id()
    })
}

/// Waits until the runner's log at `log` says `what`.
fn wait_log(log: &Path, what: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap();
        if text.contains(what) {
            return;
        }
        assert!(Instant::now() < until, "no `{what}` in:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pid_of(holder: &str) -> u32 {
    holder.rsplit(':').next().unwrap().parse().unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn wait_exit(child: &mut Child, secs: u64) -> i32 {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            panic!("gate rollout did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn audit(dir: &Path, args: &[&str], url: &str) -> Output {
    gate(dir)
        .arg("audit")
        .args(args)
        .args(["--audit", url])
        .output()
        .unwrap()
}

#[test]
fn two_machines_share_one_rollout_and_the_second_takes_over_after_a_kill() {
    let bed = bed();
    let pg = Postgres::start();
    let url = secret_url(&pg);
    let spec_a = spec(&bed, "machine-a", &url, "until-approved");
    let spec_b = spec(&bed, "machine-b", &url, "until-approved");
    let log_a = bed.dir.join("a.log");
    let mut a = spawn(&spec_a, &log_a, &[]);
    let at_a = wait_awaiting(&pg, 1);
    assert_eq!(pid_of(&at_a.holder), a.id(), "{at_a:?}");
    assert_eq!(router_percent(&bed), 10, "{:?}", bed.weights());

    // A second runner is refused while A's lease is live, naming A.
    let second = run(&spec_b, &["rollout", "--quiet"]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains(&at_a.holder), "{err}");

    // Status from the other machine shows A running.
    let status = run(&spec_b, &["status", "--format", "json"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["running"], true, "{doc}");
    assert_eq!(doc["runner"]["runner"], at_a.holder.as_str(), "{doc}");
    assert_eq!(doc["phase"], "progressing", "{doc}");
    assert_eq!(doc["step"], 1, "{doc}");

    // An approval from the other machine is counted by A.
    let sent = Instant::now();
    let approve = run(&spec_b, &["approve", "--by", "alice"]);
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve));
    let at_2 = wait_awaiting(&pg, 2);
    let counted = sent.elapsed();
    // Counted on A's next tick (a waiting step ticks every second).
    assert!(counted < Duration::from_secs(10), "{counted:?}");
    assert_eq!(at_2.holder, at_a.holder);
    assert_eq!(router_percent(&bed), 50, "{:?}", bed.weights());

    // A dies without a word; B takes over once the lease runs out.
    signal(&a, "-KILL");
    let killed = Instant::now();
    let _ = a.wait();
    let refused = run(&spec_b, &["rollout", "--quiet"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    wait_for(&pg, "A's lease expires", 10, |r| r.expired);
    let expired_after = killed.elapsed();
    let log_b = bed.dir.join("b.log");
    let mut b = spawn(&spec_b, &log_b, &[]);
    let taken = wait_holder(&pg, &b);
    let takeover = killed.elapsed();
    assert!(taken.token > at_a.token, "{taken:?} after {at_a:?}");
    assert!(
        expired_after <= Duration::from_secs(5),
        "the 2 s lease expired {expired_after:?} after the kill, not within about its TTL"
    );
    eprintln!("lease expired {expired_after:?} after kill -9; B took over after {takeover:?}");
    wait_log(&log_b, "resuming at step 2");
    // B finishes on approvals sent from A's machine.
    let until = Instant::now() + Duration::from_secs(60);
    while b.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "B did not finish: {:?}", row(&pg));
        let approve = run(&spec_a, &["approve", "--by", "bob", "--wait-secs", "3"]);
        assert_ne!(approve.status.code(), Some(2), "{}", text(&approve));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        wait_exit(&mut b, 5),
        0,
        "{}",
        std::fs::read_to_string(&log_b).unwrap()
    );
    let done = row(&pg).unwrap();
    assert_eq!(
        (done.phase.as_str(), done.candidate_percent),
        ("promoted", 100)
    );
    assert_eq!(router_percent(&bed), 100, "{:?}", bed.weights());

    // One audit log in PostgreSQL holds both runners' entries of one run.
    let verified = audit(&bed.dir.join("machine-a"), &["verify"], &pg.url);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    let shown = audit(
        &bed.dir.join("machine-a"),
        &["show", "--format", "json"],
        &pg.url,
    );
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
    let entries: Vec<Value> = serde_json::from_slice(&shown.stdout).unwrap();
    let runs: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e["run_id"].as_str())
        .collect();
    assert_eq!(runs.len(), 1, "{entries:#?}");
    let events: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["kind"] == "rollout")
        .map(|e| {
            let event = &e["detail"]["event"];
            (
                event["event"].as_str().unwrap_or_default().to_string(),
                event["by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let has = |what: &str, by: &str| events.iter().any(|(e, b)| e == what && b == by);
    // A's start and its approval by alice; B's approvals by bob and its promotion.
    assert!(has("start", ""), "{events:?}");
    assert!(has("approval", "alice"), "{events:?}");
    assert!(has("approval", "bob"), "{events:?}");
    assert!(has("promote", ""), "{events:?}");
    assert_eq!(
        events.iter().filter(|(e, _)| e == "start").count(),
        1,
        "B resumed A's run instead of starting another: {events:?}"
    );

    // The password shows nowhere: outputs, state, events, audit.
    let everything = format!(
        "{}{}{}{}{}{}",
        std::fs::read_to_string(&log_a).unwrap(),
        std::fs::read_to_string(&log_b).unwrap(),
        text(&second),
        text(&status),
        text(&shown),
        pg.psql(
            "SELECT string_agg(body::text, '') FROM gate.events UNION ALL \
             SELECT state::text FROM gate.rollouts UNION ALL \
             SELECT string_agg(convert_from(line, 'UTF8'), '') FROM gate.audit_entries"
        ),
    );
    assert!(!everything.contains(PASSWORD), "the password leaked");
    assert!(
        everything.contains("postgres://gate@127.0.0.1"),
        "{}",
        text(&status)
    );
}

#[test]
fn a_runner_that_lost_its_lease_touches_neither_router_nor_state() {
    let bed = bed();
    let pg = Postgres::start();
    let spec_a = spec(&bed, "machine-a", &pg.url, "until-approved");
    let spec_b = spec(&bed, "machine-b", &pg.url, "until-approved");
    let log_a = bed.dir.join("a.log");
    let mut a = spawn(&spec_a, &log_a, &[]);
    let at_a = wait_awaiting(&pg, 1);

    // A is frozen past its lease; B takes over and waits at the same step.
    signal(&a, "-STOP");
    wait_for(&pg, "A's lease expires", 10, |r| r.expired);
    let log_b = bed.dir.join("b.log");
    let mut b = spawn(&spec_b, &log_b, &[]);
    let taken = wait_holder(&pg, &b);
    assert!(taken.token > at_a.token);
    wait_log(&log_b, "resuming at step 1");
    // An approval waits in the inbox when A wakes: A must not act on it.
    let approve = run(&spec_b, &["approve", "--by", "alice", "--wait-secs", "0"]);
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve));
    signal(&a, "-CONT");
    let code = wait_exit(&mut a, 30);
    let err = std::fs::read_to_string(&log_a).unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the lease on rollout `shared` was lost"),
        "{err}"
    );
    assert!(err.contains(&taken.holder), "{err}");
    // Everything after the takeover is B's: B counted the approval and
    // moved to step 2; A wrote no state and no weights after it woke.
    let at_2 = wait_awaiting(&pg, 2);
    assert_eq!(at_2.holder, taken.holder);
    assert_eq!(router_percent(&bed), 50, "{:?}", bed.weights());
    let after_wake: Vec<&str> = err
        .lines()
        .skip_while(|l| !l.contains("awaiting-approval"))
        .filter(|l| l.contains("weights") || l.contains("step 2"))
        .collect();
    assert!(
        after_wake.is_empty(),
        "A acted after losing its lease: {after_wake:?}"
    );
    let events_by_a = pg.psql(
        "SELECT count(*) FROM gate.events WHERE body->>'event' = 'approved' \
         AND body::text LIKE '%alice%'",
    );
    assert_eq!(events_by_a.trim(), "1", "the approval was counted once");
    signal(&b, "-KILL");
    let _ = b.wait();
}

/// Writes a spec whose router is never reached (status reads the store only).
fn offline_spec(dir: &Path, url: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("spec.toml");
    std::fs::write(
        &path,
        format!(
            "[rollout]\nname = \"offline\"\nstrategy = \"canary\"\nstate = \"{url}\"\n\n\
             [router]\nkind = \"haproxy\"\nadmin_socket = \"{}\"\nbackend = \"web\"\n\n\
             [stable]\nservers = [\"blue1\"]\n\n[candidate]\nservers = [\"green1\"]\n",
            dir.join("no.sock").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_schema_is_created_once_by_concurrent_gates_and_a_newer_one_is_refused() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = offline_spec(&dir.path().join("m"), &pg.url);
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'gate'")
            .trim(),
        "0"
    );
    let children: Vec<Child> = (0..4)
        .map(|_| {
            gate(spec.parent().unwrap())
                .args(["status", "--format", "json", "--spec"])
                .arg(&spec)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    assert_eq!(
        pg.psql("SELECT version FROM gate.schema_version").trim(),
        "3"
    );
    let tables = pg.psql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'gate'",
    );
    assert_eq!(
        tables.trim(),
        "archived_states,audit_checkpoints,audit_entries,audit_head,commands,events,incidents,notify_outbox,notify_state,rollouts,schema_version"
    );

    pg.psql("UPDATE gate.schema_version SET version = 99");
    let out = run(&spec, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema is at version 99"), "{err}");
    assert!(err.contains("newer than this gate knows"), "{err}");
}

#[test]
fn bad_state_urls_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    for (url, expect) in [
        ("mysql://db/x", "not a PostgreSQL URL"),
        (
            "postgres://u:pw@127.0.0.1/x?sslmode=require",
            "sslmode=require asks for TLS",
        ),
    ] {
        let spec = offline_spec(&dir.path().join("m"), url);
        let out = run(&spec, &["status"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("spec.toml:4:"), "{err}");
        assert!(err.contains(expect), "{err}");
        assert!(err.contains("help:"), "{err}");
        assert!(!err.contains("pw@"), "{err}");
    }
}

#[test]
fn tampering_with_the_audit_rows_is_detected_naming_the_entry() {
    let bed = bed();
    let pg = Postgres::start();
    let spec = spec(&bed, "machine-a", &pg.url, "0s");
    let log = bed.dir.join("a.log");
    let mut a = spawn(&spec, &log, &[]);
    assert_eq!(
        wait_exit(&mut a, 60),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let verify = || audit(&bed.dir.join("machine-a"), &["verify"], &pg.url);
    let ok = verify();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let count: u64 = pg
        .psql("SELECT count(*) FROM gate.audit_entries")
        .trim()
        .parse()
        .unwrap();
    assert!(count >= 4, "{count} entries");

    // An edited entry.
    pg.psql("CREATE TABLE saved AS SELECT * FROM gate.audit_entries");
    pg.psql(
        "UPDATE gate.audit_entries SET line = convert_to(replace(convert_from(line, 'UTF8'), \
         'v2', 'v9'), 'UTF8') WHERE seq = 0",
    );
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 0"),
        "{}",
        text(&out)
    );
    pg.psql("UPDATE gate.audit_entries e SET line = s.line FROM saved s WHERE s.seq = e.seq");
    assert_eq!(verify().status.code(), Some(0));

    // A deleted entry.
    pg.psql("DELETE FROM gate.audit_entries WHERE seq = 2");
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 2"),
        "{}",
        text(&out)
    );
    pg.psql("INSERT INTO gate.audit_entries SELECT * FROM saved WHERE seq = 2");
    assert_eq!(verify().status.code(), Some(0));

    // Two entries swapped.
    pg.psql(
        "UPDATE gate.audit_entries e SET line = s.line FROM saved s \
         WHERE (e.seq, s.seq) IN ((1, 2), (2, 1))",
    );
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 1"),
        "{}",
        text(&out)
    );
    pg.psql("UPDATE gate.audit_entries e SET line = s.line FROM saved s WHERE s.seq = e.seq");

    // The last entry cut off with its checkpoint: the head still counts it.
    let last = count - 1;
    pg.psql(&format!(
        "DELETE FROM gate.audit_entries WHERE seq = {last}; \
         DELETE FROM gate.audit_checkpoints WHERE size = {count}"
    ));
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("entry {last}")), "{err}");
    assert!(err.contains("head records"), "{err}");
}

#[test]
fn the_dashboard_shows_a_shared_rollout_and_its_audit_log_in_postgresql() {
    let bed = bed();
    let pg = Postgres::start();
    let url = secret_url(&pg);
    let machine = bed.dir.join("machine-a");
    let spec = spec(&bed, "machine-a", &url, "0s");
    let log = bed.dir.join("a.log");
    let mut a = spawn(&spec, &log, &[]);
    assert_eq!(
        wait_exit(&mut a, 60),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let port = services::free_port();
    let mut serve = gate(&machine)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--spec"])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let get = |path: &str| services::http_get(&format!("http://127.0.0.1:{port}{path}"));
    let until = Instant::now() + Duration::from_secs(20);
    let body = loop {
        match get("/api/audit") {
            Ok((200, body)) => break body,
            _ if Instant::now() < until => std::thread::sleep(Duration::from_millis(100)),
            other => {
                let _ = serve.kill();
                panic!("gate serve did not answer: {other:?}");
            }
        }
    };
    let rollout = get("/api/rollouts/shared")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(!body.contains(PASSWORD) && !rollout.contains(PASSWORD));
    let doc: Value = serde_json::from_str(&body).unwrap();
    let logs = doc["logs"].as_array().unwrap();
    let shared = logs
        .iter()
        .find(|l| l["dir"].as_str().is_some_and(|d| d.starts_with("postgres")))
        .unwrap_or_else(|| panic!("no log in PostgreSQL is served: {body}"));
    assert_eq!(shared["verification"]["state"], "verified", "{body}");
    let count: u64 = pg
        .psql("SELECT count(*) FROM gate.audit_entries")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(shared["matching"], count, "{body}");
    assert_eq!(shared["verification"]["entries"], count, "{body}");
    let rollout: Value = serde_json::from_str(&rollout).unwrap();
    assert_eq!(rollout["status"]["phase"], "promoted", "{rollout}");
}

/// With the state in PostgreSQL, a rollback opens its incident in
/// `gate.incidents` (one row, however often the spec runs again), with its
/// `incident` audit row, and `gate incident` reads it from there.
#[test]
fn a_rollback_with_shared_state_opens_one_incident_in_postgresql() {
    let bed = bed();
    let pg = Postgres::start();
    let spec = spec(&bed, "machine-a", &pg.url, "until-approved");
    let log = bed.dir.join("a.log");
    let mut a = spawn(&spec, &log, &[]);
    wait_awaiting(&pg, 1);
    let rb = run(&spec, &["rollback", "--by", "carol"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let code = wait_exit(&mut a, 30);
    assert_eq!(code, 1, "{}", std::fs::read_to_string(&log).unwrap());
    let again = gate(spec.parent().unwrap())
        .args(["rollout", "--spec"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));

    assert_eq!(pg.psql("SELECT count(*) FROM gate.incidents").trim(), "1");
    let id = pg.psql("SELECT id FROM gate.incidents");
    let out = run(&spec, &["incident", "list", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list:#}");
    let incident = &list[0];
    assert_eq!(incident["id"], id.trim());
    assert_eq!(incident["trigger"]["kind"], "manual");
    assert_eq!(incident["trigger"]["by"], "carol");
    assert_eq!(incident["health_after"]["healthy"], true);
    let entries = pg.psql(
        "SELECT count(*) FROM gate.audit_entries \
         WHERE convert_from(line, 'UTF8')::jsonb->>'kind' = 'incident'",
    );
    assert_eq!(entries.trim(), "1");
    let md = run(&spec, &["incident", "show", id.trim()]);
    assert_eq!(md.status.code(), Some(0), "{}", text(&md));
    assert!(
        String::from_utf8_lossy(&md.stdout).contains("`gate rollback` by carol"),
        "{}",
        text(&md)
    );
}

#[test]
fn runners_sharing_state_share_one_outbox_and_deliver_each_notification_once() {
    // Every notification's first five attempts fail (0.5 + 1 + 2 + 4 + 8 s
    // of backoff), so the runner is killed with all of them pending.
    let rx = Receiver::start("webhook", "500,500,500,500,500,200");
    let bed = bed();
    let pg = Postgres::start();
    let rule = format!(
        r#"
[[notify]]
name = "ops"
target = "webhook"
url = "{}/gate"
secret_env = "GATE_TEST_WEBHOOK_SECRET"
events = ["rollout-started", "step", "awaiting-approval", "promoted", "rolled-back"]
timeout_ms = 1000
"#,
        rx.url
    );
    let url = secret_url(&pg);
    let a = spec_with(&bed, "machine-a", &url, "until-approved", &rule);
    let b = spec_with(&bed, "machine-b", &url, "until-approved", &rule);
    let log = bed.dir.join("a.log");
    let mut runner = spawn(&a, &log, &[]);
    wait_awaiting(&pg, 1);
    // Killed once three notifications (started, step 1, awaiting approval)
    // have each had an attempt, before any can succeed.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let attempts = counts(&rx.stats()["attempts"]);
        if attempts.len() >= 3 {
            break;
        }
        assert!(
            Instant::now() < until,
            "no attempts: {}\n{}",
            rx.stats(),
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&runner, "-KILL");
    wait_exit(&mut runner, 10);
    assert!(
        counts(&rx.stats()["delivered"]).is_empty(),
        "{}",
        rx.stats()
    );

    // The other machine sees the dead runner's outbox: the same ids, pending.
    let listed = run(&b, &["notify", "list", "--format", "json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(rows.len() >= 3, "{rows:#?}");
    assert!(
        rows.iter().all(|r| r["delivered_ms"].is_null()),
        "{rows:#?}"
    );
    let seen = counts(&rx.stats()["attempts"]);
    for r in rows {
        assert!(seen.contains_key(r["id"].as_str().unwrap()), "{r}");
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM gate.notify_outbox").trim(),
        rows.len().to_string()
    );

    // Both machines deliver at once: each notification arrives once.
    let deliver = |spec: &Path| {
        gate(spec.parent().unwrap())
            .args(["notify", "deliver", "--timeout", "30", "--spec"])
            .arg(spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (da, db) = (deliver(&a), deliver(&b));
    let (oa, ob) = (
        da.wait_with_output().unwrap(),
        db.wait_with_output().unwrap(),
    );
    // One delivered everything; the other found the outbox busy or empty.
    assert!(
        oa.status.code() == Some(0) || ob.status.code() == Some(0),
        "{}\n{}",
        text(&oa),
        text(&ob)
    );
    for o in [&oa, &ob] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(0) || err.contains("another gate is delivering"),
            "{}",
            text(o)
        );
    }
    let again = run(&b, &["notify", "deliver"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("delivered 0, pending 0"),
        "{}",
        text(&again)
    );
    let stats = rx.stats();
    let delivered = counts(&stats["delivered"]);
    assert_eq!(delivered.len(), rows.len(), "lost one: {stats}");
    assert!(delivered.values().all(|n| *n == 1), "duplicated: {stats}");
    assert_eq!(stats["bad_signature"], 0, "{stats}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM gate.notify_outbox WHERE delivered_at IS NULL")
            .trim(),
        "0"
    );
    // The password of the state URL is in no outbox row.
    assert!(
        !pg.psql("SELECT entry::text FROM gate.notify_outbox")
            .contains(PASSWORD)
    );
}
