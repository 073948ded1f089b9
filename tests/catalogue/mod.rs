//! The whole built-in catalogue against local services: one scenario shared by
//! the end-to-end test `tests/catalogue.rs` and the bench
//! `benches/preflight.rs`.
//!
//! [`Catalogue::start`] starts, with the harness in `tests/services/`:
//!
//! - PostgreSQL 15 with one streaming replica, logging DDL and connections,
//!   with a `monitor` role (`pg_monitor`) for gate and a plain `app` role, plus
//!   a real `pg_dump` and a real `pg_basebackup` (with its `backup_manifest`);
//! - HAProxy 2.6 with two nginx servers in backend `web`;
//! - Prometheus 2.42 scraping HAProxy's exporter and the application's
//!   `/metrics`, with a rule file whose alerts all have thresholds, a `for`
//!   and a `runbook_url` on an nginx that answers 200;
//! - Redis 7 with `maxmemory-policy allkeys-lru`;
//! - the TLS endpoints (a test CA and a valid certificate);
//! - an nginx "application" serving `/healthz`, `/ready`, `/metrics`
//!   (Prometheus text) and an error probe that answers a clean 500;
//! - an nginx "API" whose `/api/` is rate limited with `limit_req` and
//!   `limit_req_status 429`, its configuration included from the workspace
//!   file the policy checks.
//!
//! It writes the fixtures into a temporary workspace and a policy,
//! `catalogue.toml`, that runs every built-in check ([`CHECKS`]) with
//! realistic parameters and minimal grants, each configured to pass against
//! the healthy services.
//!
//! The including crate must declare the harness as `mod services` at its
//! root (`#[path = ".../tests/services/mod.rs"] mod services;`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::services::{
    self, HAProxy, HttpServer, Postgres, Prometheus, READY_TIMEOUT, Redis, Replica, TlsEndpoints,
    free_port, http_get, port_open, require_bin, wait_for,
};

/// The `gate` binary under test.
pub const GATE: &str = env!("CARGO_BIN_EXE_gate");

/// Every built-in check the policy runs: all of `gate checks list`.
pub const CHECKS: [&str; 29] = [
    "config.cache",
    "config.env-vars",
    "config.error-handling",
    "config.feature-flags",
    "config.logging-levels",
    "config.metrics",
    "config.migrations-tested",
    "config.rate-limits",
    "infra.alert-thresholds",
    "infra.backup",
    "infra.certificates",
    "infra.db-replicas",
    "infra.disk-space",
    "infra.drills",
    "infra.firewall",
    "infra.health-checks",
    "infra.load-balancer",
    "infra.monitoring",
    "infra.network",
    "infra.resource-limits",
    "infra.runbooks",
    "security.access-controls",
    "security.api-keys-rotated",
    "security.audit-logging",
    "security.compliance",
    "security.dependencies-audited",
    "security.no-secrets",
    "security.scan-results",
    "security.tls",
];

/// Built-in checks beyond the pre-deployment checklist: `gate checks list`
/// shows them beside [`CHECKS`], and each is run end to end by its own test
/// file (`rego.conftest`: tests/rego.rs, planted secrets included) rather than
/// by the catalogue's policy, which runs the checklist.
pub const BEYOND_CHECKLIST: [&str; 1] = ["rego.conftest"];

/// Every built-in check `gate checks list` shows: [`CHECKS`] and
/// [`BEYOND_CHECKLIST`], sorted.
pub fn listed_builtins() -> Vec<String> {
    let mut all: Vec<String> = CHECKS
        .iter()
        .chain(BEYOND_CHECKLIST.iter())
        .map(|c| c.to_string())
        .collect();
    all.sort();
    all
}

/// The gate the policy defines.
pub const GATE_NAME: &str = "preflight";

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The services, the workspace and the policy. Dropping it stops everything
/// and removes the temporary directories.
pub struct Catalogue {
    /// `<workspace>/catalogue.toml`.
    pub policy: PathBuf,
    /// Environment for `gate evaluate` (connection URLs and the
    /// application's variables).
    pub env: Vec<(String, String)>,
    /// How long each start-up step took, in order.
    pub startup: Vec<(&'static str, Duration)>,
    /// `None` once a test has stopped it.
    pub replica: Option<Replica>,
    /// `None` once a test has stopped it.
    pub redis: Option<Redis>,
    pub lb: HAProxy,
    pub prom: Prometheus,
    pub pg: Postgres,
    pub tls: TlsEndpoints,
    /// The application: `/healthz`, `/ready`, `/metrics`, `/__gate/boom`.
    pub app: HttpServer,
    /// The runbook wiki: `/runbooks/<page>`.
    pub runbooks: HttpServer,
    /// The rate-limited API: `/api/ping`.
    pub api: RateLimitedApi,
    /// A port nothing listens on (the firewall check's `closed` target).
    pub closed: String,
    backups: tempfile::TempDir,
    dir: tempfile::TempDir,
}

/// One `gate evaluate --format json` run.
pub struct Evaluation {
    pub code: i32,
    pub report: Value,
    /// Whole-process wall time (spawn to exit).
    pub wall: Duration,
    pub stderr: String,
}

impl Catalogue {
    pub fn start() -> Catalogue {
        let mut startup = Vec::new();
        let mut step = Instant::now();
        let mut lap = |what: &'static str, startup: &mut Vec<(&'static str, Duration)>| {
            startup.push((what, step.elapsed()));
            step = Instant::now();
        };

