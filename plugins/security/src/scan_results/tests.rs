use serde_json::{Value, json};

use super::*;
use crate::testutil::{Sandbox, ctx, evidence, statuses};

fn codeql() -> Value {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "CodeQL",
                "rules": [
                    { "id": "js/sql-injection", "shortDescription": { "text": "SQL injection" },
                      "defaultConfiguration": { "level": "error" },
                      "helpUri": "https://codeql.github.com/js-sql-injection",
                      "properties": { "security-severity": "8.8" } },
                    { "id": "js/unused-local-variable", "defaultConfiguration": { "level": "note" } },
                    { "id": "js/weak-crypto", "defaultConfiguration": { "level": "warning" },
                      "messageStrings": { "default": { "text": "Weak algorithm {0} used in {1}." } },
                      "properties": { "security-severity": 5.3 } }
                ]
            }},
            "artifacts": [{ "location": { "uri": "src/crypto.js" } }],
            "results": [
                { "ruleId": "js/sql-injection", "ruleIndex": 0,
                  "message": { "text": "This query depends on a user-provided value.\nMore detail." },
                  "locations": [{ "physicalLocation": {
                      "artifactLocation": { "uri": "src/db.js", "uriBaseId": "%SRCROOT%" },
                      "region": { "startLine": 42, "startColumn": 7 } } }] },
                { "ruleId": "js/unused-local-variable", "ruleIndex": 1,
                  "message": { "text": "Unused variable x." },
                  "locations": [{ "physicalLocation": { "artifactLocation": { "uri": "src/a.js" }, "region": { "startLine": 1 } } }] },
                { "ruleId": "js/weak-crypto",
                  "message": { "id": "default", "arguments": ["MD5", "hash()"] },
                  "locations": [{ "physicalLocation": { "artifactLocation": { "index": 0 }, "region": { "startLine": 9 } } }] }
            ]
        }]
    })
}

fn write(sb: &Sandbox, name: &str, v: &Value) {
    sb.write(name, serde_json::to_string_pretty(v).unwrap());
}

fn run_in(sb: &Sandbox, params: Value) -> Vec<Finding> {
    run(&ctx(ID), &params, &sb.grants())
}

#[test]
fn fails_on_each_result_at_or_above_the_level() {
    let sb = Sandbox::new();
    write(&sb, "codeql.sarif", &codeql());
    let findings = run_in(&sb, json!({ "files": ["codeql.sarif"] }));
    assert_eq!(statuses(&findings), [Status::Fail]);
    let f = &findings[0];
    assert_eq!(f.rule.as_deref(), Some("js/sql-injection"));
    assert_eq!(f.subject, "src/db.js");
    assert_eq!(f.severity, Some(Severity::High));
    assert_eq!(
        f.message,
        "CodeQL js/sql-injection: This query depends on a user-provided value."
    );
    let loc = f.location.as_ref().unwrap();
    assert_eq!(
        (loc.file.as_str(), loc.line, loc.column),
        ("src/db.js", Some(42), Some(7))
    );
    assert_eq!(evidence(f, "sarif"), Some("codeql.sarif"));
    assert_eq!(evidence(f, "level"), Some("error"));
    assert_eq!(evidence(f, "security_severity"), Some("8.8"));
    assert!(
        f.remediation
            .as_deref()
            .unwrap()
            .contains("https://codeql.github.com/js-sql-injection")
    );

    let findings = run_in(
        &sb,
        json!({ "files": ["codeql.sarif"], "fail_on": "warning" }),
    );
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.rule.as_deref().unwrap(), f.subject.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("js/sql-injection", "src/db.js"),
            ("js/weak-crypto", "src/crypto.js")
        ]
    );
    // Message from the rule's messageStrings, arguments filled in.
    assert_eq!(
        findings[1].message,
        "CodeQL js/weak-crypto: Weak algorithm MD5 used in hash()."
    );
    assert_eq!(findings[1].severity, Some(Severity::Medium));

    assert_eq!(
        run_in(&sb, json!({ "files": ["codeql.sarif"], "fail_on": "note" })).len(),
        3
    );
}

#[test]
fn numeric_thresholds_use_security_severity_from_result_or_rule() {
    let sb = Sandbox::new();
    let mut log = codeql();
    // A result-level score overrides the rule's.
    log["runs"][0]["results"][2]["properties"] = json!({ "security-severity": "9.1" });
    write(&sb, "codeql.sarif", &log);
    let findings = run_in(&sb, json!({ "files": ["codeql.sarif"], "fail_on": 7.0 }));
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.rule.as_deref().unwrap(), f.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("js/sql-injection", Some(Severity::High)),
            ("js/weak-crypto", Some(Severity::Critical))
        ]
    );
    let findings = run_in(&sb, json!({ "files": ["codeql.sarif"], "fail_on": 9.5 }));
    assert_eq!(statuses(&findings), [Status::Pass]);
    assert_eq!(evidence(&findings[0], "unscored"), Some("1"));
    assert_eq!(evidence(&findings[0], "below_threshold"), Some("2"));
}

