//! The `evaluation` entry of the audit log (docs/audit.md) built from a
//! report and the policy it evaluated: the verdict, every check's status,
//! the exemptions used or expired, and every file the policy was read from
//! with its digest. `gate evaluate` and a rollout's gate stages record the
//! same entry.

use std::path::Path;

use gate_audit::Record;
use gate_audit::entry::{CheckOutcome, Evaluation, ExemptionUse, PolicyRef};
use sha2::{Digest, Sha256};

use crate::policy::{InputFile, Policy};
use crate::report::{ExemptionRef, NoticeKind, Report};

/// A file as it is now: its path and digest.
pub fn policy_ref(path: &Path) -> std::io::Result<PolicyRef> {
    let bytes = std::fs::read(path)?;
    Ok(PolicyRef {
        file: path.display().to_string(),
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

fn input_ref(input: &InputFile) -> PolicyRef {
    PolicyRef {
        file: input.path.display().to_string(),
        sha256: input.sha256.clone(),
    }
}

fn exemption(e: &ExemptionRef) -> ExemptionUse {
    ExemptionUse {
        check: e.check.clone(),
        subject_match: e.subject_match.clone(),
        approved_by: e.approved_by.clone(),
        expires: e.expires,
        source: e.source.clone(),
    }
}

/// Every check of `report` with its gate, status and finding count.
pub fn outcomes(report: &Report) -> Vec<CheckOutcome> {
    report
        .checks()
        .map(|(g, c)| CheckOutcome {
            gate: g.name.clone(),
            id: c.id.clone(),
            status: c.status,
            findings: c.non_pass().count() as u64,
        })
        .collect()
}

/// The `evaluation` record of `report`, made from `policy`. The top-level
/// file's digest is the one of the bytes that were evaluated.
pub fn evaluation(report: &Report, policy: &Policy, gate: Option<&str>) -> std::io::Result<Record> {
    let top = match policy.inputs.iter().find(|i| i.path == policy.source) {
        Some(input) => input_ref(input),
        None => policy_ref(&policy.source)?,
    };
    Ok(Record::Evaluation(Evaluation {
        policy_name: report.policy.clone(),
        policy: top,
        gate: gate.map(str::to_string),
        verdict: report.verdict,
        checks: outcomes(report),
        exemptions_used: report
            .applied_exemptions()
            .into_iter()
            .map(exemption)
            .collect(),
        exemptions_expired: report
            .exemption_notices
            .iter()
            .filter(|n| n.kind == NoticeKind::Expired)
            .map(|n| exemption(&n.exemption))
            .collect(),
        inputs: policy.inputs.iter().map(input_ref).collect(),
    }))
}
