//! Planted secrets never reach a report or a log. Every built-in check of
//! `gate checks list` runs (the catalogue scenario of `tests/catalogue/`,
//! against real services) after distinctive secrets have been planted in the
//! sources the checks read; `gate evaluate` then runs in every report format
//! with `GATE_LOG=debug`, and no byte of stdout or stderr may contain one.
//!
//! The secrets: a Stripe live key (`sk_live_…`), an AWS access key id
//! (`AKIA…`) and a PostgreSQL password, each with a fresh random tail.
//! Where they are planted, per source a check reads:
//!
//! - environment: the password in every connection URL (`PRIMARY_URL`,
//!   `APP_DATABASE_URL`, `DATABASE_URL`; the server trusts 127.0.0.1, so the
//!   checks still connect) and in `REDIS_URL`; `APP_ENV` (whose pattern it
//!   breaks) and `NODE_TLS_REJECT_UNAUTHORIZED` (forbidden) set to keys
//!   (config.env-vars, and every sql check through its connection URL);
//! - config files: the values `config.rate-limits` bounds with `min`/`max`
//!   and compares with `equals` (deploy/nginx/api.conf), the values
//!   `security.compliance` asserts and a `database.password` it requires
//!   absent, and the logging level (config/production.yaml), `LOG_LEVEL`,
//!   `APP_DEBUG` and the Sentry DSN (config/production.env: logging-levels,
//!   error-handling), a flag's state, default variant and creation date
//!   (config/flags.json: feature-flags), a key's rotation date
//!   (security/keys.toml: api-keys-rotated), a container's memory limit
//!   (deploy/k8s/web.yaml: resource-limits);
//! - files under fs grants: a key assigned in source (src/app.py:
//!   no-secrets) and in a migration's comment (config.migrations-tested).
//!
//! Not planted: SQL rows and HTTP bodies. The sql checks read role
//! attributes and server settings (enums and booleans, which cannot hold a
//! key), and the HTTP checks read bodies the catalogue's nginx serves from
//! its own configuration; both print through the same SDK masking
//! (`gate_plugin_sdk::redact`) as the sources above. No check is skipped:
//! [`every_listed_check_runs`] fails if `gate checks list` grows a check the
//! scenario does not run, unless it is one of the catalogue's
//! `BEYOND_CHECKLIST` checks, whose own end-to-end file plants secrets the
//! same way (`rego.conftest`: tests/rego.rs).

#[path = "catalogue/mod.rs"]
mod catalogue;
#[path = "services/mod.rs"]
mod services;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use catalogue::{Catalogue, GATE, listed_builtins};
use serde_json::Value;

struct Secrets {
    stripe: String,
    aws: String,
    pg_password: String,
}

impl Secrets {
    fn new() -> Secrets {
        let mut state = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            ^ (u64::from(std::process::id()) << 32)
            | 1;
        let mut pick = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| {
                    // xorshift64: unpredictable enough to be distinctive.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize] as char
                })
                .collect()
        };
        let mixed = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let upper = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        // Each starts with a fixed mixed-case, digit-bearing run, so it is
        // never an ordinary word whatever the random tail.
        Secrets {
            stripe: format!("sk_live_4eC3{}", pick(mixed, 20)),
            aws: format!("AKIA7Q{}", pick(upper, 14)),
            pg_password: format!("Pg9x{}", pick(mixed, 20)),
        }
    }

    /// Each secret, and its random tail on its own (a partial leak).
    fn needles(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("stripe key", &self.stripe),
            ("stripe key tail", &self.stripe[12..]),
            ("AWS key", &self.aws),
            ("AWS key tail", &self.aws[6..]),
            ("PostgreSQL password", &self.pg_password),
            ("PostgreSQL password tail", &self.pg_password[4..]),
        ]
    }
}

