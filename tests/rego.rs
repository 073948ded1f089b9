//! `rego.conftest` end to end: the real `gate evaluate` runs Conftest-style
//! Rego policies (tests/fixtures/rego/) inside the sandbox over Kubernetes
//! manifests, Dockerfiles parsed to JSON in Conftest's shape and Terraform
//! plan JSON, each with an input that fails and one that passes; an
//! exemption applies to one input by its subject; a warn rule warns; a Rego
//! syntax error, a call to a built-in regorus lacks and a policy that runs
//! past the plugin's deadline each end as an `error` finding, never a pass.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const CHECK: &str = "rego.conftest";
/// Pins "now" so the exemption in the policy is current.
const NOW: &str = "2026-12-01T12:00:00Z";

/// A workspace holding the fixtures and a policy running `rego.conftest`
/// with `params` (a TOML inline table) and `grants`.
fn workspace(params: &str, grants: &str, exemptions: &str) -> Workspace {
    let ws = Workspace::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rego");
    copy_dir(&fixtures, ws.path());
    ws.write(
        "policy.toml",
        &format!(
            "[policy]\nname = \"rego\"\n\n[[plugin]]\nname = \"rego\"\n[plugin.grants]\n{grants}\n\n\
             [[gate]]\nname = \"preflight\"\nchecks = [\"rego.*\"]\n\n\
             [[check]]\nid = \"{CHECK}\"\nparams = {params}\n\n{exemptions}"
        ),
    );
    ws
}

/// `gate evaluate --format json`: exit code and report.
fn evaluate(ws: &Workspace) -> (i32, Value) {
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[("GATE_TEST_NOW", NOW)],
    );
    assert!(
        code(&out) == 0 || code(&out) == 1,
        "exit {}: {}",
        code(&out),
        stderr(&out)
    );
    (code(&out), json(&out))
}

/// Each finding as `status subject rule: message`, in report order.
fn lines(check: &Value) -> Vec<String> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}: {}",
                f["status"].as_str().unwrap(),
                f["subject"].as_str().unwrap(),
                f["rule"].as_str().unwrap_or("-"),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

const ALL_INPUTS: &str =
    r#"{ inputs = ["k8s/*.yaml", "docker/*.json", "terraform/*.json"], all_namespaces = true }"#;
const FIXTURE_GRANTS: &str = r#"fs = ["./policy", "./k8s", "./docker", "./terraform"]"#;

const EXEMPT_LEGACY: &str = "[[exemption]]\ncheck = \"rego.conftest\"\nmatch = \"k8s/legacy-*\"\n\
     reason = \"the nightly batch needs a privileged container until it moves off NFS\"\n\
     approved_by = \"secops@example.com\"\nexpires = 2026-12-31\n";

#[test]
fn kubernetes_docker_and_terraform_inputs_fail_and_pass_by_policy() {
    let ws = workspace(ALL_INPUTS, FIXTURE_GRANTS, EXEMPT_LEGACY);
    let (code, report) = evaluate(&ws);
    assert_eq!(code, 1, "{report:#}");
    let c = check(&report, "preflight", CHECK);
    assert_eq!(c["status"], "fail", "{c:#}");
    let q_k8s = "data.kubernetes.deny_privileged, data.kubernetes.deny_run_as_root, \
                 data.kubernetes.violation_missing_limits, data.kubernetes.warn_latest_tag";
    let q_docker = "data.docker.deny_root_user, data.docker.deny_unpinned_base";
    let q_tf = "data.terraform.deny_open_security_group, data.terraform.deny_public_bucket";
    let queried = format!("{q_docker}, {q_k8s}, {q_tf}");
    assert_eq!(
        lines(c),
        [
            "warn k8s/canary.yaml warn_latest_tag: Pod canary: container debug uses busybox, which is not pinned to a tag".to_string(),
            "fail k8s/legacy-batch.yaml deny_privileged: Job legacy-batch: container batch runs privileged".to_string(),
            "fail k8s/payments.yaml deny_privileged: Deployment payments: container api runs privileged (document 1 of 2)".to_string(),
            "fail k8s/payments.yaml deny_run_as_root: Deployment payments: runAsNonRoot is not set for the pod or every container (document 1 of 2)".to_string(),
            "fail k8s/payments.yaml violation_missing_limits: Deployment payments: container api has no memory limit (document 1 of 2)".to_string(),
            "warn k8s/payments.yaml warn_latest_tag: Deployment payments: container api uses registry.example.com/shop/payments:latest, which is not pinned to a tag (document 1 of 2)".to_string(),
            format!("pass k8s/web.yaml -: no message from {queried} over 1 document"),
            format!("pass docker/pinned.json -: no message from {queried} over 1 document"),
            "fail docker/root.json deny_root_user: the image runs as root: its last USER is root".to_string(),
            "fail docker/root.json deny_unpinned_base: base image ubuntu:22.04 is not pinned by digest".to_string(),
            format!("pass terraform/private.tfplan.json -: no message from {queried} over 1 document"),
            "fail terraform/public.tfplan.json deny_open_security_group: aws_security_group.ssh: ingress on port 22 is open to 0.0.0.0/0".to_string(),
            "fail terraform/public.tfplan.json deny_public_bucket: aws_s3_bucket_acl.assets: ACL public-read makes the bucket public".to_string(),
        ]
    );
    let findings = c["findings"].as_array().unwrap();
    // The exemption matched the subject, the input file, and nothing else.
    for f in findings {
        let exempt = f["subject"] == "k8s/legacy-batch.yaml";
        assert_eq!(!f["exemption"].is_null(), exempt, "{f:#}");
    }
    // Conftest's structured result: `msg` plus metadata kept as evidence;
    // the document of a YAML stream named.
    let limits = &findings[4];
    assert_eq!(limits["evidence"]["container"], "api", "{limits:#}");
    assert_eq!(limits["evidence"]["missing"], "[\"memory\"]", "{limits:#}");
    assert_eq!(limits["evidence"]["namespace"], "kubernetes");
    assert_eq!(limits["evidence"]["document"], "1 of 2");
    assert_eq!(limits["location"]["file"], "k8s/payments.yaml");
    assert_eq!(findings[6]["evidence"]["documents"], "1");
}

