//! A `gate` stage (or the spec's `preflight` gate), run through the same
//! engine as `gate evaluate`, with the same audit-log entry.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::spec::Preflight;
use gate_core::clock::Clock;
use gate_eval::audit_record;
use gate_eval::evaluate::{self, EvaluateOptions};
use gate_eval::hosted::HostedChecks;
use gate_eval::policy::{self, LoadOptions};
use gate_eval::report::{CheckStatus, GateVerdict, Report, Verdict};
use gate_sandbox::plugin::Runtime;

/// What a gate stage decided.
pub struct GateRun {
    /// `Ok(summary)` when every blocking gate passed, else `Err(reason)`
    /// naming the failed checks (or why the policy could not be evaluated).
    pub outcome: Result<String, String>,
    /// The `evaluation` entry, when the policy was evaluated.
    pub record: Option<gate_audit::Record>,
}

pub async fn run(
    runtime: &Arc<Runtime>,
    preflight: &Preflight,
    cwd: &Path,
    clock: Clock,
    hosted: &HostedChecks,
) -> GateRun {
    match evaluate_policy(runtime, preflight, cwd, clock, hosted).await {
        Ok((report, record)) => GateRun {
            outcome: outcome(&report, preflight),
            record: Some(record),
        },
        Err(e) => GateRun {
            outcome: Err(e),
            record: None,
        },
    }
}

async fn evaluate_policy(
    runtime: &Arc<Runtime>,
    preflight: &Preflight,
    cwd: &Path,
    clock: Clock,
    hosted: &HostedChecks,
) -> Result<(Report, gate_audit::Record), String> {
    let policy = policy::load(&preflight.policy, &LoadOptions::at(clock.now()))
        .map_err(|e| format!("policy {}: {e}", preflight.policy.display()))?;
    let options = EvaluateOptions {
        gate: preflight.gate.clone(),
        cwd: cwd.to_path_buf(),
        clock,
        policy_file: preflight.policy.display().to_string(),
        started: Instant::now(),
        hosted: hosted.clone(),
    };
    let plan = evaluate::plan(runtime, &policy, &options)
        .await
        .map_err(|e| e.to_string())?;
    let report = evaluate::evaluate(runtime.clone(), &policy, &plan, &options)
        .await
        .map_err(|e| e.to_string())?;
    let record = audit_record::evaluation(&report, &policy, preflight.gate.as_deref())
        .map_err(|e| format!("{}: {e}", preflight.policy.display()))?;
    Ok((report, record))
}

fn outcome(report: &Report, preflight: &Preflight) -> Result<String, String> {
    let checks: usize = report.gates.iter().map(|g| g.checks.len()).sum();
    match report.verdict {
        Verdict::Pass => Ok(format!(
            "{} gate(s), {checks} check(s) of {}",
            report.gates.len(),
            preflight.policy.display()
        )),
        Verdict::Fail => {
            let failed: Vec<String> = report
                .gates
                .iter()
                .filter(|g| g.verdict == GateVerdict::Fail)
                .flat_map(|g| {
                    g.checks
                        .iter()
                        .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
                        .map(move |c| format!("{}/{} {}", g.name, c.id, c.status.as_str()))
                })
                .collect();
            Err(format!(
                "blocking gate failed in {}: {}",
                preflight.policy.display(),
                failed.join(", ")
            ))
        }
    }
}
