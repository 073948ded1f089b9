use serde_json::json;

use super::*;
use crate::testutil::{Sandbox, all_text, ctx, evidence, statuses};

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    kubernetes.io/change-cause: "rollout 42"
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          image: registry.acme.io/api:1.4.2
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
        - name: sidecar
          image: envoyproxy/envoy:latest
          securityContext:
            readOnlyRootFilesystem: false
"#;

fn run_in(sb: &Sandbox, params: serde_json::Value) -> Vec<Finding> {
    run(&ctx(ID), &params, &sb.grants())
}

fn one(sb: &Sandbox, file: &str, assertion: serde_json::Value) -> Finding {
    let findings = run_in(sb, json!({ "files": [file], "assert": [assertion] }));
    assert_eq!(findings.len(), 1, "{findings:?}");
    findings.into_iter().next().unwrap()
}

#[test]
fn wildcard_equals_must_hold_for_every_item() {
    let sb = Sandbox::new();
    sb.write("k8s/deploy.yaml", DEPLOY);
    let f = one(
        &sb,
        "k8s/deploy.yaml",
        json!({ "path": "spec.template.spec.containers[*].securityContext.runAsNonRoot", "equals": true }),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.subject,
        "k8s/deploy.yaml:spec.template.spec.containers[*].securityContext.runAsNonRoot"
    );
    assert_eq!(
        evidence(&f, "found"),
        Some("spec.template.spec.containers[1].securityContext.runAsNonRoot (missing)")
    );
    assert!(
        f.message.contains("must equal true: not found"),
        "{}",
        f.message
    );
    assert_eq!(
        f.location.as_ref().map(|l| (l.file.as_str(), l.line)),
        Some(("k8s/deploy.yaml", None))
    );

    let f = one(
        &sb,
        "k8s/deploy.yaml",
        json!({ "path": "spec.template.spec.containers[*].securityContext.readOnlyRootFilesystem", "equals": true }),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        evidence(&f, "found"),
        Some("spec.template.spec.containers[1].securityContext.readOnlyRootFilesystem = false")
    );
    assert!(
        f.message.contains("1 of 2 value(s) do not match"),
        "{}",
        f.message
    );

    let f = one(
        &sb,
        "k8s/deploy.yaml",
        json!({ "path": "spec.template.spec.containers.*.name", "matches": "^[a-z]+$" }),
    );
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    assert_eq!(evidence(&f, "matched"), Some("2"));
}

#[test]
fn matches_applies_to_strings_and_scalars() {
    let sb = Sandbox::new();
    sb.write("k8s/deploy.yaml", DEPLOY);
    let f = one(
        &sb,
        "k8s/deploy.yaml",
        json!({ "path": "spec.template.spec.containers[*].image", "matches": ".+:[0-9]+\\.[0-9]+\\.[0-9]+", "message": "images must be pinned to a version" }),
    );
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message
            .starts_with("images must be pinned to a version: 1 of 2"),
        "{}",
        f.message
    );
    assert_eq!(
        evidence(&f, "found"),
        Some("spec.template.spec.containers[1].image = \"envoyproxy/envoy:latest\"")
    );
    let f = one(
        &sb,
        "k8s/deploy.yaml",
        json!({ "path": "spec.replicas", "matches": "^[3-9]$" }),
    );
    assert_eq!(f.status, Status::Pass);
    // Objects are not scalars: they never match.
    let f = one(
        &sb,
        "k8s/deploy.yaml",
        json!({ "path": "metadata", "matches": "." }),
    );
    assert_eq!(f.status, Status::Fail);
}

/// A `matches` pattern within the size limit for ASCII values only
/// (`\w{1000}`) cannot be applied to a value beyond ASCII: the assertion is
/// an error, not a pass or a fail.
#[test]
fn a_pattern_too_big_for_a_value_is_an_error() {
    let sb = Sandbox::new();
    sb.write(
        "app.json",
        format!(
            r#"{{"ascii": "{}", "wide": "{}"}}"#,
            "a".repeat(1000),
            "é".repeat(1000)
        ),
    );
    let f = one(
        &sb,
        "app.json",
        json!({ "path": "ascii", "matches": "\\w{1000}" }),
    );
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    let f = one(
        &sb,
        "app.json",
        json!({ "path": "wide", "matches": "\\w{1000}" }),
    );
    assert_eq!(f.status, Status::Error, "{}", f.message);
    assert!(
        f.message
            .starts_with("`wide`: the `matches` pattern cannot be applied to a value in app.json"),
        "{}",
        f.message
    );
}

