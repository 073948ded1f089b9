//! The service-facing `infra` checks end to end, through the real `gate`
//! binary and its built-in `infra` plugin, against real services: PostgreSQL 15
//! with streaming replicas (and a real `pg_basebackup`), HAProxy 2.6 with nginx
//! servers, and Prometheus 2.42 scraping HAProxy's exporter with rule files.
//! Each check has a pass case, a fail case and a "cannot see" case, which must
//! be `error`, never `pass` or `skip`.
//!
//! `infra.load-balancer`, `infra.db-replicas`, `infra.monitoring`,
//! `infra.alert-thresholds`, `infra.runbooks`, `infra.backup`, `infra.drills`,
//! `infra.resource-limits`.

mod common;
#[path = "services/mod.rs"]
mod services;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use serde_json::{Value, json};
use services::{HAProxy, HttpServer, Postgres, Prometheus, free_port};

// ---------------------------------------------------------------- helpers

/// One evaluation of one `infra` check.
struct Run<'a> {
    check: &'a str,
    params: Value,
    grants: Value,
    /// `[connections.*]` / `[metrics.*]` sections.
    resources: String,
    env: Vec<(&'a str, String)>,
    ws: Workspace,
}

impl<'a> Run<'a> {
    fn new(check: &'a str, params: Value) -> Run<'a> {
        Run {
            check,
            params,
            grants: json!({}),
            resources: String::new(),
            env: Vec::new(),
            ws: Workspace::new(),
        }
    }

    fn grants(mut self, grants: Value) -> Self {
        self.grants = grants;
        self
    }

    /// `[connections.primary]` reading its URL from `PRIMARY_URL`.
    fn primary(mut self, url: &str) -> Self {
        self.resources
            .push_str("[connections.primary]\nkind = \"postgres\"\nurl_env = \"PRIMARY_URL\"\n\n");
        self.env.push(("PRIMARY_URL", url.to_string()));
        self
    }

    /// `[metrics.prom]` at `url`.
    fn prometheus(mut self, url: &str) -> Self {
        self.resources.push_str(&format!(
            "[metrics.prom]\nkind = \"prometheus\"\nurl = \"{url}\"\n\n"
        ));
        self
    }

    fn policy(&self) -> String {
        let grants: Vec<String> = self
            .grants
            .as_object()
            .expect("grants object")
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml(v)))
            .collect();
        format!(
            "[policy]\nname = \"checks-infra\"\n\n{resources}\
             [[plugin]]\nname = \"infra\"\n[plugin.grants]\n{grants}\ntimeout_ms = 30000\n\n\
             [[gate]]\nname = \"preflight\"\nchecks = [\"{check}\"]\n\n\
             [[check]]\nid = \"{check}\"\nparams = {params}\n",
            resources = self.resources,
            grants = grants.join("\n"),
            check = self.check,
            params = toml(&self.params),
        )
    }

    /// Runs the check; returns (exit code, the check's report entry).
    fn go(&self) -> (i32, Value) {
        self.ws.write("policy.toml", &self.policy());
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = self.ws.gate_env(
            &["evaluate", "--policy", "policy.toml", "--format", "json"],
            &env,
        );
        let c = code(&out);
        assert!(
            c == 0 || c == 1,
            "gate exited {c}\npolicy:\n{}\nstdout: {}\nstderr: {}",
            self.policy(),
            stdout(&out),
            stderr(&out)
        );
        let report = json(&out);
        (c, check(&report, "preflight", self.check).clone())
    }
}

fn findings(entry: &Value) -> &Vec<Value> {
    entry["findings"].as_array().expect("findings")
}

/// The one finding about `subject` (and `rule`, when given).
fn one<'a>(entry: &'a Value, subject: &str, rule: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = findings(entry)
        .iter()
        .filter(|f| f["subject"] == subject && rule.is_none_or(|r| f["rule"] == r))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "findings about {subject} {rule:?} in {entry:#}"
    );
    found[0]
}

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or_default()
}

/// Asserts the check's status and, for `error`, that nothing passed silently.
fn assert_status(entry: &Value, status: &str) {
    assert_eq!(entry["status"], status, "{entry:#}");
}

