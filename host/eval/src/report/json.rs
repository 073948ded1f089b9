//! The stable machine-readable report ([docs/reports.md](../../../../docs/reports.md)).
//!
//! Built by hand rather than by serializing [`Report`] so that the key order is
//! part of the contract: the documented keys come first in their documented
//! order, extensions follow. Optional values are `null`, never absent, so
//! consumers can rely on every key being present. Location paths use forward
//! slashes whatever the plugin reported.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::*;

pub fn render(report: &Report) -> String {
    let mut out =
        serde_json::to_string_pretty(&to_value(report)).expect("a JSON value always serializes");
    out.push('\n');
    out
}

/// The report as a JSON value, in contract key order.
pub fn to_value(report: &Report) -> Value {
    let summary = report.summary();
    json!({
        "verdict": report.verdict.as_str(),
        "policy": report.policy,
        "started_at": report.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "duration_ms": report.duration_ms,
        "gates": report.gates.iter().map(gate).collect::<Vec<_>>(),
        "exemption_notices": report.exemption_notices.iter().map(notice).collect::<Vec<_>>(),
        "summary": {
            "gates": summary.gates,
            "checks": summary.checks,
            "pass": summary.pass,
            "skip": summary.skip,
            "warn": summary.warn,
            "fail": summary.fail,
            "error": summary.error,
            "exempt": summary.exempt,
        },
        "policy_file": report.policy_file,
        "tool": { "name": report.tool.name, "version": report.tool.version },
        "timings": {
            "startup_ms": report.timings.startup_ms,
            "checks_ms": report.timings.checks_ms,
            "plugin_ms": report.timings.plugin_ms,
            "host_ms": report.timings.host_ms,
        },
    })
}

fn gate(gate: &GateReport) -> Value {
    json!({
        "name": gate.name,
        "verdict": gate.verdict.as_str(),
        "enforcement": gate.enforcement.as_str(),
        "checks": gate.checks.iter().map(check).collect::<Vec<_>>(),
    })
}

fn check(check: &CheckReport) -> Value {
    json!({
        "id": check.id,
        "status": check.status.as_str(),
        "severity": check.severity.as_str(),
        "duration_ms": check.duration_ms,
        "findings": check.findings.iter().map(finding).collect::<Vec<_>>(),
        "exemption": check.exemption.as_ref().map(exemption),
        "host_ms": check.host_ms,
        "title": check.title,
        "plugin": check.plugin,
        "enforcement": check.enforcement.as_str(),
        "blocking": check.blocking,
        "error": check.error,
    })
}

fn finding(finding: &FindingReport) -> Value {
    json!({
        "rule": finding.rule,
        "subject": finding.subject,
        "status": finding.status.as_str(),
        "message": finding.message,
        "evidence": finding.evidence,
        "location": finding.location.as_ref().map(|l| json!({
            "file": normalized_path(&l.file),
            "line": l.line,
            "column": l.column,
        })),
        "severity": finding.severity.as_str(),
        "remediation": finding.remediation,
        "exemption": finding.exemption.as_ref().map(exemption),
    })
}

fn exemption(exemption: &ExemptionRef) -> Value {
    let mut v = json!({
        "check": exemption.check,
        "match": exemption.subject_match,
        "reason": exemption.reason,
        "approved_by": exemption.approved_by,
        "ticket": exemption.ticket,
        "expires": exemption.expires.to_string(),
        "source": exemption.source,
    });
    // Present only where the policy requires signed exemptions.
    if let Some(s) = &exemption.signed_by {
        v["signed_by"] = json!({ "principal": s.principal, "fingerprint": s.fingerprint });
    }
    v
}

fn notice(notice: &ExemptionNotice) -> Value {
    json!({
        "kind": notice.kind.as_str(),
        "message": notice.message,
        "exemption": exemption(&notice.exemption),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_report;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn design_keys_come_first_in_order() {
        let value = to_value(&sample_report());
        let top: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            top[..5],
            ["verdict", "policy", "started_at", "duration_ms", "gates"]
        );
        let gate = &value["gates"][0];
        let keys: Vec<&str> = gate
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[..2], ["name", "verdict"]);
        let check = &gate["checks"][1];
        let keys: Vec<&str> = check
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys[..6],
            [
                "id",
                "status",
                "severity",
                "duration_ms",
                "findings",
                "exemption"
            ]
        );
        let finding = &check["findings"][0];
        let keys: Vec<&str> = finding
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys[..6],
            [
                "rule", "subject", "status", "message", "evidence", "location"
            ]
        );
    }

    #[test]
    fn output_ends_with_one_newline_and_round_trips() {
        let text = render(&sample_report());
        assert!(text.ends_with("}\n"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["verdict"], "fail");
        assert_eq!(parsed["gates"][0]["checks"][2]["status"], "exempt");
        assert_eq!(
            parsed["gates"][0]["checks"][2]["exemption"]["approved_by"],
            "secops@example.com"
        );
        assert_eq!(parsed["gates"][0]["checks"][3]["findings"], json!([]));
        assert_eq!(parsed["gates"][0]["checks"][0]["exemption"], Value::Null);
    }
}
