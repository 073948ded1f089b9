//! Terminal output: one line per check, problems indented beneath, a summary
//! line last. ANSI colour only when asked for.
//!
//! Plugin text is sanitized: control characters (an ANSI escape in a message,
//! say) are shown escaped, never sent to the terminal.

use std::fmt::Write;

use super::*;

const RESET: &str = "\x1b[0m";

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color && !style.is_empty() {
            format!("\x1b[{style}m{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

fn check_style(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "32",
        CheckStatus::Skip => "2",
        CheckStatus::Warn => "33",
        CheckStatus::Fail => "1;31",
        CheckStatus::Error => "1;35",
        CheckStatus::Exempt => "36",
    }
}

fn gate_style(verdict: GateVerdict) -> &'static str {
    match verdict {
        GateVerdict::Pass => "1;32",
        GateVerdict::Warn => "1;33",
        GateVerdict::Fail => "1;31",
        GateVerdict::Off => "2",
    }
}

/// Column where a finding's text starts, under the check id.
const FINDING_INDENT: &str = "          ";
/// Column where a finding's details start, after its status word.
const DETAIL_INDENT: &str = "                ";

pub fn render(report: &Report, options: RenderOptions) -> String {
    let p = Painter {
        color: options.color,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} · policy {} ({}) · started {}",
        clean(&report.tool.name),
        clean(&report.tool.version),
        p.paint("1", &clean(&report.policy)),
        clean(&report.policy_file),
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    let id_width = report
        .checks()
        .map(|(_, c)| c.id.chars().count())
        .max()
        .unwrap_or(0);

    for gate in &report.gates {
        out.push('\n');
        render_gate(&mut out, &p, gate, id_width);
    }
    render_notices(&mut out, &p, report);

    out.push('\n');
    let verdict = report.verdict.as_str().to_uppercase();
    let verdict_style = match report.verdict {
        Verdict::Pass => "1;32",
        Verdict::Fail => "1;31",
    };
    let _ = writeln!(
        out,
        "{} — verdict {}",
        report.summary().describe(),
        p.paint(verdict_style, &verdict)
    );
    out
}

fn render_gate(out: &mut String, p: &Painter, gate: &GateReport, id_width: usize) {
    let _ = write!(
        out,
        "{}: {} (enforcement {})",
        p.paint("1", &clean(&gate.name)),
        p.paint(
            gate_style(gate.verdict),
            &gate.verdict.as_str().to_uppercase()
        ),
        gate.enforcement.as_str()
    );
    if gate.verdict == GateVerdict::Off {
        out.push_str(": not evaluated");
    }
    out.push('\n');

    for check in &gate.checks {
        let status = format!("{:<6}", check.status.as_str().to_uppercase());
        let findings = check.findings.len();
        let mut stats = format!(
            "{findings} {}, {} ms",
            plural(findings, "finding", "findings"),
            check.duration_ms
        );
        if !check.blocking && matches!(check.status, CheckStatus::Fail | CheckStatus::Error) {
            stats.push_str(", non-blocking");
        }
        let _ = writeln!(
            out,
            "  {}  {:<id_width$}  ({stats})",
            p.paint(check_style(check.status), &status),
            clean(&check.id),
        );

        if let Some(e) = check
            .exemption
            .as_ref()
            .filter(|_| check.status == CheckStatus::Exempt)
        {
            let _ = writeln!(
                out,
                "{FINDING_INDENT}{}",
                p.paint(check_style(CheckStatus::Exempt), &approval(e))
            );
        }
        if let Some(reason) = check.unreported_error() {
            let _ = writeln!(
                out,
                "{FINDING_INDENT}{}",
                indent(&format!("error: {}", clean(reason)), FINDING_INDENT)
            );
        }
        for finding in check.non_pass() {
            render_finding(out, p, check, finding);
        }
    }
}

