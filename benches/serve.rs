//! `cargo bench --bench serve`: how fast `gate serve` answers, and how much
//! memory it holds, over a large deployment record. Gate's peers (Argo
//! Rollouts, Flagger, Spinnaker) have no comparable dashboard that reads the
//! same record, so this bench measures gate alone.
//!
//! The record: `GATE_BENCH_ROLLOUTS` rollout specs (default 100) in front of
//! one real HAProxy with two nginx servers, each with a state written
//! through `gate_rollout::store::Store::save` and an event log written
//! through `gate_rollout::events::Events` (a start, its steps, analysis
//! measurements, and for some a promotion or a rollback), and one audit log
//! of `GATE_BENCH_ENTRIES` entries (default 100 000; nine evaluations of the
//! served policy to one rollout entry) shared by every spec and the policy.
//! The audit log is built once with `AuditLog::append` (fsyncs included:
//! 3.1 ms an append, about 5 minutes for 100 000 entries, on the 2-core
//! machine; several times that while it compiles) into
//! `target/bench-serve/audit-COUNT` (an interrupted build resumes), and
//! copied for each run.
//!
//! **Requests.** The real `gate serve` binary (target/release/gate) on a
//! free 127.0.0.1 port answers `GATE_BENCH_REQUESTS` requests (default 20)
//! per route, one at a time and then from `GATE_BENCH_CLIENTS` clients at
//! once (default 4, each sending that many); the table gives the median,
//! p90 and max of each route, then the server's VmRSS and VmHWM.
//!
//! **Memory over time** (`-- --events-for SECS`, default 60): a writer
//! records rollout events (an analysis measurement, and every fifth a step
//! with its weights: event log and audit entry, through the same APIs) at
//! `GATE_BENCH_EVENT_RATE` per second (default 4, a busy rollout's rate)
//! across the rollouts, while one client stays connected to `/api/events`
//! and a poller requests a page every second; the server's RSS is sampled
//! every `GATE_BENCH_SAMPLE_SECS` (default 5). The hour:
//! `cargo bench --bench serve -- --events-for 3600`.

#[path = "../tests/services/mod.rs"]
mod services;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gate_audit::entry::{
    AnalysisResult, CheckOutcome, CheckStatus, Evaluation, PolicyRef, RolloutEvent, Verdict,
};
use gate_audit::{AuditLog, Draft, Record, Signer};
use gate_rollout::Spec;
use gate_rollout::analysis::{Measurement, Verdict as MeasuredVerdict};
use gate_rollout::events::Events;
use gate_rollout::record::Recorder;
use gate_rollout::state::{Phase, RolloutState};
use gate_rollout::store::{self, Lease, Store};
use serde_json::json;
use services::rollout::{Backend, RolloutBed};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> u64 {
    services::rollout::now_ms()
}

/// The checks of the served policy, as its evaluation entries list them.
const CHECKS: [&str; 4] = [
    "security.no-secrets",
    "config.env-vars",
    "infra.disk-space",
    "config.logging-levels",
];