/// Replaces `from` with `to` in the workspace file `name`; the fixture must
/// hold `from`, so a changed fixture fails here instead of planting nothing.
fn plant(ws: &Path, name: &str, from: &str, to: &str) {
    let path = ws.join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(text.contains(from), "{name} no longer contains {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn plant_everywhere(cat: &mut Catalogue, s: &Secrets) {
    let ws = cat.workspace().to_path_buf();
    plant(
        &ws,
        "deploy/nginx/api.conf",
        "rate=5r/s",
        &format!("rate={}", s.stripe),
    );
    plant(
        &ws,
        "deploy/nginx/api.conf",
        "burst=5",
        &format!("burst={}", s.pg_password),
    );
    plant(
        &ws,
        "deploy/nginx/api.conf",
        "limit_req_status 429;",
        &format!("limit_req_status {};", s.aws),
    );
    plant(
        &ws,
        "config/production.yaml",
        "    enabled: true",
        &format!("    enabled: {}", s.stripe),
    );
    plant(
        &ws,
        "config/production.yaml",
        "  level: info",
        &format!("  level: {}", s.aws),
    );
    plant(
        &ws,
        "config/production.yaml",
        "  pool_size: 20",
        &format!("  pool_size: {}\n  password: {}", s.aws, s.pg_password),
    );
    plant(
        &ws,
        "config/production.env",
        "LOG_LEVEL=info",
        &format!("LOG_LEVEL={}", s.aws),
    );
    plant(
        &ws,
        "config/production.env",
        "APP_DEBUG=false",
        &format!("APP_DEBUG={}", s.stripe),
    );
    plant(
        &ws,
        "config/production.env",
        "SENTRY_DSN=https://3f2a9c1e7b6d4e0f@",
        &format!("SENTRY_DSN=https://{}@", s.stripe),
    );
    let flags_path = ws.join("config/flags.json");
    let mut flags: Value = serde_json::from_str(&fs::read_to_string(&flags_path).unwrap()).unwrap();
    flags["flags"]["new-checkout"]["defaultVariant"] = Value::from(s.aws.as_str());
    flags["flags"]["new-checkout"]["metadata"]["created"] = Value::from(s.pg_password.as_str());
    flags["flags"]["search-backend"]["state"] = Value::from(s.stripe.as_str());
    fs::write(&flags_path, serde_json::to_string_pretty(&flags).unwrap()).unwrap();
    plant(
        &ws,
        "security/keys.toml",
        "rotated_at = ",
        &format!("rotated_at = \"{}\"\nlast = ", s.stripe),
    );
    plant(
        &ws,
        "deploy/k8s/web.yaml",
        "memory: 512Mi",
        &format!("memory: {}", s.aws),
    );
    let app = ws.join("src/app.py");
    let mut text = fs::read_to_string(&app).unwrap();
    text.push_str(&format!("\nSTRIPE_KEY = \"{}\"\n", s.stripe));
    fs::write(&app, text).unwrap();
    plant(
        &ws,
        "migrations/20260101000000_accounts.sql",
        "CREATE TABLE",
        &format!("-- seeded with api key {}\nCREATE TABLE", s.stripe),
    );

    for (name, value) in cat.env.iter_mut() {
        match name.as_str() {
            "PRIMARY_URL" | "APP_DATABASE_URL" | "DATABASE_URL" => {
                let (user, rest) = value
                    .strip_prefix("postgres://")
                    .and_then(|r| r.split_once('@'))
                    .expect("postgres://user@host URL");
                *value = format!("postgres://{user}:{}@{rest}", s.pg_password);
            }
            "REDIS_URL" => {
                *value = value.replacen("redis://", &format!("redis://:{}@", s.stripe), 1);
            }
            "APP_ENV" => *value = s.aws.clone(),
            _ => {}
        }
    }
    cat.env
        .push(("NODE_TLS_REJECT_UNAUTHORIZED".into(), s.stripe.clone()));
}

/// `gate evaluate` in `format` with debug logs: (exit code, stdout, stderr).
fn evaluate(cat: &Catalogue, cache: &Path, format: &str) -> (i32, String, String) {
    let mut cmd = Command::new(GATE);
    cmd.args(["evaluate", "--policy", "catalogue.toml", "--format", format])
        .current_dir(cat.workspace())
        .env("GATE_CACHE_DIR", cache)
        .env("GATE_LOG", "debug")
        .env("NO_COLOR", "1")
        .env_remove("GATE_TEST_NOW")
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in &cat.env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run gate");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The finding messages (and evidence) of `id` in a JSON report, as text.
fn findings_text(report: &Value, id: &str) -> String {
    report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["checks"].as_array().unwrap())
        .filter(|c| c["id"] == id)
        .map(|c| c["findings"].to_string())
        .collect()
}

fn listed_checks() -> Vec<String> {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(GATE)
        .args(["checks", "list", "--format", "json"])
        .env("GATE_CACHE_DIR", cache.path())
        .output()
        .expect("gate checks list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plugins: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<String> = plugins
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["checks"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn every_listed_check_runs() {
    assert_eq!(listed_checks(), listed_builtins());
}

#[test]
fn planted_secrets_reach_no_report_format_and_no_log() {
    let secrets = Secrets::new();
    let mut cat = Catalogue::start();
    plant_everywhere(&mut cat, &secrets);
    let cache = tempfile::tempdir().unwrap();

    let mut leaks = Vec::new();
    for format in gate_eval::report::Format::all().map(|f| f.name()) {
        let (code, stdout, stderr) = evaluate(&cat, cache.path(), format);
        assert!(code == 0 || code == 1, "{format}: exit {code}\n{stderr}");
        assert!(
            stderr.contains("DEBUG"),
            "{format}: GATE_LOG=debug logged nothing at debug level"
        );
        for (what, needle) in secrets.needles() {
            for (stream, text) in [("report", &stdout), ("log", &stderr)] {
                for line in text.lines().filter(|l| l.contains(needle)) {
                    leaks.push(format!("{format} {stream}: {what}: {line}"));
                }
            }
        }
        if format == "json" {
            // The secrets were read, not missed: the checks saw and reported them.
            let report: Value = serde_json::from_str(&stdout).unwrap();
            let rate = findings_text(&report, "config.rate-limits");
            assert!(rate.contains("is not a number"), "{rate}");
            let compliance = findings_text(&report, "security.compliance");
            assert!(compliance.contains("database.password"), "{compliance}");
            let no_secrets = findings_text(&report, "security.no-secrets");
            assert!(no_secrets.contains("src/app.py"), "{no_secrets}");
            let env = findings_text(&report, "config.env-vars");
            assert!(env.contains("NODE_TLS_REJECT_UNAUTHORIZED"), "{env}");
        }
    }
    assert!(
        leaks.is_empty(),
        "planted secrets leaked:\n{}",
        leaks.join("\n")
    );
}
