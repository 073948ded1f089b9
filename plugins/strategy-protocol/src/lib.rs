//! The strategy-plugin protocol as serde types: the normalised [`Spec`] and the
//! observed [`State`] the host sends to `decide`, and the [`Decision`] (an
//! [`Action`] with its reason and memory) the plugin returns.
//!
//! One set of types for both ends: the host (`gate-host`, host/src/rollout)
//! serialises `Spec`/`State` and deserialises `Decision`; the built-in plugin
//! (plugins/strategies) does the reverse. docs/strategy-plugins.md is the
//! contract; a plugin in another language speaks the same JSON. Unknown fields
//! are ignored everywhere (serde's default), so the host can add fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The normalised rollout spec: defaults resolved, durations in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub name: String,
    /// `"canary"`, `"blue-green"` or `"rolling"` for the built-ins, or a custom
    /// plugin's `kind`. A value rather than a string so that a plugin given
    /// something else can say what it expected instead of failing to parse.
    pub strategy: Value,
    #[serde(default)]
    pub stable: Side,
    #[serde(default)]
    pub candidate: Side,
    /// Only the table of the chosen strategy is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanarySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<RollingSpec>,
    #[serde(default)]
    pub analysis: Vec<Analysis>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Side {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanarySpec {
    pub steps: Vec<u32>,
    #[serde(default)]
    pub pause_ms: u64,
    #[serde(default)]
    pub until_approved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingSpec {
    pub servers: Vec<String>,
    #[serde(default)]
    pub pause_ms: u64,
    #[serde(default)]
    pub until_approved: bool,
}

/// One analysis. The host always sends all six fields; the defaults (Argo
/// Rollouts' own) only matter to hand-written specs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub name: String,
    pub interval_ms: u64,
    #[serde(default)]
    pub failure_limit: u32,
    #[serde(default)]
    pub inconclusive_limit: u32,
    #[serde(default = "default_consecutive_error_limit")]
    pub consecutive_error_limit: u32,
    /// Applied by the host when it classifies (`pending` below it).
    #[serde(default)]
    pub min_samples: u64,
}

fn default_consecutive_error_limit() -> u32 {
    4
}

/// What the host observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub now_ms: u64,
    #[serde(default)]
    pub step: u32,
    #[serde(default)]
    pub step_started_ms: u64,
    /// The `memory` of the last decision that carried one, `{}` at first.
    #[serde(default = "empty_object")]
    pub memory: Value,
    #[serde(default)]
    pub candidate_percent: u32,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub analysis: BTreeMap<String, AnalysisState>,
    #[serde(default)]
    pub approval: Option<Approval>,
    #[serde(default)]
    pub replaced: Vec<String>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// `gate promote` / `gate approve --by NAME`: who and when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    #[serde(default)]
    pub candidate: HealthStatus,
    /// The servers that failed their last health check.
    #[serde(default)]
    pub failing: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisState {
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

/// One classified measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub at_ms: u64,
    pub result: Verdict,
    /// The measured number; absent for `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The stable side's number, for relative conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_value: Option<f64>,
    /// Requests in the window.
    #[serde(default)]
    pub samples: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A verdict, taken with at least `min_samples` samples.
    Success,
    Failure,
    /// The condition could not decide.
    Inconclusive,
    /// The provider could not be read; never counted as a success.
    Error,
    /// Fewer than `min_samples` samples so far: not a verdict.
    Pending,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Success => "success",
            Verdict::Failure => "failure",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
            Verdict::Pending => "pending",
        }
    }
}

/// What `decide` returns: the action, why (for the event log), and optionally
/// the memory to hand back on the next call. Serialised flat:
/// `{"action": "set-weights", "candidate_percent": 10, "step": 2, "reason": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    pub action: Action,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Replaces the stored memory when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Value>,
}

impl Decision {
    pub fn new(action: Action, reason: impl Into<String>) -> Self {
        Decision {
            action,
            reason: reason.into(),
            memory: None,
        }
    }
}

/// The next action, named by the `action` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Move `candidate_percent` (0–100) of the traffic to the candidate.
    SetWeights {
        candidate_percent: u32,
        #[serde(default)]
        step: u32,
    },
    /// Sleep up to `ms`, waking early for commands.
    Wait {
        #[serde(default = "default_wait_ms")]
        ms: u64,
    },
    /// Take one measurement of each named analysis (absent or empty: all).
    #[serde(alias = "analyze")]
    Analyse {
        #[serde(default)]
        names: Vec<String>,
    },
    /// Wait for `gate promote` / `gate approve`.
    AwaitApproval,
    /// Rolling: replace `server` with the candidate version.
    Replace {
        server: String,
        #[serde(default)]
        step: u32,
    },
    /// The candidate serves all traffic; the rollout ends.
    Promote,
    /// All traffic back to stable; the rollout ends.
    Rollback,
    /// Ends the rollout; only valid after a promotion (treated as `promote`).
    Done,
}

fn default_wait_ms() -> u64 {
    1000
}

impl Action {
    /// The action's name as it appears in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SetWeights { .. } => "set-weights",
            Action::Wait { .. } => "wait",
            Action::Analyse { .. } => "analyse",
            Action::AwaitApproval => "await-approval",
            Action::Replace { .. } => "replace",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::Done => "done",
        }
    }
}

#[cfg(test)]
mod tests;
