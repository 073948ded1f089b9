use std::cell::RefCell;

use gate_plugin_sdk::host::net::Certificate;

use super::*;

fn ctx() -> Context {
    Context {
        check: ID.to_string(),
        cwd: "/work".to_string(),
    }
}

fn params(json: serde_json::Value) -> Params {
    serde_json::from_value(json).expect("params parse")
}

fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
    f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// 2025-11-26T00:00:00Z
const NOW: i64 = 1_764_115_200;

fn certificate(subject: &str, sans: &[&str], not_after: i64) -> Certificate {
    Certificate {
        subject: subject.to_string(),
        issuer: "CN=gate test CA".to_string(),
        sans: sans.iter().map(|s| s.to_string()).collect(),
        not_before: NOW - 10 * DAY,
        not_after,
        serial: "1A2B".to_string(),
        sha256_fingerprint: "ab".repeat(32),
    }
}

fn tls(chain: Vec<Certificate>, verify_error: Option<&str>, hostname_matches: bool) -> TlsInfo {
    TlsInfo {
        protocol: "TLSv1.3".to_string(),
        cipher: "TLS_AES_256_GCM_SHA384".to_string(),
        cipher_bits: 256,
        chain,
        verified: verify_error.is_none(),
        verify_error: verify_error.map(str::to_string),
        hostname_matches,
        alpn: None,
    }
}

fn valid_for(days: i64) -> TlsInfo {
    tls(
        vec![certificate(
            "CN=localhost",
            &["localhost", "127.0.0.1"],
            NOW + days * DAY + 3600,
        )],
        None,
        true,
    )
}

fn no_files(_: &str) -> Result<Vec<u8>, String> {
    unreachable!("no files in this case")
}

fn endpoint(json: serde_json::Value, info: Result<TlsInfo, String>) -> Finding {
    let info = RefCell::new(Some(info));
    let mut out = evaluate(
        &ctx(),
        &params(json),
        NOW,
        |_, _| info.borrow_mut().take().expect("one handshake"),
        no_files,
    );
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[test]
fn valid_endpoint_passes_with_evidence() {
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"]}),
        Ok(valid_for(89)),
    );
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    assert_eq!(f.subject, "127.0.0.1:8443");
    assert_eq!(
        f.message,
        "127.0.0.1:8443: chain verified, covers 127.0.0.1, expires on 2026-02-23T01:00:00Z (89 days left)"
    );
    assert_eq!(evidence(&f, "subject"), Some("CN=localhost"));
    assert_eq!(evidence(&f, "issuer"), Some("CN=gate test CA"));
    assert_eq!(evidence(&f, "not_after"), Some("2026-02-23T01:00:00Z"));
    assert_eq!(evidence(&f, "days_left"), Some("89"));
    assert_eq!(evidence(&f, "sans"), Some("localhost, 127.0.0.1"));
    assert_eq!(evidence(&f, "protocol"), Some("TLSv1.3"));
    assert_eq!(evidence(&f, "verified"), Some("true"));
    assert_eq!(evidence(&f, "server_name"), Some("127.0.0.1"));
    assert_eq!(evidence(&f, "sha256_fingerprint").map(str::len), Some(64));
    assert_eq!(evidence(&f, "verify_error"), None);
}

#[test]
fn options_reach_the_handshake() {
    let seen = RefCell::new(None);
    let out = evaluate(
        &ctx(),
        &params(serde_json::json!({
            "endpoints": ["[::1]:443"],
            "server_name": "app.internal",
            "ca_file": "certs/ca.pem",
            "timeout_ms": 700
        })),
        NOW,
        |target, opts| {
            *seen.borrow_mut() = Some((target.to_string(), opts.clone()));
            Ok(valid_for(60))
        },
        no_files,
    );
    let (target, opts) = seen.into_inner().unwrap();
    assert_eq!(target, "[::1]:443");
    assert_eq!(opts.server_name.as_deref(), Some("app.internal"));
    assert_eq!(opts.ca_file.as_deref(), Some("certs/ca.pem"));
    assert_eq!(opts.timeout_ms, 700);
    assert_eq!(evidence(&out[0], "server_name"), Some("app.internal"));
}

#[test]
fn expired_certificate_is_a_critical_fail_said_once() {
    let mut info = valid_for(0);
    info.chain[0].not_after = NOW - 3 * DAY;
    info.verified = false;
    info.verify_error = Some("certificate has expired".into());
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"]}),
        Ok(info),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.severity, Some(Severity::Critical));
    assert_eq!(
        f.message,
        "127.0.0.1:8443: the certificate expired on 2025-11-23T00:00:00Z (3 days ago)"
    );
    assert_eq!(evidence(&f, "days_left"), Some("-3"));
    assert_eq!(
        evidence(&f, "verify_error"),
        Some("certificate has expired")
    );
}