#[test]
fn exists_over_a_wildcard_needs_one_and_absent_needs_none() {
    let sb = Sandbox::new();
    sb.write("k8s/deploy.yaml", DEPLOY);
    let exists = |path: &str| {
        one(
            &sb,
            "k8s/deploy.yaml",
            json!({ "path": path, "exists": true }),
        )
        .status
    };
    assert_eq!(
        exists("spec.template.spec.containers[*].securityContext.runAsNonRoot"),
        Status::Pass
    );
    assert_eq!(
        exists("spec.template.spec.containers[*].resources"),
        Status::Fail
    );
    assert_eq!(
        exists("metadata.annotations.\"kubernetes.io/change-cause\""),
        Status::Pass
    );
    assert_eq!(exists("spec.template.spec.containers[5]"), Status::Fail);
    let absent = |path: &str| {
        one(
            &sb,
            "k8s/deploy.yaml",
            json!({ "path": path, "absent": true }),
        )
    };
    assert_eq!(
        absent("spec.template.spec.hostNetwork").status,
        Status::Pass
    );
    let f = absent("spec.template.spec.containers[*].securityContext.runAsNonRoot");
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message.contains("must be absent: is present"),
        "{}",
        f.message
    );
    // exists = false is absent; absent = false is exists.
    assert_eq!(
        one(
            &sb,
            "k8s/deploy.yaml",
            json!({ "path": "spec.paused", "exists": false })
        )
        .status,
        Status::Pass
    );
    assert_eq!(
        one(
            &sb,
            "k8s/deploy.yaml",
            json!({ "path": "spec.replicas", "absent": false })
        )
        .status,
        Status::Pass
    );
}

#[test]
fn equals_compares_numbers_by_value_and_structures_deeply() {
    let sb = Sandbox::new();
    sb.write(
        "app.toml",
        "[server]\nport = 8080\nratio = 1.0\nhosts = [\"a\", \"b\"]\n[server.tls]\nmin = \"1.2\"\n",
    );
    let eq = |path: &str, v: serde_json::Value| {
        one(&sb, "app.toml", json!({ "path": path, "equals": v })).status
    };
    assert_eq!(eq("server.port", json!(8080.0)), Status::Pass);
    assert_eq!(eq("server.ratio", json!(1)), Status::Pass);
    assert_eq!(eq("server.port", json!("8080")), Status::Fail);
    assert_eq!(eq("server.hosts", json!(["a", "b"])), Status::Pass);
    assert_eq!(eq("server.hosts[1]", json!("b")), Status::Pass);
    assert_eq!(eq("server.tls", json!({ "min": "1.2" })), Status::Pass);
    assert_eq!(
        eq("server.tls", json!({ "min": "1.2", "max": "1.3" })),
        Status::Fail
    );
}

#[test]
fn json_with_quoted_keys_and_combined_predicates() {
    let sb = Sandbox::new();
    sb.write(
        "conf/app.json",
        r#"{ "features": { "auth.mfa": { "enabled": true, "mode": "totp" } }, "list": [] }"#,
    );
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": "features.\"auth.mfa\".mode", "equals": "totp", "matches": "t.*" }),
    );
    assert_eq!(f.status, Status::Pass);
    assert_eq!(
        evidence(&f, "expected"),
        Some("equals \"totp\" and matches /t.*/")
    );
    // `matches` must match the whole value.
    let path = "features.\"auth.mfa\".mode";
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": path, "matches": "t" }),
    );
    assert_eq!(f.status, Status::Fail);
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": path, "matches": "totp|hotp" }),
    );
    assert_eq!(f.status, Status::Pass);
    // A wildcard over an empty list matches nothing: that is not a pass...
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": "list[*].enabled", "equals": true }),
    );
    assert_eq!(f.status, Status::Fail);
    assert!(f.message.contains("matched nothing"), "{}", f.message);
    // ...unless the assertion says the path is optional.
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": "list[*].enabled", "equals": true, "optional": true }),
    );
    assert_eq!(f.status, Status::Pass);
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": "nope.enabled", "equals": true, "optional": true }),
    );
    assert_eq!(f.status, Status::Pass);
    // Optional still fails on a value that is there and wrong.
    let f = one(
        &sb,
        "conf/app.json",
        json!({ "path": "features.*.enabled", "equals": false, "optional": true }),
    );
    assert_eq!(f.status, Status::Fail);
}