#[test]
fn suppressions_count_only_when_accepted() {
    let sb = Sandbox::new();
    let mut log = codeql();
    let mut with = |status: Value| {
        log["runs"][0]["results"][0]["suppressions"] = status;
        write(&sb, "s.sarif", &log);
        statuses(&run_in(&sb, json!({ "files": ["s.sarif"] })))
    };
    assert_eq!(
        with(json!([{ "kind": "inSource", "status": "accepted" }])),
        [Status::Pass]
    );
    assert_eq!(with(json!([{ "kind": "external" }])), [Status::Pass]);
    assert_eq!(
        with(json!([{ "kind": "external", "status": "underReview" }])),
        [Status::Fail]
    );
    assert_eq!(
        with(json!([{ "kind": "external", "status": "rejected" }])),
        [Status::Fail]
    );
    assert_eq!(
        with(json!([{ "status": "accepted" }, { "status": "rejected" }])),
        [Status::Fail]
    );
    assert_eq!(with(json!([])), [Status::Fail]);
}

#[test]
fn clean_reports_pass_with_counts() {
    let sb = Sandbox::new();
    let mut log = codeql();
    log["runs"][0]["results"][0]["suppressions"] = json!([{ "kind": "inSource" }]);
    log["runs"][0]["results"][2]["baselineState"] = json!("absent");
    write(&sb, "reports/codeql.sarif", &log);
    let findings = run_in(&sb, json!({ "files": ["reports/*.sarif"] }));
    assert_eq!(statuses(&findings), [Status::Pass]);
    let f = &findings[0];
    assert_eq!(f.subject, "reports/codeql.sarif");
    assert_eq!(evidence(f, "tools"), Some("CodeQL"));
    assert_eq!(evidence(f, "results"), Some("2"));
    assert_eq!(evidence(f, "suppressed"), Some("1"));
    assert_eq!(evidence(f, "below_threshold"), Some("1"));
    assert_eq!(evidence(f, "baseline_absent"), Some("1"));
    assert!(f.message.contains("level `error`"), "{}", f.message);
}

#[test]
fn kinds_other_than_fail_and_defaulted_levels() {
    let sb = Sandbox::new();
    let log = json!({
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "semgrep" } },
            "results": [
                { "ruleId": "a", "kind": "pass", "level": "error", "message": { "text": "ok" } },
                { "ruleId": "b", "kind": "informational", "message": { "text": "fyi" } },
                { "ruleId": "c", "message": { "text": "no level: warning by default" } }
            ]
        }]
    });
    write(&sb, "semgrep.sarif", &log);
    assert_eq!(
        statuses(&run_in(&sb, json!({ "files": ["semgrep.sarif"] }))),
        [Status::Pass]
    );
    let findings = run_in(
        &sb,
        json!({ "files": ["semgrep.sarif"], "fail_on": "warning" }),
    );
    assert_eq!(
        findings
            .iter()
            .map(|f| f.rule.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["c"]
    );
    // No location: the subject is the report itself.
    assert_eq!(findings[0].subject, "semgrep.sarif");
    assert!(findings[0].location.is_none());
}

#[test]
fn rules_in_tool_extensions() {
    let sb = Sandbox::new();
    let log = json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": { "name": "CodeQL" },
                "extensions": [{ "name": "codeql/java-queries", "rules": [
                    { "id": "java/xxe", "defaultConfiguration": { "level": "error" }, "properties": { "security-severity": "9.1" } }
                ]}]
            },
            "results": [
                { "rule": { "id": "java/xxe", "index": 0, "toolComponent": { "index": 0 } },
                  "message": { "text": "XXE" },
                  "locations": [{ "physicalLocation": { "artifactLocation": { "uri": "file://src/X.java" }, "region": { "startLine": 3 } } }] },
                { "ruleId": "java/xxe/sub", "message": { "text": "XXE again" } }
            ]
        }]
    });
    write(&sb, "java.sarif", &log);
    let findings = run_in(&sb, json!({ "files": ["java.sarif"], "fail_on": 9.0 }));
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.rule.as_deref().unwrap(), f.subject.as_str(), f.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("java/xxe", "src/X.java", Some(Severity::Critical)),
            ("java/xxe/sub", "java.sarif", Some(Severity::Critical))
        ]
    );
}

