use serde_json::json;

use super::*;
use crate::testutil::{Sandbox, ctx, evidence};

const K8S_POLICY: &str = r#"package main

deny contains msg if {
  input.kind == "Deployment"
  some c in input.spec.template.spec.containers
  c.securityContext.privileged
  msg := sprintf("container %s is privileged", [c.name])
}

deny_missing_limits contains {"msg": msg, "container": c.name, "severity": "medium"} if {
  input.kind == "Deployment"
  some c in input.spec.template.spec.containers
  not c.resources.limits.memory
  msg := sprintf("container %s has no memory limit", [c.name])
}

warn contains msg if {
  some c in input.spec.template.spec.containers
  endswith(c.image, ":latest")
  msg := sprintf("container %s uses a :latest image", [c.name])
}
"#;

const BAD_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:latest
          securityContext: { privileged: true }
---
apiVersion: v1
kind: Service
metadata: { name: web }
"#;

const GOOD_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27.3
          resources: { limits: { memory: 256Mi } }
"#;

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("policy/k8s.rego", K8S_POLICY);
    sb.write("deploy/bad.yaml", BAD_DEPLOYMENT);
    sb.write("deploy/good.yaml", GOOD_DEPLOYMENT);
    sb
}

fn run_with(sb: &Sandbox, params: serde_json::Value) -> Vec<Finding> {
    run(&ctx(), &params, &sb.grants())
}

fn summary(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {}",
                format!("{:?}", f.status).trim_start_matches("Status::"),
                f.subject,
                f.rule.as_deref().unwrap_or("-"),
                f.message
            )
        })
        .collect()
}

#[test]
fn each_message_is_a_finding_on_its_input() {
    let sb = sandbox();
    let findings = run_with(&sb, json!({ "inputs": ["deploy/*.yaml"] }));
    assert_eq!(
        summary(&findings),
        [
            "Fail deploy/bad.yaml deny container app is privileged (document 1 of 2)",
            "Fail deploy/bad.yaml deny_missing_limits container app has no memory limit (document 1 of 2)",
            "Warn deploy/bad.yaml warn container app uses a :latest image (document 1 of 2)",
            "Pass deploy/good.yaml - no message from data.main.deny, data.main.deny_missing_limits, data.main.warn over 1 document",
        ]
    );
    let limits = &findings[1];
    assert_eq!(evidence(limits, "container"), Some("app"));
    assert_eq!(evidence(limits, "severity"), Some("medium"));
    assert_eq!(evidence(limits, "namespace"), Some("main"));
    assert_eq!(evidence(limits, "document"), Some("1 of 2"));
    assert_eq!(limits.location.as_ref().unwrap().file, "deploy/bad.yaml");
    assert_eq!(
        evidence(&findings[3], "queried"),
        Some("data.main.deny, data.main.deny_missing_limits, data.main.warn")
    );
}