/// Waits for `cond` (polling), panicking with `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match cond() {
            Ok(()) => return,
            Err(e) if start.elapsed() > timeout => panic!("timed out waiting for {what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

// ---------------------------------------------------------- load balancer

#[test]
fn load_balancer_counts_servers_up_over_the_socket_and_the_stats_page() {
    let lb = HAProxy::start(2);
    let socket = lb.admin_socket.display().to_string();
    let via_socket = |backends: Value| {
        Run::new(
            "infra.load-balancer",
            json!({ "admin_socket": socket, "backends": backends, "frontends": ["fe_web"] }),
        )
        .grants(json!({ "unix": [socket] }))
        .go()
    };
    let via_http = |backends: Value| {
        Run::new(
            "infra.load-balancer",
            json!({ "stats_url": lb.stats_url, "backends": backends }),
        )
        .grants(json!({ "http": [format!("{}*", lb.stats_url)] }))
        .go()
    };

    // Pass: both servers UP, frontend OPEN.
    let (c, entry) = via_socket(json!([{ "name": "web", "min_up": 2 }]));
    assert_eq!(c, 0, "{entry:#}");
    assert_status(&entry, "pass");
    let web = one(&entry, "web", None);
    assert_eq!(web["evidence"]["up"], "2");
    assert!(
        web["evidence"]["server:web1"]
            .as_str()
            .unwrap()
            .starts_with("UP")
    );
    assert_eq!(one(&entry, "frontend:fe_web", None)["status"], "pass");
    let (c, entry) = via_http(json!([{ "name": "web", "min_up": 2 }]));
    assert_eq!(c, 0, "{entry:#}");

    // Fail: one server down (its nginx stopped, health checks mark it DOWN).
    lb.stop_backend("web2");
    lb.wait_state("web2", false);
    for (c, entry) in [
        via_socket(json!([{ "name": "web", "min_up": 2 }])),
        via_http(json!([{ "name": "web", "min_up": 2 }])),
    ] {
        assert_eq!(c, 1);
        assert_status(&entry, "fail");
        let web = one(&entry, "web", None);
        assert_eq!(web["status"], "fail");
        assert_eq!(web["evidence"]["up"], "1");
        assert!(
            web["evidence"]["server:web2"]
                .as_str()
                .unwrap()
                .starts_with("DOWN"),
            "{web:#}"
        );
        assert!(
            message(web).contains("below") || message(web).contains("1 of 2"),
            "{web:#}"
        );
    }
    // min_up 1 still holds; a drained server does not count.
    let (c, _) = via_socket(json!([{ "name": "web", "min_up": 1 }]));
    assert_eq!(c, 0);
    lb.command("set server web/web1 state drain");
    let (c, entry) = via_socket(json!([{ "name": "web", "min_up": 1 }]));
    assert_eq!(c, 1, "{entry:#}");
    assert!(
        one(&entry, "web", None)["evidence"]["server:web1"]
            .as_str()
            .unwrap()
            .starts_with("DRAIN")
    );
    // A backend that does not exist fails.
    let (c, entry) = via_socket(json!([{ "name": "nope" }]));
    assert_eq!(c, 1);
    assert!(message(one(&entry, "nope", None)).contains("no backend `nope`"));

    // Cannot see: socket not granted, or stats page not answering.
    let (c, entry) = Run::new(
        "infra.load-balancer",
        json!({ "admin_socket": socket, "backends": [{ "name": "web" }] }),
    )
    .go();
    assert_eq!(c, 1);
    assert_status(&entry, "error");
    assert!(
        message(&findings(&entry)[0]).contains("not granted `unix`"),
        "{entry:#}"
    );
    let dead = format!("http://127.0.0.1:{}/stats", free_port());
    let (_, entry) = Run::new(
        "infra.load-balancer",
        json!({ "stats_url": dead, "backends": [{ "name": "web" }] }),
    )
    .grants(json!({ "http": ["http://127.0.0.1:*"] }))
    .go();
    assert_status(&entry, "error");
}

// ------------------------------------------------------------- db replicas

fn replicas_run(url: &str, params: Value) -> (i32, Value) {
    Run::new("infra.db-replicas", params)
        .primary(url)
        .grants(json!({ "sql": ["primary"] }))
        .go()
}

/// Waits until the primary has the replica's first replay report (right after
/// it starts streaming, `replay_lsn` is still NULL and its lag unknown).
fn wait_reported(pg: &Postgres, name: &str) {
    wait_until(
        "the replica's first replay report",
        Duration::from_secs(30),
        || {
            let reported = pg.psql(&format!(
            "SELECT replay_lsn IS NOT NULL FROM pg_stat_replication WHERE application_name = '{name}'"
        ));
            if reported == "t" {
                Ok(())
            } else {
                Err(reported)
            }
        },
    );
}

#[test]
fn db_replicas_counts_streaming_replicas_and_sees_a_missing_one() {
    let pg = Postgres::start();
    // Before the replicas: their base backups copy the role.
    let monitor = pg.monitor_url();
    let r1 = pg.add_replica();
    let r2 = pg.add_replica();
    wait_reported(&pg, &r1.name);
    wait_reported(&pg, &r2.name);

    let (c, entry) = replicas_run(
        &monitor,
        json!({ "connection": "primary", "min_replicas": 2, "max_lag_seconds": 30 }),
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(one(&entry, "primary", None)["evidence"]["streaming"], "2");
    let f = one(&entry, &r1.name, None);
    assert_eq!(f["status"], "pass");
    assert_eq!(f["evidence"]["state"], "streaming");
    assert_eq!(f["evidence"]["client_addr"], "127.0.0.1");
    let _ = one(&entry, &r2.name, None);

    // Missing replica: one of the two stops.
    r2.stop();
    let (c, entry) = replicas_run(
        &monitor,
        json!({ "connection": "primary", "min_replicas": 2 }),
    );
    assert_eq!(c, 1);
    let summary = one(&entry, "primary", None);
    assert_eq!(summary["status"], "fail");
    assert!(
        message(summary).contains("1 streaming replica(s), fewer than min_replicas 2"),
        "{summary:#}"
    );
    r1.stop();
    let (c, entry) = replicas_run(&monitor, json!({ "connection": "primary" }));
    assert_eq!(c, 1);
    assert_eq!(findings(&entry).len(), 1, "{entry:#}");

    // Cannot see: server down, grant missing, or pointed at a standby.
    let dead = format!("postgres://gate@127.0.0.1:{}/gate", free_port());
    let (_, entry) = replicas_run(&dead, json!({ "connection": "primary" }));
    assert_status(&entry, "error");
    assert!(
        message(&findings(&entry)[0]).contains("cannot query"),
        "{entry:#}"
    );
    let (_, entry) = Run::new("infra.db-replicas", json!({ "connection": "primary" }))
        .primary(&pg.url)
        .go();
    assert_status(&entry, "error");
    assert!(
        message(&findings(&entry)[0]).contains("not granted `sql`"),
        "{entry:#}"
    );
}

#[test]
fn db_replicas_fails_on_replay_lag() {
    let pg = Postgres::start();
    // Before the replicas: their base backups copy the role.
    let monitor = pg.monitor_url();
    let replica = pg.add_replica();
    wait_reported(&pg, &replica.name);
    let (c, entry) = replicas_run(
        &monitor,
        json!({ "connection": "primary", "max_lag_seconds": 5, "max_lag_bytes": "16MiB" }),
    );
    assert_eq!(c, 0, "{entry:#}");

    replica.pause_replay();
    pg.psql(
        "CREATE TABLE lag_probe(x int); INSERT INTO lag_probe SELECT generate_series(1, 10000)",
    );
    // The standby reports its replay position every second
    // (wal_receiver_status_interval); wait until the primary sees the lag.
    wait_until("replay lag above 2s", Duration::from_secs(30), || {
        let lag = pg.psql(&format!(
            "SELECT coalesce(EXTRACT(EPOCH FROM replay_lag), 0) > 2 FROM pg_stat_replication WHERE application_name = '{}'",
            replica.name
        ));
        if lag == "t" { Ok(()) } else { Err(lag) }
    });
    let (c, entry) = replicas_run(
        &monitor,
        json!({ "connection": "primary", "max_lag_seconds": 1, "max_lag_bytes": "1kB" }),
    );
    assert_eq!(c, 1);
    let f = one(&entry, &replica.name, None);
    assert_eq!(f["status"], "fail");
    assert!(message(f).contains("exceeds max_lag_seconds 1"), "{f:#}");
    assert!(message(f).contains("more than max_lag_bytes"), "{f:#}");
    assert_eq!(
        one(&entry, "primary", None)["status"],
        "pass",
        "it still streams"
    );

    // Pointed at the standby itself: it cannot see the primary's replicas.
    let (_, entry) = replicas_run(
        &replica.url_for("gate_monitor"),
        json!({ "connection": "primary" }),
    );
    assert_status(&entry, "error");
    assert!(
        message(&findings(&entry)[0]).contains("is a standby"),
        "{entry:#}"
    );
    replica.resume_replay();
}

// -------------------------------------------------------------- Prometheus

const RULES_WITH_RUNBOOKS: &str = r#"groups:
  - name: haproxy
    rules:
      - alert: BackendDown
        expr: haproxy_backend_active_servers{proxy="web"} < 1
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "Backend {{ $labels.proxy }} has no server up"
          runbook_url: RUNBOOKS/backend-down
      - alert: HighErrorRate
        expr: rate(haproxy_backend_http_responses_total{code="5xx"}[5m]) > 0.05
        for: 5m
        annotations:
          runbook_url: RUNBOOKS/high-error-rate#triage
"#;

const RULES_WITHOUT_RUNBOOKS: &str = r#"groups:
  - name: scrape
    rules:
      - alert: TargetDown
        expr: up == 0
        annotations:
          summary: a target is down
      - alert: BrokenLink
        expr: up == 0
        for: 1m
        annotations:
          runbook_url: RUNBOOKS/missing-page
      - record: job:up:sum
        expr: sum by (job) (up)
"#;

fn runbook_server() -> HttpServer {
    HttpServer::start(
        "location = /runbooks/backend-down { return 200 \"restart it\\n\"; }\n\
         location = /runbooks/high-error-rate { return 200 \"look at logs\\n\"; }",
    )
}

fn rules_for(text: &str, runbooks: &HttpServer) -> String {
    text.replace("RUNBOOKS", &format!("{}/runbooks", runbooks.base_url))
}

#[test]
fn monitoring_sees_haproxy_scraped_and_missing_or_down_jobs() {
    let lb = HAProxy::start(1);
    let exporter = lb
        .metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let dead = format!("127.0.0.1:{}", free_port());
    let prom = Prometheus::start(
        &[
            ("haproxy", &exporter, "/metrics"),
            ("dead", &dead, "/metrics"),
        ],
        &[],
    );
    prom.wait_up("haproxy");
    wait_until("a scrape of job dead", Duration::from_secs(30), || {
        if prom.query("up{job=\"dead\"}").is_empty() {
            Err("no sample".into())
        } else {
            Ok(())
        }
    });
    let run = |jobs: Value| {
        Run::new(
            "infra.monitoring",
            json!({ "provider": "prom", "jobs": jobs }),
        )
        .prometheus(&prom.url)
        .grants(json!({ "metrics": ["prom"] }))
        .go()
    };

    let (c, entry) = run(json!(["haproxy"]));
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(one(&entry, "prom", None)["status"], "pass");
    let f = one(&entry, "haproxy", None);
    assert_eq!(f["evidence"][format!("target:{exporter}")], "up");

    let (c, entry) = run(json!(["haproxy", "dead", "ghost"]));
    assert_eq!(c, 1);
    let dead_f = one(&entry, "dead", None);
    assert_eq!(dead_f["status"], "fail");
    assert!(
        dead_f["evidence"][format!("target:{dead}")]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{dead_f:#}"
    );
    let ghost = one(&entry, "ghost", None);
    assert_eq!(ghost["status"], "fail");
    assert!(message(ghost).contains("no targets"), "{ghost:#}");

    // Cannot see: provider down.
    let (c, entry) = Run::new(
        "infra.monitoring",
        json!({ "provider": "prom", "jobs": ["haproxy"] }),
    )
    .prometheus(&format!("http://127.0.0.1:{}", free_port()))
    .grants(json!({ "metrics": ["prom"] }))
    .go();
    assert_eq!(c, 1);
    assert_status(&entry, "error");
    assert_eq!(findings(&entry).len(), 1);
}

#[test]
fn alert_thresholds_and_runbooks_from_prometheus_and_rule_files() {
    let runbooks = runbook_server();
    let with = rules_for(RULES_WITH_RUNBOOKS, &runbooks);
    let without = rules_for(RULES_WITHOUT_RUNBOOKS, &runbooks);
    let prom = Prometheus::start(&[], &[&with, &without]);
    let http = json!([format!("{}/runbooks/*", runbooks.base_url)]);

    // alert-thresholds from the rules API.
    let thresholds = |required: Value| {
        Run::new(
            "infra.alert-thresholds",
            json!({ "provider": "prom", "required": required }),
        )
        .prometheus(&prom.url)
        .grants(json!({ "metrics": ["prom"] }))
        .go()
    };
    // Prometheus loads rule files asynchronously after start.
    wait_until("rules loaded", Duration::from_secs(30), || {
        let (_, entry) = thresholds(json!(["BackendDown"]));
        if entry["status"] == "pass" {
            Ok(())
        } else {
            Err(entry.to_string())
        }
    });
    let (c, entry) = thresholds(json!(["BackendDown", "HighErrorRate"]));
    assert_eq!(c, 0, "{entry:#}");
    let f = one(&entry, "BackendDown", None);
    assert!(message(f).contains("threshold `<`"), "{f:#}");
    assert_eq!(f["evidence"]["for"], "1m");
    let (c, entry) = thresholds(json!(["BackendDown", "TargetDown", "DiskFull"]));
    assert_eq!(c, 1);
    assert!(
        message(one(&entry, "TargetDown", None)).contains("no `for`"),
        "{entry:#}"
    );
    assert!(message(one(&entry, "DiskFull", None)).contains("no alerting rule named"));
    let (_, entry) = Run::new(
        "infra.alert-thresholds",
        json!({ "provider": "prom", "required": ["BackendDown"] }),
    )
    .prometheus(&format!("http://127.0.0.1:{}", free_port()))
    .grants(json!({ "metrics": ["prom"] }))
    .go();
    assert_status(&entry, "error");

    // alert-thresholds from rule files in the workspace, with lines.
    let run = Run::new(
        "infra.alert-thresholds",
        json!({ "rule_files": ["rules/*.yml"], "required": ["HighErrorRate", "TargetDown"] }),
    )
    .grants(json!({ "fs": ["./"] }));
    run.ws.write("rules/with.yml", &with);
    run.ws.write("rules/without.yml", &without);
    let (c, entry) = run.go();
    assert_eq!(c, 1);
    assert_eq!(one(&entry, "HighErrorRate", None)["status"], "pass");
    let f = one(&entry, "TargetDown", None);
    assert_eq!(f["location"]["file"], "rules/without.yml");
    assert_eq!(f["location"]["line"], 4);
    let (_, entry) = Run::new(
        "infra.alert-thresholds",
        json!({ "rule_files": ["/etc/prometheus/*.yml"], "required": ["X"] }),
    )
    .grants(json!({ "fs": ["./"] }))
    .go();
    assert_status(&entry, "error");

    // runbooks: the file with runbooks passes, resolving each URL.
    let run = Run::new(
        "infra.runbooks",
        json!({ "rule_files": ["rules/with.yml"] }),
    )
    .grants(json!({ "fs": ["./"], "http": http }));
    run.ws.write("rules/with.yml", &with);
    let (c, entry) = run.go();
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        one(&entry, "HighErrorRate", None)["evidence"]["http_status"],
        "200"
    );

    // The provider has both files: a missing annotation and a 404 fail.
    let (c, entry) = Run::new("infra.runbooks", json!({ "provider": "prom" }))
        .prometheus(&prom.url)
        .grants(json!({ "metrics": ["prom"], "http": http }))
        .go();
    assert_eq!(c, 1);
    assert_eq!(one(&entry, "BackendDown", None)["status"], "pass");
    let f = one(&entry, "TargetDown", None);
    assert_eq!(f["status"], "fail");
    assert!(message(f).contains("no `runbook_url` annotation"), "{f:#}");
    let f = one(&entry, "BrokenLink", None);
    assert!(message(f).contains("HTTP 404"), "{f:#}");

    // Cannot see: provider down, or the runbook host not granted.
    let (_, entry) = Run::new("infra.runbooks", json!({ "provider": "prom" }))
        .prometheus(&format!("http://127.0.0.1:{}", free_port()))
        .grants(json!({ "metrics": ["prom"] }))
        .go();
    assert_status(&entry, "error");
    let run = Run::new(
        "infra.runbooks",
        json!({ "rule_files": ["rules/with.yml"] }),
    )
    .grants(json!({ "fs": ["./"] }));
    run.ws.write("rules/with.yml", &with);
    let (_, entry) = run.go();
    assert_status(&entry, "error");
    assert!(message(one(&entry, "BackendDown", None)).contains("not granted `http`"));
}

// ------------------------------------------------------------------ backup

/// A directory the `postgres` user can write into (the tests may run as
/// root, and PostgreSQL's tools refuse to).
fn postgres_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("gate-backup-")
        .tempdir()
        .expect("tempdir");
    if is_root() {
        let status = Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(status.success());
    }
    dir
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A plain-format `pg_basebackup` of `pg` into `dir/base`, with a manifest.
fn basebackup(pg: &Postgres, dir: &Path) -> PathBuf {
    let target = dir.join("base");
    let bin = "/usr/lib/postgresql/15/bin/pg_basebackup";
    assert!(
        Path::new(bin).exists(),
        "install postgresql (scripts/install-deps)"
    );
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", bin]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "gate"])
        .arg("-D")
        .arg(&target)
        .args([
            "-X",
            "fetch",
            "-c",
            "fast",
            "--no-sync",
            "--manifest-checksums=CRC32C",
        ])
        .output()
        .expect("run pg_basebackup");
    assert!(
        out.status.success(),
        "pg_basebackup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(target.join("backup_manifest").exists());
    target
}

#[test]
fn backup_verifies_a_real_pg_basebackup_manifest_and_a_tampered_copy() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE accounts(id int primary key, balance int); INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 1000) g");
    let dir = postgres_dir();
    let base = basebackup(&pg, dir.path());
    let root = dir.path().display().to_string();
    let manifest = format!("{}/backup_manifest", base.display());
    let run = |manifest: &str| {
        Run::new("infra.backup", json!({ "manifest": manifest }))
            .grants(json!({ "fs": [format!("{root}:ro")] }))
            .go()
    };

    let (c, entry) = run(&manifest);
    assert_eq!(c, 0, "{entry:#}");
    let f = one(&entry, &manifest, None);
    assert!(message(f).contains("sizes and CRC32C checksums"), "{f:#}");
    assert!(message(f).contains("Manifest-Checksum verified"), "{f:#}");
    assert_eq!(f["evidence"]["manifest_checksum"], "ok");

    // A tampered copy: same size, other bytes, in a table's file; and a file
    // the manifest does not list.
    let copy = dir.path().join("tampered");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&base)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    let table = pg.psql("SELECT pg_relation_filepath('accounts')");
    let victim = copy.join(&table);
    let mut bytes = std::fs::read(&victim).expect("read table file");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    std::fs::write(copy.join("base/planted"), b"x").unwrap();
    let tampered_manifest = format!("{}/backup_manifest", copy.display());
    let (c, entry) = run(&tampered_manifest);
    assert_eq!(c, 1);
    assert_eq!(one(&entry, &tampered_manifest, None)["status"], "fail");
    let f = one(
        &entry,
        &format!("{}/{table}", copy.display()),
        Some("checksum-mismatch"),
    );
    assert!(message(f).contains("CRC32C checksum"), "{f:#}");
    let _ = one(
        &entry,
        &format!("{}/base/planted", copy.display()),
        Some("unexpected-file"),
    );

    // An edited manifest fails its own checksum.
    let text = std::fs::read_to_string(&tampered_manifest).unwrap();
    std::fs::write(
        &tampered_manifest,
        text.replacen("\"Size\": ", "\"Size\": 1", 1),
    )
    .unwrap();
    let (_, entry) = run(&tampered_manifest);
    let summary = one(&entry, &tampered_manifest, None);
    assert!(
        message(summary).contains("Manifest-Checksum does not match"),
        "{summary:#}"
    );

    // Cannot see: missing manifest, or outside the grant.
    let (_, entry) = run(&format!("{root}/nowhere/backup_manifest"));
    assert_status(&entry, "error");
    let (_, entry) = Run::new("infra.backup", json!({ "manifest": manifest }))
        .grants(json!({ "fs": ["./"] }))
        .go();
    assert_status(&entry, "error");
    assert!(
        message(&findings(&entry)[0]).contains("not granted `fs`"),
        "{entry:#}"
    );
}