#[test]
fn reports_that_cannot_be_trusted_are_errors() {
    let sb = Sandbox::new();
    sb.write("not-json.sarif", "<html>");
    write(&sb, "old.sarif", &json!({ "version": "2.0.0", "runs": [] }));
    write(&sb, "noversion.sarif", &json!({ "runs": [] }));
    write(
        &sb,
        "empty.sarif",
        &json!({ "version": "2.1.0", "runs": [] }),
    );
    write(
        &sb,
        "noresults.sarif",
        &json!({ "version": "2.1.0", "runs": [{ "tool": { "driver": { "name": "t" } } }] }),
    );
    write(
        &sb,
        "crashed.sarif",
        &json!({ "version": "2.1.0", "runs": [{ "tool": { "driver": { "name": "t" } }, "invocations": [{ "executionSuccessful": false }], "results": [] }] }),
    );
    write(
        &sb,
        "wrongshape.sarif",
        &json!({ "version": "2.1.0", "runs": [{ "results": [] }] }),
    );
    let files = [
        "not-json.sarif",
        "old.sarif",
        "noversion.sarif",
        "empty.sarif",
        "noresults.sarif",
        "crashed.sarif",
        "wrongshape.sarif",
        "missing.sarif",
        "none/*.sarif",
    ];
    let findings = run_in(&sb, json!({ "files": files }));
    assert_eq!(findings.len(), files.len());
    for (f, name) in findings.iter().zip(files) {
        assert_eq!(
            (f.status, f.subject.as_str()),
            (Status::Error, name),
            "{}",
            f.message
        );
    }
    assert!(
        findings[1].message.contains("version is \"2.0.0\""),
        "{}",
        findings[1].message
    );
    assert!(
        findings[4].message.contains("did not produce results"),
        "{}",
        findings[4].message
    );
    assert!(
        findings[5].message.contains("unsuccessful"),
        "{}",
        findings[5].message
    );
    assert!(
        findings[6].message.contains("missing field `tool`"),
        "{}",
        findings[6].message
    );
    assert!(
        findings[7].message.contains("No such file"),
        "{}",
        findings[7].message
    );
}

#[test]
fn reports_outside_the_grants_are_errors_naming_the_grant() {
    let sb = Sandbox::new();
    write(&sb, "other/a.sarif", &codeql());
    let findings = run(
        &ctx(ID),
        &json!({ "files": ["other/a.sarif"] }),
        &sb.grants_only("reports"),
    );
    assert_eq!(statuses(&findings), [Status::Error]);
    assert!(
        findings[0].message.contains("fs grant"),
        "{}",
        findings[0].message
    );
}

#[test]
fn bad_params_are_error_findings() {
    let sb = Sandbox::new();
    for (params, needle) in [
        (json!({}), "missing field `files`"),
        (json!({ "files": [] }), "at least one"),
        (
            json!({ "files": ["a"], "fail_on": "critical" }),
            "\"critical\"",
        ),
        (json!({ "files": ["a"], "fail_on": "none" }), "\"none\""),
        (json!({ "files": ["a"], "fail_on": 11 }), "from 0 to 10"),
        (json!({ "files": ["a"], "fail_on": true }), "invalid params"),
        (
            json!({ "files": ["a"], "level": "error" }),
            "unknown field `level`",
        ),
    ] {
        let findings = run_in(&sb, params.clone());
        assert_eq!(statuses(&findings), [Status::Error], "{params}");
        assert_eq!(findings[0].subject, "params");
        assert!(
            findings[0].message.contains(needle),
            "{params}: {}",
            findings[0].message
        );
    }
}

#[test]
fn severity_bands() {
    assert_eq!(severity(Level::Note, Some(9.0)), Severity::Critical);
    assert_eq!(severity(Level::Note, Some(7.0)), Severity::High);
    assert_eq!(severity(Level::Error, Some(4.0)), Severity::Medium);
    assert_eq!(severity(Level::Error, Some(0.1)), Severity::Low);
    assert_eq!(severity(Level::Error, Some(0.0)), Severity::Info);
    assert_eq!(severity(Level::Error, None), Severity::High);
    assert_eq!(severity(Level::Warning, None), Severity::Medium);
    assert_eq!(severity(Level::Note, None), Severity::Low);
}

#[test]
fn info_lists_the_contracted_params() {
    let info = ScanResults.info();
    assert_eq!(info.id, "security.scan-results");
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["files", "fail_on", "max_file_bytes"]);
    assert_eq!(info.params[1].default.as_deref(), Some("\"error\""));
}
