//! What `gate plugin test` found, and its three renderings: `human` for a
//! terminal, `json` for machines, `junit` for CI test tabs.
//!
//! JUnit goes through gate's one JUnit renderer
//! ([`gate_eval::report::junit`]): the results become a
//! [`gate_eval::report::Report`] with one gate per case file plus one for
//! the rules, one check per case or rule run, and one `fail` finding per
//! problem, so the XML is written, escaped and counted in one place.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use gate_core::finding::FindingReport;
use gate_core::model::{CheckStatus, Enforcement, Severity, Status, Verdict};
use gate_eval::report::human::clean;
use gate_eval::report::{CheckReport, GateReport, GateVerdict, Report, Timings, ToolInfo};
use serde::Serialize;

use super::expect::{Mismatch, Seen};
use super::file::Case;
use super::rules::Rule;

/// The output formats of `gate plugin test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "lowercase")]
pub enum Format {
    Human,
    Json,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    /// A rule that has nothing to try on this check.
    NotApplicable,
}

#[derive(Clone, Debug, Serialize)]
pub struct TestReport {
    pub plugin: String,
    pub component: String,
    pub sha256: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub cases: Vec<CaseResult>,
    pub rules: Vec<RuleResult>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub check: String,
    pub outcome: Outcome,
    /// What differs from the expectations.
    pub mismatches: Vec<Mismatch>,
    /// Why the case could not be compared (unknown check, failed run, no findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The findings the run returned.
    pub findings: Vec<Seen>,
    pub duration_ms: u64,
}

impl CaseResult {
    pub(super) fn new(case: &Case) -> CaseResult {
        CaseResult {
            file: case.file.display().to_string(),
            line: case.line,
            name: case.name.clone(),
            check: case.check.clone(),
            outcome: Outcome::Pass,
            mismatches: Vec::new(),
            error: None,
            findings: Vec::new(),
            duration_ms: 0,
        }
    }

    /// Every problem, one line each.
    pub fn problems(&self) -> Vec<String> {
        self.error
            .iter()
            .cloned()
            .chain(self.mismatches.iter().map(ToString::to_string))
            .collect()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleResult {
    pub rule: Rule,
    /// `None` for rules about the whole plugin.
    pub check: Option<String>,
    /// What was tried.
    pub tried: String,
    pub outcome: Outcome,
    pub problems: Vec<String>,
    pub duration_ms: u64,
}

impl RuleResult {
    pub(super) fn judged(
        rule: Rule,
        check: Option<String>,
        tried: String,
        problems: Vec<String>,
        duration_ms: u64,
    ) -> RuleResult {
        RuleResult {
            rule,
            check,
            tried,
            outcome: if problems.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            problems,
            duration_ms,
        }
    }

    pub(super) fn not_applicable(rule: Rule, check: &str, reason: String) -> RuleResult {
        RuleResult {
            rule,
            check: Some(check.to_string()),
            tried: reason,
            outcome: Outcome::NotApplicable,
            problems: Vec::new(),
            duration_ms: 0,
        }
    }

    /// `rule` or `check: rule`.
    fn title(&self) -> String {
        match &self.check {
            Some(check) => format!("{check}: {}", self.rule.name()),
            None => self.rule.name().to_string(),
        }
    }
}

/// Counts of one kind of result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub not_applicable: usize,
}

impl Counts {
    fn of(outcomes: impl Iterator<Item = Outcome>) -> Counts {
        let mut c = Counts::default();
        for o in outcomes {
            match o {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::NotApplicable => c.not_applicable += 1,
            }
        }
        c
    }
}

impl TestReport {
    pub fn case_counts(&self) -> Counts {
        Counts::of(self.cases.iter().map(|c| c.outcome))
    }

    pub fn rule_counts(&self) -> Counts {
        Counts::of(self.rules.iter().map(|r| r.outcome))
    }

    /// Every case and every rule passed (or did not apply).
    pub fn passed(&self) -> bool {
        self.case_counts().failed == 0 && self.rule_counts().failed == 0
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Human => self.human(),
            Format::Json => {
                let mut text = serde_json::to_string_pretty(&Json {
                    passed: self.passed(),
                    summary: Summary {
                        cases: self.case_counts(),
                        rules: self.rule_counts(),
                    },
                    report: self,
                })
                .unwrap_or_default();
                text.push('\n');
                text
            }
            Format::Junit => gate_eval::report::junit::render(&self.as_report()),
        }
    }

    fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "plugin {} · {} · sha256 {}",
            clean(&self.plugin),
            clean(&self.component),
            &self.sha256[..self.sha256.len().min(12)]
        );
        let mut file = None;
        for case in &self.cases {
            if file != Some(&case.file) {
                let _ = writeln!(out, "\n{}", clean(&case.file));
                file = Some(&case.file);
            }
            line(
                &mut out,
                case.outcome,
                &format!("{} ({})", case.name, case.check),
                case.duration_ms,
                &case.problems(),
            );
        }
        out.push_str("\nrules\n");
        for rule in &self.rules {
            line(
                &mut out,
                rule.outcome,
                &format!("{}: {}", rule.title(), rule.tried),
                rule.duration_ms,
                &rule.problems,
            );
        }
        let (cases, rules) = (self.case_counts(), self.rule_counts());
        let _ = writeln!(
            out,
            "\n{} · cases: {} passed, {} failed · rules: {} passed, {} failed, {} not applicable · {} ms",
            if self.passed() { "PASS" } else { "FAIL" },
            cases.passed,
            cases.failed,
            rules.passed,
            rules.failed,
            rules.not_applicable,
            self.duration_ms
        );
        out
    }

    /// The results as a [`Report`], for the renderers that take one.
    fn as_report(&self) -> Report {
        let mut by_file: BTreeMap<&str, Vec<CheckReport>> = BTreeMap::new();
        for case in &self.cases {
            by_file
                .entry(&case.file)
                .or_default()
                .push(self.check_report(
                    &case.name,
                    &case.check,
                    case.outcome,
                    &case.problems(),
                    case.duration_ms,
                ));
        }
        let mut gates: Vec<GateReport> = by_file
            .into_iter()
            .map(|(file, checks)| gate(file, checks))
            .collect();
        let rules = self
            .rules
            .iter()
            .map(|r| {
                self.check_report(
                    &format!("{}: {}", r.title(), r.tried),
                    r.check.as_deref().unwrap_or(&self.plugin),
                    r.outcome,
                    &r.problems,
                    r.duration_ms,
                )
            })
            .collect();
        gates.push(gate("rules", rules));
        Report {
            verdict: if self.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            policy: format!("plugin test {}", self.plugin),
            policy_file: self.component.clone(),
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            gates,
            exemption_notices: Vec::new(),
            tool: ToolInfo {
                name: "gate".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            timings: Timings::default(),
        }
    }

    fn check_report(
        &self,
        name: &str,
        subject: &str,
        outcome: Outcome,
        problems: &[String],
        duration_ms: u64,
    ) -> CheckReport {
        let status = match outcome {
            Outcome::Pass => CheckStatus::Pass,
            Outcome::Fail => CheckStatus::Fail,
            Outcome::NotApplicable => CheckStatus::Skip,
        };
        let findings = if outcome == Outcome::NotApplicable {
            vec![finding(subject, Status::Skip, "not applicable")]
        } else {
            problems
                .iter()
                .map(|p| finding(subject, Status::Fail, p))
                .collect()
        };
        CheckReport {
            id: name.to_string(),
            title: name.to_string(),
            plugin: self.plugin.clone(),
            status,
            severity: Severity::High,
            enforcement: Enforcement::Block,
            blocking: true,
            duration_ms,
            host_ms: 0,
            instances: 1,
            findings,
            exemption: None,
            error: None,
            description: String::new(),
        }
    }
}

fn gate(name: &str, checks: Vec<CheckReport>) -> GateReport {
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    GateReport {
        name: name.to_string(),
        enforcement: Enforcement::Block,
        verdict: if failed {
            GateVerdict::Fail
        } else {
            GateVerdict::Pass
        },
        checks,
    }
}

fn finding(subject: &str, status: Status, message: &str) -> FindingReport {
    FindingReport {
        rule: None,
        subject: subject.to_string(),
        status,
        severity: Severity::High,
        message: message.to_string(),
        evidence: BTreeMap::new(),
        remediation: None,
        location: None,
        exemption: None,
    }
}

/// One result line, its problems beneath.
fn line(out: &mut String, outcome: Outcome, text: &str, ms: u64, problems: &[String]) {
    let word = match outcome {
        Outcome::Pass => "ok  ",
        Outcome::Fail => "FAIL",
        Outcome::NotApplicable => "n/a ",
    };
    let timing = if outcome == Outcome::NotApplicable {
        String::new()
    } else {
        format!(" ({ms} ms)")
    };
    let _ = writeln!(out, "  {word}  {}{timing}", clean(text));
    for p in problems {
        let _ = writeln!(out, "          {}", clean(p).replace('\n', "\n          "));
    }
}

#[derive(Serialize)]
struct Json<'a> {
    passed: bool,
    summary: Summary,
    #[serde(flatten)]
    report: &'a TestReport,
}

#[derive(Serialize)]
struct Summary {
    cases: Counts,
    rules: Counts,
}