fn age(path: &Path, hours: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(hours * 3600))
        .unwrap();
}

#[test]
fn backup_newest_file_must_be_recent_and_not_empty() {
    let glob_run = |params: Value| {
        let run = Run::new("infra.backup", params).grants(json!({ "fs": ["./"] }));
        let old = run
            .ws
            .write("backups/2026-11-01/db.dump", &"x".repeat(4096));
        let new = run
            .ws
            .write("backups/2026-11-25/db.dump", &"x".repeat(2048));
        age(&old, 600);
        age(&new, 3);
        run
    };
    let (c, entry) =
        glob_run(json!({ "glob": "backups/**/*.dump", "max_age_hours": 24, "min_bytes": "1KiB" }))
            .go();
    assert_eq!(c, 0, "{entry:#}");
    let f = one(&entry, "backups/2026-11-25/db.dump", None);
    assert_eq!(f["evidence"]["age_hours"], "3.0");
    assert_eq!(f["evidence"]["matched"], "2");

    let (c, entry) = glob_run(json!({ "glob": "backups/**/*.dump", "max_age_hours": 2 })).go();
    assert_eq!(c, 1);
    assert!(
        message(one(&entry, "backups/2026-11-25/db.dump", None))
            .contains("older than max_age_hours 2")
    );
    let (c, _) =
        glob_run(json!({ "glob": "backups/**/*.dump", "max_age_hours": 24, "min_bytes": "1MB" }))
            .go();
    assert_eq!(c, 1);
    let (c, entry) = glob_run(json!({ "glob": "backups/*.tar.gz", "max_age_hours": 24 })).go();
    assert_eq!(c, 1);
    assert!(message(one(&entry, "backups/*.tar.gz", None)).contains("no backup found"));

    // Cannot see: outside the grant.
    let (_, entry) = Run::new(
        "infra.backup",
        json!({ "glob": "/var/backups/**/*.dump", "max_age_hours": 24 }),
    )
    .grants(json!({ "fs": ["./"] }))
    .go();
    assert_status(&entry, "error");
}

