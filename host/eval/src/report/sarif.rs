//! SARIF 2.1.0, for GitHub code scanning and other static-analysis dashboards.
//!
//! Decisions (also in docs/reports.md):
//! - one rule per check id; `ruleId` is always the check id and a finding's rule
//!   goes into `properties.rule` (and the message), so `ruleIndex` always points
//!   at a rule whose `id` equals `ruleId`;
//! - results only for `warn`, `fail` and `error` findings, plus one for a check
//!   that errored without saying why in a finding;
//! - exempt findings stay in the log with an accepted external suppression, the
//!   way code scanning shows dismissed alerts;
//! - a finding without a file gets a logical location naming its subject, and
//!   the policy file as its physical location, because code scanning drops
//!   results without one;
//! - a check listed in several gates yields one result per finding, not one per
//!   gate: the fingerprint does not depend on the gate.
//!
//! Written by hand on `serde_json` rather than with `serde-sarif`: that crate
//! generates its types from the SARIF schema (a build script and
//! `typed-builder`), serializes fields in the schema's order rather than the
//! order documented in docs/reports.md and pinned by the snapshots, and would
//! add a dependency to every build for the ten or so objects gate emits.

use std::collections::BTreeMap;

use chrono::{Duration, SecondsFormat};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::*;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// Key of gate's entry in `partialFingerprints`; bump the version if the hashed
/// fields ever change.
pub const FINGERPRINT_KEY: &str = "gateFinding/v1";

pub fn render(report: &Report) -> String {
    let mut out =
        serde_json::to_string_pretty(&to_value(report)).expect("a JSON value always serializes");
    out.push('\n');
    out
}

pub fn to_value(report: &Report) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, check) in report.checks() {
        if !rule_index.contains_key(check.id.as_str()) {
            rule_index.insert(&check.id, rules.len());
            rules.push(rule(check));
        }
    }

    // Results keyed by fingerprint, so a check in two gates reports once.
    let mut results: Vec<Value> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (gate, check) in report.checks() {
        let index = rule_index[check.id.as_str()];
        let mut add = |fingerprint: String, result: Value| match seen.get(&fingerprint) {
            Some(&i) => merge_duplicate(&mut results[i], &result, &gate.name),
            None => {
                seen.insert(fingerprint, results.len());
                results.push(result);
            }
        };
        for finding in check.problems() {
            let fingerprint = fingerprint(check, finding);
            add(
                fingerprint.clone(),
                finding_result(report, gate, check, finding, index, fingerprint),
            );
        }
        if let Some(reason) = check.unreported_error() {
            // Two parts, so it cannot collide with a finding's four-part hash.
            let fingerprint = hash(&["check-error", &check.id]);
            add(
                fingerprint.clone(),
                error_result(report, gate, check, reason, index, fingerprint),
            );
        }
    }

    let end = report.started_at + Duration::milliseconds(report.duration_ms as i64);
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": report.tool.name,
                    "version": report.tool.version,
                    "semanticVersion": report.tool.version,
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": true,
                "startTimeUtc": report.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "endTimeUtc": end.to_rfc3339_opts(SecondsFormat::Millis, true),
                "toolExecutionNotifications": report
                    .exemption_notices
                    .iter()
                    .map(notification)
                    .collect::<Vec<_>>(),
            }],
            "results": results,
            "properties": {
                "verdict": report.verdict.as_str(),
                "policy": report.policy,
                "policyFile": report.policy_file,
                "gates": report.gates.iter().map(|g| json!({
                    "name": g.name,
                    "enforcement": g.enforcement.as_str(),
                    "verdict": g.verdict.as_str(),
                })).collect::<Vec<_>>(),
            },
        }],
    })
}

