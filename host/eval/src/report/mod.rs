//! The one internal report of an evaluation, and its renderers.
//!
//! Every output format renders this same [`Report`]; nothing else is passed to a
//! renderer. The JSON renderer is the stable machine contract
//! ([docs/reports.md](../../../../docs/reports.md)).

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use gate_core::finding::{ExemptionRef, FindingReport, SignedBy};
pub use gate_core::model::{CheckStatus, Enforcement, Location, Severity, Status, Verdict};

pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
#[doc(hidden)]
pub mod sample;
pub mod sarif;
// New format modules go above this line (`cargo xtask new-format`).

/// The report formats, one for every command that renders a [`Report`]
/// (`gate evaluate`, `gate migrate lint`, `gate migrate check`). The command
/// line parses this type directly (`--format`), so adding a variant here and
/// its arm in [`render`] is all a new format needs outside its own module
/// (`cargo xtask new-format NAME` writes both).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    clap::ValueEnum,
    strum::IntoStaticStr,
    strum::EnumIter,
    strum::EnumString,
)]
#[strum(serialize_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Format {
    // For people at a terminal (colour when it is one).
    Human,
    // The stable machine contract (docs/reports.md).
    Json,
    // SARIF 2.1.0, for code-scanning uploads.
    Sarif,
    // JUnit XML, for CI test tabs.
    Junit,
    // GitHub Actions workflow commands (annotations).
    Github,
    // Markdown, for pull-request comments and job summaries.
    Markdown,
    // New formats go above this line (`cargo xtask new-format`).
}

impl Format {
    /// Every format, in declaration order.
    pub fn all() -> impl Iterator<Item = Format> {
        <Format as strum::IntoEnumIterator>::iter()
    }

    /// Its name on the command line and in documents.
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Format> {
        s.parse().ok()
    }
}

/// Options that change presentation but never content.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions {
    /// ANSI colour in the human format.
    pub color: bool,
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format, options: RenderOptions) -> String {
    match format {
        Format::Human => human::render(report, options),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Junit => junit::render(report),
        Format::Github => github::render(report),
        Format::Markdown => markdown::render(report),
        // New formats' arms go above this line (`cargo xtask new-format`).
    }
}

/// Verdict of one gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum GateVerdict {
    Pass,
    Warn,
    Fail,
    /// The gate's enforcement is `off`; nothing ran.
    Off,
}

impl GateVerdict {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// The policy's `[policy] name`.
    pub policy: String,
    /// Path of the policy file as given on the command line.
    pub policy_file: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub gates: Vec<GateReport>,
    /// Expired, soon-expiring and unused exemptions.
    pub exemption_notices: Vec<ExemptionNotice>,
    pub tool: ToolInfo,
    pub timings: Timings,
}