        // Prometheus applies its targets ~5 s after it starts: it goes first,
        // with what it scrapes and the runbook server its rules link to.
        let runbooks = HttpServer::start(RUNBOOK_LOCATIONS);
        let app = HttpServer::start(&app_locations());
        let lb = HAProxy::start(2);
        let exporter = lb
            .metrics_url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .to_string();
        let app_target = format!("127.0.0.1:{}", app.port);
        let rules = RULES.replace("RUNBOOKS", &format!("{}/runbooks", runbooks.base_url));
        let prom = Prometheus::start(
            &[
                ("haproxy", &exporter, "/metrics"),
                ("app", &app_target, "/metrics"),
            ],
            &[&rules],
        );
        lap(
            "nginx (app, runbooks), HAProxy + 2 nginx, Prometheus",
            &mut startup,
        );

        // PostgreSQL (with its backups and replica) and the TLS endpoints
        // (RSA keys) take a second or more each: side by side.
        let dir = tempfile::Builder::new()
            .prefix("gate-catalogue-")
            .tempdir()
            .expect("workspace tempdir");
        let backups = backups_dir();
        let backups_path = backups.path().to_path_buf();
        let ((pg, replica), tls) = std::thread::scope(|s| {
            let pg = s.spawn(|| start_postgres(&backups_path));
            let tls = s.spawn(TlsEndpoints::start);
            (join(pg), join(tls))
        });
        lap(
            "PostgreSQL + replica + pg_dump + pg_basebackup, TLS endpoints",
            &mut startup,
        );

        let redis = Redis::start("maxmemory 64mb\nmaxmemory-policy allkeys-lru");
        let api = RateLimitedApi::start(&dir.path().join("deploy/nginx/api.conf"));
        let closed = format!("127.0.0.1:{}", free_port());
        write_fixtures(dir.path(), &tls, Utc::now().date_naive());
        lap("Redis, rate-limited nginx, fixtures", &mut startup);

        // Monitoring and alert checks need the first scrapes and the rules.
        prom.wait_up("haproxy");
        prom.wait_up("app");
        let rules_url = format!("{}/api/v1/rules?type=alert", prom.url);
        wait_for("Prometheus to load the rules", READY_TIMEOUT, || {
            let (status, body) = http_get(&rules_url).map_err(|e| e.to_string())?;
            let loaded = status == 200 && ALERTS.iter().all(|a| body.contains(a));
            if loaded { Ok(()) } else { Err(body) }
        });
        lap("Prometheus first scrapes and rules", &mut startup);

        let mut catalogue = Catalogue {
            policy: dir.path().join("catalogue.toml"),
            env: Vec::new(),
            startup,
            replica: Some(replica),
            redis: Some(redis),
            lb,
            prom,
            pg,
            tls,
            app,
            runbooks,
            api,
            closed,
            backups,
            dir,
        };
        catalogue.env = catalogue.environment();
        fs::write(&catalogue.policy, catalogue.policy_text()).expect("write catalogue.toml");
        catalogue
    }

    /// The workspace: gate's working directory, holding the policy and the
    /// fixtures.
    pub fn workspace(&self) -> &Path {
        self.dir.path()
    }

    /// Where the dumps and the base backup are (outside the workspace, as
    /// `/var/backups/postgresql` would be).
    pub fn backups(&self) -> &Path {
        self.backups.path()
    }

    fn redis_addr(&self) -> String {
        self.redis
            .as_ref()
            .map(|r| r.addr.clone())
            .expect("redis running while the policy is written")
    }