#[test]
fn failures_all_exempted_leave_the_warning() {
    let params =
        r#"{ inputs = ["k8s/legacy-batch.yaml", "k8s/canary.yaml"], namespaces = ["kubernetes"] }"#;
    let ws = workspace(params, r#"fs = ["./policy", "./k8s"]"#, EXEMPT_LEGACY);
    let (code, report) = evaluate(&ws);
    assert_eq!(code, 0, "{report:#}");
    let c = check(&report, "preflight", CHECK);
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(report["summary"]["warn"], 1);
    let ws = workspace(params, r#"fs = ["./policy", "./k8s"]"#, "");
    let (code, report) = evaluate(&ws);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(check(&report, "preflight", CHECK)["status"], "fail");
}

#[test]
fn a_rego_syntax_error_is_an_error_at_its_position() {
    let ws = workspace(
        r#"{ policy = ["broken-syntax"], inputs = ["k8s/web.yaml"] }"#,
        r#"fs = ["./broken-syntax", "./k8s"]"#,
        "",
    );
    let (code, report) = evaluate(&ws);
    assert_eq!(code, 1, "{report:#}");
    let c = check(&report, "preflight", CHECK);
    assert_eq!(c["status"], "error", "{c:#}");
    let findings = c["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{c:#}");
    let f = &findings[0];
    assert_eq!(f["subject"], "broken-syntax/deny.rego");
    assert_eq!(f["location"]["file"], "broken-syntax/deny.rego");
    assert_eq!(f["location"]["line"], 6, "{f:#}");
    assert!(f["location"]["column"].as_u64().is_some(), "{f:#}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("broken-syntax/deny.rego:6:"),
        "{f:#}"
    );
}

#[test]
fn a_built_in_regorus_lacks_is_an_error_not_a_pass() {
    // web.yaml passes every rule the call guards: without the check before
    // evaluation, the rule would silently never fire.
    let ws = workspace(
        r#"{ policy = ["undefined-builtin"], inputs = ["k8s/web.yaml"] }"#,
        r#"fs = ["./undefined-builtin", "./k8s"]"#,
        "",
    );
    let (code, report) = evaluate(&ws);
    assert_eq!(code, 1, "{report:#}");
    let c = check(&report, "preflight", CHECK);
    assert_eq!(c["status"], "error", "{c:#}");
    let f = &c["findings"][0];
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("undefined function `http.send`"),
        "{f:#}"
    );
    assert_eq!(f["location"]["file"], "undefined-builtin/registry.rego");
    assert_eq!(f["location"]["line"], 6, "{f:#}");
}

#[test]
fn a_pathological_policy_ends_as_an_error_at_the_deadline() {
    const TIMEOUT_MS: u64 = 2000;
    let ws = workspace(
        r#"{ policy = ["slow"], inputs = ["k8s/web.yaml"] }"#,
        &format!("fs = [\"./slow\", \"./k8s\"]\ntimeout_ms = {TIMEOUT_MS}"),
        "",
    );
    let started = Instant::now();
    let (code, report) = evaluate(&ws);
    let wall = started.elapsed();
    assert_eq!(code, 1, "{report:#}");
    let c = check(&report, "preflight", CHECK);
    assert_eq!(c["status"], "error", "{c:#}");
    let message = c["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("timed out after {TIMEOUT_MS} ms"))
            && message.contains("timeout_ms"),
        "{message}"
    );
    let took = c["duration_ms"].as_u64().unwrap();
    let slack = (TIMEOUT_MS / 5).max(250);
    assert!(
        (TIMEOUT_MS..=TIMEOUT_MS + slack).contains(&took),
        "the check took {took} ms"
    );
    assert!(wall < Duration::from_secs(30), "gate ran {wall:?}");
}

#[test]
fn inputs_outside_the_grant_or_unparseable_are_errors() {
    let ws = workspace(
        r#"{ inputs = ["k8s/web.yaml", "docker/root.json", "broken.json"], namespaces = ["kubernetes"] }"#,
        r#"fs = ["./policy", "./k8s", "./broken.json"]"#,
        "",
    );
    ws.write(
        "broken.json",
        "{\n  \"kind\": \"Deployment\",\n  \"metadata\": {\n}\n",
    );
    let (code, report) = evaluate(&ws);
    assert_eq!(code, 1, "{report:#}");
    let c = check(&report, "preflight", CHECK);
    let lines = lines(c);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].starts_with("pass k8s/web.yaml"), "{lines:#?}");
    assert!(
        lines[1].starts_with("error docker/root.json") && lines[1].contains("fs"),
        "{lines:#?}"
    );
    assert!(
        lines[2].starts_with("error broken.json") && lines[2].contains("is not valid JSON"),
        "{lines:#?}"
    );
    assert_eq!(c["findings"][2]["location"]["line"], 5, "{c:#}");
}