/// Where the run's time went (whole milliseconds).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Timings {
    /// Process start to the first check: policy loading, engine, plugin compilation or cache loads.
    pub startup_ms: u64,
    /// Wall time of the concurrent check phase.
    pub checks_ms: u64,
    /// Sum over checks of time inside plugins (guest code).
    pub plugin_ms: u64,
    /// Sum over checks of time inside host calls (capabilities and WASI).
    pub host_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct GateReport {
    pub name: String,
    pub enforcement: Enforcement,
    pub verdict: GateVerdict,
    pub checks: Vec<CheckReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub title: String,
    /// The plugin that provides the check.
    pub plugin: String,
    pub status: CheckStatus,
    pub severity: Severity,
    /// Effective enforcement of this check in this gate.
    pub enforcement: Enforcement,
    /// True when this check's status fails its gate.
    pub blocking: bool,
    pub duration_ms: u64,
    /// Part of `duration_ms` spent in host calls (capabilities and WASI); the
    /// rest ran inside the plugin.
    pub host_ms: u64,
    /// Instances of the plugin that ran the check at once: more than 1 when
    /// the check split its run into parts (docs/plugins.md, "Checks in parts").
    pub instances: u32,
    pub findings: Vec<FindingReport>,
    /// The exemption that made the check `exempt`, if any.
    pub exemption: Option<ExemptionRef>,
    /// Why the check itself errored (trap, timeout, limit, no findings), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Documentation of the check, for SARIF rule metadata.
    #[serde(skip)]
    pub description: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum NoticeKind {
    /// Past its `expires` date: it no longer applies.
    Expired,
    /// Expires within `warn_days`.
    ExpiringSoon,
    /// Matched no finding in this run.
    Unused,
    /// Not honoured: the policy requires signed exemptions and this one is
    /// unsigned or its signature does not verify.
    Unverified,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ExemptionNotice {
    pub kind: NoticeKind,
    pub message: String,
    pub exemption: ExemptionRef,
}

impl Report {
    /// All checks across gates, in report order (a check in two gates appears twice).
    pub fn checks(&self) -> impl Iterator<Item = (&GateReport, &CheckReport)> {
        self.gates
            .iter()
            .flat_map(|g| g.checks.iter().map(move |c| (g, c)))
    }

    /// Gate and check counts by status, for summary lines.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            gates: self.gates.len(),
            ..Summary::default()
        };
        for (_, check) in self.checks() {
            summary.checks += 1;
            match check.status {
                CheckStatus::Pass => summary.pass += 1,
                CheckStatus::Skip => summary.skip += 1,
                CheckStatus::Warn => summary.warn += 1,
                CheckStatus::Fail => summary.fail += 1,
                CheckStatus::Error => summary.error += 1,
                CheckStatus::Exempt => summary.exempt += 1,
            }
        }
        summary
    }

    /// Distinct exemptions that covered at least one finding, in report order.
    pub fn applied_exemptions(&self) -> Vec<&ExemptionRef> {
        let mut applied: Vec<&ExemptionRef> = Vec::new();
        for (_, check) in self.checks() {
            let covering = check
                .exemption
                .iter()
                .chain(check.findings.iter().filter_map(|f| f.exemption.as_ref()));
            for exemption in covering {
                if !applied.contains(&exemption) {
                    applied.push(exemption);
                }
            }
        }
        applied
    }
}

impl CheckReport {
    /// Findings worth showing: everything except `pass`.
    pub fn non_pass(&self) -> impl Iterator<Item = &FindingReport> {
        self.findings.iter().filter(|f| f.status != Status::Pass)
    }

    /// Findings that are problems (`warn`, `fail`, `error`), exempt or not.
    pub fn problems(&self) -> impl Iterator<Item = &FindingReport> {
        self.findings.iter().filter(|f| f.is_problem())
    }

    /// The exemption covering `finding`: its own, or the check's when the whole
    /// check is exempt.
    pub fn exemption_for<'a>(&'a self, finding: &'a FindingReport) -> Option<&'a ExemptionRef> {
        finding.exemption.as_ref().or(match self.status {
            CheckStatus::Exempt if finding.is_problem() => self.exemption.as_ref(),
            _ => None,
        })
    }

    /// The reason the check errored, when no `error` finding already says so.
    /// Renderers show it as a problem of its own.
    pub fn unreported_error(&self) -> Option<&str> {
        if self.status != CheckStatus::Error
            || self.findings.iter().any(|f| f.status == Status::Error)
        {
            return None;
        }
        Some(
            self.error
                .as_deref()
                .unwrap_or("the check errored without a reason"),
        )
    }
}

/// Gate and check counts by status (the JSON report's `summary`, in its key order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub gates: usize,
    pub checks: usize,
    pub pass: usize,
    pub skip: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub exempt: usize,
}

impl Summary {
    /// `2 gates, 9 checks: 6 pass, 1 fail, 1 exempt, 1 error`; statuses with no
    /// check are left out.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} {}, {} {}",
            self.gates,
            plural(self.gates, "gate", "gates"),
            self.checks,
            plural(self.checks, "check", "checks"),
        );
        let counts = [
            (self.pass, "pass"),
            (self.skip, "skip"),
            (self.warn, "warn"),
            (self.fail, "fail"),
            (self.exempt, "exempt"),
            (self.error, "error"),
        ];
        let parts: Vec<String> = counts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, word)| format!("{n} {word}"))
            .collect();
        if !parts.is_empty() {
            out.push_str(": ");
            out.push_str(&parts.join(", "));
        }
        out
    }
}

pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A location's file as reports show it: forward slashes, no leading `./`.
pub(crate) fn normalized_path(file: &str) -> String {
    let mut path = file.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_string();
    }
    path
}

/// `file:line:col` with the file normalized.
pub(crate) fn location_label(location: &Location) -> String {
    Location {
        file: normalized_path(&location.file),
        ..location.clone()
    }
    .to_string()
}