    fn environment(&self) -> Vec<(String, String)> {
        let app_url = self.pg.url_for("app");
        [
            // gate's own connections (url_env), never in the policy file.
            ("PRIMARY_URL", self.pg.url_for("monitor")),
            ("APP_DATABASE_URL", app_url.clone()),
            // The application's environment, checked by config.env-vars.
            ("DATABASE_URL", app_url),
            ("REDIS_URL", format!("redis://{}/0", self.redis_addr())),
            ("APP_ENV", "production".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `gate evaluate --policy catalogue.toml --format json` in the
    /// workspace, with `cache` as the compilation cache.
    pub fn command(&self, cache: &Path) -> Command {
        let mut cmd = Command::new(GATE);
        cmd.args(["evaluate", "--policy", "catalogue.toml", "--format", "json"])
            .current_dir(self.workspace())
            .env("GATE_CACHE_DIR", cache)
            .env("NO_COLOR", "1")
            .env_remove("GATE_TEST_NOW")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("NODE_TLS_REJECT_UNAUTHORIZED");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the policy once; panics unless gate exits 0 or 1 with a JSON
    /// report.
    pub fn evaluate(&self, cache: &Path) -> Evaluation {
        let started = Instant::now();
        let out = self.command(cache).output().expect("run gate");
        let wall = started.elapsed();
        let code = out.status.code().expect("gate exit code");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            code == 0 || code == 1,
            "gate exited {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\nstderr: {stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        Evaluation {
            code,
            report,
            wall,
            stderr,
        }
    }

    fn policy_text(&self) -> String {
        let q = |s: &str| Value::String(s.to_string()).to_string();
        let path = |p: &Path| q(&p.display().to_string());
        let redis = self.redis_addr();
        let primary = format!("127.0.0.1:{}", self.pg.port);
        let app = &self.app.base_url;
        let api = &self.api.base_url;
        let frontend = &self.lb.frontend;
        let tls = &self.tls.valid;
        let backups = self.backups();
        let dump_glob = backups.join("dumps/*.dump");
        let manifest = backups.join("base/latest/backup_manifest");
        let data_dir = &self.pg.data_dir;
        let socket = &self.lb.admin_socket;
        let runbooks = &self.runbooks.base_url;
        let closed = &self.closed;
        format!(
            r#"# The whole built-in catalogue (every check) against local services, with
# minimal grants: each plugin reaches exactly what its checks need.
# Written by tests/catalogue/mod.rs; connection URLs come from the environment.

[policy]
name = "catalogue"
max_exemption_days = 90

[connections.primary]            # gate's monitoring role (pg_monitor)
kind = "postgres"
url_env = "PRIMARY_URL"

[connections.app_db]             # the application's own role
kind = "postgres"
url_env = "APP_DATABASE_URL"

[metrics.prom]
kind = "prometheus"
url = {prom}

# --- plugins and their grants ---------------------------------------------------

[[plugin]]
name = "infra"
[plugin.grants]
fs = ["./deploy/k8s", "./certs", "./.gate/drills:ro", {data_dir}, {backups}]
net = [{primary}, {redis}, {frontend_q}, {tls_q}, {closed_q}, "localhost:*"]
http = [{app_healthz}, {app_ready}, {lb_healthz}, {runbooks_glob}]
unix = [{socket}]
sql = ["primary"]
metrics = ["prom"]
timeout_ms = 30000               # verifying the base backup reads all of it

[[plugin]]
name = "security"
[plugin.grants]
fs = ["./src", "./config", "./deploy", "./reports", "./security", "./secrets", "./logs", "./certs", "./web", "./worker", "./ml"]
net = [{tls_q}]
http = [{tls_https}]
sql = ["primary", "app_db"]
timeout_ms = 20000

[[plugin]]
name = "config"
[plugin.grants]
fs = ["./config", "./deploy/nginx", "./migrations"]
env = ["DATABASE_URL", "REDIS_URL", "APP_ENV", "NODE_TLS_REJECT_UNAUTHORIZED"]
net = [{redis}]
http = [{app_metrics}, {app_errors}, {api_glob}]
timeout_ms = 20000

[[gate]]
name = "{gate}"
checks = ["infra.*", "security.*", "config.*"]
enforcement = "block"

# --- infrastructure ----------------------------------------------------------------

[[check]]
id = "infra.disk-space"
# The data and backup directories live on a filesystem with room to spare (the harness's
# scratch directories), not on whatever the test machine's own disk holds: the
# thresholds ask for what the services here need, not a production margin.
params = {{ paths = [{data_dir}, {backups}], min_free_percent = 2, min_free_bytes = "1GiB", min_free_inodes_percent = 5 }}

[[check]]
id = "infra.certificates"
params = {{ endpoints = [{tls_q}], files = ["certs/tls.crt"], server_name = "localhost", ca_file = "certs/ca.pem", min_days = 30 }}

[[check]]
id = "infra.network"
params = {{ targets = [{primary}, {redis}, {frontend_q}], resolve = ["localhost"], timeout_ms = 2000 }}

[[check]]
id = "infra.firewall"
params = {{ open = [{frontend_q}], closed = [{closed_q}], timeout_ms = 1500 }}

[[check]]
id = "infra.health-checks"
params = {{ endpoints = [
  {{ url = {app_healthz}, expect_status = 200, max_latency_ms = 1000, contains = "ok" }},
  {{ url = {app_ready}, contains = "\"status\":\"UP\"" }},
  {{ url = {lb_healthz}, expect_status = 200, max_latency_ms = 1000 }},
], retries = 1, retry_delay_ms = 500 }}

[[check]]
id = "infra.load-balancer"
params = {{ admin_socket = {socket}, frontends = ["fe_web"], backends = [{{ name = "web", min_up = 2 }}] }}

[[check]]
id = "infra.db-replicas"
params = {{ connection = "primary", min_replicas = 1, max_lag_seconds = 30, max_lag_bytes = "16MiB" }}

[[check]]
id = "infra.monitoring"
params = {{ provider = "prom", jobs = ["haproxy", "app"] }}

[[check]]
id = "infra.alert-thresholds"
params = {{ provider = "prom", required = ["BackendDown", "BackendDegraded", "HighErrorRate", "AppScrapeDown"] }}

[[check]]
id = "infra.runbooks"
params = {{ provider = "prom" }}

[[check]]
id = "infra.backup"
params = {{ glob = {dump_glob}, max_age_hours = 26, min_bytes = "4KiB", manifest = {manifest} }}

[[check]]
id = "infra.drills"
params = {{ records = ".gate/drills/drills.jsonl", max_age_days = 31, kinds = ["rollback", "restore"] }}

[[check]]
id = "infra.resource-limits"
params = {{ min_open_files = 1024, min_memory_mb = 512, min_cpus = 1, manifests = ["deploy/k8s/*.yaml"] }}

# --- security ------------------------------------------------------------------------

[[check]]
id = "security.no-secrets"
params = {{ paths = ["src", "config", "deploy"], exclude = ["**/testdata/**"] }}

[[check]]
id = "security.compliance"
params.files = ["config/production.yaml"]
params.assert = [
  {{ id = "tls-on", path = "server.tls.enabled", equals = true }},
  {{ id = "secure-cookies", path = "session.cookie.secure", equals = true }},
  {{ id = "no-inline-db-password", path = "database.password", absent = true, severity = "critical" }},
]

[[check]]
id = "security.scan-results"
params = {{ files = ["reports/*.sarif"], fail_on = 7.0 }}

[[check]]
id = "security.tls"
params = {{ endpoints = [{tls_q}], min_version = "1.2", hsts = true, ca_file = "certs/ca.pem" }}

[[check]]
id = "security.dependencies-audited"
params = {{ lockfiles = ["worker/Cargo.lock", "web/package-lock.json", "ml/requirements.txt"], advisories = "security/osv", min_severity = "medium" }}

[[check]]
id = "security.api-keys-rotated"
params = {{ inventory = "security/keys.toml", max_age_days = 90, warn_days = 14 }}

[[check]]
id = "security.access-controls"
params = {{ files = [{{ path = "secrets/app.env", max_mode = "0600" }}, {{ path = "certs/tls.key", max_mode = "0600" }}], connection = "app_db" }}

[[check]]
id = "security.audit-logging"
params = {{ files = [{{ path = "logs/audit*.log", max_age_minutes = 60 }}], connection = "primary", require = {{ log_statement = "ddl", log_connections = true, log_disconnections = true }} }}

# --- configuration ---------------------------------------------------------------------

[[check]]
id = "config.env-vars"
params = {{ required = ["DATABASE_URL", "REDIS_URL", "APP_ENV"], patterns = {{ DATABASE_URL = "postgres(ql)?://.+", REDIS_URL = "redis://.+", APP_ENV = "production|staging" }}, forbidden = ["NODE_TLS_REJECT_UNAUTHORIZED"] }}

[[check]]
id = "config.logging-levels"
params = {{ files = ["config/production.yaml", "config/production.env"] }}

[[check]]
id = "config.feature-flags"
params = {{ files = ["config/flags.json"], max_age_days = 90 }}

[[check]]
id = "config.cache"
params = {{ url = {redis_url}, require = {{ "maxmemory-policy" = ["allkeys-lru", "allkeys-lfu"], maxmemory = "64mb" }} }}

[[check]]
id = "config.metrics"
params = {{ url = {app_metrics}, labels = {{ job = "api" }}, required = ["http_requests_total", "http_request_duration_seconds", "http_requests_total{{code=\"500\"}}"] }}

[[check]]
id = "config.error-handling"
params = {{ files = ["config/production.env"], assert = [{{ path = "SENTRY_DSN", exists = true, message = "errors must be reported to Sentry" }}], probe = {{ url = {app_boom}, expect_status = 500 }} }}

[[check]]
id = "config.migrations-tested"
params = {{ paths = ["migrations"] }}

[[check]]
id = "config.rate-limits"
params = {{ files = ["deploy/nginx/api.conf"], assert = [
  {{ path = "limit_req_zone.api.rate", min = 1, max = 50, message = "the API zone allows 1-50 r/s per client" }},
  {{ path = "limit_req.api.burst", max = 100 }},
  {{ path = "limit_req_status", equals = 429 }},
], probe = {{ url = {api_ping}, burst = 30 }} }}
"#,
            prom = q(&self.prom.url),
            data_dir = path(data_dir),
            backups = path(backups),
            primary = q(&primary),
            redis = q(&redis),
            frontend_q = q(frontend),
            tls_q = q(tls),
            closed_q = q(closed),
            app_healthz = q(&format!("{app}/healthz")),
            app_ready = q(&format!("{app}/ready")),
            lb_healthz = q(&format!("http://{frontend}/healthz")),
            runbooks_glob = q(&format!("{runbooks}/runbooks/*")),
            socket = path(socket),
            tls_https = q(&format!("https://{tls}/*")),
            app_metrics = q(&format!("{app}/metrics")),
            app_errors = q(&format!("{app}/__gate/*")),
            app_boom = q(&format!("{app}/__gate/boom")),
            api_glob = q(&format!("{api}/api/*")),
            api_ping = q(&format!("{api}/api/ping")),
            gate = GATE_NAME,
            dump_glob = path(&dump_glob),
            manifest = path(&manifest),
            redis_url = q(&format!("redis://{redis}")),
        )
    }
}

impl Evaluation {
    /// Every check entry of the report (all gates).
    pub fn checks(&self) -> Vec<&Value> {
        self.report["gates"]
            .as_array()
            .expect("gates")
            .iter()
            .flat_map(|g| g["checks"].as_array().expect("checks").iter())
            .collect()
    }

    /// Check id → status.
    pub fn statuses(&self) -> BTreeMap<String, String> {
        self.checks()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default().to_string(),
                    c["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The checks whose status is not `pass`, with their status.
    pub fn not_passing(&self) -> BTreeMap<String, String> {
        self.statuses()
            .into_iter()
            .filter(|(_, status)| status != "pass")
            .collect()
    }

    /// The non-`pass` findings of every check that did not pass, one per
    /// line, for failure messages.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for c in self.checks() {
            if c["status"] == "pass" {
                continue;
            }
            out.push_str(&format!("{} → {}\n", c["id"], c["status"]));
            if !c["error"].is_null() {
                out.push_str(&format!("    error: {}\n", c["error"]));
            }
            for f in c["findings"].as_array().into_iter().flatten() {
                if f["status"] == "pass" {
                    continue;
                }
                out.push_str(&format!(
                    "    [{}] {} {}: {}\n      evidence {}\n",
                    f["status"].as_str().unwrap_or_default(),
                    f["rule"].as_str().unwrap_or("-"),
                    f["subject"].as_str().unwrap_or_default(),
                    f["message"].as_str().unwrap_or_default(),
                    f["evidence"],
                ));
            }
        }
        if out.is_empty() {
            out.push_str("(every check passed)\n");
        }
        out
    }
}

// ------------------------------------------------------------- PostgreSQL

const SETUP_SQL: &str = "\
CREATE ROLE monitor LOGIN;
GRANT pg_monitor TO monitor;
CREATE ROLE app LOGIN;
CREATE TABLE accounts (
    id int PRIMARY KEY,
    owner text NOT NULL,
    balance_cents bigint NOT NULL DEFAULT 0,
    opened_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO accounts (id, owner, balance_cents)
    SELECT g, 'customer-' || g, (g * 7919) % 1000000 FROM generate_series(1, 20000) g;
GRANT SELECT, INSERT, UPDATE ON accounts TO app;
CHECKPOINT;
";

/// A directory for the backups that the `postgres` user can write into
/// (PostgreSQL's tools run as `postgres` when the tests run as root).
fn backups_dir() -> tempfile::TempDir {
    let dir = services::tempdir("backups");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod backups");
    if running_as_root() {
        run(
            "chown the backup directory",
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()),
        );
    }
    dir
}

/// A scoped thread's result, re-raising its panic (with its message) here.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A PostgreSQL tool, run as `postgres` when root.
fn pg_tool(name: &str) -> Command {
    let bin = require_bin(&format!("{PG_BIN}/{name}"), "postgresql");
    if running_as_root() {
        let mut cmd = Command::new(require_bin("runuser", "util-linux"));
        cmd.args(["-u", "postgres", "--"]).arg(bin);
        cmd
    } else {
        Command::new(bin)
    }
}

fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The primary with roles, data, a nightly-style dump, a base backup with
/// its manifest, and a streaming replica that has caught up.
fn start_postgres(backups: &Path) -> (Postgres, Replica) {
    let pg = Postgres::start_with_config(
        "log_statement = 'ddl'\nlog_connections = on\nlog_disconnections = on\n",
    );
    pg.psql(SETUP_SQL);
    let port = pg.port.to_string();
    let conn = ["-h", "127.0.0.1", "-p", &port, "-U", "gate"];

    let dumps = backups.join("dumps");
    fs::create_dir_all(&dumps).expect("create dumps dir");
    if running_as_root() {
        run(
            "chown the dumps directory",
            Command::new("chown").arg("postgres:postgres").arg(&dumps),
        );
    }
    let dump = dumps.join(format!("gate-{}.dump", Utc::now().format("%Y-%m-%d")));
    run(
        "pg_dump",
        pg_tool("pg_dump")
            .current_dir(backups)
            .args(conn)
            .args(["-d", "gate", "-Fc", "-f"])
            .arg(&dump),
    );
    run(
        "pg_basebackup",
        pg_tool("pg_basebackup")
            .current_dir(backups)
            .args(conn)
            .arg("-D")
            .arg(backups.join("base/latest"))
            .args([
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "--manifest-checksums=CRC32C",
            ]),
    );

    let replica = pg.add_replica();
    // Until the standby has reported replaying everything it was sent, its
    // lag is unknown (an `error` for max_lag_seconds, by design).
    let caught_up = format!(
        "SELECT replay_lsn IS NOT NULL AND replay_lsn = sent_lsn FROM pg_stat_replication \
         WHERE application_name = '{}'",
        replica.name
    );
    wait_for(
        "the replica to replay everything",
        READY_TIMEOUT,
        || match pg.try_psql(&caught_up) {
            Ok(t) if t == "t" => Ok(()),
            Ok(other) => Err(other),
            Err(e) => Err(e),
        },
    );
    (pg, replica)
}

// ----------------------------------------------------------- HTTP services

const RUNBOOK_LOCATIONS: &str = "\
location = /runbooks/backend-down { return 200 \"Backend down: check HAProxy's stats page, restart the servers\\n\"; }
location = /runbooks/backend-degraded { return 200 \"Backend degraded: find the DOWN server, read its check result\\n\"; }
location = /runbooks/high-error-rate { return 200 \"High error rate: triage by status code, then logs\\n\"; }
location = /runbooks/app-down { return 200 \"App scrape down: is the process up? is /metrics served?\\n\"; }";

/// Every alert the rule file defines (each with a threshold, a `for` and a
/// runbook).
const ALERTS: [&str; 4] = [
    "BackendDown",
    "BackendDegraded",
    "HighErrorRate",
    "AppScrapeDown",
];

const RULES: &str = r#"groups:
  - name: web
    rules:
      - alert: BackendDown
        expr: haproxy_backend_active_servers{proxy="web"} < 1
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "backend web has no server up"
          runbook_url: RUNBOOKS/backend-down
      - alert: BackendDegraded
        expr: haproxy_backend_active_servers{proxy="web"} < 2
        for: 5m
        labels:
          severity: ticket
        annotations:
          summary: "backend web runs on fewer than 2 servers"
          runbook_url: RUNBOOKS/backend-degraded
      - alert: HighErrorRate
        expr: sum(rate(haproxy_backend_http_responses_total{proxy="web",code="5xx"}[5m])) / sum(rate(haproxy_backend_http_responses_total{proxy="web"}[5m])) > 0.05
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "more than 5% of responses from backend web are 5xx"
          runbook_url: RUNBOOKS/high-error-rate#triage
      - record: proxy:haproxy_backend_http_responses:rate5m
        expr: sum by (proxy, code) (rate(haproxy_backend_http_responses_total[5m]))
  - name: app
    rules:
      - alert: AppScrapeDown
        expr: up{job="app"} == 0
        for: 2m
        labels:
          severity: page
        annotations:
          summary: "Prometheus cannot scrape the application"
          runbook_url: RUNBOOKS/app-down
"#;

/// The application's metrics, in Prometheus text format.
const METRICS: &str = "# HELP http_requests_total Requests served.\n\
# TYPE http_requests_total counter\n\
http_requests_total{job=\"api\",code=\"200\"} 1027\n\
http_requests_total{job=\"api\",code=\"500\"} 3\n\
# HELP http_request_duration_seconds Request latency.\n\
# TYPE http_request_duration_seconds histogram\n\
http_request_duration_seconds_bucket{job=\"api\",le=\"0.05\"} 610\n\
http_request_duration_seconds_bucket{job=\"api\",le=\"0.1\"} 900\n\
http_request_duration_seconds_bucket{job=\"api\",le=\"0.5\"} 1021\n\
http_request_duration_seconds_bucket{job=\"api\",le=\"+Inf\"} 1030\n\
http_request_duration_seconds_sum{job=\"api\"} 53.2\n\
http_request_duration_seconds_count{job=\"api\"} 1030\n\
# TYPE process_start_time_seconds gauge\n\
process_start_time_seconds 1.7e9\n";

/// nginx `return` text: quotes and backslashes escaped, newlines as `\n`.
fn nginx_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn app_locations() -> String {
    format!(
        "location = /healthz {{ return 200 \"ok\\n\"; }}\n\
         location = /ready {{ return 200 \"{{\\\"status\\\":\\\"UP\\\",\\\"db\\\":\\\"UP\\\"}}\"; }}\n\
         location = /metrics {{ return 200 \"{}\"; }}\n\
         location = /__gate/boom {{ return 500 \"{{\\\"error\\\":\\\"internal\\\",\\\"request_id\\\":\\\"7f3c9a\\\"}}\"; }}",
        nginx_text(METRICS)
    )
}

/// nginx serving the API, whose rate limit (`limit_req_zone` in the `http`
/// block, which [`HttpServer`] does not expose) comes from the workspace's
/// `deploy/nginx/api.conf`, included as is: the file the policy checks is the
/// configuration that runs.
///
/// `/api/` serves files (`root`), not `return`: `return` answers in nginx's
/// rewrite phase, before `limit_req` (preaccess) would ever run.
pub struct RateLimitedApi {
    pub port: u16,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    proc: services::Proc,
    dir: tempfile::TempDir,
}

impl RateLimitedApi {
    /// Writes `conf` (the `http`-level include) and starts nginx with it.
    fn start(conf: &Path) -> RateLimitedApi {
        let nginx = require_bin("nginx", "nginx");
        let dir = tempfile::Builder::new()
            .prefix("gate-nginx-api-")
            .tempdir_in("/tmp")
            .expect("nginx tempdir");
        let root = dir.path().to_path_buf();
        let www = root.join("www");
        fs::create_dir_all(www.join("api")).unwrap();
        fs::create_dir_all(root.join("tmp")).unwrap();
        fs::write(www.join("api/ping"), "pong\n").unwrap();
        fs::create_dir_all(conf.parent().unwrap()).unwrap();
        let pid_path = root.join("nginx.pid");
        let error_log = root.join("error.log");
        let stdout_log = root.join("stdout.log");
        let main_conf = root.join("nginx.conf");
        let (proc, port) = services::start_with_retry("nginx (rate-limited API)", || {
            let port = free_port();
            fs::write(
                conf,
                format!(
                    "# The public API: 5 requests/s per client address, bursts of 5, then 429.\n\
                     # Included in nginx's http block.\n\
                     limit_req_zone $binary_remote_addr zone=api:1m rate=5r/s;\n\
                     \n\
                     server {{\n\
                     \x20   listen 127.0.0.1:{port};\n\
                     \x20   root {www};\n\
                     \n\
                     \x20   location /api/ {{\n\
                     \x20       limit_req zone=api burst=5 nodelay;\n\
                     \x20       limit_req_status 429;\n\
                     \x20   }}\n\
                     }}\n",
                    www = www.display()
                ),
            )
            .expect("write api.conf");
            let user = if running_as_root() {
                "user root;\n"
            } else {
                ""
            };
            let tmp = root.join("tmp");
            fs::write(
                &main_conf,
                format!(
                    "daemon off;\nmaster_process on;\nworker_processes 1;\n{user}\
                     pid {pid};\nerror_log {err} notice;\n\
                     events {{ worker_connections 256; }}\n\
                     http {{\n\
                     access_log off;\n\
                     default_type text/plain;\n\
                     client_body_temp_path {tmp}/client_body;\n\
                     proxy_temp_path {tmp}/proxy;\n\
                     fastcgi_temp_path {tmp}/fastcgi;\n\
                     uwsgi_temp_path {tmp}/uwsgi;\n\
                     scgi_temp_path {tmp}/scgi;\n\
                     include {conf};\n\
                     }}\n",
                    pid = pid_path.display(),
                    err = error_log.display(),
                    tmp = tmp.display(),
                    conf = conf.display(),
                ),
            )
            .expect("write nginx.conf");
            let _ = fs::remove_file(&pid_path);
            let _ = fs::remove_file(&error_log);
            let mut cmd = Command::new(&nginx);
            cmd.arg("-p")
                .arg(format!("{}/", root.display()))
                .arg("-c")
                .arg(&main_conf)
                .arg("-e")
                .arg(&error_log);
            let mut proc = services::Proc::spawn(
                "nginx (rate-limited API)",
                &mut cmd,
                &stdout_log,
                std::slice::from_ref(&error_log),
                "TERM",
            );
            let pid = proc.pid().to_string();
            // The pid file is written after every listener is bound.
            proc.wait_ready("listening", || {
                let written = fs::read_to_string(&pid_path).unwrap_or_default();
                (written.trim() == pid && port_open(port)).then_some(())
            })?;
            Ok::<_, services::StartFailure>((proc, port))
        });
        RateLimitedApi {
            port,
            base_url: format!("http://127.0.0.1:{port}"),
            proc,
            dir,
        }
    }
}

// ---------------------------------------------------------------- fixtures

fn write(ws: &Path, name: &str, contents: &str) -> PathBuf {
    let path = ws.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn write_json(ws: &Path, name: &str, value: &Value) -> PathBuf {
    write(ws, name, &serde_json::to_string_pretty(value).unwrap())
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn days_ago(today: NaiveDate, days: u64) -> NaiveDate {
    today.checked_sub_days(Days::new(days)).unwrap()
}

fn days_ahead(today: NaiveDate, days: u64) -> NaiveDate {
    today.checked_add_days(Days::new(days)).unwrap()
}

const DEPLOYMENT: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: { app: web }
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/shop/web@sha256:4f8a1c0b6f7e2d3c9a5b8e1d0c7f6a5b4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b
          command: [\"/app/migrate\", \"--up\"]
          resources:
            requests: { cpu: 100m, memory: 64Mi }
            limits: { cpu: 500m, memory: 128Mi }
      containers:
        - name: app
          image: registry.example.com/shop/web@sha256:4f8a1c0b6f7e2d3c9a5b8e1d0c7f6a5b4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b
          ports:
            - containerPort: 8080
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef: { name: web-db, key: url }
          resources:
            requests: { cpu: 250m, memory: 256Mi }
            limits: { cpu: \"1\", memory: 512Mi }
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
        - name: log-shipper
          image: registry.example.com/infra/vector:0.34.1
          resources:
            limits: { cpu: 100m, memory: 64Mi }
";

const PRODUCTION_YAML: &str = "# The application's production configuration.
server:
  port: 8080
  tls:
    enabled: true
    min_version: \"1.2\"
session:
  cookie:
    secure: true
    http_only: true
    same_site: strict
database:
  url_env: DATABASE_URL
  pool_size: 20
cache:
  url_env: REDIS_URL
logging:
  level: info
  format: json
errors:
  reporting:
    dsn_env: SENTRY_DSN
";

const PRODUCTION_ENV: &str =
    "# Non-secret environment for production (secrets come from the secret store).
APP_ENV=production
APP_DEBUG=false
LOG_LEVEL=info
SENTRY_DSN=https://3f2a9c1e7b6d4e0f@o450213.ingest.sentry.io/5501234
SENTRY_ENVIRONMENT=production
";

const APP_PY: &str = "\"\"\"The shop's web entry point.\"\"\"
import logging
import os

import psycopg
import redis
from flask import Flask, jsonify

app = Flask(__name__)
log = logging.getLogger(\"shop\")

DATABASE_URL = os.environ[\"DATABASE_URL\"]
REDIS_URL = os.environ[\"REDIS_URL\"]


@app.get(\"/healthz\")
def healthz():
    return \"ok\\n\"


@app.get(\"/ready\")
def ready():
    with psycopg.connect(DATABASE_URL, connect_timeout=2) as conn:
        conn.execute(\"SELECT 1\")
    redis.Redis.from_url(REDIS_URL).ping()
    return jsonify(status=\"UP\", db=\"UP\")


@app.errorhandler(Exception)
def internal_error(exc):
    log.exception(\"unhandled error\")
    return jsonify(error=\"internal\"), 500
";

const CARGO_LOCK: &str = "# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 3

[[package]]
name = \"serde\"
version = \"1.0.193\"
source = \"registry+https://github.com/rust-lang/crates.io-index\"
checksum = \"25dd9975e68d0cb5aa1120c288333fc98731bd1dd12f561e468ea4728c042b89\"

[[package]]
name = \"time\"
version = \"0.3.36\"
source = \"registry+https://github.com/rust-lang/crates.io-index\"
checksum = \"5dfd88e563464686c916c7e46e623e520ddc6d79fa6641390f2e3fa86e83e885\"

[[package]]
name = \"worker\"
version = \"0.1.0\"
dependencies = [
 \"serde\",
 \"time\",
]
";

const REQUIREMENTS: &str = "# Pinned with pip-compile.
django==4.2.7
    # via -r requirements.in
pyyaml==6.0.1
requests==2.31.0
urllib3==2.0.7 ; python_version >= \"3.8\"
";

/// Writes every fixture file into the workspace `ws`.
fn write_fixtures(ws: &Path, tls: &TlsEndpoints, today: NaiveDate) {
    // Kubernetes: every container declares CPU and memory limits.
    write(ws, "deploy/k8s/web.yaml", DEPLOYMENT);

    // Drill records as `gate drill` writes them: a rollback and a restore drill this month.
    let drill = |kind: &str, subject: &str, days: u64, measures: &str| {
        let t = format!("{}T09:30:00.000Z", days_ago(today, days));
        format!(
            r#"{{"kind":"{kind}","subject":"{subject}","started":"{t}","finished":"{t}","result":"pass","measures":{measures},"problems":[],"previous":null}}"#
        )
    };
    write(
        ws,
        ".gate/drills/drills.jsonl",
        &format!(
            "{}\n{}\n",
            drill(
                "rollback",
                "web",
                9,
                r#"{"drill":"rollback","percent":10,"candidate_responses":988,"to_stable_ms":3,"to_healthy_ms":5,"target_ms":300000}"#
            ),
            drill(
                "restore",
                "primary",
                12,
                r#"{"drill":"restore","backup":"/var/backups/pg/base/latest","target_time":null,"last_transaction":null,"data_loss_ms":null,"restore_ms":2400,"queries":[]}"#
            ),
        ),
    );

    // Certificates as deployed: the leaf, its key (0600) and the private CA.
    fs::create_dir_all(ws.join("certs")).unwrap();
    fs::copy(&tls.cert_files.valid, ws.join("certs/tls.crt")).unwrap();
    fs::copy(
        tls.cert_files.valid.with_extension("key"),
        ws.join("certs/tls.key"),
    )
    .unwrap();
    fs::set_permissions(ws.join("certs/tls.key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::copy(&tls.ca_file, ws.join("certs/ca.pem")).unwrap();

    // Pending sqlx migrations that follow the expand/contract rules.
    write(
        ws,
        "migrations/20260101000000_accounts.sql",
        "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\n",
    );
    write(
        ws,
        "migrations/20260102000000_accounts_name.sql",
        "-- no-transaction\nSET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_name_idx ON accounts (name);\n",
    );

    // Application source and configuration (scanned for secrets).
    write(ws, "src/app.py", APP_PY);
    write(ws, "config/production.yaml", PRODUCTION_YAML);
    write(ws, "config/production.env", PRODUCTION_ENV);
    write_json(
        ws,
        "config/flags.json",
        &json!({
            "$schema": "https://flagd.dev/schema/v0/flags.json",
            "flags": {
                "new-checkout": {
                    "state": "ENABLED",
                    "variants": { "on": true, "off": false },
                    "defaultVariant": "off",
                    "targeting": { "if": [{ "$ref": "beta-users" }, "on"] },
                    "metadata": { "type": "release", "created": days_ago(today, 14).to_string() }
                },
                "search-backend": {
                    "state": "ENABLED",
                    "variants": { "postgres": "postgres", "opensearch": "opensearch" },
                    "defaultVariant": "postgres",
                    "metadata": { "type": "permanent", "owner": "search" }
                },
                "legacy-export": {
                    "state": "DISABLED",
                    "variants": { "on": true, "off": false },
                    "defaultVariant": "off"
                }
            },
            "$evaluators": {
                "beta-users": { "ends_with": [{ "var": "email" }, "@example.com"] }
            }
        }),
    );

    // Scanner output: one low-severity result, one suppressed high one.
    write_json(ws, "reports/semgrep.sarif", &sarif());

    // Lockfiles, all on versions past the advisories in the OSV fixtures. Each
    // sits in a granted directory: a grant of a single file passes the host's
    // path check but is not preopened for WASI, so the plugin could not open it.
    write(ws, "worker/Cargo.lock", CARGO_LOCK);
    write_json(
        ws,
        "web/package-lock.json",
        &json!({
            "name": "shop-web",
            "version": "1.4.0",
            "lockfileVersion": 3,
            "requires": true,
            "packages": {
                "": { "name": "shop-web", "version": "1.4.0", "dependencies": { "lodash": "^4.17.21", "minimist": "^1.2.8" } },
                "node_modules/lodash": { "version": "4.17.21", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz", "integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==" },
                "node_modules/minimist": { "version": "1.2.8", "resolved": "https://registry.npmjs.org/minimist/-/minimist-1.2.8.tgz", "integrity": "sha512-2yyAR8qBkN3YuheJanUpWC5U3bb5osDywNB8RzDVlDwDHbocAJveqqj1u8+SVD7jkWT4yvsHCpWqqWqAxb0zCA==", "dev": true }
            }
        }),
    );
    write(ws, "ml/requirements.txt", REQUIREMENTS);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv"),
        &ws.join("security/osv"),
    );

    // Key inventory: all rotated within 90 days, none near a limit.
    write(
        ws,
        "security/keys.toml",
        &format!(
            "# API keys in use in production, and when they were last rotated.\n\
             [[key]]\nid = \"stripe-live\"\nowner = \"payments\"\nrotated_at = {}\n\n\
             [[key]]\nid = \"sendgrid\"\nowner = \"platform\"\ncreated = {}\nexpires = {}\n\n\
             [[key]]\nid = \"github-deploy\"\nowner = \"ci\"\nrotated_at = {}\nmax_age_days = 30\n",
            days_ago(today, 20),
            days_ago(today, 45),
            days_ahead(today, 320),
            days_ago(today, 5),
        ),
    );

    // The secret file, readable by its owner only (values made up here, so
    // that no secret-looking literal sits in the source).
    let secrets = write(
        ws,
        "secrets/app.env",
        &format!(
            "DB_PASSWORD={}\nSESSION_SIGNING_KEY={}\n",
            made_up_secret("db"),
            made_up_secret("session")
        ),
    );
    fs::set_permissions(&secrets, fs::Permissions::from_mode(0o600)).unwrap();

    // The audit log, being written.
    write(
        ws,
        "logs/audit.log",
        &format!(
            "{} user=ops action=deploy.approve release=1.4.0\n",
            Utc::now().to_rfc3339()
        ),
    );
}

/// A random-looking value (hex of a digest of the process, time and `label`).
fn made_up_secret(label: &str) -> String {
    use sha2::Digest;
    let seed = format!(
        "{label}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    );
    hex::encode(sha2::Sha256::digest(seed.as_bytes()))[..32].to_string()
}

fn sarif() -> Value {
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "Semgrep OSS",
                "version": "1.50.0",
                "rules": [
                    {
                        "id": "python.flask.security.audit.debug-enabled",
                        "shortDescription": { "text": "Flask debug mode enabled" },
                        "defaultConfiguration": { "level": "error" },
                        "properties": { "security-severity": "7.5" }
                    },
                    {
                        "id": "python.lang.best-practice.logging-exception",
                        "shortDescription": { "text": "Exception logged without context" },
                        "defaultConfiguration": { "level": "note" },
                        "properties": { "security-severity": "2.1" }
                    }
                ]
            }},
            "invocations": [{ "executionSuccessful": true }],
            "results": [
                {
                    "ruleId": "python.lang.best-practice.logging-exception",
                    "ruleIndex": 1,
                    "level": "note",
                    "message": { "text": "log.exception() without request context" },
                    "locations": [{ "physicalLocation": {
                        "artifactLocation": { "uri": "src/app.py" },
                        "region": { "startLine": 31, "startColumn": 5 }
                    }}]
                },
                {
                    "ruleId": "python.flask.security.audit.debug-enabled",
                    "ruleIndex": 0,
                    "level": "error",
                    "message": { "text": "Flask app run with debug=True" },
                    "locations": [{ "physicalLocation": {
                        "artifactLocation": { "uri": "tools/dev_server.py" },
                        "region": { "startLine": 8 }
                    }}],
                    "suppressions": [{
                        "kind": "external",
                        "status": "accepted",
                        "justification": "local development server, never deployed"
                    }]
                }
            ]
        }]
    })
}
