//! GitHub Actions workflow commands: one annotation per problem finding, then a
//! plain summary line.
//!
//! Blocking failures and errors are `::error`, everything that only warns is
//! `::warning`, exempt findings and unused exemptions are `::notice`. `skip`
//! findings are not annotated: they never block, and GitHub caps annotations
//! per step. Evidence is never printed; only subject, message and hint are.

use std::fmt::Write;

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Notice,
    Warning,
    Error,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

struct Annotation {
    level: Level,
    file: Option<String>,
    line: Option<u32>,
    col: Option<u32>,
    title: String,
    message: String,
}

pub fn render(report: &Report) -> String {
    let mut annotations: Vec<(String, Annotation)> = Vec::new();
    let mut push = |key: String, annotation: Annotation| {
        // A check listed in several gates is annotated once, at its strictest.
        match annotations.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => existing.level = existing.level.max(annotation.level),
            None => annotations.push((key, annotation)),
        }
    };
    for (_, check) in report.checks() {
        if let Some(reason) = check.unreported_error() {
            push(
                format!("{}\0error", check.id),
                Annotation {
                    level: problem_level(check, Status::Error),
                    file: None,
                    line: None,
                    col: None,
                    title: check.id.clone(),
                    message: format!("check errored: {reason}"),
                },
            );
        }
        for finding in check.problems() {
            let key = format!(
                "{}\0{}\0{}\0{:?}",
                check.id,
                finding.rule.as_deref().unwrap_or_default(),
                finding.subject,
                finding.location
            );
            push(key, finding_annotation(check, finding));
        }
    }
    for notice in &report.exemption_notices {
        let (file, line, col) = split_source(&notice.exemption.source);
        let level = match notice.kind {
            NoticeKind::Expired | NoticeKind::ExpiringSoon | NoticeKind::Unverified => {
                Level::Warning
            }
            NoticeKind::Unused => Level::Notice,
        };
        let title = match notice.kind {
            NoticeKind::Expired => "exemption expired",
            NoticeKind::ExpiringSoon => "exemption expiring soon",
            NoticeKind::Unused => "exemption unused",
            NoticeKind::Unverified => "exemption not honoured (signature)",
        };
        push(
            format!("notice\0{}", notice.exemption.source),
            Annotation {
                level,
                file: Some(file),
                line,
                col,
                title: format!("{title}: {}", notice.exemption.check),
                message: format!(
                    "{} (approved by {}, expires {})",
                    notice.message, notice.exemption.approved_by, notice.exemption.expires
                ),
            },
        );
    }

    let mut out = String::new();
    for (_, annotation) in &annotations {
        write_command(&mut out, annotation);
    }
    let _ = writeln!(
        out,
        "gate: policy {}: {} — verdict {}",
        report.policy,
        report.summary().describe(),
        report.verdict.as_str().to_uppercase()
    );
    out
}

fn problem_level(check: &CheckReport, status: Status) -> Level {
    match status {
        Status::Fail | Status::Error if check.enforcement == Enforcement::Block => Level::Error,
        _ => Level::Warning,
    }
}

fn finding_annotation(check: &CheckReport, finding: &FindingReport) -> Annotation {
    let mut title = check.id.clone();
    if let Some(rule) = &finding.rule {
        let _ = write!(title, " ({rule})");
    }
    let mut message = format!("{}: {}", finding.subject, finding.message);
    if let Some(hint) = &finding.remediation {
        let _ = write!(message, "\nHint: {hint}");
    }
    let exemption = check.exemption_for(finding);
    let level = match exemption {
        Some(e) => {
            let _ = write!(
                message,
                "\nExempt: approved by {} until {}: {}",
                e.approved_by, e.expires, e.reason
            );
            title.push_str(" [exempt]");
            Level::Notice
        }
        None => problem_level(check, finding.status),
    };
    let location = finding.location.as_ref();
    Annotation {
        level,
        file: location.map(|l| normalized_path(&l.file)),
        line: location.and_then(|l| l.line),
        col: location.and_then(|l| l.line.and(l.column)),
        title,
        message,
    }
}

