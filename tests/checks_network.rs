//! The network checks end to end, through the real `gate` binary and its
//! built-in plugins, against real services: nginx TLS endpoints with test
//! certificates (valid, expired, wrong host, legacy protocols) and plain HTTP
//! nginx. Each check has a pass case, a fail case and a "cannot see" case,
//! which must be `error`, never `pass` or `skip`.
//!
//! `infra.certificates`, `infra.network`, `infra.firewall`,
//! `infra.health-checks`, `security.tls`.

mod common;
#[path = "services/mod.rs"]
mod services;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use services::{HttpServer, TlsEndpoints, free_port};

// ---------------------------------------------------------------- helpers

/// One TLS fixture shared by the tests that run at the same time; it stops
/// when the last of them lets go (a fresh one starts for later tests).
fn tls() -> Arc<TlsEndpoints> {
    static SHARED: Mutex<Weak<TlsEndpoints>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = slot.upgrade() {
        return t;
    }
    let t = Arc::new(TlsEndpoints::start());
    *slot = Arc::downgrade(&t);
    t
}

fn health_server() -> HttpServer {
    HttpServer::start(
        "location = /healthz { return 200 \"ok\\n\"; }\n\
         location = /ready { return 200 \"{\\\"status\\\":\\\"UP\\\"}\"; }\n\
         location = /down { return 503 \"down\\n\"; }",
    )
}

/// A TCP port nothing listens on.
fn closed_port() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// A policy with one gate running `check` with `params`, and `grants` for
/// the built-in `plugin`.
fn policy(plugin: &str, grants: &Value, check: &str, params: &Value) -> String {
    let grants: Vec<String> = grants
        .as_object()
        .expect("grants object")
        .iter()
        .map(|(k, v)| format!("{k} = {}", toml(v)))
        .collect();
    format!(
        "[policy]\nname = \"checks-network\"\n\n\
         [[plugin]]\nname = \"{plugin}\"\n[plugin.grants]\n{grants}\ntimeout_ms = 20000\n\n\
         [[gate]]\nname = \"preflight\"\nchecks = [\"{check}\"]\n\n\
         [[check]]\nid = \"{check}\"\nparams = {params}\n",
        grants = grants.join("\n"),
        params = toml(params),
    )
}

/// Runs `check` and returns (exit code, the check's JSON report entry).
fn run(plugin: &str, grants: Value, check: &str, params: Value) -> (i32, Value) {
    let ws = Workspace::new();
    ws.write("policy.toml", &policy(plugin, &grants, check, &params));
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let c = code(&out);
    assert!(
        c == 0 || c == 1,
        "gate exited {c}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let report = json(&out);
    (c, check_entry(&report, check))
}

fn check_entry(report: &Value, id: &str) -> Value {
    check(report, "preflight", id).clone()
}

fn findings(entry: &Value) -> &Vec<Value> {
    entry["findings"].as_array().expect("findings")
}

/// The findings about `subject` (and `rule`, when given).
fn about<'a>(entry: &'a Value, subject: &str, rule: Option<&str>) -> Vec<&'a Value> {
    let found: Vec<&Value> = findings(entry)
        .iter()
        .filter(|f| f["subject"] == subject && rule.is_none_or(|r| f["rule"] == r))
        .collect();
    assert!(
        !found.is_empty(),
        "no finding about {subject} {rule:?} in {entry:#}"
    );
    found
}

fn one<'a>(entry: &'a Value, subject: &str, rule: Option<&str>) -> &'a Value {
    let found = about(entry, subject, rule);
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0]
}

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or_default()
}

fn dir_of(path: &std::path::Path) -> String {
    path.parent().unwrap().display().to_string()
}

// ------------------------------------------------------ infra.certificates