#[test]
fn unverified_chain_fails_with_the_verify_error() {
    let mut info = valid_for(200);
    info.verified = false;
    info.verify_error = Some("self-signed certificate".into());
    let f = endpoint(
        serde_json::json!({"endpoints": ["localhost:443"]}),
        Ok(info),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.severity, Some(Severity::Critical));
    assert_eq!(
        f.message,
        "localhost:443: the chain does not verify: self-signed certificate"
    );
}

#[test]
fn hostname_mismatch_fails_naming_the_sans() {
    let info = tls(
        vec![certificate(
            "CN=wrong.example",
            &["wrong.example"],
            NOW + 90 * DAY,
        )],
        None,
        false,
    );
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"], "server_name": "localhost"}),
        Ok(info),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.message,
        "127.0.0.1:8443: the certificate does not cover localhost (SANs: wrong.example)"
    );
    assert_eq!(evidence(&f, "hostname_matches"), Some("false"));
}

#[test]
fn expiring_within_min_days_fails_at_default_severity() {
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"], "min_days": 30}),
        Ok(valid_for(29)),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.severity, None);
    assert_eq!(
        f.message,
        "127.0.0.1:8443: the certificate expires on 2025-12-25T01:00:00Z, in 29 days (min_days 30)"
    );
    assert!(f.remediation.as_deref().unwrap().contains("renew"));
    // Exactly min_days left passes.
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"], "min_days": 30}),
        Ok(valid_for(30)),
    );
    assert_eq!(f.status, Status::Pass);
}

#[test]
fn a_chain_certificate_expiring_first_is_named() {
    let mut info = valid_for(300);
    info.chain
        .push(certificate("CN=Intermediate R3", &[], NOW + 12 * DAY));
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"]}),
        Ok(info),
    );
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message.contains(
            "chain certificate 2 (CN=Intermediate R3) expires on 2025-12-08T00:00:00Z, in 12 days"
        ),
        "{}",
        f.message
    );
    assert_eq!(evidence(&f, "chain_length"), Some("2"));
    assert_eq!(
        evidence(&f, "days_left"),
        Some("300"),
        "evidence is the leaf's"
    );
}

#[test]
fn every_problem_is_listed() {
    let mut info = tls(
        vec![certificate("CN=old", &["old.example"], NOW + 5 * DAY)],
        Some("unable to get local issuer certificate"),
        false,
    );
    info.protocol = "TLSv1.2".into();
    let f = endpoint(serde_json::json!({"endpoints": ["app:443"]}), Ok(info));
    assert_eq!(
        f.message,
        "app:443: the chain does not verify: unable to get local issuer certificate; \
         the certificate does not cover app (SANs: old.example); \
         the certificate expires on 2025-12-01T00:00:00Z, in 5 days (min_days 30)"
    );
    assert_eq!(f.severity, Some(Severity::Critical));
}

#[test]
fn unreachable_or_denied_endpoints_are_errors() {
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:1"]}),
        Err("connect 127.0.0.1:1: Connection refused (os error 111)".into()),
    );
    assert_eq!(f.status, Status::Error);
    assert!(f.message.contains("Connection refused"), "{}", f.message);
    let f = endpoint(
        serde_json::json!({"endpoints": ["10.0.0.1:443"], "ca_file": "ca.pem"}),
        Err("plugin `infra` is not granted `net` access to `10.0.0.1:443`".into()),
    );
    assert_eq!(f.status, Status::Error);
    let hint = f.remediation.unwrap();
    assert!(hint.contains("net = [\"10.0.0.1:443\"]"), "{hint}");
    assert!(hint.contains("`ca.pem`"), "{hint}");
}

#[test]
fn a_handshake_without_certificate_is_an_error() {
    let f = endpoint(
        serde_json::json!({"endpoints": ["127.0.0.1:8443"]}),
        Ok(tls(vec![], None, false)),
    );
    assert_eq!(f.status, Status::Error);
}

// Files: the fixtures are leaf.pem (2025-01-01 .. 2026-01-01, SANs app.example.com,
// *.app.example.com, 10.0.0.5), legacy.pem (2025-06-01 .. 2025-09-01, no SANs, CN
// legacy.example.com), ca.pem (2024-01-01 .. 2034-01-01), bundle.pem = leaf + ca.