#[test]
fn yaml_streams_check_every_document() {
    let sb = Sandbox::new();
    sb.write(
        "all.yaml",
        "kind: Deployment\nspec: { replicas: 3 }\n---\nkind: Deployment\nspec: { replicas: 1 }\n",
    );
    let f = one(
        &sb,
        "all.yaml",
        json!({ "path": "spec.replicas", "matches": "^[2-9]$" }),
    );
    assert_eq!(f.status, Status::Fail);
    assert_eq!(evidence(&f, "found"), Some("document 2: spec.replicas = 1"));
    let f = one(
        &sb,
        "all.yaml",
        json!({ "path": "kind", "equals": "Deployment" }),
    );
    assert_eq!(
        (f.status, evidence(&f, "matched")),
        (Status::Pass, Some("2"))
    );
}

#[test]
fn values_under_secret_named_keys_are_redacted() {
    let sb = Sandbox::new();
    sb.write(
        "db.yaml",
        "database:\n  password: Sup3rS3cretValue!x\n  host: db.internal\n",
    );
    let f = one(
        &sb,
        "db.yaml",
        json!({ "path": "database.password", "absent": true }),
    );
    assert_eq!(f.status, Status::Fail);
    assert!(
        !all_text(&f).contains("Sup3rS3cretValue"),
        "{}",
        all_text(&f)
    );
    assert_eq!(
        evidence(&f, "found"),
        Some("database.password = Sup3…(18 chars)")
    );
    let f = one(
        &sb,
        "db.yaml",
        json!({ "path": "database.host", "equals": "db.prod" }),
    );
    assert_eq!(
        evidence(&f, "found"),
        Some("database.host = \"db.internal\"")
    );
}

#[test]
fn one_finding_per_file_and_assertion_with_id_and_severity() {
    let sb = Sandbox::new();
    sb.write("svc/a.yaml", "debug: false\nlog: info\n");
    sb.write("svc/b.yaml", "debug: true\n");
    let findings = run_in(
        &sb,
        json!({
            "files": ["svc/*.yaml"],
            "assert": [
                { "path": "debug", "equals": false, "id": "no-debug", "severity": "critical" },
                { "path": "log", "exists": true }
            ]
        }),
    );
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.subject.as_str(), f.status, f.rule.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("svc/a.yaml:debug", Status::Pass, Some("no-debug")),
            ("svc/a.yaml:log", Status::Pass, None),
            ("svc/b.yaml:debug", Status::Fail, Some("no-debug")),
            ("svc/b.yaml:log", Status::Fail, None),
        ]
    );
    assert_eq!(findings[2].severity, Some(Severity::Critical));
    assert_eq!(findings[3].severity, None);
}

