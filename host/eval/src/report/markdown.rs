//! GitHub-flavoured Markdown, for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
//!
//! Text from plugins is plain text, not Markdown: it is escaped so that a
//! message cannot break a table, open a link or inject HTML. Evidence is left
//! out, since a PR comment is the widest audience a report has.

use std::fmt::Write;

use super::*;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let (icon, word) = match report.verdict {
        Verdict::Pass => ("✅", "PASS"),
        Verdict::Fail => ("❌", "FAIL"),
    };
    let _ = writeln!(out, "## {icon} gate: {word}\n");
    let _ = writeln!(
        out,
        "Policy {} ({}) · {} · {} ms · gate {}\n",
        code(&report.policy),
        code(&report.policy_file),
        report.summary().describe(),
        report.duration_ms,
        inline(&report.tool.version),
    );

    for gate in &report.gates {
        render_gate(&mut out, gate);
    }
    render_details(&mut out, report);
    render_exemptions(&mut out, report);
    out
}

fn render_gate(out: &mut String, gate: &GateReport) {
    let _ = writeln!(
        out,
        "### {} Gate {}: {} · enforcement {}\n",
        gate_icon(gate.verdict),
        code(&gate.name),
        gate.verdict.as_str(),
        gate.enforcement.as_str()
    );
    if gate.checks.is_empty() {
        let reason = match gate.verdict {
            GateVerdict::Off => "Enforcement is off: no check ran.",
            _ => "No checks.",
        };
        let _ = writeln!(out, "{reason}\n");
        return;
    }
    out.push_str("| Check | Status | Severity | Findings |\n");
    out.push_str("|---|---|---|---:|\n");
    for check in &gate.checks {
        let problems = check.problems().count();
        let mut status = format!("{} {}", status_icon(check.status), check.status.as_str());
        if !check.blocking && matches!(check.status, CheckStatus::Fail | CheckStatus::Error) {
            status.push_str(" (non-blocking)");
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&code(&check.id)),
            cell(&status),
            check.severity.as_str(),
            problems
        );
    }
    out.push('\n');
}

/// PR comments are capped at 65,536 characters and step summaries at 1 MiB;
/// past this many findings the details stop and point at the full reports.
const MAX_DETAILED_FINDINGS: usize = 100;

fn render_details(out: &mut String, report: &Report) {
    let with_problems: Vec<(&GateReport, &CheckReport)> = report
        .checks()
        .filter(|(_, c)| c.problems().next().is_some() || c.unreported_error().is_some())
        .collect();
    if with_problems.is_empty() {
        return;
    }
    out.push_str("### Findings\n\n");
    let total: usize = with_problems
        .iter()
        .map(|(_, c)| c.problems().count())
        .sum();
    let mut shown = 0;
    for (gate, check) in with_problems {
        if shown >= MAX_DETAILED_FINDINGS {
            break;
        }
        let _ = writeln!(
            out,
            "#### {} {} · {} · {}\n",
            status_icon(check.status),
            code(&check.id),
            inline(&check.title),
            code(&gate.name),
        );
        if let Some(reason) = check.unreported_error() {
            let _ = writeln!(out, "- **check errored:** {}", inline(reason));
        }
        for finding in check.problems().take(MAX_DETAILED_FINDINGS - shown) {
            shown += 1;
            let exemption = check.exemption_for(finding);
            let (icon, suffix) = match exemption {
                Some(_) => (status_icon(CheckStatus::Exempt), ", exempt"),
                None => (finding_icon(finding.status), ""),
            };
            let _ = write!(out, "- {icon} **{}{suffix}**", finding.status.as_str());
            if let Some(rule) = &finding.rule {
                let _ = write!(out, " {}", code(rule));
            }
            let _ = write!(
                out,
                " {}: {}",
                code(&finding.subject),
                inline(&finding.message)
            );
            if let Some(location) = &finding.location {
                let _ = write!(out, " at {}", code(&location_label(location)));
            }
            out.push('\n');
            if let Some(hint) = &finding.remediation {
                let _ = writeln!(out, "  - Hint: {}", inline(hint));
            }
            if let Some(e) = exemption {
                let _ = writeln!(
                    out,
                    "  - Exempt: approved by {} until {}: {}",
                    inline(&e.approved_by),
                    e.expires,
                    inline(&e.reason)
                );
            }
        }
        out.push('\n');
    }
    if total > shown {
        let _ = writeln!(
            out,
            "_{} more findings are not shown here; see the JSON or SARIF report._\n",
            total - shown
        );
    }
}

