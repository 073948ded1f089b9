//! JUnit XML, for CI test reporters (Jenkins, GitLab, GitHub test-report actions).
//!
//! One `<testsuite>` per gate and one `<testcase>` per check. `fail` becomes
//! `<failure>`, `error` becomes `<error>`, `skip` and `exempt` become
//! `<skipped>` (an exemption names its approver), and `warn` passes with its
//! findings in `<system-out>`. A failure in a non-blocking check is still a
//! `<failure>`: the check did fail, and the suite's `verdict` property says
//! whether that mattered.
//!
//! Written by hand rather than with `quick-junit`: its serializer (on
//! `quick-xml`) decides attribute order, indentation and the counts it
//! writes, and gate's output is pinned byte for byte by snapshots that CI
//! parsers and users diff; the format here is small enough to keep exact.

use std::fmt::Write;

use super::*;

pub fn render(report: &Report) -> String {
    let summary = report.summary();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        attr(&format!("gate: {}", report.policy)),
        summary.checks,
        summary.fail,
        summary.error,
        summary.skip + summary.exempt,
        seconds(report.duration_ms),
        timestamp(report),
    );
    for gate in &report.gates {
        render_gate(&mut out, report, gate);
    }
    out.push_str("</testsuites>\n");
    out
}

fn render_gate(out: &mut String, report: &Report, gate: &GateReport) {
    let count = |status| gate.checks.iter().filter(|c| c.status == status).count();
    let time: u64 = gate.checks.iter().map(|c| c.duration_ms).sum();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        attr(&gate.name),
        gate.checks.len(),
        count(CheckStatus::Fail),
        count(CheckStatus::Error),
        count(CheckStatus::Skip) + count(CheckStatus::Exempt),
        seconds(time),
        timestamp(report),
    );
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("policy", report.policy.as_str()),
        ("enforcement", gate.enforcement.as_str()),
        ("verdict", gate.verdict.as_str()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(value)
        );
    }
    out.push_str("    </properties>\n");
    for check in &gate.checks {
        render_check(out, gate, check);
    }
    out.push_str("  </testsuite>\n");
}

fn render_check(out: &mut String, gate: &GateReport, check: &CheckReport) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        attr(&format!("gate.{}", gate.name)),
        attr(&check.id),
        seconds(check.duration_ms),
    );
    let body = findings_text(check);
    let (element, message) = match check.status {
        CheckStatus::Pass => {
            out.push_str("/>\n");
            return;
        }
        CheckStatus::Warn => {
            out.push_str(">\n");
            let _ = writeln!(out, "      <system-out>{}</system-out>", text(&body));
            out.push_str("    </testcase>\n");
            return;
        }
        CheckStatus::Fail => ("failure", first_problem(check, Status::Fail)),
        CheckStatus::Error => (
            "error",
            check
                .unreported_error()
                .map(str::to_string)
                .or_else(|| first_problem(check, Status::Error)),
        ),
        CheckStatus::Skip => (
            "skipped",
            Some(match check.non_pass().next() {
                Some(f) => format!("skipped: {}", f.message),
                None => "skipped".to_string(),
            }),
        ),
        CheckStatus::Exempt => ("skipped", Some(exempt_message(check))),
    };
    let mut message = message.unwrap_or_else(|| check.status.as_str().to_string());
    if check.status == CheckStatus::Fail && !check.blocking {
        message.push_str(" (non-blocking)");
    }
    out.push_str(">\n");
    let type_attr = match element {
        "skipped" => String::new(),
        _ => format!(" type=\"{}\"", check.status.as_str()),
    };
    if body.is_empty() {
        let _ = writeln!(
            out,
            "      <{element} message=\"{}\"{type_attr}/>",
            attr(&message)
        );
    } else {
        let _ = writeln!(
            out,
            "      <{element} message=\"{}\"{type_attr}>{}</{element}>",
            attr(&message),
            text(&body)
        );
    }
    out.push_str("    </testcase>\n");
}

/// `subject: message` of the first finding with `status`, noting how many more.
fn first_problem(check: &CheckReport, status: Status) -> Option<String> {
    let matching: Vec<&FindingReport> = check
        .findings
        .iter()
        .filter(|f| f.status == status)
        .collect();
    let first = matching.first()?;
    let mut message = format!("{}: {}", first.subject, first.message);
    if matching.len() > 1 {
        let _ = write!(message, " (and {} more)", matching.len() - 1);
    }
    Some(message)
}