fn evaluation(n: usize) -> Record {
    let policy = PolicyRef {
        file: "policy.toml".into(),
        sha256: format!("{n:064x}"),
    };
    Record::Evaluation(Evaluation {
        policy_name: "bench".into(),
        policy: policy.clone(),
        gate: None,
        verdict: if n % 10 == 3 {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        checks: CHECKS
            .iter()
            .enumerate()
            .map(|(i, id)| CheckOutcome {
                gate: "preflight".into(),
                id: id.to_string(),
                status: if n % 10 == 3 && i == 0 {
                    CheckStatus::Fail
                } else {
                    CheckStatus::Pass
                },
                findings: u64::from(n % 10 == 3),
            })
            .collect(),
        exemptions_used: Vec::new(),
        exemptions_expired: Vec::new(),
        inputs: vec![policy],
    })
}

/// The cached audit log of `count` entries (and its signing key), built with
/// `AuditLog::append` on first use; an interrupted build resumes.
fn cached_log(root: &Path, count: usize) -> (PathBuf, PathBuf) {
    let dir = root.join(format!("audit-{count}"));
    std::fs::create_dir_all(&dir).unwrap();
    let key_path = dir.join("audit.key");
    let signer = gate_audit::key::load_or_create(&key_path).unwrap();
    let log_dir = dir.join("log");
    let log = AuditLog::open(&log_dir, true).unwrap().unwrap();
    let have = std::fs::read(log_dir.join("entries.jsonl"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0);
    if have < count {
        let started = Instant::now();
        for n in have..count {
            let record = if n % 10 == 9 {
                Record::Rollout(gate_audit::entry::Rollout {
                    spec: PolicyRef {
                        file: "svc.toml".into(),
                        sha256: format!("{n:064x}"),
                    },
                    service: format!("svc-{:03}", n % 100),
                    event: RolloutEvent::Step { step: 1, of: 3 },
                })
            } else {
                evaluation(n)
            };
            log.append(&signer, Draft::new(record)).unwrap();
        }
        println!(
            "audit log: appended {} entries in {:.1} s ({:.2} ms each), cached in {}",
            count - have,
            started.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64() * 1000.0 / (count - have) as f64,
            dir.display()
        );
    }
    (log_dir, key_path)
}

/// Copies the files of `from` (an audit directory: no subdirectories) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn write_spec(dir: &Path, bed: &RolloutBed, name: &str, audit: &Path) -> Spec {
    let text = format!(
        r#"[rollout]
name = "{name}"
strategy = "canary"
state_dir = "state"

[router]
kind = "haproxy"
admin_socket = "{socket}"
backend = "web"

[stable]
servers = ["blue1"]
version = "v1"

[candidate]
servers = ["green1"]
version = "v2"

[canary]
steps = [20, 60, 100]
pause = "until-approved"

[[analysis]]
name = "error-rate"
provider = "haproxy"
query = "candidate_5xx_ratio"
max = 0.05
interval = "10s"

[audit]
dir = "{audit}"
"#,
        socket = bed.admin_socket.display(),
        audit = audit.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    Spec::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

fn write_policy(dir: &Path, audit: &Path) -> PathBuf {
    let text = format!(
        r#"[policy]
name = "bench"

[audit]
dir = "{audit}"

[[gate]]
name = "preflight"
checks = ["security.no-secrets", "config.env-vars", "infra.disk-space", "config.logging-levels"]
enforcement = "block"

[[check]]
id = "security.no-secrets"
params = {{ paths = ["src"] }}

[[exemption]]
check = "security.no-secrets"
match = "src/fixtures/*"
reason = "test fixtures"
approved_by = "secops@example.com"
expires = 2099-12-31
"#,
        audit = audit.display()
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One served rollout as the bench drives it: its spec, store, lease,
/// state, event log and audit recorder.
struct Rollout {
    spec: Spec,
    store: Box<dyn Store>,
    lease: Lease,
    state: RolloutState,
    events: Events,
    recorder: Recorder,
}

impl Rollout {
    async fn start(spec: Spec) -> Rollout {
        let store = store::open(&spec).await.unwrap();
        let lease = store.acquire("bench").await.unwrap().unwrap();
        let now = now_ms();
        let state = RolloutState::new(&spec.name, &spec.digest, "canary", now);
        let events = Events::new(store.events().unwrap(), &spec.name, now).quiet(true);
        let recorder = Recorder::new(&spec);
        Rollout {
            spec,
            store,
            lease,
            state,
            events,
            recorder,
        }
    }

    /// One analysis measurement: an event, an audit entry through `log`, the state.
    async fn measure(&mut self, log: &AuditLog, signer: &Signer, n: u64) {
        let value = 0.002 + (n % 7) as f64 * 0.003;
        let m = Measurement {
            at_ms: now_ms(),
            result: MeasuredVerdict::Success,
            value: Some(value),
            stable_value: None,
            samples: 400 + n % 50,
            message: None,
        };
        let text = format!("error-rate: success {value:.4} over {} samples", m.samples);
        let event = RolloutEvent::Analysis {
            name: "error-rate".into(),
            step: self.state.step,
            result: AnalysisResult::Success,
            detail: text.clone(),
        };
        log.append(signer, self.recorder.rollout(&self.state.run_id, event))
            .unwrap();
        self.events.emit(
            "analysis",
            &text,
            json!({ "analysis": "error-rate", "step": self.state.step, "measurement": m }),
        );
        self.state
            .analysis
            .entry("error-rate".into())
            .or_default()
            .push(m);
        self.save().await;
    }

    /// The next canary step (wrapping back to step 1 after the last).
    async fn step(&mut self, log: &AuditLog, signer: &Signer) {
        self.state.step = self.state.step % 3 + 1;
        self.state.candidate_percent = [20, 60, 100][self.state.step as usize - 1];
        self.state.phase = Phase::Progressing;
        self.state.analysis.clear();
        let step = self.state.step;
        self.events.emit(
            "step",
            &format!("step {step}/3: candidate {}%", self.state.candidate_percent),
            json!({ "step": step, "percent": self.state.candidate_percent }),
        );
        let event = self.recorder.weights(self.state.candidate_percent);
        log.append(signer, self.recorder.rollout(&self.state.run_id, event))
            .unwrap();
        self.save().await;
    }

    async fn finish(&mut self, phase: Phase) {
        self.state.phase = phase;
        let (kind, message) = match phase {
            Phase::Promoted => ("promote", "promoted: every step passed"),
            _ => ("rolled-back", "rolled back: error-rate above 0.05"),
        };
        self.events.emit(kind, message, json!({}));
        self.state.outcome = Some(message.into());
        self.save().await;
    }

    async fn save(&mut self) {
        self.store.save(&self.lease, &mut self.state).await.unwrap();
    }
}

/// Writes every rollout's state and a history of a few steps and
/// measurements; a tenth end promoted, a tenth rolled back.
async fn set_up(specs: Vec<Spec>, log: &AuditLog, signer: &Signer) -> Vec<Rollout> {
    let mut rollouts = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let mut r = Rollout::start(spec).await;
        r.events.emit(
            "start",
            "canary v1 -> v2",
            json!({ "strategy": "canary", "stable": "v1", "candidate": "v2" }),
        );
        for s in 0..(1 + i % 3) {
            r.step(log, signer).await;
            for n in 0..6 {
                r.measure(log, signer, (s * 6 + n) as u64).await;
            }
        }
        match i % 10 {
            0 => r.finish(Phase::Promoted).await,
            1 => r.finish(Phase::RolledBack).await,
            _ => {}
        }
        rollouts.push(r);
    }
    rollouts
}

/// A running `gate serve`, killed on drop.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(specs: &[PathBuf], policy: &Path, key: &Path) -> Served {
        let port = services::free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("GATE_AUDIT_KEY", key)
            .arg("--policy")
            .arg(policy);
        for s in specs {
            cmd.arg("--spec").arg(s);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let served = Served { child, port };
        let until = Instant::now() + Duration::from_secs(60);
        while get(port, "/api/rollouts").0 != 200 {
            assert!(Instant::now() < until, "gate serve did not answer");
            std::thread::sleep(Duration::from_millis(200));
        }
        served
    }

    /// VmRSS and VmHWM in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// One `GET` with `Connection: close`: status and body length.
fn get(port: u16, path: &str) -> (u16, usize) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, 0);
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, 0);
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let status = String::from_utf8_lossy(&raw[..raw.len().min(16)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, raw.len())
}

/// `requests` timed requests of `path` from each of `clients` threads, in ms.
fn time_route(port: u16, path: &str, clients: usize, requests: usize) -> (Vec<f64>, usize) {
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let path = path.to_string();
            std::thread::spawn(move || {
                let mut times = Vec::with_capacity(requests);
                let mut bytes = 0;
                for _ in 0..requests {
                    let started = Instant::now();
                    let (status, len) = get(port, &path);
                    assert_eq!(status, 200, "GET {path}");
                    times.push(started.elapsed().as_secs_f64() * 1000.0);
                    bytes = len;
                }
                (times, bytes)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut bytes = 0;
    for w in workers {
        let (times, len) = w.join().unwrap();
        all.extend(times);
        bytes = len;
    }
    (all, bytes)
}

/// Median, p90 and max.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), v[v.len() - 1])
}

fn request_table(served: &Served, name: &str) {
    let requests = env_or("GATE_BENCH_REQUESTS", 20);
    let clients = env_or("GATE_BENCH_CLIENTS", 4);
    let routes = [
        "/".to_string(),
        format!("/rollouts/{name}"),
        "/checklist".into(),
        "/exemptions".into(),
        "/audit".into(),
        "/audit?kind=evaluation".into(),
        "/api/overview".into(),
        "/api/rollouts".into(),
        format!("/api/rollouts/{name}"),
        "/api/audit".into(),
        "/api/evaluations/latest".into(),
        "/metrics".into(),
    ];
    println!(
        "\n{:<26} {:>9} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        "route (ms)", "KB", "1: median", "p90", "max", "4: median", "p90", "max"
    );
    for route in &routes {
        let (one, bytes) = time_route(served.port, route, 1, requests);
        let (many, _) = time_route(served.port, route, clients, requests);
        let (m1, p1, x1) = spread(one);
        let (m4, p4, x4) = spread(many);
        println!(
            "{route:<26} {:>9.1} | {m1:>9.1} {p1:>9.1} {x1:>9.1} | {m4:>9.1} {p4:>9.1} {x4:>9.1}",
            bytes as f64 / 1024.0
        );
    }
    let (rss, hwm) = served.memory();
    println!(
        "\n1 client, then {clients} at once; {requests} requests each. gate serve: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB"
    );
}

/// The SSE client: counts the `rollout` events it receives until `stop`.
fn follow_events(port: u16, stop: Arc<AtomicBool>, received: Arc<AtomicU64>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 65536];
    let mut tail = String::new();
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tail.push_str(&String::from_utf8_lossy(&buf[..n]));
                let seen = tail.matches("event: rollout").count() as u64;
                received.fetch_add(seen, Ordering::Relaxed);
                let keep = tail.rfind('\n').map_or(0, |i| i + 1);
                tail.drain(..keep);
            }
            Err(_) => continue,
        }
    }
}

