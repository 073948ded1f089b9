//! The security and config checks end to end, through the real `gate` binary
//! and its built-in plugins, against real services: PostgreSQL 15 (roles,
//! schema privileges, logging settings), Redis 7 (RESP over the `net` grant)
//! and nginx (metrics endpoints, error probes, `limit_req`). Each check has a
//! pass case, a fail case and a "cannot see" case, which must be `error`,
//! never `pass` or `skip`.
//!
//! `security.access-controls`, `security.audit-logging`,
//! `security.dependencies-audited`, `security.api-keys-rotated`,
//! `config.cache`, `config.metrics`, `config.error-handling`,
//! `config.rate-limits`.

mod common;
#[path = "services/mod.rs"]
mod services;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::{Value, json};
use services::{HttpServer, Postgres, Redis, free_port};

// ---------------------------------------------------------------- helpers

/// One gate running `check` with `params`; `grants` for the built-in plugin
/// that owns the check; `extra` is appended (connections, exemptions).
fn policy(check: &str, grants: &Value, params: &Value, extra: &str) -> String {
    let plugin = check.split('.').next().unwrap();
    let grants: Vec<String> = grants
        .as_object()
        .expect("grants object")
        .iter()
        .map(|(k, v)| format!("{k} = {}", toml(v)))
        .collect();
    format!(
        "[policy]\nname = \"checks-security-config\"\n\n\
         [[plugin]]\nname = \"{plugin}\"\n[plugin.grants]\n{grants}\ntimeout_ms = 20000\n\n\
         [[gate]]\nname = \"preflight\"\nchecks = [\"{check}\"]\n\n\
         [[check]]\nid = \"{check}\"\nparams = {params}\n\n{extra}",
        grants = grants.join("\n"),
        params = toml(params),
    )
}

/// Runs the policy in `ws`; returns (exit code, the check's report entry, stdout).
fn run_in(ws: &Workspace, check: &str, env: &[(&str, &str)]) -> (i32, Value, String) {
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        env,
    );
    let c = code(&out);
    assert!(
        c == 0 || c == 1,
        "gate exited {c}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let report = json(&out);
    (
        c,
        common::check(&report, "preflight", check).clone(),
        stdout(&out),
    )
}

fn run(
    ws: &Workspace,
    check: &str,
    grants: Value,
    params: Value,
    extra: &str,
    env: &[(&str, &str)],
) -> (i32, Value) {
    ws.write("policy.toml", &policy(check, &grants, &params, extra));
    let (c, entry, _) = run_in(ws, check, env);
    (c, entry)
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
    assert_eq!(found.len(), 1, "{subject} {rule:?} in {entry:#}");
    found[0]
}

/// (subject, status, rule) of every finding, for whole-report assertions.
fn summary(entry: &Value) -> Vec<(String, String, String)> {
    findings(entry)
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap_or_default().to_string(),
                f["status"].as_str().unwrap_or_default().to_string(),
                f["rule"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn s(subject: &str, status: &str, rule: &str) -> (String, String, String) {
    (subject.to_string(), status.to_string(), rule.to_string())
}

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or_default()
}

/// A `host:port` nothing listens on.
fn closed_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Sets a file's modification time `age` into the past.
fn age(path: &Path, age: Duration) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

// ------------------------------------------------------------- PostgreSQL

/// One PostgreSQL shared by the tests running at the same time, logging DDL
/// and connections, with an application role `app`, a role `ops` holding
/// CREATEDB and CREATEROLE, and a database `leaky` where PUBLIC may CREATE in
/// schema public (PostgreSQL 14 and older granted that by default).
fn pg() -> Arc<Postgres> {
    static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = slot.upgrade() {
        return p;
    }
    let p = Arc::new(Postgres::start_with_config(
        "log_statement = 'ddl'\nlog_connections = on\n",
    ));
    p.psql(
        "CREATE ROLE app LOGIN;\n\
         CREATE ROLE ops LOGIN CREATEDB CREATEROLE;\n\
         CREATE DATABASE leaky;",
    );
    psql_url(
        &in_db(&p.url, "leaky"),
        "GRANT CREATE ON SCHEMA public TO PUBLIC;",
    );
    *slot = Arc::downgrade(&p);
    p
}

/// `url` with its database replaced.
fn in_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

fn psql_url(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("run psql (install postgresql-client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const DB: &str = "[connections.db]\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n";

// ---------------------------------------------- security.access-controls

#[test]
fn access_controls_file_modes_pass_and_fail() {
    let ws = Workspace::new();
    let key = ws.write("secrets/tls.key", "-----BEGIN PRIVATE KEY-----\n");
    let env = ws.write("secrets/app.env", "DB_PASSWORD=x\n");
    chmod(&key, 0o600);
    chmod(&env, 0o640);
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"fs": ["./secrets"]}),
        json!({"files": ["secrets/tls.key", {"path": "secrets/app.env", "max_mode": "0640"}]}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [
            s("secrets/tls.key", "pass", ""),
            s("secrets/app.env", "pass", "")
        ]
    );
    assert_eq!(
        one(&entry, "secrets/tls.key", None)["evidence"]["mode"],
        "0600"
    );

    chmod(&key, 0o644);
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"fs": ["./secrets"]}),
        json!({"files": [{"path": "secrets/*.key", "max_mode": "0600", "owner": "nobody"}]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry),
        [
            s("secrets/tls.key", "fail", "mode"),
            s("secrets/tls.key", "fail", "owner")
        ]
    );
    let mode = one(&entry, "secrets/tls.key", Some("mode"));
    assert!(message(mode).contains("others read"), "{mode:#}");
    assert_eq!(mode["remediation"], "chmod 0600 secrets/tls.key");
}