#[test]
fn files_it_cannot_read_or_parse_are_errors() {
    let sb = Sandbox::new();
    sb.write("good.json", "{\"a\": 1}");
    sb.write("bad.json", "{\"a\": 1,}");
    sb.write("bad.yaml", "a: [1, 2\n");
    sb.write("bad.toml", "a = = 1\n");
    sb.write("app.ini", "a=1\n");
    sb.write("latin1.json", b"{\"a\": \"\xe9\"}");
    sb.write("outside/x.json", "{}");
    let findings = run(
        &ctx(ID),
        &json!({
            "files": ["in/good.json", "in/bad.json", "in/bad.yaml", "in/bad.toml", "in/app.ini", "in/missing.json", "in/*.xml", "outside/x.json", "in/latin1.json"],
            "assert": [{ "path": "a", "exists": true }]
        }),
        &{
            // Everything lives under in/ except outside/.
            for f in [
                "good.json",
                "bad.json",
                "bad.yaml",
                "bad.toml",
                "app.ini",
                "latin1.json",
            ] {
                std::fs::create_dir_all(sb.path("in")).unwrap();
                std::fs::rename(sb.path(f), sb.path(&format!("in/{f}"))).unwrap();
            }
            sb.grants_only("in")
        },
    );
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.subject.as_str(), f.status))
        .collect();
    assert_eq!(
        got,
        [
            ("in/good.json:a", Status::Pass),
            ("in/bad.json", Status::Error),
            ("in/bad.yaml", Status::Error),
            ("in/bad.toml", Status::Error),
            ("in/app.ini", Status::Error),
            ("in/missing.json", Status::Error),
            ("in/*.xml", Status::Error),
            ("outside/x.json", Status::Error),
            ("in/latin1.json", Status::Error),
        ]
    );
    assert!(
        findings[1].message.contains("not valid JSON") && findings[1].message.contains("line 1"),
        "{}",
        findings[1].message
    );
    assert!(
        findings[2].message.contains("not valid YAML"),
        "{}",
        findings[2].message
    );
    assert!(
        findings[3].message.contains("not valid TOML"),
        "{}",
        findings[3].message
    );
    assert!(
        findings[4].message.contains(".json, .yaml"),
        "{}",
        findings[4].message
    );
    assert!(
        findings[5].message.contains("No such file"),
        "{}",
        findings[5].message
    );
    assert!(
        findings[6].message.contains("no file matches"),
        "{}",
        findings[6].message
    );
    assert!(
        findings[7].message.contains("fs grant"),
        "{}",
        findings[7].message
    );
    assert!(
        findings[8].message.contains("UTF-8"),
        "{}",
        findings[8].message
    );
}

#[test]
fn oversized_files_are_errors() {
    let sb = Sandbox::new();
    sb.write("big.json", format!("{{\"a\": \"{}\"}}", "x".repeat(100)));
    let findings = run_in(
        &sb,
        json!({ "files": ["big.json"], "assert": [{ "path": "a", "exists": true }], "max_file_bytes": 50 }),
    );
    assert_eq!(statuses(&findings), [Status::Error]);
    assert!(
        findings[0].message.contains("limit"),
        "{}",
        findings[0].message
    );
}

#[test]
fn bad_params_are_error_findings_listing_every_problem() {
    let sb = Sandbox::new();
    for (params, needles) in [
        (
            json!({ "files": ["a.json"] }),
            vec!["missing field `assert`"],
        ),
        (
            json!({ "files": [], "assert": [{ "path": "a", "exists": true }] }),
            vec!["at least one"],
        ),
        (
            json!({ "files": ["a.json"], "assert": [{ "path": "a", "exists": true, "equal": 1 }] }),
            vec!["unknown field `equal`"],
        ),
        (
            json!({ "files": ["a.json"], "assert": [
                { "path": "a..b", "exists": true },
                { "path": "a", "matches": "(" },
                { "path": "a" },
                { "path": "a", "exists": true, "absent": true },
                { "path": "a", "absent": true, "equals": 1 },
                { "path": "a", "exists": true, "optional": true },
                { "path": "a", "exists": true, "severity": "urgent" }
            ] }),
            vec![
                "assert #1",
                "assert #2",
                "assert #3",
                "assert #4",
                "assert #5",
                "assert #6",
                "assert #7",
                "urgent",
            ],
        ),
    ] {
        let findings = run_in(&sb, params.clone());
        assert_eq!(statuses(&findings), [Status::Error], "{params}");
        assert_eq!(findings[0].subject, "params");
        for n in needles {
            assert!(
                findings[0].message.contains(n),
                "{n} not in {}",
                findings[0].message
            );
        }
    }
}

#[test]
fn info_lists_the_contracted_params() {
    let info = Compliance.info();
    assert_eq!(info.id, "security.compliance");
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["files", "assert", "max_file_bytes"]);
}

#[test]
fn yaml_separators_without_documents_are_skipped() {
    let docs = documents(Format::Yaml, "---\na: 1\n---\n---\nkind: Service\n").unwrap();
    assert_eq!(docs, [json!({ "a": 1 }), json!({ "kind": "Service" })]);
    assert_eq!(documents(Format::Yaml, "").unwrap(), [Value::Null]);
}

#[test]
fn parse_errors_carry_positions() {
    let e = documents(Format::Json, "{\n  \"a\": 1,\n}").unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
    let e = documents(Format::Toml, "a = \n").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    let e = documents(Format::Yaml, "a: [1, 2\n").unwrap_err();
    assert!(e.to_string().contains("line"), "{e}");
}