/// The poller: one page a second, round the routes, until `stop`.
fn poll_pages(port: u16, name: String, stop: Arc<AtomicBool>) {
    let routes = [
        "/".to_string(),
        format!("/rollouts/{name}"),
        format!("/api/rollouts/{name}"),
        "/api/overview".into(),
        "/metrics".into(),
    ];
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let (status, _) = get(port, &routes[i % routes.len()]);
        assert_eq!(status, 200, "GET {}", routes[i % routes.len()]);
        i += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
}

async fn events_over_time(
    served: &Served,
    rollouts: &mut [Rollout],
    log: &AuditLog,
    signer: &Signer,
    secs: u64,
) {
    let rate = env_or("GATE_BENCH_EVENT_RATE", 4).max(1) as f64;
    let every = Duration::from_secs(env_or("GATE_BENCH_SAMPLE_SECS", 5) as u64);
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let sse = {
        let (stop, received, port) = (stop.clone(), received.clone(), served.port);
        std::thread::spawn(move || follow_events(port, stop, received))
    };
    let active: Vec<usize> = (0..rollouts.len()).filter(|i| i % 10 >= 2).collect();
    let poller = {
        let (stop, port) = (stop.clone(), served.port);
        let name = rollouts[active[0]].spec.name.clone();
        std::thread::spawn(move || poll_pages(port, name, stop))
    };
    println!(
        "\nmemory over {secs} s: {rate} events/s across {} rollouts, one SSE client, one page a second",
        active.len()
    );
    println!(
        "{:>7} {:>10} {:>10} {:>9} {:>9}",
        "t (s)", "RSS MiB", "HWM MiB", "written", "streamed"
    );
    let started = Instant::now();
    let mut written = 0u64;
    let mut next_sample = Duration::ZERO;
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        if started.elapsed() >= next_sample {
            let (rss, hwm) = served.memory();
            println!(
                "{:>7.0} {rss:>10.1} {hwm:>10.1} {written:>9} {:>9}",
                started.elapsed().as_secs_f64(),
                received.load(Ordering::Relaxed)
            );
            samples.push(rss);
            next_sample += every;
        }
        let r = &mut rollouts[active[written as usize % active.len()]];
        if written % 5 == 4 {
            r.step(log, signer).await;
        } else {
            r.measure(log, signer, written).await;
        }
        written += 1;
        let due = started + Duration::from_secs_f64(written as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
    }
    let (end, hwm) = served.memory();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let _ = sse.join();
    let _ = poller.join();
    let max = samples.iter().copied().fold(end, f64::max);
    println!(
        "RSS start {:.1} MiB, max {max:.1} MiB, end {end:.1} MiB (VmHWM {hwm:.1} MiB); {written} events written, {} streamed",
        samples.first().copied().unwrap_or(end),
        received.load(Ordering::Relaxed)
    );
}

