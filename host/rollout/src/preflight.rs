//! The spec's `preflight` gate, run through the same engine as `gate evaluate`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::spec::Preflight;
use gate_core::clock::Clock;
use gate_eval::evaluate::{self, EvaluateOptions};
use gate_eval::hosted::HostedChecks;
use gate_eval::policy::{self, LoadOptions};
use gate_eval::report::{CheckStatus, GateVerdict, Verdict};
use gate_sandbox::plugin::Runtime;

/// `Ok(summary)` when every blocking gate passed, else `Err(reason)` naming
/// the failed checks.
pub async fn run(
    runtime: &Arc<Runtime>,
    preflight: &Preflight,
    cwd: &Path,
    clock: Clock,
    hosted: &HostedChecks,
) -> Result<String, String> {
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