fn rule(check: &CheckReport) -> Value {
    let title = if check.title.is_empty() {
        &check.id
    } else {
        &check.title
    };
    let description = if check.description.is_empty() {
        title
    } else {
        &check.description
    };
    // The id's category becomes a tag; code scanning honours security-severity
    // only on rules tagged `security`, which is exactly the `security.*` checks.
    let tags: Vec<&str> = check
        .id
        .split_once('.')
        .map(|(category, _)| category)
        .into_iter()
        .collect();
    // Code scanning requires `help` on every rule.
    let help = |quote: &str| {
        format!(
            "{description}\n\nConfigure it with a {q}[[check]]{q} entry whose id is {q}{id}{q}; \
             accept a finding with an {q}[[exemption]]{q} for check {q}{id}{q}.",
            q = quote,
            id = check.id
        )
    };
    json!({
        "id": check.id,
        "name": pascal_case(&check.id),
        "shortDescription": { "text": title },
        "fullDescription": { "text": description },
        "help": { "text": help("'"), "markdown": help("`") },
        "defaultConfiguration": { "level": default_level(check.severity) },
        "properties": {
            "security-severity": security_severity(check.severity),
            "tags": tags,
            "severity": check.severity.as_str(),
            "plugin": check.plugin,
        },
    })
}

/// SARIF's friendly rule name: `infra.disk-space` → `InfraDiskSpace`.
pub fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// The level a rule would report at by severity alone.
pub fn default_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's bands: critical > 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// `error` for what blocks (or would block, if not exempt), `warning` for what
/// only warns, `note` for informational findings.
pub fn level(check: &CheckReport, status: Status, severity: Severity) -> &'static str {
    if severity == Severity::Info {
        return "note";
    }
    match status {
        Status::Fail | Status::Error if check.enforcement == Enforcement::Block => "error",
        Status::Fail | Status::Error | Status::Warn => "warning",
        Status::Pass | Status::Skip => "none",
    }
}

fn level_rank(level: &str) -> u8 {
    match level {
        "error" => 3,
        "warning" => 2,
        "note" => 1,
        _ => 0,
    }
}

/// Stable across runs and gates: check, rule, subject and location.
pub fn fingerprint(check: &CheckReport, finding: &FindingReport) -> String {
    let location = finding.location.as_ref().map(location_label);
    hash(&[
        &check.id,
        finding.rule.as_deref().unwrap_or_default(),
        &finding.subject,
        location.as_deref().unwrap_or_default(),
    ])
}

fn hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn finding_result(
    report: &Report,
    gate: &GateReport,
    check: &CheckReport,
    finding: &FindingReport,
    rule_index: usize,
    fingerprint: String,
) -> Value {
    let text = match &finding.rule {
        Some(rule) => format!("{}: {} [{rule}]", finding.subject, finding.message),
        None => format!("{}: {}", finding.subject, finding.message),
    };
    let mut properties = Map::new();
    properties.insert("subject".into(), json!(finding.subject));
    properties.insert("rule".into(), json!(finding.rule));
    properties.insert("status".into(), json!(finding.status.as_str()));
    properties.insert("severity".into(), json!(finding.severity.as_str()));
    properties.insert("gates".into(), json!([gate.name]));
    if !finding.evidence.is_empty() {
        properties.insert("evidence".into(), json!(finding.evidence));
    }
    if let Some(remediation) = &finding.remediation {
        properties.insert("remediation".into(), json!(remediation));
    }

    let mut result = json!({
        "ruleId": check.id,
        "ruleIndex": rule_index,
        "level": level(check, finding.status, finding.severity),
        "message": { "text": text },
        "locations": [location(report, finding)],
        "partialFingerprints": { FINGERPRINT_KEY: fingerprint },
        "properties": properties,
    });
    if let Some(exemption) = check.exemption_for(finding) {
        result["suppressions"] = json!([suppression(exemption)]);
    }
    result
}

fn error_result(
    report: &Report,
    gate: &GateReport,
    check: &CheckReport,
    reason: &str,
    rule_index: usize,
    fingerprint: String,
) -> Value {
    json!({
        "ruleId": check.id,
        "ruleIndex": rule_index,
        "level": level(check, Status::Error, check.severity),
        "message": { "text": format!("check errored: {reason}") },
        "locations": [{
            "physicalLocation": policy_location(report),
            "logicalLocations": [{
                "name": check.id,
                "fullyQualifiedName": check.id,
                "kind": "module",
            }],
        }],
        "partialFingerprints": { FINGERPRINT_KEY: fingerprint },
        "properties": {
            "status": "error",
            "severity": check.severity.as_str(),
            "gates": [gate.name],
        },
    })
}

