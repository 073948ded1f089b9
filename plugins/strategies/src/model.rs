//! The JSON shapes of docs/strategy-plugins.md: the normalised spec, the
//! observed state and the returned action. Unknown fields are ignored
//! everywhere (serde's default), so the host can add fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The normalised rollout spec.
#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub name: String,
    /// `"canary"`, `"blue-green"` or `"rolling"` for the built-ins. Kept as a
    /// value so that a custom-plugin table gives a clear error, not a parse error.
    pub strategy: serde_json::Value,
    #[serde(default)]
    pub stable: Option<Side>,
    #[serde(default)]
    pub candidate: Option<Side>,
    #[serde(default)]
    pub canary: Option<CanarySpec>,
    #[serde(default)]
    pub blue_green: Option<BlueGreenSpec>,
    #[serde(default)]
    pub rolling: Option<RollingSpec>,
    #[serde(default)]
    pub analysis: Vec<Analysis>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Side {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CanarySpec {
    pub steps: Vec<u32>,
    #[serde(default)]
    pub pause_ms: u64,
    #[serde(default)]
    pub until_approved: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BlueGreenSpec {
    #[serde(default)]
    pub pause_ms: u64,
    #[serde(default)]
    pub until_approved: bool,
    #[serde(default)]
    pub pre_promotion_analysis: Vec<String>,
    #[serde(default)]
    pub post_promotion_analysis: Vec<String>,
    #[serde(default)]
    pub post_promotion_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RollingSpec {
    pub servers: Vec<String>,
    #[serde(default)]
    pub pause_ms: u64,
    #[serde(default)]
    pub until_approved: bool,
}

/// One analysis. The host always sends all six fields; the defaults below
/// (Argo Rollouts' own) only matter to hand-written specs.
#[derive(Debug, Clone, Deserialize)]
pub struct Analysis {
    pub name: String,
    pub interval_ms: u64,
    #[serde(default)]
    pub failure_limit: u32,
    #[serde(default)]
    pub inconclusive_limit: u32,
    #[serde(default = "default_consecutive_error_limit")]
    pub consecutive_error_limit: u32,
    /// Applied by the host when it classifies (`pending` below it); unused here.
    #[serde(default)]
    pub min_samples: u64,
}

fn default_consecutive_error_limit() -> u32 {
    4
}

/// What the host observed.
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    pub now_ms: u64,
    #[serde(default)]
    pub step: u32,
    #[serde(default)]
    pub step_started_ms: u64,
    /// Never used by the built-ins: they are a pure function of spec and state.
    #[serde(default)]
    pub memory: serde_json::Value,
    #[serde(default)]
    pub candidate_percent: u32,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub analysis: BTreeMap<String, AnalysisState>,
    /// `{ "by": …, "at": … }` or `null`.
    #[serde(default)]
    pub approval: Option<serde_json::Value>,
    #[serde(default)]
    pub replaced: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Health {
    #[serde(default)]
    pub candidate: HealthStatus,
    #[serde(default)]
    pub failing: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnalysisState {
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Measurement {
    pub at_ms: u64,
    pub result: Verdict,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub samples: Option<u64>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Success,
    Failure,
    Inconclusive,
    Error,
    Pending,
}

/// The next action. Serialised as `{"action": "set-weights", …, "reason": …}`.
/// The built-ins never return `memory` (nor `done`: they end with `promote`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    SetWeights {
        candidate_percent: u32,
        step: u32,
        reason: String,
    },
    Wait {
        ms: u64,
        reason: String,
    },
    Analyse {
        names: Vec<String>,
        reason: String,
    },
    AwaitApproval {
        reason: String,
    },
    Replace {
        server: String,
        step: u32,
        reason: String,
    },
    Promote {
        reason: String,
    },
    Rollback {
        reason: String,
    },
}

impl Action {
    /// The action's name as it appears in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SetWeights { .. } => "set-weights",
            Action::Wait { .. } => "wait",
            Action::Analyse { .. } => "analyse",
            Action::AwaitApproval { .. } => "await-approval",
            Action::Replace { .. } => "replace",
            Action::Promote { .. } => "promote",
            Action::Rollback { .. } => "rollback",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Action::SetWeights { reason, .. }
            | Action::Wait { reason, .. }
            | Action::Analyse { reason, .. }
            | Action::AwaitApproval { reason }
            | Action::Replace { reason, .. }
            | Action::Promote { reason }
            | Action::Rollback { reason } => reason,
        }
    }
}