#[test]
fn certificates_pass_for_a_valid_endpoint_and_file() {
    let t = tls();
    let certs = dir_of(&t.ca_file);
    let (c, entry) = run(
        "infra",
        json!({"net": [t.valid], "fs": [certs]}),
        "infra.certificates",
        json!({
            "endpoints": [t.valid],
            "files": [t.cert_files.valid.display().to_string()],
            "server_name": "localhost",
            "ca_file": t.ca_file.display().to_string(),
            "min_days": 30
        }),
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(entry["status"], "pass", "{entry:#}");
    let f = one(&entry, &t.valid, None);
    let ev = &f["evidence"];
    assert_eq!(ev["subject"], "CN=localhost");
    assert_eq!(ev["issuer"], "CN=gate test CA");
    assert_eq!(ev["sans"], "localhost, 127.0.0.1");
    assert_eq!(ev["verified"], "true");
    assert_eq!(ev["server_name"], "localhost");
    let days: i64 = ev["days_left"].as_str().unwrap().parse().unwrap();
    assert!((88..=90).contains(&days), "{days}");
    assert!(ev["not_after"].as_str().unwrap().ends_with('Z'));
    assert!(ev["protocol"].as_str().unwrap().starts_with("TLSv1."));
    let file = one(&entry, &t.cert_files.valid.display().to_string(), None);
    assert_eq!(file["status"], "pass");
    assert_eq!(file["evidence"]["sans"], "localhost, 127.0.0.1");
}

#[test]
fn certificates_fail_when_expired_wrong_host_untrusted_or_expiring() {
    let t = tls();
    let certs = dir_of(&t.ca_file);
    let ca = t.ca_file.display().to_string();
    let expired_file = t.cert_files.expired.display().to_string();
    let (c, entry) = run(
        "infra",
        json!({"net": [t.expired, t.wrong_host], "fs": [certs]}),
        "infra.certificates",
        json!({
            "endpoints": [t.expired, t.wrong_host],
            "files": [expired_file],
            "ca_file": ca,
            "server_name": "localhost"
        }),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "fail", "{entry:#}");
    let expired = one(&entry, &t.expired, None);
    assert_eq!(expired["status"], "fail");
    assert_eq!(expired["severity"], "critical");
    assert!(
        message(expired).contains("expired on 2020-02-01T00:00:00Z"),
        "{}",
        message(expired)
    );
    assert_eq!(
        expired["evidence"]["verify_error"],
        "certificate has expired"
    );
    let wrong = one(&entry, &t.wrong_host, None);
    assert_eq!(wrong["status"], "fail");
    assert!(
        message(wrong).contains("does not cover localhost (SANs: wrong.example)"),
        "{}",
        message(wrong)
    );
    let file = one(&entry, &expired_file, None);
    assert_eq!(file["status"], "fail");
    assert_eq!(file["evidence"]["not_after"], "2020-02-01T00:00:00Z");

    // Without the test CA the chain does not verify; with a 100-day bound the
    // 90-day certificate is too close to expiry.
    let (c, entry) = run(
        "infra",
        json!({"net": [t.valid]}),
        "infra.certificates",
        json!({"endpoints": [t.valid], "min_days": 100}),
    );
    assert_eq!(c, 1);
    let f = one(&entry, &t.valid, None);
    assert_eq!(f["status"], "fail");
    let m = message(f);
    assert!(m.contains("the chain does not verify"), "{m}");
    assert!(m.contains("(min_days 100)"), "{m}");
}

#[test]
fn certificates_error_when_they_cannot_see() {
    let t = tls();
    let nothing = closed_port();
    let outside = t.cert_files.valid.display().to_string();
    let (c, entry) = run(
        "infra",
        json!({"net": [nothing]}),
        "infra.certificates",
        json!({"endpoints": [nothing, t.valid], "files": [outside]}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    let down = one(&entry, &nothing, None);
    assert_eq!(down["status"], "error");
    assert!(
        message(down).contains("cannot inspect TLS"),
        "{}",
        message(down)
    );
    let denied = one(&entry, &t.valid, None);
    assert_eq!(denied["status"], "error");
    assert!(
        message(denied).contains("is not granted `net`"),
        "{}",
        message(denied)
    );
    let file = one(&entry, &outside, None);
    assert_eq!(file["status"], "error");
    assert!(
        message(file).contains("not granted `fs`"),
        "{}",
        message(file)
    );
}

// ----------------------------------------------------------- infra.network

#[test]
fn network_passes_for_a_listening_port_and_a_resolving_name() {
    let http = health_server();
    let target = format!("127.0.0.1:{}", http.port);
    let (c, entry) = run(
        "infra",
        json!({"net": [target, "localhost:*"]}),
        "infra.network",
        json!({"targets": [target], "resolve": ["localhost"], "timeout_ms": 2000}),
    );
    assert_eq!(c, 0, "{entry:#}");
    let f = one(&entry, &target, Some("connect"));
    assert_eq!(f["status"], "pass");
    assert_eq!(f["evidence"]["state"], "open");
    assert!(f["evidence"]["elapsed_ms"].is_string());
    let name = one(&entry, "localhost", Some("resolve"));
    assert_eq!(name["status"], "pass");
    assert!(
        name["evidence"]["addresses"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "{name:#}"
    );
}

#[test]
fn network_fails_for_a_refused_port_and_a_name_that_does_not_resolve() {
    let refused = closed_port();
    let (c, entry) = run(
        "infra",
        json!({"net": [refused, "gate-no-such-host.invalid:*"]}),
        "infra.network",
        json!({"targets": [refused], "resolve": ["gate-no-such-host.invalid"], "timeout_ms": 3000}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "fail", "{entry:#}");
    let f = one(&entry, &refused, Some("connect"));
    assert_eq!(f["status"], "fail");
    assert_eq!(f["evidence"]["state"], "refused");
    assert!(
        message(f).contains("connection refused after"),
        "{}",
        message(f)
    );
    let name = one(&entry, "gate-no-such-host.invalid", Some("resolve"));
    assert_eq!(name["status"], "fail");
}

#[test]
fn network_errors_on_a_denied_grant() {
    let http = health_server();
    let target = format!("127.0.0.1:{}", http.port);
    let (c, entry) = run(
        "infra",
        json!({"net": ["10.0.0.1:22"]}),
        "infra.network",
        json!({"targets": [target], "resolve": ["localhost"]}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    for f in findings(&entry) {
        assert_eq!(f["status"], "error", "{f:#}");
        assert!(
            message(f).contains("is not granted `net`"),
            "{}",
            message(f)
        );
    }
}

// ---------------------------------------------------------- infra.firewall

#[test]
fn firewall_passes_when_open_is_open_and_closed_refuses() {
    let http = health_server();
    let open = format!("127.0.0.1:{}", http.port);
    let closed = closed_port();
    let (c, entry) = run(
        "infra",
        json!({"net": ["127.0.0.1:*"]}),
        "infra.firewall",
        json!({"open": [open], "closed": [closed]}),
    );
    assert_eq!(c, 0, "{entry:#}");
    assert_eq!(one(&entry, &open, Some("open"))["status"], "pass");
    let f = one(&entry, &closed, Some("closed"));
    assert_eq!(f["status"], "pass");
    assert_eq!(f["evidence"]["state"], "refused");
}

#[test]
fn firewall_fails_when_a_closed_port_accepts_or_an_open_port_refuses() {
    let http = health_server();
    let listening = format!("127.0.0.1:{}", http.port);
    let refused = closed_port();
    let (c, entry) = run(
        "infra",
        json!({"net": ["127.0.0.1:*"]}),
        "infra.firewall",
        json!({"open": [refused], "closed": [listening]}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "fail", "{entry:#}");
    let exposed = one(&entry, &listening, Some("closed"));
    assert_eq!(exposed["status"], "fail");
    assert_eq!(exposed["severity"], "critical");
    assert!(message(exposed).contains("must be closed but accepts"));
    let shut = one(&entry, &refused, Some("open"));
    assert_eq!(shut["status"], "fail");
    assert!(message(shut).contains("must be open but is not"));
}

#[test]
fn firewall_errors_on_a_denied_grant() {
    let closed = closed_port();
    let (c, entry) = run(
        "infra",
        json!({"net": ["10.0.0.1:22"]}),
        "infra.firewall",
        json!({"closed": [closed]}),
    );
    assert_eq!(c, 1);
    assert_eq!(
        entry["status"], "error",
        "a denied probe never passes a closed port: {entry:#}"
    );
}

// ----------------------------------------------------- infra.health-checks

/// An HTTP server that answers every request 200 after `delay`.
fn slow_server(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                std::thread::sleep(delay);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    addr
}

#[test]
fn health_checks_pass_for_healthy_endpoints() {
    let http = health_server();
    let healthz = format!("{}/healthz", http.base_url);
    let ready = format!("{}/ready", http.base_url);
    let (c, entry) = run(
        "infra",
        json!({"http": ["http://127.0.0.1:*"]}),
        "infra.health-checks",
        json!({"endpoints": [
            {"url": healthz, "expect_status": 200, "max_latency_ms": 2000, "contains": "ok"},
            {"url": ready, "contains": "\"status\":\"UP\""}
        ]}),
    );
    assert_eq!(c, 0, "{entry:#}");
    let f = one(&entry, &healthz, None);
    assert_eq!(f["status"], "pass");
    assert_eq!(f["evidence"]["status"], "200");
    assert_eq!(f["evidence"]["attempts"], "1");
    assert!(f["evidence"]["latency_ms"].is_string());
    assert_eq!(one(&entry, &ready, None)["status"], "pass");
}

#[test]
fn health_checks_fail_for_bad_status_slow_answers_and_down_endpoints() {
    let http = health_server();
    let down = format!("{}/down", http.base_url);
    let slow = format!("http://{}/", slow_server(Duration::from_millis(400)));
    let refused = format!("http://{}/healthz", closed_port());
    let (c, entry) = run(
        "infra",
        json!({"http": ["http://127.0.0.1:*"]}),
        "infra.health-checks",
        json!({
            "endpoints": [
                {"url": down},
                {"url": slow, "max_latency_ms": 100},
                {"url": refused}
            ],
            "retries": 1,
            "retry_delay_ms": 50
        }),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "fail", "{entry:#}");
    let f = one(&entry, &down, None);
    assert_eq!(f["status"], "fail");
    assert_eq!(f["evidence"]["status"], "503");
    assert_eq!(f["evidence"]["attempts"], "2");
    assert!(
        message(f).contains("status 503, expected 200 (2 attempts)"),
        "{}",
        message(f)
    );
    let f = one(&entry, &slow, None);
    assert_eq!(f["status"], "fail");
    assert!(
        message(f).contains("above max_latency_ms 100"),
        "{}",
        message(f)
    );
    let f = one(&entry, &refused, None);
    assert_eq!(
        f["status"], "fail",
        "a down endpoint is what the check looks for"
    );
}

#[test]
fn health_checks_error_on_a_denied_grant_or_a_malformed_url() {
    let http = health_server();
    let healthz = format!("{}/healthz", http.base_url);
    let (c, entry) = run(
        "infra",
        json!({"http": ["https://status.example.com/*"]}),
        "infra.health-checks",
        json!({"endpoints": [{"url": healthz}], "retries": 2}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert!(message(one(&entry, &healthz, None)).contains("is not granted `http`"));

    let (c, entry) = run(
        "infra",
        json!({"http": ["http://127.0.0.1:*"]}),
        "infra.health-checks",
        json!({"endpoints": [{"url": "127.0.0.1/healthz"}]}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert!(message(one(&entry, "params", None)).contains("is not an http:// or https:// URL"));
}

// ------------------------------------------------------------ security.tls

#[test]
fn tls_passes_for_a_modern_endpoint_with_hsts() {
    let t = tls();
    let (c, entry) = run(
        "security",
        json!({
            "net": [t.valid],
            "http": [format!("https://{}/*", t.valid)],
            "fs": [dir_of(&t.ca_file)]
        }),
        "security.tls",
        json!({
            "endpoints": [t.valid],
            "min_version": "1.2",
            "hsts": true,
            "ca_file": t.ca_file.display().to_string()
        }),
    );
    assert_eq!(c, 0, "{entry:#}");
    let protocol = one(&entry, &t.valid, Some("protocol"));
    assert_eq!(protocol["status"], "pass");
    assert_eq!(
        protocol["evidence"]["refused_below_min"],
        "TLSv1.0, TLSv1.1"
    );
    assert_eq!(one(&entry, &t.valid, Some("cipher"))["status"], "pass");
    let hsts = one(&entry, &t.valid, Some("hsts"));
    assert_eq!(hsts["status"], "pass");
    assert_eq!(hsts["evidence"]["max_age"], "31536000");
}

#[test]
fn tls_fails_for_legacy_protocols_and_missing_hsts() {
    let t = tls();
    let (c, entry) = run(
        "security",
        json!({"net": [t.legacy_tls]}),
        "security.tls",
        json!({"endpoints": [t.legacy_tls], "hsts": false}),
    );
    assert_eq!(c, 1);
    let protocol = one(&entry, &t.legacy_tls, Some("protocol"));
    assert_eq!(protocol["status"], "fail", "{protocol:#}");
    assert!(
        message(protocol).contains("server still accepts TLSv1.0, TLSv1.1"),
        "{}",
        message(protocol)
    );

    let (c, entry) = run(
        "security",
        json!({
            "net": [t.valid],
            "http": [format!("https://{}/*", t.valid)],
            "fs": [dir_of(&t.ca_file)]
        }),
        "security.tls",
        json!({
            "endpoints": [t.valid],
            "hsts_path": "/nohsts",
            "ca_file": t.ca_file.display().to_string()
        }),
    );
    assert_eq!(c, 1);
    let hsts = one(&entry, &t.valid, Some("hsts"));
    assert_eq!(hsts["status"], "fail", "{hsts:#}");
    assert!(message(hsts).contains("sends no Strict-Transport-Security header"));
    assert_eq!(one(&entry, &t.valid, Some("protocol"))["status"], "pass");
}

#[test]
fn tls_errors_when_it_cannot_see() {
    let t = tls();
    let nothing = closed_port();
    let (c, entry) = run(
        "security",
        json!({"net": [nothing, t.valid]}),
        "security.tls",
        json!({"endpoints": [nothing, t.valid]}),
    );
    assert_eq!(c, 1);
    assert_eq!(entry["status"], "error", "{entry:#}");
    assert_eq!(one(&entry, &nothing, None)["status"], "error");
    // Reachable, but the HSTS request is outside the http grant.
    let hsts = one(&entry, &t.valid, Some("hsts"));
    assert_eq!(hsts["status"], "error");
    assert!(
        message(hsts).contains("is not granted `http`"),
        "{}",
        message(hsts)
    );
}