fn location(report: &Report, finding: &FindingReport) -> Value {
    match &finding.location {
        Some(location) => {
            let mut physical = json!({ "artifactLocation": artifact(&location.file) });
            if let Some(line) = location.line {
                let mut region = json!({ "startLine": line });
                if let Some(column) = location.column {
                    region["startColumn"] = json!(column);
                }
                physical["region"] = region;
            }
            json!({ "physicalLocation": physical })
        }
        None => json!({
            "physicalLocation": policy_location(report),
            "logicalLocations": [{
                "name": finding.subject,
                "kind": "resource",
            }],
        }),
    }
}

/// Where a result about something other than a file is shown: the policy that
/// asked for the check. Code scanning needs a file and a line for every result.
fn policy_location(report: &Report) -> Value {
    json!({
        "artifactLocation": artifact(&report.policy_file),
        "region": { "startLine": 1 },
    })
}

/// A relative path stays relative to the source root; an absolute one becomes a
/// `file://` URI.
fn artifact(file: &str) -> Value {
    let path = normalized_path(file);
    let is_windows_absolute =
        path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic();
    if path.starts_with('/') {
        json!({ "uri": format!("file://{}", encode_uri_path(&path)) })
    } else if is_windows_absolute {
        json!({ "uri": format!("file:///{}", encode_uri_path(&path)) })
    } else {
        json!({ "uri": encode_uri_path(&path), "uriBaseId": "%SRCROOT%" })
    }
}

/// Percent-encodes everything a URI path may not contain literally.
pub fn encode_uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn suppression(exemption: &ExemptionRef) -> Value {
    json!({
        "kind": "external",
        "status": "accepted",
        "justification": exemption.reason,
        "properties": {
            "approved_by": exemption.approved_by,
            "expires": exemption.expires.to_string(),
            "ticket": exemption.ticket,
            "match": exemption.subject_match,
            "source": exemption.source,
        },
    })
}

fn notification(notice: &ExemptionNotice) -> Value {
    let level = match notice.kind {
        NoticeKind::Expired | NoticeKind::ExpiringSoon | NoticeKind::Unverified => "warning",
        NoticeKind::Unused => "note",
    };
    let exemption = &notice.exemption;
    json!({
        "level": level,
        "message": {
            "text": format!(
                "exemption for {} ({}): {}",
                exemption.check, exemption.source, notice.message
            ),
        },
        "descriptor": { "id": format!("exemption-{}", notice.kind.as_str()) },
        "properties": {
            "check": exemption.check,
            "match": exemption.subject_match,
            "approved_by": exemption.approved_by,
            "expires": exemption.expires.to_string(),
            "ticket": exemption.ticket,
            "source": exemption.source,
        },
    })
}

