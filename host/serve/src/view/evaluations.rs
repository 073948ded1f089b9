//! The latest `evaluation` entry of each served policy, and the checklist
//! built from it: every check of every gate with its status, its finding
//! count, the last time it passed (from the policy's earlier evaluation
//! entries) and its documentation page.

use gate_audit::Record;
use gate_audit::entry::{CheckStatus, Verdict};
use gate_eval::policy::Policy;
use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;

/// The latest evaluation of one policy.
#[derive(Clone, Debug, Serialize)]
pub struct Latest {
    pub policy: String,
    /// `None` when the policy has not been evaluated (in its audit log).
    pub evaluation: Option<Evaluated>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evaluated {
    pub seq: u64,
    pub time: String,
    pub actor: String,
    pub verdict: Verdict,
    /// The one gate evaluated, if not all.
    pub gate: Option<String>,
    pub checks: Vec<ChecklistItem>,
    /// `check` and `match` of each exemption that applied.
    pub exemptions_used: Vec<gate_audit::entry::ExemptionUse>,
}

impl Evaluated {
    pub fn verdict_name(&self) -> String {
        self.verdict.to_string()
    }

    /// The gates in the order their checks ran.
    pub fn gates(&self) -> Vec<&str> {
        let mut gates: Vec<&str> = Vec::new();
        for c in &self.checks {
            if !gates.contains(&c.gate.as_str()) {
                gates.push(&c.gate);
            }
        }
        gates
    }

    pub fn checks_of<'a>(&'a self, gate: &str) -> Vec<&'a ChecklistItem> {
        self.checks.iter().filter(|c| c.gate == gate).collect()
    }
}

/// One check of the latest evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct ChecklistItem {
    pub gate: String,
    pub id: String,
    pub status: CheckStatus,
    pub findings: u64,
    /// When this check last passed in this gate (this evaluation or an earlier one).
    pub last_passed: Option<String>,
    /// Its page under `/checks/` when it is a built-in check with one.
    pub docs: Option<String>,
}

impl ChecklistItem {
    pub fn status_name(&self) -> &'static str {
        self.status.as_str()
    }
}

/// The latest evaluation of `policy`, with its checklist.
pub fn latest(app: &App, policy: &Policy) -> Result<Latest, ApiError> {
    let looked = app.audit(&policy.audit.dir)?.look()?;
    let entry = looked.latest_evaluation(&policy.name)?;
    let Some((entry, eval)) = entry.as_ref().and_then(|e| match &e.record {
        Record::Evaluation(ev) => Some((e, ev)),
        _ => None,
    }) else {
        return Ok(Latest {
            policy: policy.name.clone(),
            evaluation: None,
        });
    };
    let last_passed = |gate: &str, id: &str| {
        looked
            .last_passed(&policy.name, gate, id)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let checks = eval
        .checks
        .iter()
        .map(|c| ChecklistItem {
            gate: c.gate.clone(),
            id: c.id.clone(),
            status: c.status,
            findings: c.findings,
            last_passed: last_passed(&c.gate, &c.id),
            docs: crate::docs::page(&c.id).map(|_| format!("/checks/{}", c.id)),
        })
        .collect();
    Ok(Latest {
        policy: policy.name.clone(),
        evaluation: Some(Evaluated {
            seq: entry.seq,
            time: entry
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            actor: entry.actor.clone(),
            verdict: eval.verdict,
            gate: eval.gate.clone(),
            checks,
            exemptions_used: eval.exemptions_used.clone(),
        }),
    })
}

/// The latest evaluation of every served policy.
pub fn all(app: &App) -> Result<Vec<Latest>, ApiError> {
    app.policies.iter().map(|p| latest(app, p)).collect()
}