fn write_command(out: &mut String, annotation: &Annotation) {
    let mut properties: Vec<String> = Vec::new();
    if let Some(file) = &annotation.file {
        properties.push(format!("file={}", escape_property(file)));
    }
    if let Some(line) = annotation.line {
        properties.push(format!("line={line}"));
    }
    if let Some(col) = annotation.col {
        properties.push(format!("col={col}"));
    }
    properties.push(format!("title={}", escape_property(&annotation.title)));
    let _ = writeln!(
        out,
        "::{} {}::{}",
        annotation.level.command(),
        properties.join(","),
        escape_data(&annotation.message)
    );
}

/// `file:line:col` of an exemption's source; line and column only when they
/// parse as numbers.
fn split_source(source: &str) -> (String, Option<u32>, Option<u32>) {
    let mut parts = source.rsplitn(3, ':');
    let last = parts.next().unwrap_or_default();
    let middle = parts.next();
    let first = parts.next();
    match (
        first,
        middle.and_then(|m| m.parse().ok()),
        last.parse().ok(),
    ) {
        (Some(file), Some(line), Some(col)) => (normalized_path(file), Some(line), Some(col)),
        _ => match (middle, last.parse().ok()) {
            (Some(_), Some(line)) => {
                let file = &source[..source.len() - last.len() - 1];
                (normalized_path(file), Some(line), None)
            }
            _ => (normalized_path(source), None, None),
        },
    }
}

/// Escapes a command's message, as `@actions/core` does.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value, as `@actions/core` does.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
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
    fn data_escaping() {
        assert_eq!(escape_data("50%"), "50%25");
        assert_eq!(escape_data("a\nb\r\nc"), "a%0Ab%0D%0Ac");
        assert_eq!(escape_data("%0A"), "%250A");
        // `:` and `,` are fine in the message.
        assert_eq!(escape_data("a:b,c"), "a:b,c");
    }

    #[test]
    fn property_escaping() {
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(escape_property("x%\ny"), "x%25%0Ay");
    }

    #[test]
    fn every_line_is_one_command_or_the_summary() {
        let out = render(&sample_report());
        let lines: Vec<&str> = out.lines().collect();
        let (summary, commands) = lines.split_last().unwrap();
        assert!(summary.starts_with("gate: policy production: 3 gates, 9 checks"));
        assert!(summary.ends_with("verdict FAIL"));
        for line in commands {
            assert!(
                line.starts_with("::error ")
                    || line.starts_with("::warning ")
                    || line.starts_with("::notice "),
                "{line}"
            );
            let (properties, _) = line[2..].split_once("::").unwrap();
            assert!(properties.contains("title="));
        }
    }

    #[test]
    fn findings_map_to_levels_and_locations() {
        let out = render(&sample_report());
        assert!(out.contains(
            "::error file=src/app/config.rs,line=12,col=5,title=security.no-secrets (aws-access-key)::src/app/config.rs: AWS access key id in source%0AHint: "
        ));
        // Non-blocking failure with a comma in the path and a newline and % in the message.
        assert!(out.contains(
            "::warning file=config/prod%2Ceu.yaml,line=7,title=config.logging-levels (debug-level)::config/prod,eu.yaml: level | debug on 50%25 of loggers, e.g. app:web%0Asecond line"
        ));
        assert!(
            out.contains("::notice title=security.api-keys-rotated [exempt]::key:legacy-billing")
        );
        assert!(
            out.contains("::error title=infra.db-replicas::check errored: timed out after 5000 ms")
        );
        assert!(out.contains(
            "::warning file=policies/production.toml,line=88,col=1,title=exemption expired%3A config.cache::"
        ));
        // security.tls is in two gates but annotated once, at its strictest.
        assert_eq!(out.matches("title=security.tls").count(), 1);
        assert!(!out.contains("flags"), "skip findings are not annotated");
    }

    #[test]
    fn evidence_is_never_printed() {
        let out = render(&sample_report());
        assert!(!out.contains("AKIA"));
        assert!(!out.contains("PRIVATE KEY"));
        assert!(!out.contains("ECDHE"));
    }

    #[test]
    fn exemption_sources_split_into_file_line_col() {
        assert_eq!(
            split_source("p/x.toml:3:7"),
            ("p/x.toml".to_string(), Some(3), Some(7))
        );
        assert_eq!(
            split_source("C:\\p\\x.toml:3:7"),
            ("C:/p/x.toml".to_string(), Some(3), Some(7))
        );
        assert_eq!(
            split_source("x.toml:3"),
            ("x.toml".to_string(), Some(3), None)
        );
        assert_eq!(split_source("x.toml"), ("x.toml".to_string(), None, None));
    }
}