// ------------------------------------------------------------------ drills

/// A drill record line as `gate drill` writes it, finished `days_ago`.
fn drill_line(kind: &str, subject: &str, days_ago: i64, result: &str) -> String {
    let t = (chrono::Utc::now() - chrono::Duration::days(days_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        r#"{{"kind":"{kind}","subject":"{subject}","started":"{t}","finished":"{t}","result":"{result}","measures":{{"drill":"rollback","percent":10,"candidate_responses":12,"to_stable_ms":3,"to_healthy_ms":5,"target_ms":300000}},"problems":[],"previous":null}}"#
    )
}

#[test]
fn drills_must_be_recent_per_kind_and_an_unreadable_record_is_an_error() {
    let records = ".gate/drills/drills.jsonl";
    let with = |lines: &[String], params: Value| {
        let run = Run::new("infra.drills", params).grants(json!({ "fs": ["./.gate/drills:ro"] }));
        run.ws.write(records, &(lines.join("\n") + "\n"));
        run.go()
    };
    let both = json!({ "records": records, "max_age_days": 31, "kinds": ["rollback", "restore"] });

    // Pass: a successful drill of each kind within 31 days (a later failed one does not count).
    let (c, entry) = with(
        &[
            drill_line("rollback", "web", 20, "pass"),
            drill_line("restore", "primary", 3, "pass"),
            drill_line("rollback", "web", 1, "fail"),
        ],
        both.clone(),
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_status(&entry, "pass");
    let f = one(&entry, "rollback drill", None);
    assert_eq!(f["evidence"]["age_days"], "20.0");
    assert_eq!(f["evidence"]["drilled"], "web");

    // Fail: the last successful rollback drill is too old, and no restore drill is recorded.
    let (c, entry) = with(&[drill_line("rollback", "web", 40, "pass")], both.clone());
    assert_eq!(c, 1, "{entry:#}");
    assert_status(&entry, "fail");
    assert!(message(one(&entry, "rollback drill", None)).contains("older than max_age_days 31"));
    assert!(message(one(&entry, "restore drill", None)).contains("no restore drill"));
    // Only the required kinds are judged.
    let (c, _) = with(
        &[drill_line("rollback", "web", 2, "pass")],
        json!({ "records": records, "max_age_days": 7, "kinds": ["rollback"] }),
    );
    assert_eq!(c, 0);

    // Cannot see: a corrupt line, a missing file, a file outside the grant.
    let (_, entry) = with(
        &[
            drill_line("rollback", "web", 2, "pass"),
            "{\"kind\": \"rollback\"".to_string(),
        ],
        both.clone(),
    );
    assert_status(&entry, "error");
    assert_eq!(findings(&entry).len(), 1, "{entry:#}");
    one(&entry, ".gate/drills/drills.jsonl:2", None);
    let (_, entry) = Run::new("infra.drills", both.clone())
        .grants(json!({ "fs": ["./"] }))
        .go();
    assert_status(&entry, "error");
    assert!(message(one(&entry, records, None)).contains("cannot read the drill records"));
    let outside = Run::new("infra.drills", both.clone()).grants(json!({ "fs": ["./other"] }));
    outside
        .ws
        .write(records, &drill_line("rollback", "web", 1, "pass"));
    outside.ws.write("other/keep", "");
    let (_, entry) = outside.go();
    assert_status(&entry, "error");
}

// --------------------------------------------------------- resource limits

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: web:1
          resources:
            limits: { cpu: 500m, memory: 256Mi }
";

const CRONJOB: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: report:1
              resources:
                limits:
                  memory: 64Mi
";

#[test]
fn resource_limits_on_the_host_and_in_kubernetes_manifests() {
    let run = |params: Value, files: &[(&str, &str)]| {
        let run = Run::new("infra.resource-limits", params).grants(json!({ "fs": ["./"] }));
        for (name, text) in files {
            run.ws.write(name, text);
        }
        run.go()
    };
    let (c, entry) = run(
        json!({ "min_open_files": 64, "min_memory_mb": 16, "min_cpus": 1, "manifests": ["k8s/*.yaml"] }),
        &[("k8s/deploy.yaml", DEPLOYMENT)],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(one(&entry, "memory", None)["status"], "pass");
    let f = one(&entry, "Deployment/web/app", None);
    assert_eq!(f["location"]["line"], 9);

    let (c, entry) = run(
        json!({ "min_open_files": 1_000_000_000u64, "manifests": ["k8s/**/*.yaml"] }),
        &[
            ("k8s/deploy.yaml", DEPLOYMENT),
            ("k8s/jobs/cron.yaml", CRONJOB),
        ],
    );
    assert_eq!(c, 1);
    assert_eq!(one(&entry, "open-files", None)["status"], "fail");
    let f = one(&entry, "CronJob/report/report", Some("cpu-limit"));
    assert_eq!(f["status"], "fail");
    assert_eq!(f["location"]["file"], "k8s/jobs/cron.yaml");
    assert_eq!(f["location"]["line"], 17);

    // Cannot see: a manifest that does not exist, or outside the grant.
    let (_, entry) = run(
        json!({ "manifests": ["k8s/missing.yaml", "/etc/kubernetes/*.yaml"] }),
        &[],
    );
    assert_status(&entry, "error");
    assert_eq!(findings(&entry).len(), 2, "{entry:#}");
}
