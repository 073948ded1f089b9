//! The rollout's entries in the audit log (docs/audit.md): what the
//! controller records *before* it acts, built from the spec and the state.
//! The controller appends them through its store; an entry that cannot be
//! written stops the action it records.

use gate_audit::entry::{
    AnalysisResult, Approval, BackendWeight, PolicyRef, Rollout, RolloutEvent, SshSignature, Stage,
    StageState,
};
use gate_audit::{Draft, Record};
use gate_strategy_protocol::{Measurement, Verdict};
use gate_trust::SignedStatement;

use crate::spec::Spec;

/// Builds the drafts of one rollout's entries.
#[derive(Clone, Debug)]
pub struct Recorder {
    spec: PolicyRef,
    service: String,
    stable: String,
    candidate: String,
}

impl Recorder {
    pub fn new(spec: &Spec) -> Recorder {
        Recorder {
            spec: PolicyRef {
                file: spec.file.display().to_string(),
                sha256: spec.digest.clone(),
            },
            service: spec.name.clone(),
            stable: spec.stable.version.clone(),
            candidate: spec.candidate.version.clone(),
        }
    }

    fn draft(&self, run_id: &str, record: Record) -> Draft {
        Draft {
            run_id: Some(run_id.to_string()),
            ..Draft::new(record)
        }
    }

    /// A `rollout` entry for `event` of run `run_id`.
    pub fn rollout(&self, run_id: &str, event: RolloutEvent) -> Draft {
        self.draft(
            run_id,
            Record::Rollout(Rollout {
                spec: self.spec.clone(),
                service: self.service.clone(),
                event,
            }),
        )
    }

    /// The weights about to be set: the candidate's share and the rest on stable.
    pub fn weights(&self, candidate_percent: u8) -> RolloutEvent {
        RolloutEvent::Weights {
            weights: vec![
                BackendWeight {
                    backend: format!("stable {}", self.stable),
                    percent: u32::from(100 - candidate_percent.min(100)),
                },
                BackendWeight {
                    backend: format!("candidate {}", self.candidate),
                    percent: u32::from(candidate_percent),
                },
            ],
        }
    }

    /// An `approval` entry keeping the signed message and its signature, so
    /// `ssh-keygen -Y verify` can check it again.
    pub fn approval(
        &self,
        run_id: &str,
        step: u32,
        statement: &SignedStatement,
    ) -> Result<Draft, String> {
        let blob = statement.signature_blob().map_err(|e| e.to_string())?;
        Ok(self.draft(
            run_id,
            Record::Approval(Approval {
                subject: format!("rollout {} step {step}", self.service),
                message: statement.message.clone(),
                signature: SshSignature::new(blob)?,
                principal: statement.principal.clone(),
            }),
        ))
    }

    /// An `incident` entry: the incident opened by this run.
    pub fn incident(&self, run_id: &str, incident: gate_audit::entry::Incident) -> Draft {
        self.draft(run_id, Record::Incident(incident))
    }

    /// A `stage` entry of this rollout's pipeline.
    pub fn stage(
        &self,
        run_id: &str,
        name: &str,
        state: StageState,
        detail: Option<String>,
    ) -> Draft {
        self.draft(
            run_id,
            Record::Stage(Stage {
                name: name.to_string(),
                state,
                detail,
            }),
        )
    }
}

/// A measurement as the audit log words it; `None` while it has too few
/// samples to be a verdict (nothing is decided on it, so nothing is recorded).
pub fn analysis(name: &str, step: u32, m: &Measurement, detail: String) -> Option<RolloutEvent> {
    let result = match m.result {
        Verdict::Success => AnalysisResult::Success,
        Verdict::Failure => AnalysisResult::Failure,
        Verdict::Inconclusive => AnalysisResult::Inconclusive,
        Verdict::Error => AnalysisResult::Error,
        Verdict::Pending => return None,
    };
    Some(RolloutEvent::Analysis {
        name: name.to_string(),
        step,
        result,
        detail,
    })
}