fn exempt_message(check: &CheckReport) -> String {
    let exemption = check
        .exemption
        .as_ref()
        .or_else(|| check.findings.iter().find_map(|f| f.exemption.as_ref()));
    match exemption {
        Some(e) => {
            let ticket = e
                .ticket
                .as_ref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default();
            format!(
                "exempt: approved by {} until {}{ticket}: {}",
                e.approved_by, e.expires, e.reason
            )
        }
        None => "exempt".to_string(),
    }
}

/// Every non-pass finding, one block each, plus an error reason no finding gave.
fn findings_text(check: &CheckReport) -> String {
    let mut body = String::new();
    if let Some(reason) = check.unreported_error() {
        let _ = writeln!(body, "[error] check errored: {reason}");
    }
    for finding in check.non_pass() {
        let _ = writeln!(
            body,
            "[{}] {}: {}",
            finding.status, finding.subject, finding.message
        );
        if let Some(rule) = &finding.rule {
            let _ = writeln!(body, "  rule: {rule}");
        }
        if let Some(location) = &finding.location {
            let _ = writeln!(body, "  at: {}", location_label(location));
        }
        if !finding.evidence.is_empty() {
            let pairs: Vec<String> = finding
                .evidence
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(body, "  evidence: {}", pairs.join(", "));
        }
        if let Some(hint) = &finding.remediation {
            let _ = writeln!(body, "  hint: {hint}");
        }
        if let Some(e) = check.exemption_for(finding) {
            let _ = writeln!(
                body,
                "  exempt: approved by {} until {} ({})",
                e.approved_by, e.expires, e.source
            );
        }
    }
    body
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// JUnit's `timestamp` is an ISO 8601 date-time without a zone (taken as UTC).
fn timestamp(report: &Report) -> String {
    report.started_at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Characters XML 1.0 cannot carry at all, even escaped.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes character data; characters XML cannot carry become U+FFFD.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value; whitespace is written as character references
/// so that attribute-value normalization keeps it.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::*;
    use crate::report::sample::sample_report;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    /// Parses `xml` with Python's expat-based parser and returns a summary of
    /// the tree, so the test checks what a real consumer sees.
    fn parse_with_python(xml: &str) -> String {
        const SCRIPT: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
print(root.tag, root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped"))
for suite in root.findall("testsuite"):
    print(" ", suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
    for case in suite.findall("testcase"):
        kinds = ",".join(child.tag for child in case)
        print("   ", case.get("classname"), case.get("name"), kinds or "pass")
for el in root.iter():
    if el.tag in ("failure", "error", "skipped"):
        print("message", json.dumps(el.get("message")))
"#;
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed to check JUnit well-formedness: apt-get install python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(xml.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "not well-formed XML: {}\n{xml}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn well_formed_with_counts() {
        let parsed = parse_with_python(&render(&sample_report()));
        insta::assert_snapshot!(parsed);
        let first = parsed.lines().next().unwrap();
        // 9 checks: 2 fail, 1 error, 1 skip + 1 exempt skipped.
        assert_eq!(first, "testsuites 9 2 1 2");
        assert!(parsed.contains("  preflight 6 1 1 2"));
        assert!(parsed.contains("  hygiene 3 1 0 0"));
        assert!(parsed.contains("  canary 0 0 0 0"));
    }

    #[test]
    fn hostile_text_stays_well_formed() {
        let mut report = sample_report();
        let finding = &mut report.gates[0].checks[1].findings[0];
        finding.message =
            "nul\0 bell\u{7} esc\u{1b} ]]> </failure> \"q\" 'a' \u{FFFF} tab\there\r\n".into();
        finding.subject = "<script>&amp;".into();
        let xml = render(&report);
        assert!(!xml.contains('\0'));
        assert!(!xml.contains('\u{1b}'));
        let parsed = parse_with_python(&xml);
        let messages: Vec<String> = parsed
            .lines()
            .filter_map(|l| l.strip_prefix("message "))
            .map(|m| serde_json::from_str(m).unwrap())
            .collect();
        assert_eq!(
            messages[0],
            "<script>&amp;: nul\u{FFFD} bell\u{FFFD} esc\u{FFFD} ]]> </failure> \"q\" 'a' \u{FFFD} tab\there\r\n (and 1 more)"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(attr("a\"b'c<d>&\n"), "a&quot;b&apos;c&lt;d&gt;&amp;&#10;");
        assert_eq!(text("x\u{0}y\u{8}z\n"), "x\u{FFFD}y\u{FFFD}z\n");
        assert_eq!(seconds(5042), "5.042");
        assert_eq!(seconds(7), "0.007");
    }
}
