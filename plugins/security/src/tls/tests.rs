use std::cell::RefCell;
use std::collections::BTreeMap;

use super::*;
use crate::testutil::{ctx, evidence, statuses};

/// A stand-in server: what the handshake negotiates, which versions a
/// restricted handshake succeeds with, and what the HTTPS GET returns.
struct FakeServer {
    inspect: Result<TlsInfo, String>,
    accepts: BTreeMap<&'static str, Result<bool, String>>,
    fetch: Result<Response, String>,
    probed: RefCell<Vec<String>>,
    requests: RefCell<Vec<Request>>,
}

impl FakeServer {
    fn modern() -> Self {
        FakeServer {
            inspect: Ok(info("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)),
            accepts: [("1.0", Ok(false)), ("1.1", Ok(false)), ("1.2", Ok(true))]
                .into_iter()
                .collect(),
            fetch: Ok(response(&[(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            )])),
            probed: RefCell::new(Vec::new()),
            requests: RefCell::new(Vec::new()),
        }
    }
}

impl Probe for FakeServer {
    fn inspect(&self, _target: &str, _opts: &TlsOptions) -> Result<TlsInfo, String> {
        self.inspect.clone()
    }
    fn accepts_version(
        &self,
        _target: &str,
        version: &str,
        _opts: &TlsOptions,
    ) -> Result<bool, String> {
        self.probed.borrow_mut().push(version.to_string());
        self.accepts[version].clone()
    }
    fn fetch(&self, request: &Request) -> Result<Response, String> {
        self.requests.borrow_mut().push(request.clone());
        self.fetch.clone()
    }
}

fn info(protocol: &str, cipher: &str, bits: u32) -> TlsInfo {
    TlsInfo {
        protocol: protocol.to_string(),
        cipher: cipher.to_string(),
        cipher_bits: bits,
        chain: Vec::new(),
        verified: true,
        verify_error: None,
        hostname_matches: true,
        alpn: None,
    }
}

fn response(headers: &[(&str, &str)]) -> Response {
    Response {
        status: 200,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Vec::new(),
        truncated: false,
        elapsed_ms: 3,
    }
}

fn params(json: serde_json::Value) -> Params {
    serde_json::from_value(json).expect("params parse")
}

fn run(json: serde_json::Value, server: &FakeServer) -> Vec<Finding> {
    evaluate(&ctx(ID), &params(json), server)
}

fn rule<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.rule.as_deref() == Some(rule))
        .unwrap_or_else(|| panic!("no {rule} finding in {findings:#?}"))
}

