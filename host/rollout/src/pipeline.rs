//! A rollout's pipeline: the stages a deployment passes through in order,
//! declared with `[[stage]]` in the spec (docs/rollouts.md): gates (policy
//! evaluations: pre-flight, security scan, pending migrations), a signed
//! approval before any traffic moves, the rollout itself, and a verify
//! period after promotion in which analyses must keep passing. One run id
//! ties every stage and every audit entry of the run together.
//!
//! This module owns the stage types, their order rules and each stage's
//! progress in the state; the controller runs them (`controller/stages.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::migration::Migration;
use crate::spec::Preflight;

/// One declared stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    pub kind: StageKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StageKind {
    /// A policy's blocking gates must pass (`gate evaluate`).
    Gate(Preflight),
    /// An expand/contract migration: started (expanded, backfilled,
    /// validated) before any traffic moves, completed at promotion, rolled
    /// back with the rollout.
    Migration(Migration),
    /// The step before any traffic moves waits for approval: `required`
    /// signatures under `[approvals]`, else one `gate approve --by`.
    Approval,
    /// The strategy moves traffic until promotion.
    Rollout,
    /// After promotion, the named analyses keep measuring for `duration`;
    /// a failure rolls back.
    Verify {
        duration: Duration,
        analysis: Vec<String>,
    },
}

impl StageKind {
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Gate(_) => "gate",
            StageKind::Migration(_) => "migration",
            StageKind::Approval => "approval",
            StageKind::Rollout => "rollout",
            StageKind::Verify { .. } => "verify",
        }
    }

    /// Where the kind may stand: gates, then the migration, the approval,
    /// the rollout, and verify.
    pub fn rank(&self) -> u8 {
        match self {
            StageKind::Gate(_) => 0,
            StageKind::Migration(_) => 1,
            StageKind::Approval => 2,
            StageKind::Rollout => 3,
            StageKind::Verify { .. } => 4,
        }
    }
}

/// A stage's progress in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Progress {
    Pending,
    Running,
    Passed,
    Failed,
    /// Not reached: an earlier stage failed or the rollout was stopped.
    Skipped,
}

impl Progress {
    pub fn finished(self) -> bool {
        matches!(
            self,
            Progress::Passed | Progress::Failed | Progress::Skipped
        )
    }
}

/// One stage as recorded in the rollout state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    pub name: String,
    pub kind: String,
    pub progress: Progress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_unix_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_unix_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl StageState {
    pub fn pending(stage: &Stage) -> StageState {
        StageState {
            name: stage.name.clone(),
            kind: stage.kind.name().to_string(),
            progress: Progress::Pending,
            started_unix_ms: None,
            ended_unix_ms: None,
            detail: None,
        }
    }
}

/// The stages of a spec without `[[stage]]`: its `preflight` gate, if any,
/// then the rollout.
pub fn implicit(preflight: Option<&Preflight>) -> Vec<Stage> {
    let gate = preflight.map(|p| Stage {
        name: "pre-flight".into(),
        kind: StageKind::Gate(p.clone()),
    });
    gate.into_iter()
        .chain([Stage {
            name: "rollout".into(),
            kind: StageKind::Rollout,
        }])
        .collect()
}

/// What is wrong with the order of `stages`, if anything: exactly one
/// rollout, at most one migration, one approval and one verify, and kinds
/// in rank order.
pub fn order_error(stages: &[Stage]) -> Option<(usize, String)> {
    let count = |name: &str| stages.iter().filter(|s| s.kind.name() == name).count();
    if count("rollout") != 1 {
        let at = stages
            .iter()
            .rposition(|s| s.kind == StageKind::Rollout)
            .unwrap_or(0);
        return Some((
            at,
            "a pipeline has exactly one `kind = \"rollout\"` stage".into(),
        ));
    }
    for kind in ["migration", "approval", "verify"] {
        if count(kind) > 1 {
            let at = stages.iter().rposition(|s| s.kind.name() == kind)?;
            return Some((at, format!("a pipeline has at most one `{kind}` stage")));
        }
    }
    stages.windows(2).enumerate().find_map(|(i, pair)| {
        (pair[1].kind.rank() < pair[0].kind.rank()).then(|| {
            (
                i + 1,
                format!(
                    "a `{}` stage cannot follow a `{}` stage: the order is gates, migration, approval, rollout, verify",
                    pair[1].kind.name(),
                    pair[0].kind.name()
                ),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(kind: StageKind) -> Stage {
        Stage {
            name: kind.name().into(),
            kind,
        }
    }

    fn gate() -> StageKind {
        StageKind::Gate(Preflight {
            policy: "p.toml".into(),
            gate: None,
        })
    }

    fn verify() -> StageKind {
        StageKind::Verify {
            duration: Duration::from_secs(1),
            analysis: vec![],
        }
    }

    #[test]
    fn stages_go_gates_approval_rollout_verify() {
        let ok = [
            gate(),
            gate(),
            StageKind::Approval,
            StageKind::Rollout,
            verify(),
        ];
        assert_eq!(order_error(&ok.map(stage)), None);
        let late_gate = [StageKind::Rollout, gate()].map(stage);
        assert_eq!(order_error(&late_gate).unwrap().0, 1);
        let early_verify = [verify(), StageKind::Rollout].map(stage);
        assert!(
            order_error(&early_verify)
                .unwrap()
                .1
                .contains("cannot follow")
        );
        let no_rollout = [gate()].map(stage);
        assert!(order_error(&no_rollout).unwrap().1.contains("exactly one"));
        let two_approvals = [StageKind::Approval, StageKind::Approval, StageKind::Rollout];
        assert_eq!(order_error(&two_approvals.map(stage)).unwrap().0, 1);
    }

    #[test]
    fn a_spec_without_stages_has_its_preflight_then_the_rollout() {
        let p = Preflight {
            policy: "p.toml".into(),
            gate: Some("g".into()),
        };
        let stages = implicit(Some(&p));
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].kind, StageKind::Gate(p));
        assert_eq!(implicit(None), vec![stage(StageKind::Rollout)]);
    }
}