fn events_for() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--events-for")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(60)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let count = env_or("GATE_BENCH_ENTRIES", 100_000);
    let specs_n = env_or("GATE_BENCH_ROLLOUTS", 100);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-serve");
    std::fs::create_dir_all(&root).unwrap();
    let (cached, key) = cached_log(&root, count);
    let tmp = tempfile::tempdir_in(&root).unwrap();
    let audit = tmp.path().join("audit");
    copy_dir(&cached, &audit);
    let signer = gate_audit::key::load(&key).unwrap();
    let log = AuditLog::open(&audit, false).unwrap().unwrap();
    let bed = RolloutBed::start(
        &[
            Backend {
                name: "blue1",
                version: "v1",
                error_percent: 0,
                healthy: true,
            },
            Backend {
                name: "green1",
                version: "v2",
                error_percent: 0,
                healthy: true,
            },
        ],
        &[80, 20],
    );
    let specs: Vec<Spec> = (0..specs_n)
        .map(|i| write_spec(tmp.path(), &bed, &format!("svc-{i:03}"), &audit))
        .collect();
    let paths: Vec<PathBuf> = specs.iter().map(|s| s.file.clone()).collect();
    let policy = write_policy(tmp.path(), &audit);
    let started = Instant::now();
    let mut rollouts = set_up(specs, &log, &signer).await;
    println!(
        "{specs_n} rollouts written through the store in {:.1} s; audit log of {} entries",
        started.elapsed().as_secs_f64(),
        count
    );
    let served = Served::start(&paths, &policy, &key);
    let (rss, hwm) = served.memory();
    println!("gate serve started: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
    let name = rollouts[2].spec.name.clone();
    request_table(&served, &name);
    events_over_time(&served, &mut rollouts, &log, &signer, events_for()).await;
}