fn render_finding(out: &mut String, p: &Painter, check: &CheckReport, finding: &FindingReport) {
    let status = format!("{:<5}", finding.status.as_str());
    let mut headline = clean(&finding.subject);
    if let Some(rule) = &finding.rule {
        let _ = write!(headline, " [{}]", clean(rule));
    }
    let _ = write!(headline, ": {}", clean(&finding.message));
    let _ = writeln!(
        out,
        "{FINDING_INDENT}{} {}",
        p.paint(check_style(finding.status.into()), &status),
        indent(&headline, DETAIL_INDENT)
    );
    let mut detail = |label: &str, text: String| {
        let _ = writeln!(
            out,
            "{DETAIL_INDENT}{} {}",
            p.paint("2", label),
            indent(&text, DETAIL_INDENT)
        );
    };
    if let Some(location) = &finding.location {
        detail("at", clean(&location_label(location)));
    }
    if let Some(hint) = &finding.remediation {
        detail("hint:", clean(hint));
    }
    if !finding.evidence.is_empty() {
        let pairs: Vec<String> = finding
            .evidence
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k), clean(v)))
            .collect();
        detail("evidence:", pairs.join(", "));
    }
    // An exempt check already said who approved it, above its findings.
    let shown_above = check.status == CheckStatus::Exempt && check.exemption == finding.exemption;
    if let Some(e) = check.exemption_for(finding).filter(|_| !shown_above) {
        let _ = writeln!(
            out,
            "{DETAIL_INDENT}{}",
            p.paint(check_style(CheckStatus::Exempt), &approval(e))
        );
    }
}

fn render_notices(out: &mut String, p: &Painter, report: &Report) {
    if report.exemption_notices.is_empty() {
        return;
    }
    out.push('\n');
    let _ = writeln!(out, "{}", p.paint("1", "exemptions:"));
    for notice in &report.exemption_notices {
        let (label, style) = match notice.kind {
            NoticeKind::Expired => ("expired", "33"),
            NoticeKind::ExpiringSoon => ("expiring soon", "33"),
            NoticeKind::Unused => ("unused", "2"),
            NoticeKind::Unverified => ("not honoured", "31"),
        };
        let e = &notice.exemption;
        let mut target = clean(&e.check);
        if let Some(subject) = &e.subject_match {
            let _ = write!(target, " match {}", clean(subject));
        }
        let _ = writeln!(
            out,
            "  {}  {target} ({}): {}; approved by {}",
            p.paint(style, &format!("{label:<13}")),
            clean(&e.source),
            clean(&notice.message),
            clean(&e.approved_by),
        );
    }
}

fn approval(e: &ExemptionRef) -> String {
    let ticket = e
        .ticket
        .as_ref()
        .map(|t| format!(", {}", clean(t)))
        .unwrap_or_default();
    let signed = if e.signed_by.is_some() {
        " (signed)"
    } else {
        ""
    };
    format!(
        "exempt: approved by {}{signed} until {}{ticket}: {}",
        clean(&e.approved_by),
        e.expires,
        clean(&e.reason)
    )
}

/// Continuation lines of a multi-line text, aligned under its first line.
fn indent(text: &str, prefix: &str) -> String {
    text.replace('\n', &format!("\n{prefix}"))
}

/// Shows control characters (except newline and tab) escaped, so plugin text
/// cannot move the cursor or change colours.
pub fn clean(s: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_report;

    #[test]
    fn snapshot_plain() {
        insta::assert_snapshot!(render(&sample_report(), RenderOptions { color: false }));
    }

    #[test]
    fn snapshot_color() {
        insta::assert_snapshot!(render(&sample_report(), RenderOptions { color: true }));
    }

    #[test]
    fn no_escape_codes_without_color() {
        let mut report = sample_report();
        report.gates[0].checks[1].findings[0].message = "evil \x1b[2J clear".to_string();
        let out = render(&report, RenderOptions { color: false });
        assert!(!out.contains('\x1b'), "{out}");
        assert!(out.contains("evil \\u{1b}[2J clear"));
        let colored = render(&report, RenderOptions { color: true });
        assert!(colored.contains("\x1b[1;31mFAIL  \x1b[0m"));
        assert!(!colored.contains("\x1b[2J"));
    }

    #[test]
    fn summary_line_counts_every_status() {
        let out = render(&sample_report(), RenderOptions::default());
        assert_eq!(
            out.lines().last().unwrap(),
            "3 gates, 9 checks: 2 pass, 1 skip, 2 warn, 2 fail, 1 exempt, 1 error — verdict FAIL"
        );
    }
}