fn fixture(name: &str) -> Result<Vec<u8>, String> {
    let path = format!(
        "{}/tests/fixtures/certificates/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).map_err(|e| format!("{name}: {e}"))
}

fn files(json: serde_json::Value, now: i64) -> Vec<Finding> {
    evaluate(
        &ctx(),
        &params(json),
        now,
        |_, _| unreachable!("no endpoints"),
        fixture,
    )
}

/// 2025-06-01T00:00:00Z
const JUNE: i64 = 1_748_736_000;

#[test]
fn file_certificates_pass_with_days_left() {
    let out = files(serde_json::json!({"files": ["leaf.pem"]}), JUNE);
    assert_eq!(out.len(), 1);
    let f = &out[0];
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    assert_eq!(f.subject, "leaf.pem");
    assert_eq!(
        f.message,
        "leaf.pem: certificate CN=app.example.com expires on 2026-01-01T00:00:00Z (214 days left)"
    );
    assert_eq!(evidence(f, "days_left"), Some("214"));
    assert_eq!(
        evidence(f, "sans"),
        Some("app.example.com, *.app.example.com, 10.0.0.5")
    );
    assert_eq!(evidence(f, "not_before"), Some("2025-01-01T00:00:00Z"));
}

#[test]
fn file_certificates_fail_near_expiry_after_it_and_before_validity() {
    let dec_15 = 1_765_756_800;
    let out = files(
        serde_json::json!({"files": ["leaf.pem"], "min_days": 30}),
        dec_15,
    );
    assert_eq!(out[0].status, Status::Fail);
    assert_eq!(out[0].severity, None);
    assert!(
        out[0].message.contains("in 17 days (min_days 30)"),
        "{}",
        out[0].message
    );

    let out = files(
        serde_json::json!({"files": ["legacy.pem"]}),
        JUNE + 120 * DAY,
    );
    assert_eq!(out[0].status, Status::Fail);
    assert_eq!(out[0].severity, Some(Severity::Critical));
    assert!(
        out[0]
            .message
            .contains("expired on 2025-09-01T00:00:00Z (28 days ago)"),
        "{}",
        out[0].message
    );

    let dec_2024 = 1_733_011_200;
    let out = files(
        serde_json::json!({"files": ["leaf.pem"], "min_days": 0}),
        dec_2024,
    );
    assert_eq!(out[0].status, Status::Fail);
    assert!(
        out[0]
            .message
            .contains("is not valid until 2025-01-01T00:00:00Z"),
        "{}",
        out[0].message
    );
}

#[test]
fn every_certificate_in_a_bundle_is_a_finding() {
    let out = files(
        serde_json::json!({"files": ["bundle.pem", "leaf.der"]}),
        JUNE,
    );
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|f| f.status == Status::Pass));
    assert_eq!(out[0].subject, "bundle.pem");
    assert_eq!(out[1].subject, "bundle.pem");
    assert_eq!(evidence(&out[1], "index"), Some("2 of 2"));
    assert!(
        out[1]
            .message
            .contains("certificate 2 of 2 (CN=gate test CA, O=gate tests)")
    );
    assert_eq!(out[2].subject, "leaf.der");
}

#[test]
fn server_name_applies_to_the_first_certificate_of_a_file() {
    let out = files(
        serde_json::json!({"files": ["bundle.pem"], "server_name": "api.app.example.com"}),
        JUNE,
    );
    assert_eq!(out[0].status, Status::Pass, "{}", out[0].message);
    assert_eq!(
        out[1].status,
        Status::Pass,
        "the CA is not a server certificate"
    );
    let out = files(
        serde_json::json!({"files": ["bundle.pem"], "server_name": "shop.example.com"}),
        JUNE,
    );
    assert_eq!(out[0].status, Status::Fail);
    assert!(out[0].message.contains("does not cover shop.example.com"));
    assert_eq!(out[1].status, Status::Pass);
}

#[test]
fn unreadable_and_empty_files_are_errors() {
    let out = evaluate(
        &ctx(),
        &params(serde_json::json!({"files": ["missing.pem", "notes.txt", "leaf.pem"]})),
        JUNE,
        |_, _| unreachable!(),
        |path| match path {
            "notes.txt" => Ok(
                b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                    .to_vec(),
            ),
            other => fixture(other),
        },
    );
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].status, Status::Error);
    assert!(out[0].message.contains("missing.pem"));
    assert_eq!(out[1].status, Status::Error);
    assert!(
        out[1].message.contains("no CERTIFICATE block"),
        "{}",
        out[1].message
    );
    assert_eq!(out[2].status, Status::Pass);
}

#[test]
fn bad_params_are_one_error_listing_every_problem() {
    let out = files(serde_json::json!({}), NOW);
    assert_eq!(out.len(), 1);
    assert!(out[0].message.contains("set `endpoints`, `files` or both"));

    let out = files(
        serde_json::json!({
            "files": ["a.pem", " "],
            "ca_file": "ca.pem",
            "server_name": "bad name",
            "timeout_ms": 0
        }),
        NOW,
    );
    assert_eq!(out.len(), 1);
    let m = &out[0].message;
    for needle in [
        "`files` contains an empty path",
        "`ca_file` only applies to `endpoints`",
        "`server_name` `bad name` is not a host name",
        "`timeout_ms` must be above 0",
    ] {
        assert!(m.contains(needle), "{needle} missing from {m}");
    }
    let out = Certificates.run(
        &ctx(),
        &serde_json::json!({"endpoints": ["x:443"], "min_day": 3}),
    );
    assert_eq!(out[0].status, Status::Error);
    assert!(out[0].message.contains("min_day"), "{}", out[0].message);
}