#[test]
fn checks_list_shows_the_rego_check_and_its_params() {
    let ws = Workspace::new();
    let out = ws.gate(&["checks", "list", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plugins = json(&out);
    let rego = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "rego")
        .expect("the rego plugin is listed");
    let c = &rego["checks"][0];
    assert_eq!(c["id"], CHECK);
    let params: Vec<&str> = c["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "policy",
            "inputs",
            "data",
            "parser",
            "namespaces",
            "all_namespaces",
            "rego_version",
            "max_file_bytes"
        ]
    );
    let human = stdout(&ws.gate(&["checks", "list"]));
    assert!(
        human.contains(CHECK) && human.contains("all_namespaces"),
        "{human}"
    );
}

/// A credential-shaped value with a fresh tail, so a leak cannot be a
/// coincidence: `prefix` then 16 characters of `alphabet`.
fn planted(prefix: &str, alphabet: &[u8]) -> String {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ (u64::from(std::process::id()) << 32)
        ^ prefix.len() as u64
        | 1;
    let tail: String = (0..16)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize] as char
        })
        .collect();
    format!("{prefix}{tail}")
}

#[test]
fn secrets_a_policy_reports_reach_no_report_format_and_no_log() {
    let stripe = planted(
        "sk_live_4eC3",
        b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
    );
    let aws = planted("AKIA7Q", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    let ws = workspace(
        r#"{ policy = ["secrets"], inputs = ["pod.yaml"] }"#,
        r#"fs = ["./secrets", "./pod.yaml"]"#,
        "",
    );
    // A policy that quotes the offending value in its message and in a
    // structured result's keys, as real policies do.
    ws.write(
        "secrets/env.rego",
        "package main\n\n\
         deny contains {\"msg\": msg, \"value\": e.value, \"token\": e.value} if {\n\
         \tsome c in input.spec.containers\n\
         \tsome e in c.env\n\
         \tcontains(lower(e.name), \"key\")\n\
         \tmsg := sprintf(\"container %s sets %s inline: %s\", [c.name, e.name, e.value])\n\
         }\n",
    );
    ws.write(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{ name: api }}\nspec:\n  containers:\n    - name: app\n      image: app:1.0\n      env:\n        - {{ name: STRIPE_API_KEY, value: \"{stripe}\" }}\n        - {{ name: AWS_ACCESS_KEY_ID, value: \"{aws}\" }}\n"
        ),
    );
    let mut leaks = Vec::new();
    for format in gate_eval::report::Format::all().map(|f| f.name()) {
        let out = ws.gate_env(
            &["evaluate", "--policy", "policy.toml", "--format", format],
            &[("GATE_TEST_NOW", NOW), ("GATE_LOG", "debug")],
        );
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        let (report, log) = (stdout(&out), stderr(&out));
        assert!(
            log.contains("DEBUG"),
            "{format}: nothing logged at debug level"
        );
        for secret in [&stripe, &aws] {
            for (stream, text) in [("report", &report), ("log", &log)] {
                for line in text.lines().filter(|l| l.contains(secret.as_str())) {
                    leaks.push(format!("{format} {stream}: {line}"));
                }
            }
        }
        if format == "json" {
            // The secrets were read and reported, masked.
            let report: Value = serde_json::from_str(&report).unwrap();
            let text = check(&report, "preflight", CHECK)["findings"].to_string();
            assert!(
                text.contains("sets STRIPE_API_KEY inline")
                    && text.contains("sets AWS_ACCESS_KEY_ID inline"),
                "{text}"
            );
        }
    }
    assert!(
        leaks.is_empty(),
        "planted secrets leaked:\n{}",
        leaks.join("\n")
    );
}
