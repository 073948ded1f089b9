//! The stable machine-readable report ([docs/reports.md](../../../../docs/reports.md)).
//!
//! Built by hand rather than by serializing [`Report`] so that the key order is
//! part of the contract: the documented keys come first in their documented
//! order, extensions follow. Optional values are `null`, never absent, so
//! consumers can rely on every key being present. Location paths use forward
//! slashes whatever the plugin reported.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::Value;

use super::*;

pub fn render(report: &Report) -> String {
    render_with(report, &Extensions::default())
}

/// What a command adds to the contract's keys, after them: `gate migrate
/// lint`'s `lint_scope` and its flat per-finding location fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extensions<'a> {
    /// A top-level `lint_scope` object, after `timings`.
    pub lint_scope: Option<&'a Value>,
    /// `file`, `line`, `column` (from `location`) and `classification` (from
    /// the evidence) after every finding's own keys, each `null` when absent.
    pub flat_findings: bool,
}

/// The report in contract key order, with `extensions` after the
/// contract's keys. Serialized straight from the report (no intermediate
/// JSON tree): on a lint of thousands of files, building one cost a third
/// of the run.
pub fn render_with(report: &Report, extensions: &Extensions) -> String {
    let mut out = serde_json::to_string_pretty(&ReportJson::new(report, extensions))
        .expect("a report always serializes");
    out.push('\n');
    out
}

/// The report as a JSON value, in contract key order.
pub fn to_value(report: &Report) -> Value {
    serde_json::to_value(ReportJson::new(report, &Extensions::default()))
        .expect("a report always serializes")
}

// The structs below give the contract's key order: serde writes fields in
// declaration order. Optional values are written as `null`, never skipped,
// except the extensions.

#[derive(Serialize)]
struct ReportJson<'a> {
    verdict: &'static str,
    policy: &'a str,
    started_at: String,
    duration_ms: u64,
    gates: Vec<GateJson<'a>>,
    exemption_notices: Vec<NoticeJson<'a>>,
    summary: Summary,
    policy_file: &'a str,
    tool: &'a ToolInfo,
    timings: &'a Timings,
    #[serde(skip_serializing_if = "Option::is_none")]
    lint_scope: Option<&'a Value>,
}

impl<'a> ReportJson<'a> {
    fn new(report: &'a Report, extensions: &Extensions<'a>) -> Self {
        ReportJson {
            verdict: report.verdict.as_str(),
            policy: &report.policy,
            started_at: report
                .started_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            duration_ms: report.duration_ms,
            gates: report
                .gates
                .iter()
                .map(|g| GateJson::new(g, extensions.flat_findings))
                .collect(),
            exemption_notices: report
                .exemption_notices
                .iter()
                .map(NoticeJson::new)
                .collect(),
            summary: report.summary(),
            policy_file: &report.policy_file,
            tool: &report.tool,
            timings: &report.timings,
            lint_scope: extensions.lint_scope,
        }
    }
}

#[derive(Serialize)]
struct GateJson<'a> {
    name: &'a str,
    verdict: &'static str,
    enforcement: &'static str,
    checks: Vec<CheckJson<'a>>,
}

impl<'a> GateJson<'a> {
    fn new(gate: &'a GateReport, flat: bool) -> Self {
        GateJson {
            name: &gate.name,
            verdict: gate.verdict.as_str(),
            enforcement: gate.enforcement.as_str(),
            checks: gate
                .checks
                .iter()
                .map(|c| CheckJson::new(c, flat))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct CheckJson<'a> {
    id: &'a str,
    status: &'static str,
    severity: &'static str,
    duration_ms: u64,
    findings: Vec<FindingJson<'a>>,
    exemption: Option<&'a ExemptionRef>,
    host_ms: u64,
    instances: u32,
    title: &'a str,
    plugin: &'a str,
    enforcement: &'static str,
    blocking: bool,
    error: Option<&'a str>,
}

impl<'a> CheckJson<'a> {
    fn new(check: &'a CheckReport, flat: bool) -> Self {
        CheckJson {
            id: &check.id,
            status: check.status.as_str(),
            severity: check.severity.as_str(),
            duration_ms: check.duration_ms,
            findings: check
                .findings
                .iter()
                .map(|f| FindingJson::new(f, flat))
                .collect(),
            exemption: check.exemption.as_ref(),
            host_ms: check.host_ms,
            instances: check.instances,
            title: &check.title,
            plugin: &check.plugin,
            enforcement: check.enforcement.as_str(),
            blocking: check.blocking,
            error: check.error.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct FindingJson<'a> {
    rule: Option<&'a str>,
    subject: &'a str,
    status: &'static str,
    message: &'a str,
    evidence: &'a BTreeMap<String, String>,
    location: Option<LocationJson>,
    severity: &'static str,
    remediation: Option<&'a str>,
    exemption: Option<&'a ExemptionRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    classification: Option<Option<&'a str>>,
}

impl<'a> FindingJson<'a> {
    fn new(finding: &'a FindingReport, flat: bool) -> Self {
        let location = finding.location.as_ref().map(|l| LocationJson {
            file: normalized_path(&l.file),
            line: l.line,
            column: l.column,
        });
        let flat_location = |field: fn(&LocationJson) -> Option<u32>| {
            flat.then(|| location.as_ref().and_then(field))
        };
        FindingJson {
            rule: finding.rule.as_deref(),
            subject: &finding.subject,
            status: finding.status.as_str(),
            message: &finding.message,
            evidence: &finding.evidence,
            file: flat.then(|| location.as_ref().map(|l| l.file.clone())),
            line: flat_location(|l| l.line),
            column: flat_location(|l| l.column),
            classification: flat
                .then(|| finding.evidence.get("classification").map(String::as_str)),
            location,
            severity: finding.severity.as_str(),
            remediation: finding.remediation.as_deref(),
            exemption: finding.exemption.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct LocationJson {
    file: String,
    line: Option<u32>,
    column: Option<u32>,
}

#[derive(Serialize)]
struct NoticeJson<'a> {
    kind: &'static str,
    message: &'a str,
    exemption: &'a ExemptionRef,
}

impl<'a> NoticeJson<'a> {
    fn new(notice: &'a ExemptionNotice) -> Self {
        NoticeJson {
            kind: notice.kind.as_str(),
            message: &notice.message,
            exemption: &notice.exemption,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_report;
    use serde_json::json;

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