#[test]
fn access_controls_cannot_see_files_outside_the_grant_or_missing() {
    let ws = Workspace::new();
    ws.write("secrets/tls.key", "k");
    ws.write("other/id_rsa", "k");
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"fs": ["./secrets"]}),
        json!({"files": ["other/id_rsa", "secrets/missing.key"]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    let denied = one(&entry, "other/id_rsa", None);
    assert_eq!(denied["status"], "error");
    assert!(message(denied).contains("fs"), "{denied:#}");
    assert_eq!(one(&entry, "secrets/missing.key", None)["status"], "error");
}

#[test]
fn access_controls_roles_pass_for_a_plain_application_role() {
    let pg = pg();
    let ws = Workspace::new();
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"sql": ["db"]}),
        json!({"connection": "db"}),
        DB,
        &[("DB_URL", &pg.url_for("app"))],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [s("role:app", "pass", ""), s("schema:public", "pass", "")]
    );
}

#[test]
fn access_controls_roles_fail_for_superuser_attributes_and_public_create() {
    let pg = pg();
    let ws = Workspace::new();
    // The harness's `gate` role is a superuser; `leaky` lets PUBLIC create in public.
    // gate connects as `app` (it refuses a superuser session for plugins) and
    // inspects `gate` by name.
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"sql": ["db"]}),
        json!({"connection": "db", "role": "gate"}),
        DB,
        &[("DB_URL", &in_db(&pg.url_for("app"), "leaky"))],
    );
    assert_eq!(c, 1);
    let superuser = one(&entry, "role:gate", Some("superuser"));
    assert_eq!(superuser["status"], "fail");
    assert_eq!(superuser["severity"], "critical");
    let public = one(&entry, "schema:public", Some("public-create"));
    assert_eq!(public["status"], "fail");
    assert_eq!(
        public["remediation"],
        "REVOKE CREATE ON SCHEMA \"public\" FROM PUBLIC;"
    );

    // A named role with CREATEDB allowed and CREATEROLE not.
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"sql": ["db"]}),
        json!({"connection": "db", "role": "ops", "allow": ["createdb"]}),
        DB,
        &[("DB_URL", &pg.url_for("app"))],
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry),
        [
            s("role:ops", "fail", "createrole"),
            s("schema:public", "pass", "")
        ]
    );

    // A superuser session is refused before the check's queries run.
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"sql": ["db"]}),
        json!({"connection": "db"}),
        DB,
        &[("DB_URL", &pg.url)],
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert!(
        entry
            .to_string()
            .contains("login role `gate` is a superuser"),
        "{entry:#}"
    );
}