fn render_exemptions(out: &mut String, report: &Report) {
    let applied = report.applied_exemptions();
    if applied.is_empty() && report.exemption_notices.is_empty() {
        return;
    }
    out.push_str("### Exemptions\n\n");
    let sections: [(&str, Vec<&ExemptionRef>); 5] = [
        ("Applied", applied),
        ("Expiring soon", notices(report, NoticeKind::ExpiringSoon)),
        (
            "Expired (no longer applied)",
            notices(report, NoticeKind::Expired),
        ),
        (
            "Unused (matched no finding)",
            notices(report, NoticeKind::Unused),
        ),
        (
            "Not honoured (unsigned or bad signature)",
            notices(report, NoticeKind::Unverified),
        ),
    ];
    for (heading, exemptions) in sections {
        if exemptions.is_empty() {
            continue;
        }
        let _ = writeln!(out, "**{heading}**\n");
        out.push_str("| Check | Match | Approved by | Expires | Ticket | Reason | Source |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for e in exemptions {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&code(&e.check)),
                cell(&e.subject_match.as_deref().map(code).unwrap_or_default()),
                cell(&inline(&e.approved_by)),
                e.expires,
                cell(&e.ticket.as_deref().map(inline).unwrap_or_default()),
                cell(&inline(&e.reason)),
                cell(&code(&e.source)),
            );
        }
        out.push('\n');
    }
}

fn notices(report: &Report, kind: NoticeKind) -> Vec<&ExemptionRef> {
    report
        .exemption_notices
        .iter()
        .filter(|n| n.kind == kind)
        .map(|n| &n.exemption)
        .collect()
}

fn gate_icon(verdict: GateVerdict) -> &'static str {
    match verdict {
        GateVerdict::Pass => "✅",
        GateVerdict::Warn => "⚠️",
        GateVerdict::Fail => "❌",
        GateVerdict::Off => "⏸️",
    }
}

fn status_icon(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "✅",
        CheckStatus::Skip => "⏭️",
        CheckStatus::Warn => "⚠️",
        CheckStatus::Fail => "❌",
        CheckStatus::Error => "💥",
        CheckStatus::Exempt => "🛡️",
    }
}

fn finding_icon(status: Status) -> &'static str {
    status_icon(status.into())
}

/// Makes `s` safe as one table cell: `|` is escaped (GFM requires it even
/// inside code spans) and line breaks become `<br>`.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// Escapes plain text for inline Markdown: punctuation that could start
/// emphasis, code, links or HTML is backslash-escaped; line breaks become `<br>`.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds any text: the fence is one backtick longer than the
/// longest run inside, and line breaks become spaces.
pub fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
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
    fn pipes_are_escaped_in_cells() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell(&code("x|y")), "`x\\|y`");
        assert_eq!(cell("one\ntwo\r\nthree"), "one<br>two<br>three");
        let out = render(&sample_report());
        // The unused exemption's reason has a pipe.
        assert!(out.contains("| bucket \\| decommissioned |"), "{out}");
        for line in out.lines().filter(|l| l.starts_with('|')) {
            let unescaped = line.replace("\\|", "");
            let columns = unescaped.matches('|').count();
            assert!(columns == 5 || columns == 8, "broken table row: {line}");
        }
    }

    #[test]
    fn inline_text_cannot_inject_markup() {
        assert_eq!(
            inline("<b>*x*</b> [l](u) `c`"),
            "\\<b\\>\\*x\\*\\</b\\> \\[l\\](u) \\`c\\`"
        );
        assert_eq!(inline("a\r\nb"), "a<br>b");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("a\nb"), "`a b`");
    }

    #[test]
    fn long_reports_are_cut_short() {
        let mut report = sample_report();
        let template = report.gates[0].checks[1].findings[0].clone();
        report.gates[0].checks[1].findings = (0..250)
            .map(|i| FindingReport {
                subject: format!("file{i}.rs"),
                ..template.clone()
            })
            .collect();
        let out = render(&report);
        assert_eq!(out.matches("AWS access key id in source").count(), 100);
        // 250 + the exempt, the two warns and the non-blocking failure.
        assert!(
            out.contains("_154 more findings are not shown here"),
            "{out}"
        );
    }

    #[test]
    fn lists_every_exemption_kind() {
        let out = render(&sample_report());
        for heading in [
            "**Applied**",
            "**Expiring soon**",
            "**Expired (no longer applied)**",
            "**Unused (matched no finding)**",
        ] {
            assert!(out.contains(heading), "missing {heading}");
        }
    }
}
