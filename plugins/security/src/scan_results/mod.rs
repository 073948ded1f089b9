//! `security.scan-results`: SARIF 2.1.0 reports from scanners (CodeQL, Semgrep,
//! Trivy, …) hold no unsuppressed result at or above a level or security-severity.

pub mod sarif;

use gate_plugin_sdk::paths::{GrantedPath, read_bytes};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use self::sarif::{Level, Log};
use crate::grants::{Grants, HostGrants, unreadable};
use crate::walk::expand;

pub const ID: &str = "security.scan-results";
const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Result messages can be paragraphs; findings keep the first line, this long at most.
const MESSAGE_CHARS: usize = 300;

pub struct ScanResults;

impl Check for ScanResults {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Scanner reports are clean".to_string(),
            description: "Reads SARIF 2.1.0 reports and fails on every result that is not suppressed (accepted \
                          suppressions only) and is at or above the threshold: a SARIF level, or a \
                          security-severity score. A report whose tool did not finish is an error."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("files", "list<string>", true, "SARIF files; globs such as `reports/*.sarif` expand and must match at least one file."),
                param_default("fail_on", "\"error\" | \"warning\" | \"note\" | float", "A SARIF level (results at or above it fail), or a security-severity score from 0 to 10 (results scoring at least this fail; unscored results do not).", "\"error\""),
                param_default("max_file_bytes", "integer", "Larger reports are an error rather than read.", "67108864"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        run(ctx, params, &HostGrants)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FailOnSpec {
    Level(String),
    Score(f64),
}

impl Default for FailOnSpec {
    fn default() -> Self {
        FailOnSpec::Level("error".to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    files: Vec<String>,
    #[serde(default)]
    fail_on: FailOnSpec,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

#[derive(Clone, Copy)]
enum Threshold {
    Level(Level),
    Score(f64),
}

impl Threshold {
    fn describe(self) -> String {
        match self {
            Threshold::Level(l) => format!("level `{}`", l.name()),
            Threshold::Score(s) => format!("security-severity {s:.1}"),
        }
    }
}

pub fn run(ctx: &Context, params: &serde_json::Value, grants: &dyn Grants) -> Vec<Finding> {
    let p: Params = match params::parse(ctx, params) {
        Ok(p) => p,
        Err(f) => return f,
    };
    if p.files.is_empty() {
        return params::invalid(ctx, "`files` must name at least one SARIF file");
    }
    let threshold = match &p.fail_on {
        FailOnSpec::Level(l) => match Level::parse(l) {
            Some(level) if level != Level::None => Threshold::Level(level),
            _ => {
                return params::invalid(
                    ctx,
                    format!(
                        "`fail_on` = \"{l}\": use \"error\", \"warning\", \"note\" or a score from 0 to 10"
                    ),
                );
            }
        },
        FailOnSpec::Score(s) if (0.0..=10.0).contains(s) => Threshold::Score(*s),
        FailOnSpec::Score(s) => {
            return params::invalid(
                ctx,
                format!("`fail_on` = {s}: a score must be from 0 to 10"),
            );
        }
    };
    let mut findings = Vec::new();
    for pattern in &p.files {
        match expand(grants, pattern) {
            Ok(files) => {
                for file in files {
                    let granted = GrantedPath {
                        display: file.display.clone(),
                        absolute: file.absolute.to_string_lossy().into_owned(),
                    };
                    match read_bytes(&granted, p.max_file_bytes) {
                        Ok(bytes) => {
                            check_file(ctx, &file.display, &bytes, threshold, &mut findings)
                        }
                        Err(e) => findings.push(unreadable(ctx, &file.display, &e)),
                    }
                }
            }
            Err(e) => findings.push(unreadable(ctx, pattern, &e)),
        }
    }
    crate::cap(ctx, findings)
}

fn not_sarif(ctx: &Context, file: &str, why: String) -> Finding {
    ctx.finding(file, Status::Error)
        .message(format!("`{file}` is not a SARIF 2.1.0 log: {why}"))
        .remediation("point `files` at the scanner's SARIF 2.1.0 output (e.g. `--format sarif`)")
        .location(file, None, None)
        .build()
}

/// Counts for a report's `pass` finding.
#[derive(Default)]
struct Tally {
    results: usize,
    suppressed: usize,
    below: usize,
    unscored: usize,
    absent: usize,
}

fn check_file(
    ctx: &Context,
    file: &str,
    bytes: &[u8],
    threshold: Threshold,
    findings: &mut Vec<Finding>,
) {
    let runs = match read_runs(ctx, file, bytes) {
        Ok(runs) => runs,
        Err(f) => return findings.push(*f),
    };
    let mut tally = Tally::default();
    let mut failed = false;
    let mut tools = Vec::new();
    for (n, run) in runs.iter().enumerate() {
        let tool = run.tool_name();
        if !tools.contains(&tool) {
            tools.push(tool);
        }
        failed |= check_run(ctx, file, n, run, threshold, &mut tally, findings);
    }
    if !failed {
        let mut f = ctx
            .finding(file, Status::Pass)
            .message(format!(
                "no unsuppressed result at or above {} in `{file}` ({} result(s), {} suppressed)",
                threshold.describe(),
                tally.results,
                tally.suppressed
            ))
            .evidence("tools", tools.join(", "))
            .evidence("runs", runs.len())
            .evidence("results", tally.results)
            .evidence("suppressed", tally.suppressed)
            .evidence("below_threshold", tally.below);
        if matches!(threshold, Threshold::Score(_)) {
            f = f.evidence("unscored", tally.unscored);
        }
        if tally.absent > 0 {
            f = f.evidence("baseline_absent", tally.absent);
        }
        findings.push(f.location(file, None, None).build());
    }
}

/// The runs of a SARIF 2.1.0 log, or the `error` finding for a file that is
/// not one or has no run.
fn read_runs(ctx: &Context, file: &str, bytes: &[u8]) -> Result<Vec<sarif::Run>, Box<Finding>> {
    let log: Log =
        serde_json::from_slice(bytes).map_err(|e| Box::new(not_sarif(ctx, file, e.to_string())))?;
    match log.version.as_ref().and_then(|v| v.as_str()) {
        Some("2.1.0") => {}
        Some(other) => {
            return Err(Box::new(not_sarif(
                ctx,
                file,
                format!("version is \"{other}\""),
            )));
        }
        None => return Err(Box::new(not_sarif(ctx, file, "no `version`".to_string()))),
    }
    let Some(runs) = log.runs else {
        return Err(Box::new(not_sarif(ctx, file, "no `runs`".to_string())));
    };
    if runs.is_empty() {
        return Err(Box::new(
            ctx.finding(file, Status::Error)
                .message(format!(
                    "`{file}` has no runs: the scanner did not report anything"
                ))
                .location(file, None, None)
                .build(),
        ));
    }
    Ok(runs)
}

/// Counts one run's results into `tally` and reports those at or above the
/// threshold. Returns whether the run fails the file.
fn check_run(
    ctx: &Context,
    file: &str,
    n: usize,
    run: &sarif::Run,
    threshold: Threshold,
    tally: &mut Tally,
    findings: &mut Vec<Finding>,
) -> bool {
    let tool = run.tool_name();
    if run
        .invocations
        .iter()
        .any(|i| i.execution_successful == Some(false))
    {
        findings.push(
            ctx.finding(file, Status::Error)
                .message(format!(
                    "{tool} reported an unsuccessful run in `{file}`; its results may be incomplete"
                ))
                .evidence("run", n)
                .location(file, None, None)
                .build(),
        );
        return true;
    }
    let Some(results) = &run.results else {
        findings.push(
            ctx.finding(file, Status::Error)
                .message(format!("run {n} ({tool}) in `{file}` has no `results`: the tool did not produce results"))
                .evidence("run", n)
                .location(file, None, None)
                .build(),
        );
        return true;
    };
    let mut failed = false;
    for r in results {
        if r.is_absent() {
            tally.absent += 1;
            continue;
        }
        tally.results += 1;
        if r.is_suppressed() {
            tally.suppressed += 1;
            continue;
        }
        let rule = run.rule_of(r);
        let level = r.level(rule);
        let score = r.security_severity(rule);
        let offending = match threshold {
            Threshold::Level(t) => level != Level::None && level >= t,
            Threshold::Score(t) => match score {
                Some(s) => s >= t,
                None => {
                    tally.unscored += 1;
                    continue;
                }
            },
        };
        if !offending {
            tally.below += 1;
            continue;
        }
        failed = true;
        findings.push(result_finding(ctx, file, run, r, rule, level, score));
    }
    failed
}

/// GitHub's banding of security-severity scores; SARIF levels where there is no score.
fn severity(level: Level, score: Option<f64>) -> Severity {
    match score {
        Some(s) if s >= 9.0 => Severity::Critical,
        Some(s) if s >= 7.0 => Severity::High,
        Some(s) if s >= 4.0 => Severity::Medium,
        Some(s) if s > 0.0 => Severity::Low,
        Some(_) => Severity::Info,
        None => match level {
            Level::Error => Severity::High,
            Level::Warning => Severity::Medium,
            Level::Note => Severity::Low,
            Level::None => Severity::Info,
        },
    }
}

fn result_finding(
    ctx: &Context,
    file: &str,
    run: &sarif::Run,
    r: &sarif::SarifResult,
    rule: Option<&sarif::ReportingDescriptor>,
    level: Level,
    score: Option<f64>,
) -> Finding {
    let rule_id = r.rule_id(rule).unwrap_or("(no rule id)");
    let uri = run.uri_of(r);
    let subject = uri.clone().unwrap_or_else(|| file.to_string());
    let text = r.text(rule);
    let first_line = text.lines().next().unwrap_or("").trim();
    let mut message: String = first_line.chars().take(MESSAGE_CHARS).collect();
    if first_line.chars().count() > MESSAGE_CHARS {
        message.push('…');
    }
    let tool = run.tool_name();
    let mut f = ctx
        .finding(subject, Status::Fail)
        .rule(rule_id)
        .severity(severity(level, score))
        .message(format!("{tool} {rule_id}: {message}"))
        .evidence("sarif", file)
        .evidence("tool", tool)
        .evidence("level", level.name());
    if let Some(s) = score {
        f = f.evidence("security_severity", s);
    }
    if let Some(help) = rule.and_then(|d| d.help_uri.as_deref()) {
        f = f.remediation(format!(
            "see {help}; fix the code, or suppress the result in the scanner with a justification"
        ));
    } else {
        f = f.remediation(
            "fix the code, or suppress the result in the scanner with a justification",
        );
    }
    match uri {
        Some(uri) => {
            let region = r
                .locations
                .iter()
                .find_map(|l| l.physical_location.as_ref())
                .and_then(|p| p.region.as_ref());
            f.location(
                uri,
                region.and_then(|g| g.start_line),
                region.and_then(|g| g.start_column),
            )
        }
        None => f,
    }
    .build()
}

#[cfg(test)]
mod tests;