#[test]
fn access_controls_roles_error_when_the_database_is_down_or_not_granted() {
    let ws = Workspace::new();
    let url = format!("postgres://app@{}/gate", closed_addr());
    let (c, entry) = run(
        &ws,
        "security.access-controls",
        json!({"sql": ["db"]}),
        json!({"connection": "db"}),
        DB,
        &[("DB_URL", &url)],
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert!(findings(&entry).iter().all(|f| f["status"] == "error"));

    // Without the `sql` grant, the host refuses and names the grant.
    let (_, entry) = run(
        &ws,
        "security.access-controls",
        json!({"fs": ["."]}),
        json!({"connection": "db"}),
        DB,
        &[("DB_URL", &url)],
    );
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert!(message(&findings(&entry)[0]).contains("sql"), "{entry:#}");
}

// ------------------------------------------------ security.audit-logging

#[test]
fn audit_logging_files_fresh_stale_and_missing() {
    let ws = Workspace::new();
    ws.write("logs/audit.log", "login ok\n");
    let stale = ws.write("logs/old-audit.log", "login ok\n");
    age(&stale, Duration::from_secs(3 * 3600));
    let (c, entry) = run(
        &ws,
        "security.audit-logging",
        json!({"fs": ["./logs"]}),
        json!({"files": [{"path": "logs/audit.log", "max_age_minutes": 15}]}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(summary(&entry), [s("logs/audit.log", "pass", "")]);

    let (c, entry) = run(
        &ws,
        "security.audit-logging",
        json!({"fs": ["./logs"]}),
        json!({"files": [{"path": "logs/old-audit.log", "max_age_minutes": 60}]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    let f = one(&entry, "logs/old-audit.log", Some("stale"));
    assert_eq!(f["status"], "fail");
    let minutes: i64 = f["evidence"]["age_minutes"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((179..=181).contains(&minutes), "{f:#}");

    let (c, entry) = run(
        &ws,
        "security.audit-logging",
        json!({"fs": ["./logs"]}),
        json!({"files": [{"path": "logs/missing.log", "max_age_minutes": 60}]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s("logs/missing.log", "error", "")]);
}

#[test]
fn audit_logging_postgres_settings() {
    let pg = pg();
    let ws = Workspace::new();
    let app = pg.url_for("app");
    let (c, entry) = run(
        &ws,
        "security.audit-logging",
        json!({"sql": ["db"]}),
        json!({"connection": "db", "require": {"log_statement": "ddl", "log_connections": true}}),
        DB,
        &[("DB_URL", &app)],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [
            s("setting:log_connections", "pass", ""),
            s("setting:log_statement", "pass", "")
        ]
    );

    let (c, entry) = run(
        &ws,
        "security.audit-logging",
        json!({"sql": ["db"]}),
        json!({"connection": "db", "require": {"log_statement": "mod", "log_disconnections": "on"}}),
        DB,
        &[("DB_URL", &app)],
    );
    assert_eq!(c, 1);
    let stmt = one(&entry, "setting:log_statement", None);
    assert_eq!(stmt["status"], "fail");
    assert_eq!(
        message(stmt),
        "`log_statement` is `ddl`, required at least `mod`"
    );
    assert_eq!(
        one(&entry, "setting:log_disconnections", None)["status"],
        "fail"
    );

    let down = format!("postgres://app@{}/gate", closed_addr());
    let (c, entry) = run(
        &ws,
        "security.audit-logging",
        json!({"sql": ["db"]}),
        json!({"connection": "db", "require": {"log_statement": "ddl"}}),
        DB,
        &[("DB_URL", &down)],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s("db", "error", "")]);
}

// ------------------------------------------ security.dependencies-audited

fn osv_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/osv")
        .display()
        .to_string()
}

#[test]
fn dependencies_audited_clean_vulnerable_and_blind() {
    let ws = Workspace::new();
    let osv = osv_dir();
    ws.write(
        "Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"time\"\nversion = \"0.3.36\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    ws.write(
        "web/package-lock.json",
        r#"{"name": "web", "lockfileVersion": 3, "packages": {
  "": {"name": "web"},
  "node_modules/lodash": {"version": "4.17.20"},
  "node_modules/minimist": {"version": "1.2.8"}
}}"#,
    );
    let grants = json!({"fs": [".", osv]});
    let (c, entry) = run(
        &ws,
        "security.dependencies-audited",
        grants.clone(),
        json!({"lockfiles": ["Cargo.lock"], "advisories": osv}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(summary(&entry), [s("Cargo.lock", "pass", "")]);

    let (c, entry) = run(
        &ws,
        "security.dependencies-audited",
        grants.clone(),
        json!({"lockfiles": ["Cargo.lock", "web/package-lock.json"], "advisories": osv}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry),
        [
            s("Cargo.lock", "pass", ""),
            s(
                "web/package-lock.json#lodash@4.17.20",
                "fail",
                "GHSA-35jh-r3h4-6jhm"
            ),
        ]
    );
    let lodash = &findings(&entry)[1];
    assert_eq!(lodash["severity"], "high");
    assert_eq!(lodash["evidence"]["fixed"], "4.17.21");
    assert_eq!(lodash["location"]["line"], 3);

    // An empty advisory directory cannot vouch for anything.
    fs::create_dir_all(ws.path().join("empty-db")).unwrap();
    let (c, entry) = run(
        &ws,
        "security.dependencies-audited",
        grants,
        json!({"lockfiles": ["Cargo.lock"], "advisories": "empty-db"}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s("empty-db", "error", "")]);
}

// ---------------------------------------------- security.api-keys-rotated

const INVENTORY: &str = r#"[[key]]
id = "stripe-live"
owner = "payments"
rotated_at = 2026-10-01
secret = "sk_live_51HxQ2vKZ3notarealkeynotarealkey"

[[key]]
id = "legacy-billing"
owner = "billing"
created = "2025-01-15"
"#;

#[test]
fn api_keys_rotated_pass_fail_exempt_and_error() {
    let ws = Workspace::new();
    ws.write("keys.toml", INVENTORY);
    let now = [("GATE_TEST_NOW", "2026-11-26T12:00:00Z")];
    let params = json!({"inventory": "keys.toml", "max_age_days": 90});
    let (c, entry) = run(
        &ws,
        "security.api-keys-rotated",
        json!({"fs": ["."]}),
        params.clone(),
        "",
        &now,
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry),
        [
            s("key:stripe-live", "pass", ""),
            s("key:legacy-billing", "fail", "max-age")
        ]
    );
    let legacy = &findings(&entry)[1];
    assert_eq!(legacy["evidence"]["age_days"], "680");
    assert_eq!(legacy["location"]["line"], 8);

    // The documented exemption for a key the vendor rotates on its own schedule.
    let exemption = "[[exemption]]\ncheck = \"security.api-keys-rotated\"\nmatch = \"key:legacy-billing\"\n\
                     reason = \"vendor rotates in January\"\napproved_by = \"secops@example.com\"\n\
                     ticket = \"SEC-1234\"\nexpires = 2026-12-31\n";
    ws.write(
        "policy.toml",
        &policy(
            "security.api-keys-rotated",
            &json!({"fs": ["."]}),
            &params,
            exemption,
        ),
    );
    let (c, entry, out) = run_in(&ws, "security.api-keys-rotated", &now);
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(entry["status"], "exempt", "{entry:#}");
    assert!(!out.contains("sk_live"), "key material in the report");

    ws.write("keys.toml", "[[key]]\nid = \"undated\"\nowner = \"ops\"\n");
    let (c, entry) = run(
        &ws,
        "security.api-keys-rotated",
        json!({"fs": ["."]}),
        params,
        "",
        &now,
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s("key:undated", "error", "")]);
}

// ------------------------------------------------------------ config.cache

#[test]
fn cache_pass_fail_and_unreachable() {
    let redis = Redis::start("maxmemory-policy allkeys-lru\nmaxmemory 64mb");
    let ws = Workspace::new();
    let url = format!("redis://{}", redis.addr);
    let (c, entry) = run(
        &ws,
        "config.cache",
        json!({"net": [redis.addr]}),
        json!({"url": url, "require": {"maxmemory-policy": "allkeys-lru", "maxmemory": "64mb"}}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [
            s(&redis.addr, "pass", ""),
            s(&format!("{}#maxmemory", redis.addr), "pass", ""),
            s(&format!("{}#maxmemory-policy", redis.addr), "pass", ""),
        ]
    );

    let (c, entry) = run(
        &ws,
        "config.cache",
        json!({"net": [redis.addr]}),
        json!({"url": url, "require": {"maxmemory-policy": "noeviction"}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    let f = one(&entry, &format!("{}#maxmemory-policy", redis.addr), None);
    assert_eq!(f["status"], "fail");
    assert_eq!(f["evidence"]["actual"], "allkeys-lru");

    let closed = closed_addr();
    let (c, entry) = run(
        &ws,
        "config.cache",
        json!({"net": [closed]}),
        json!({"url": format!("redis://{closed}"), "require": {"maxmemory-policy": "allkeys-lru"}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s(&closed, "error", "")]);
}

#[test]
fn cache_authenticates_without_printing_the_password() {
    const PASSWORD: &str = "Redis-s3cret-for-gate";
    let redis = Redis::start(&format!("requirepass {PASSWORD}"));
    let ws = Workspace::new();
    let params = json!({"url": format!("redis://{}", redis.addr), "password_env": "REDIS_PASSWORD",
                        "require": {"maxmemory-policy": "noeviction"}});
    ws.write(
        "policy.toml",
        &policy(
            "config.cache",
            &json!({"net": [redis.addr], "env": ["REDIS_PASSWORD"]}),
            &params,
            "",
        ),
    );
    let (c, entry, out) = run_in(&ws, "config.cache", &[("REDIS_PASSWORD", PASSWORD)]);
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(entry["status"], "pass");
    assert!(!out.contains(PASSWORD));

    // Wrong password: gate cannot see the settings.
    let (c, entry, out) = run_in(&ws, "config.cache", &[("REDIS_PASSWORD", "wrong-one")]);
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert!(message(&findings(&entry)[0]).contains("refused the credentials"));
    assert!(!out.contains("wrong-one"));

    // No password at all: NOAUTH is "cannot see", not a failed PING.
    let (c, entry) = run(
        &ws,
        "config.cache",
        json!({"net": [redis.addr]}),
        json!({"url": format!("redis://{}", redis.addr)}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
}

// ---------------------------------------------------------- config.metrics

/// nginx `return` text: quotes and backslashes escaped, newlines as `\n`.
fn nginx_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

const METRICS: &str = "# HELP http_requests_total Requests served.\n\
# TYPE http_requests_total counter\n\
http_requests_total{job=\"api\",code=\"200\"} 1027\n\
http_requests_total{job=\"api\",code=\"500\"} 3\n\
# TYPE http_request_duration_seconds histogram\n\
http_request_duration_seconds_bucket{job=\"api\",le=\"0.1\"} 900\n\
http_request_duration_seconds_bucket{job=\"api\",le=\"+Inf\"} 1030\n\
http_request_duration_seconds_sum{job=\"api\"} 53.2\n\
http_request_duration_seconds_count{job=\"api\"} 1030\n\
process_start_time_seconds 1.7e9\n";

fn metrics_server() -> HttpServer {
    HttpServer::start(&format!(
        "location = /metrics {{ return 200 \"{}\"; }}\n\
         location = /broken {{ return 200 \"up 1\\nhttp_requests_total{{code=200}} 3\\n\"; }}\n\
         location = /gone {{ return 404 \"not here\\n\"; }}",
        nginx_text(METRICS)
    ))
}

#[test]
fn metrics_required_series_present_missing_and_unparseable() {
    let server = metrics_server();
    let ws = Workspace::new();
    let grants = json!({"http": [format!("{}/*", server.base_url)]});
    let url = format!("{}/metrics", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.metrics",
        grants.clone(),
        json!({"url": url, "required": ["http_requests_total", "http_request_duration_seconds"], "labels": {"job": "api"}}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [
            s(&url, "pass", ""),
            s(&format!("{url}#http_requests_total"), "pass", ""),
            s(&format!("{url}#http_request_duration_seconds"), "pass", ""),
        ]
    );

    let (c, entry) = run(
        &ws,
        "config.metrics",
        grants.clone(),
        json!({"url": url, "required": ["http_requests_total{code=\"404\"}", "db_pool_connections"]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry)[1..],
        [
            s(
                &format!("{url}#http_requests_total{{code=\"404\"}}"),
                "fail",
                "missing"
            ),
            s(&format!("{url}#db_pool_connections"), "fail", "missing"),
        ]
    );

    let broken = format!("{}/broken", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.metrics",
        grants.clone(),
        json!({"url": broken, "required": ["up"]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    let f = one(&entry, &broken, Some("parse"));
    assert_eq!(f["status"], "fail");
    assert_eq!(f["location"]["line"], 2);

    let dead = format!("http://{}/metrics", closed_addr());
    let (c, entry) = run(
        &ws,
        "config.metrics",
        json!({"http": ["http://127.0.0.1:*/*"]}),
        json!({"url": dead, "required": ["up"]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s(&dead, "error", "")]);
}

// --------------------------------------------------- config.error-handling

const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 41, in checkout\n    total = order.total / count\nZeroDivisionError: division by zero\n";

fn error_server() -> HttpServer {
    HttpServer::start(&format!(
        "location = /clean {{ return 500 \"{{\\\"error\\\":\\\"internal\\\",\\\"request_id\\\":\\\"7f3c\\\"}}\"; }}\n\
         location = /leaky {{ return 500 \"{}\"; }}",
        nginx_text(TRACEBACK)
    ))
}

#[test]
fn error_handling_probe_clean_leaky_and_unreachable() {
    let server = error_server();
    let ws = Workspace::new();
    let grants = json!({"http": [format!("{}/*", server.base_url)]});
    let clean = format!("{}/clean", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.error-handling",
        grants.clone(),
        json!({"probe": {"url": clean, "expect_status": 500}}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(summary(&entry), [s(&clean, "pass", "")]);

    let leaky = format!("{}/leaky", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.error-handling",
        grants,
        json!({"probe": {"url": leaky, "expect_status": 500}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    let f = one(&entry, &leaky, Some("python-traceback"));
    assert_eq!(f["status"], "fail");
    assert!(
        f["evidence"]["excerpt"]
            .as_str()
            .unwrap()
            .starts_with("Traceback (most recent call last)"),
        "{f:#}"
    );

    let dead = format!("http://{}/boom", closed_addr());
    let (c, entry) = run(
        &ws,
        "config.error-handling",
        json!({"http": ["http://127.0.0.1:*/*"]}),
        json!({"probe": {"url": dead}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s(&dead, "error", "")]);
}

#[test]
fn error_handling_config_files() {
    let ws = Workspace::new();
    ws.write(
        "deploy/prod.env",
        "APP_ENV=production\nAPP_DEBUG=false\nSENTRY_DSN=https://pub@o1.ingest.sentry.io/42\n",
    );
    ws.write(
        "deploy/php.ini",
        "[PHP]\nlog_errors = On\ndisplay_errors = On\n",
    );
    let (c, entry) = run(
        &ws,
        "config.error-handling",
        json!({"fs": ["./deploy"]}),
        json!({"files": ["deploy/prod.env"], "assert": [{"path": "SENTRY_DSN", "exists": true}]}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [
            s("deploy/prod.env", "pass", ""),
            s("deploy/prod.env:SENTRY_DSN", "pass", "")
        ]
    );

    let (c, entry) = run(
        &ws,
        "config.error-handling",
        json!({"fs": ["./deploy"]}),
        json!({"files": ["deploy/php.ini", "deploy/missing.env"]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry),
        [
            s(
                "deploy/php.ini#PHP.display_errors",
                "fail",
                "display-errors"
            ),
            s("deploy/missing.env", "error", ""),
        ]
    );
    assert_eq!(findings(&entry)[0]["location"]["line"], 3);
}

// ------------------------------------------------------ config.rate-limits

/// nginx with a real `limit_req` zone (1 request/s, burst 2) on `/api`,
/// answering 429 when limited, and `/api-503` with nginx's default 503. They
/// serve a file: `return` would answer in the rewrite phase, before
/// `limit_req` (preaccess) ever runs.
/// `limit_req_zone` belongs in the `http` block, which the harness's
/// `HttpServer` does not expose, so this one runs nginx itself.
struct LimitedNginx {
    base_url: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl LimitedNginx {
    fn start() -> LimitedNginx {
        let nginx = services::require_bin("nginx", "nginx");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("tmp")).unwrap();
        let port = free_port();
        let conf = format!(
            // One process, no workers: nothing switches to an unprivileged user
            // that could not read the temporary directory.
            "daemon off;\nmaster_process off;\npid {root}/nginx.pid;\nerror_log {root}/error.log notice;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n access_log off;\n default_type text/plain;\n\
             client_body_temp_path {root}/tmp/cb;\n proxy_temp_path {root}/tmp/p;\n fastcgi_temp_path {root}/tmp/f;\n\
             uwsgi_temp_path {root}/tmp/u;\n scgi_temp_path {root}/tmp/s;\n\
             limit_req_zone $binary_remote_addr zone=api:1m rate=1r/s;\n\
             server {{\n  listen 127.0.0.1:{port};\n\
               location = /api {{ limit_req zone=api burst=2 nodelay; limit_req_status 429; alias {root}/ok.txt; }}\n\
               location = /api-503 {{ limit_req zone=api burst=2 nodelay; alias {root}/ok.txt; }}\n\
               location = /open {{ return 200 \"ok\\n\"; }}\n\
             }}\n}}\n",
            root = root.display()
        );
        fs::write(root.join("nginx.conf"), &conf).unwrap();
        fs::write(root.join("ok.txt"), "ok\n").unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(format!("{}/", root.display()))
            .arg("-c")
            .arg(root.join("nginx.conf"))
            .arg("-e")
            .arg(root.join("error.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut server = LimitedNginx {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + services::READY_TIMEOUT;
        while !services::port_open(port) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "nginx exited ({status}): {}",
                    fs::read_to_string(root.join("error.log")).unwrap_or_default()
                );
            }
            assert!(std::time::Instant::now() < deadline, "nginx did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for LimitedNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn rate_limits_probe_sees_429_503_or_nothing() {
    let server = LimitedNginx::start();
    let ws = Workspace::new();
    let grants = json!({"http": [format!("{}/*", server.base_url)]});
    let api = format!("{}/api", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        grants.clone(),
        json!({"probe": {"url": api, "burst": 20}}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    let f = one(&entry, &api, None);
    assert_eq!(f["status"], "pass");
    let at: u32 = f["evidence"]["limited_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2..=5).contains(&at), "{f:#}");

    // nginx's default limit status is 503: expecting 429 fails with the hint.
    let api503 = format!("{}/api-503", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        grants.clone(),
        json!({"probe": {"url": api503, "burst": 10}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    let f = one(&entry, &api503, Some("not-limited"));
    assert!(
        f["remediation"]
            .as_str()
            .unwrap()
            .contains("limit_req_status 429"),
        "{f:#}"
    );

    let open = format!("{}/open", server.base_url);
    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        grants,
        json!({"probe": {"url": open, "burst": 10}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s(&open, "fail", "not-limited")]);

    let dead = format!("http://{}/api", closed_addr());
    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        json!({"http": ["http://127.0.0.1:*/*"]}),
        json!({"probe": {"url": dead, "burst": 10}}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(summary(&entry), [s(&dead, "error", "")]);
}

#[test]
fn rate_limits_config_files() {
    let ws = Workspace::new();
    ws.write(
        "deploy/nginx.conf",
        "http {\n    limit_req_zone $binary_remote_addr zone=api:10m rate=20r/s;\n    server {\n        location /api/ {\n            limit_req zone=api burst=40 nodelay;\n        }\n    }\n}\n",
    );
    ws.write("deploy/app.yaml", "server:\n  port: 8080\n");
    let grants = json!({"fs": ["./deploy"]});
    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        grants.clone(),
        json!({"files": ["deploy/nginx.conf"], "assert": [
            {"path": "limit_req_zone.api.rate", "min": 1, "max": 50},
            {"path": "limit_req.api.burst", "max": 100}
        ]}),
        "",
        &[],
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(
        summary(&entry),
        [
            s("deploy/nginx.conf:limit_req_zone.api.rate", "pass", ""),
            s("deploy/nginx.conf:limit_req.api.burst", "pass", "")
        ]
    );

    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        grants.clone(),
        json!({"files": ["deploy/nginx.conf"], "assert": [{"path": "limit_req_zone.api.rate", "max": 10}]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    let f = &findings(&entry)[0];
    assert_eq!(f["status"], "fail");
    assert_eq!(f["location"]["line"], 2);

    let (c, entry) = run(
        &ws,
        "config.rate-limits",
        grants,
        json!({"files": ["deploy/app.yaml", "deploy/missing.yaml"]}),
        "",
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(
        summary(&entry),
        [
            s("deploy/app.yaml", "fail", "missing"),
            s("deploy/missing.yaml", "error", "")
        ]
    );
}