/// The same finding seen again from another gate: record the gate and keep the
/// stricter level.
fn merge_duplicate(existing: &mut Value, duplicate: &Value, gate: &str) {
    if let Some(gates) = existing["properties"]["gates"].as_array_mut()
        && !gates.iter().any(|g| g == gate)
    {
        gates.push(json!(gate));
    }
    let (old, new) = (
        existing["level"].as_str().unwrap_or_default(),
        duplicate["level"].as_str().unwrap_or_default(),
    );
    if level_rank(new) > level_rank(old) {
        existing["level"] = json!(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_report;

    fn sarif() -> Value {
        serde_json::from_str(&render(&sample_report())).unwrap()
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn has_required_top_level_fields() {
        let log = sarif();
        assert_eq!(log["$schema"], SCHEMA);
        assert_eq!(log["version"], "2.1.0");
        let runs = log["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let driver = &runs[0]["tool"]["driver"];
        assert_eq!(driver["name"], "gate");
        assert_eq!(driver["version"], "0.1.0");
        assert_eq!(
            runs[0]["invocations"][0]["executionSuccessful"],
            Value::Bool(true)
        );
    }

    #[test]
    fn one_rule_per_check_id_with_metadata() {
        let log = sarif();
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate rule ids: {ids:?}");
        // 9 checks, security.tls listed in two gates.
        assert_eq!(ids.len(), 8);
        for rule in rules {
            assert!(rule["shortDescription"]["text"].as_str().unwrap().len() > 1);
            assert!(rule["fullDescription"]["text"].as_str().unwrap().len() > 1);
            assert!(rule["help"]["text"].as_str().unwrap().len() > 1);
            assert_ne!(rule["name"], rule["id"]);
            let level = rule["defaultConfiguration"]["level"].as_str().unwrap();
            assert!(["error", "warning", "note"].contains(&level));
            let score: f64 = rule["properties"]["security-severity"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((0.0..=10.0).contains(&score));
        }
    }

    #[test]
    fn results_reference_their_rule_consistently() {
        let log = sarif();
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert!(!results.is_empty());
        for result in results {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
            assert!(!result["message"]["text"].as_str().unwrap().is_empty());
            let fingerprint = result["partialFingerprints"][FINGERPRINT_KEY]
                .as_str()
                .unwrap();
            assert_eq!(fingerprint.len(), 64);
            let location = &result["locations"][0];
            let uri = location["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(!uri.contains('\\'), "{uri}");
            assert!(!uri.starts_with("./"), "{uri}");
        }
    }

    #[test]
    fn results_only_for_problems_and_deduplicated_across_gates() {
        let log = sarif();
        let results = log["runs"][0]["results"].as_array().unwrap();
        let rule_ids: Vec<&str> = results
            .iter()
            .map(|r| r["ruleId"].as_str().unwrap())
            .collect();
        assert_eq!(
            rule_ids,
            [
                "security.no-secrets",
                "security.no-secrets",
                "security.api-keys-rotated",
                "infra.db-replicas",
                "security.tls",
                "config.logging-levels",
            ]
        );
        let tls = &results[4];
        assert_eq!(tls["properties"]["gates"], json!(["preflight", "hygiene"]));
        let mut fingerprints: Vec<&Value> =
            results.iter().map(|r| &r["partialFingerprints"]).collect();
        fingerprints.dedup();
        assert_eq!(fingerprints.len(), results.len());
    }

    #[test]
    fn exempt_findings_are_suppressed_with_the_approval() {
        let log = sarif();
        let results = log["runs"][0]["results"].as_array().unwrap();
        let suppressed: Vec<&Value> = results
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .collect();
        assert_eq!(suppressed.len(), 1);
        let suppression = &suppressed[0]["suppressions"][0];
        assert_eq!(suppression["kind"], "external");
        assert_eq!(suppression["status"], "accepted");
        assert_eq!(
            suppression["justification"],
            "vendor rotates the billing key in January"
        );
        assert_eq!(
            suppression["properties"]["approved_by"],
            "secops@example.com"
        );
        assert_eq!(suppression["properties"]["expires"], "2026-03-10");
        assert_eq!(suppression["properties"]["ticket"], "SEC-1234");
    }

    #[test]
    fn locations_are_physical_or_logical() {
        let log = sarif();
        let results = log["runs"][0]["results"].as_array().unwrap();
        let aws = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(aws["artifactLocation"]["uri"], "src/app/config.rs");
        assert_eq!(aws["region"], json!({ "startLine": 12, "startColumn": 5 }));
        let pem = &results[1]["locations"][0]["physicalLocation"];
        assert_eq!(pem["artifactLocation"]["uri"], "deploy/keys/id%20rsa.pem");
        assert_eq!(pem["region"], json!({ "startLine": 1 }));
        let tls = &results[4]["locations"][0];
        assert_eq!(tls["logicalLocations"][0]["name"], "api.internal:443");
    }

    #[test]
    fn levels_follow_status_and_enforcement() {
        let report = sample_report();
        let secrets = &report.gates[0].checks[1];
        let logging = &report.gates[1].checks[0];
        assert_eq!(level(secrets, Status::Fail, Severity::Critical), "error");
        assert_eq!(level(logging, Status::Fail, Severity::Low), "warning");
        assert_eq!(level(secrets, Status::Warn, Severity::High), "warning");
        assert_eq!(level(secrets, Status::Fail, Severity::Info), "note");
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal_case("infra.disk-space"), "InfraDiskSpace");
        assert_eq!(pascal_case("acme.x_y--z"), "AcmeXYZ");
    }

    #[test]
    fn uri_encoding_keeps_separators() {
        assert_eq!(encode_uri_path("a b/c#d?.rs"), "a%20b/c%23d%3F.rs");
        assert_eq!(encode_uri_path("naïve.txt"), "na%C3%AFve.txt");
        assert_eq!(artifact("/etc/ssl/x.pem")["uri"], "file:///etc/ssl/x.pem");
        assert_eq!(artifact("C:\\src\\a.rs")["uri"], "file:///C:/src/a.rs");
        assert_eq!(artifact("./src/a.rs")["uriBaseId"], "%SRCROOT%");
    }
}