#[test]
fn a_syntax_error_stops_everything_and_names_its_place() {
    let sb = sandbox();
    sb.write(
        "policy/broken.rego",
        "package main\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    let findings = run_with(&sb, json!({ "inputs": ["deploy/*.yaml"] }));
    assert_eq!(findings.len(), 1, "{:?}", summary(&findings));
    let f = &findings[0];
    assert_eq!(f.status, Status::Error);
    assert_eq!(f.subject, "policy/broken.rego");
    let loc = f.location.as_ref().unwrap();
    assert_eq!(
        (loc.file.as_str(), loc.line, loc.column),
        ("policy/broken.rego", Some(4), Some(7))
    );
    assert!(
        f.message.starts_with("policy/broken.rego:4:7: "),
        "{}",
        f.message
    );
}

#[test]
fn an_undefined_built_in_is_an_error_even_where_it_is_not_reached() {
    let sb = sandbox();
    sb.write(
        "policy/net.rego",
        "package main\n\ndeny_unreachable contains \"registry down\" if {\n  input.kind == \"Nothing\"\n  resp := http.send({\"method\": \"GET\", \"url\": \"http://registry\"})\n  resp.status_code != 200\n}\n",
    );
    let findings = run_with(&sb, json!({ "inputs": ["deploy/good.yaml"] }));
    assert_eq!(findings.len(), 1, "{:?}", summary(&findings));
    assert_eq!(findings[0].status, Status::Error);
    assert!(
        findings[0]
            .message
            .contains("undefined function `http.send`"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[0].location.as_ref().unwrap().line, Some(5));
}

#[test]
fn evaluation_errors_are_errors_for_that_input() {
    let sb = Sandbox::new();
    sb.write(
        "policy/p.rego",
        "package main\ndeny contains msg if {\n  n := to_number(input.replicas)\n  n < 2\n  msg := \"too few\"\n}\n",
    );
    sb.write("in/bad.json", r#"{"replicas": "three"}"#);
    sb.write("in/ok.json", r#"{"replicas": "3"}"#);
    let findings = run_with(&sb, json!({ "inputs": ["in/*.json"] }));
    assert_eq!(findings.len(), 2, "{:?}", summary(&findings));
    assert_eq!(findings[0].status, Status::Error);
    assert_eq!(findings[0].subject, "in/bad.json");
    assert_eq!(findings[0].rule.as_deref(), Some("deny"));
    assert!(
        findings[0]
            .message
            .contains("evaluating data.main.deny over in/bad.json failed"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[1].status, Status::Pass);
}

#[test]
fn unparseable_and_unknown_inputs_are_errors() {
    let sb = sandbox();
    sb.write("in/broken.json", "{\n  \"kind\": ,\n}");
    sb.write("in/Dockerfile", "FROM nginx");
    let findings = run_with(
        &sb,
        json!({ "inputs": ["in/broken.json", "in/Dockerfile", "in/missing.yaml", "none/*.yaml"] }),
    );
    assert_eq!(findings.len(), 4, "{:?}", summary(&findings));
    assert!(findings.iter().all(|f| f.status == Status::Error));
    assert!(
        findings[0]
            .message
            .contains("`in/broken.json` is not valid JSON"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[0].location.as_ref().unwrap().line, Some(2));
    assert!(
        findings[1].message.contains("cannot tell the format"),
        "{}",
        findings[1].message
    );
    assert!(
        findings[2].message.contains("in/missing.yaml"),
        "{}",
        findings[2].message
    );
    assert_eq!(findings[3].subject, "none/*.yaml");
}

#[test]
fn parser_override_reads_any_name() {
    let sb = Sandbox::new();
    sb.write(
        "policy/p.rego",
        "package main\ndeny contains \"root\" if { input.user == \"root\" }\n",
    );
    sb.write("in/config", "user = \"root\"\n");
    let findings = run_with(&sb, json!({ "inputs": ["in/config"], "parser": "toml" }));
    assert_eq!(summary(&findings), ["Fail in/config deny root"]);
}

#[test]
fn dockerfile_json_in_conftests_shape() {
    let sb = Sandbox::new();
    sb.write(
        "policy/docker.rego",
        "package main\n\
         deny contains msg if {\n\
         \x20 some cmd in input\n\
         \x20 cmd.Cmd == \"user\"\n\
         \x20 cmd.Value[0] == \"root\"\n\
         \x20 msg := \"do not run as root\"\n\
         }\n",
    );
    sb.write(
        "Dockerfile.json",
        r#"[[{"Cmd": "from", "Flags": [], "JSON": false, "Stage": 0, "SubCmd": "", "Value": ["alpine:3.20"]},
            {"Cmd": "user", "Flags": [], "JSON": false, "Stage": 0, "SubCmd": "", "Value": ["root"]}]]"#,
    );
    let findings = run_with(&sb, json!({ "inputs": ["Dockerfile.json"] }));
    assert_eq!(
        summary(&findings),
        ["Fail Dockerfile.json deny do not run as root"]
    );
}

#[test]
fn data_files_and_all_namespaces() {
    let sb = Sandbox::new();
    sb.write(
        "policy/images.rego",
        "package images\n\
         deny contains msg if {\n\
         \x20 not input.image in data.registries.allowed\n\
         \x20 msg := sprintf(\"image %s is not from an allowed registry\", [input.image])\n\
         }\n",
    );
    sb.write("policy/lib.rego", "package lib\nhelper(x) := x\n");
    sb.write(
        "data/registries/list.yaml",
        "allowed: [\"registry.example.com/web\"]\n",
    );
    sb.write("in/a.json", r#"{"image": "docker.io/web"}"#);
    let findings = run_with(
        &sb,
        json!({ "inputs": ["in/a.json"], "data": ["data"], "all_namespaces": true }),
    );
    assert_eq!(
        summary(&findings),
        ["Fail in/a.json deny image docker.io/web is not from an allowed registry"]
    );
    assert_eq!(evidence(&findings[0], "namespace"), Some("images"));
    // Without the data, `data.registries.allowed` is undefined: the rule
    // never fires, which is why a named data directory must hold data.
    let findings = run_with(
        &sb,
        json!({ "inputs": ["in/a.json"], "namespaces": ["images"], "data": ["in/none"] }),
    );
    assert_eq!(findings[0].status, Status::Error);
}

#[test]
fn a_namespace_without_rules_is_an_error_not_a_pass() {
    let sb = sandbox();
    let findings = run_with(
        &sb,
        json!({ "inputs": ["deploy/good.yaml"], "namespaces": ["kubernetes"] }),
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].status, Status::Error);
    assert!(
        findings[0]
            .message
            .contains("`kubernetes` is not a package"),
        "{}",
        findings[0].message
    );
}

#[test]
fn policies_outside_the_grant_are_errors() {
    let sb = sandbox();
    let findings = run(
        &ctx(),
        &json!({ "inputs": ["deploy/good.yaml"] }),
        &sb.grants_only("deploy"),
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].status, Status::Error);
    assert!(
        findings[0].message.contains("fs grant"),
        "{}",
        findings[0].message
    );
}

#[test]
fn bad_messages_are_errors() {
    let sb = Sandbox::new();
    sb.write(
        "policy/p.rego",
        "package main\ndeny contains {\"message\": \"no msg key\"} if { true }\n",
    );
    sb.write("in.json", "{}");
    let findings = run_with(&sb, json!({ "inputs": ["in.json"] }));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].status, Status::Error);
    assert!(
        findings[0].message.contains("without `msg`"),
        "{}",
        findings[0].message
    );
}