#[test]
fn modern_endpoint_passes_every_rule() {
    let server = FakeServer::modern();
    let out = run(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"]}),
        &server,
    );
    assert_eq!(statuses(&out), vec![Status::Pass; 3], "{out:#?}");
    assert!(out.iter().all(|f| f.subject == "127.0.0.1:8443"));

    let p = rule(&out, "protocol");
    assert_eq!(
        p.message,
        "127.0.0.1:8443: negotiates TLSv1.3; refuses TLSv1.0, TLSv1.1 (min_version TLSv1.2)"
    );
    assert_eq!(evidence(p, "refused_below_min"), Some("TLSv1.0, TLSv1.1"));
    assert_eq!(*server.probed.borrow(), vec!["1.0", "1.1"]);

    let c = rule(&out, "cipher");
    assert_eq!(evidence(c, "cipher"), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(evidence(c, "cipher_bits"), Some("256"));

    let h = rule(&out, "hsts");
    assert_eq!(evidence(h, "max_age"), Some("31536000"));
    assert_eq!(evidence(h, "include_subdomains"), Some("true"));
    assert_eq!(
        h.message,
        "https://127.0.0.1:8443/ sends Strict-Transport-Security max-age=31536000 (365 days); includeSubDomains"
    );
    let requests = server.requests.borrow();
    assert_eq!(requests[0].url, "https://127.0.0.1:8443/");
    assert_eq!(requests[0].method, "GET");
}

#[test]
fn legacy_versions_still_accepted_fail() {
    let mut server = FakeServer::modern();
    server.inspect = Ok(info("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256));
    server.accepts.insert("1.0", Ok(true));
    server.accepts.insert("1.1", Ok(true));
    let out = run(serde_json::json!({"endpoints": ["legacy:443"]}), &server);
    let p = rule(&out, "protocol");
    assert_eq!(p.status, Status::Fail);
    assert_eq!(
        p.message,
        "legacy:443: server still accepts TLSv1.0, TLSv1.1"
    );
    assert_eq!(evidence(p, "accepted_below_min"), Some("TLSv1.0, TLSv1.1"));
    assert!(p.remediation.as_deref().unwrap().contains("ssl_protocols"));
}

#[test]
fn negotiating_below_the_minimum_fails_without_reprobing_it() {
    let mut server = FakeServer::modern();
    server.inspect = Ok(info("TLSv1", "ECDHE-RSA-AES256-SHA", 256));
    server
        .accepts
        .insert("1.0", Err("must not be probed".into()));
    let out = run(
        serde_json::json!({"endpoints": ["old:443"], "hsts": false}),
        &server,
    );
    let p = rule(&out, "protocol");
    assert_eq!(p.status, Status::Fail);
    assert_eq!(
        p.message,
        "old:443: negotiates TLSv1, below min_version TLSv1.2; server still accepts TLSv1.0"
    );
    assert_eq!(*server.probed.borrow(), vec!["1.1"]);
}

#[test]
fn min_version_1_3_probes_1_2_too() {
    let server = FakeServer::modern();
    let out = run(
        serde_json::json!({"endpoints": ["a:443"], "min_version": 1.3}),
        &server,
    );
    let p = rule(&out, "protocol");
    assert_eq!(p.status, Status::Fail);
    assert_eq!(p.message, "a:443: server still accepts TLSv1.2");
    assert_eq!(*server.probed.borrow(), vec!["1.0", "1.1", "1.2"]);

    let server = FakeServer::modern();
    let out = run(
        serde_json::json!({"endpoints": ["a:443"], "min_version": "1.0"}),
        &server,
    );
    assert_eq!(rule(&out, "protocol").status, Status::Pass);
    assert!(server.probed.borrow().is_empty());
}

#[test]
fn a_probe_that_cannot_run_is_an_error_unless_another_already_failed() {
    let mut server = FakeServer::modern();
    server
        .accepts
        .insert("1.0", Err("connect a:443: Connection reset".into()));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    assert_eq!(rule(&out, "protocol").status, Status::Error);

    server.accepts.insert("1.1", Ok(true));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let p = rule(&out, "protocol");
    assert_eq!(p.status, Status::Fail);
    assert!(
        p.message.contains("could not probe TLSv1.0"),
        "{}",
        p.message
    );
}

#[test]
fn weak_or_short_ciphers_fail() {
    let mut server = FakeServer::modern();
    server.inspect = Ok(info("TLSv1.2", "DES-CBC3-SHA", 112));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let c = rule(&out, "cipher");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(
        c.message,
        "a:443: negotiates DES-CBC3-SHA, forbidden by `DES-CBC3`; negotiates a 112-bit cipher (DES-CBC3-SHA), below min_cipher_bits 128"
    );

    server.inspect = Ok(info("TLSv1.2", "AES128-SHA", 128));
    let out = run(
        serde_json::json!({"endpoints": ["a:443"], "forbidden_ciphers": ["SHA"]}),
        &server,
    );
    assert_eq!(rule(&out, "cipher").status, Status::Fail);
    let out = run(
        serde_json::json!({"endpoints": ["a:443"], "forbidden_ciphers": []}),
        &server,
    );
    assert_eq!(rule(&out, "cipher").status, Status::Pass);
}

#[test]
fn missing_short_or_invalid_hsts_fails() {
    let mut server = FakeServer::modern();
    server.fetch = Ok(response(&[("content-type", "text/html")]));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let h = rule(&out, "hsts");
    assert_eq!(h.status, Status::Fail);
    assert_eq!(
        h.message,
        "https://a:443/ sends no Strict-Transport-Security header"
    );
    assert!(
        h.remediation
            .as_deref()
            .unwrap()
            .contains("max-age=31536000")
    );

    server.fetch = Ok(response(&[("strict-transport-security", "max-age=86400")]));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let h = rule(&out, "hsts");
    assert_eq!(h.status, Status::Fail);
    assert_eq!(
        h.message,
        "https://a:443/ sends Strict-Transport-Security max-age=86400 (1 day), below hsts_min_age 15552000 (180 days)"
    );
    let out = run(
        serde_json::json!({"endpoints": ["a:443"], "hsts_min_age": 3600}),
        &server,
    );
    assert_eq!(rule(&out, "hsts").status, Status::Pass);

    server.fetch = Ok(response(&[("strict-transport-security", "max-age=600")]));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    assert!(
        rule(&out, "hsts")
            .message
            .contains("max-age=600 (600 seconds)"),
        "{}",
        rule(&out, "hsts").message
    );

    server.fetch = Ok(response(&[(
        "strict-transport-security",
        "includeSubDomains",
    )]));
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let h = rule(&out, "hsts");
    assert_eq!(h.status, Status::Fail);
    assert!(h.message.contains("invalid"), "{}", h.message);
}

#[test]
fn hsts_request_uses_path_ca_file_and_timeout() {
    let server = FakeServer::modern();
    run(
        serde_json::json!({
            "endpoints": ["[::1]:8443"],
            "hsts_path": "/login",
            "ca_file": "certs/ca.pem",
            "timeout_ms": 900
        }),
        &server,
    );
    let requests = server.requests.borrow();
    assert_eq!(requests[0].url, "https://[::1]:8443/login");
    assert_eq!(requests[0].ca_file.as_deref(), Some("certs/ca.pem"));
    assert_eq!(requests[0].timeout_ms, 900);
}

#[test]
fn hsts_false_skips_the_request() {
    let server = FakeServer::modern();
    let out = run(
        serde_json::json!({"endpoints": ["a:443"], "hsts": false}),
        &server,
    );
    assert_eq!(out.len(), 2);
    assert!(server.requests.borrow().is_empty());
}

#[test]
fn what_cannot_be_seen_is_an_error() {
    let mut server = FakeServer::modern();
    server.inspect = Err("connect 127.0.0.1:1: Connection refused (os error 111)".into());
    let out = run(serde_json::json!({"endpoints": ["127.0.0.1:1"]}), &server);
    assert_eq!(out.len(), 1, "nothing else is probed");
    assert_eq!(out[0].status, Status::Error);
    assert!(out[0].message.contains("Connection refused"));

    server.inspect = Err(
        "plugin `security` is not granted `net` access to `10.0.0.1:443`; add `net = [\"10.0.0.1:443\"]`"
            .into(),
    );
    let out = run(serde_json::json!({"endpoints": ["10.0.0.1:443"]}), &server);
    assert_eq!(out[0].status, Status::Error);
    assert!(
        out[0]
            .remediation
            .as_deref()
            .unwrap()
            .contains("net = [\"10.0.0.1:443\"]")
    );

    let mut server = FakeServer::modern();
    server.fetch =
        Err("plugin `security` is not granted `http` access to `https://a:443/`; add …".into());
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let h = rule(&out, "hsts");
    assert_eq!(h.status, Status::Error);
    let hint = h.remediation.as_deref().unwrap();
    assert!(hint.contains("http = [\"https://a:443/*\"]"), "{hint}");
    assert!(hint.contains("hsts = false"), "{hint}");

    server.fetch = Err("GET https://a:443/: certificate verify failed".into());
    let out = run(serde_json::json!({"endpoints": ["a:443"]}), &server);
    let h = rule(&out, "hsts");
    assert_eq!(h.status, Status::Error);
    assert!(h.remediation.as_deref().unwrap().contains("ca_file"));
}

#[test]
fn bad_params_are_one_error_listing_every_problem() {
    let server = FakeServer::modern();
    let out = run(
        serde_json::json!({
            "endpoints": ["nope", "a:443"],
            "forbidden_ciphers": ["RC4", "bad pattern"],
            "hsts_path": "login",
            "hsts": false,
            "ca_file": "ca.pem",
            "timeout_ms": 0
        }),
        &server,
    );
    assert_eq!(out.len(), 1);
    let m = &out[0].message;
    for needle in [
        "`nope` is not host:port",
        "`bad pattern` is not a cipher pattern",
        "`hsts_path` must be a path",
        "`ca_file` only applies to the HSTS request",
        "`timeout_ms` must be above 0",
    ] {
        assert!(m.contains(needle), "{needle} missing from {m}");
    }
    let out = Tls.run(
        &ctx(ID),
        &serde_json::json!({"endpoints": ["a:443"], "min_version": "1.4"}),
    );
    assert_eq!(out[0].status, Status::Error);
    assert!(
        out[0].message.contains("not a TLS version"),
        "{}",
        out[0].message
    );
    let out = Tls.run(&ctx(ID), &serde_json::json!({"endpoints": []}));
    assert!(out[0].message.contains("at least one host:port"));
}
