//! Incident records (docs/incidents.md): every automatic rollback, manual
//! rollback or abort, and failed verify stage opens one, with what
//! triggered it, the rollout's timeline from its start, the health of
//! stable afterwards, the time until all traffic was on stable, and who
//! acted. They are kept by the rollout's store (a file each, or a row of
//! `gate.incidents`), exactly one per run and trigger, and rendered by
//! `gate incident show` as a post-incident summary.
//!
//! - [`timeline`]: the rollout's events as typed timeline entries;
//! - [`render`]: Markdown, text and list lines;
//! - [`files`]: the file store's incidents directory.

pub mod files;
pub mod render;
pub mod timeline;

use serde::{Deserialize, Serialize};

pub use gate_audit::entry::{IncidentOutcome, TriggerKind};
use gate_strategy_protocol::Verdict;
pub use timeline::{TimelineEntry, TimelineEvent};

/// 1: the first format.
pub const FORMAT: u32 = 1;

/// One incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub format: u32,
    /// `<rollout>-<YYYYMMDD>-<n>`: the n-th incident of the rollout opened
    /// that UTC day. Assigned by the store when the incident is opened.
    pub id: String,
    pub rollout: String,
    /// The rollout's run id, as in its audit entries.
    pub run_id: String,
    /// The spec file and the SHA-256 of its bytes.
    pub spec: String,
    pub spec_sha256: String,
    pub strategy: String,
    pub stable: String,
    pub candidate: String,
    pub opened_unix_ms: u64,
    pub rollout_started_unix_ms: u64,
    pub trigger: Trigger,
    pub outcome: IncidentOutcome,
    pub impact: Impact,
    /// The way back to stable; `None` for an abort before any traffic moved.
    pub rollback: Option<RollbackFacts>,
    /// Stable's health check after the rollback; `None` for an abort.
    pub health_after: Option<HealthAfter>,
    /// What went wrong on the way back (health, hooks, migration rollback).
    pub problems: Vec<String>,
    pub actors: Actors,
    /// The rollout's events from its start to the end of the rollback.
    pub timeline: Vec<TimelineEntry>,
    /// The audit entry recording the opening, once written.
    #[serde(default)]
    pub audit_seq: Option<u64>,
}

/// What caused the rollback or abort.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// An analysis failed, or could not be measured more often in a row
    /// than it allows, while traffic was moving.
    Analysis(AnalysisTrigger),
    /// The candidate failed its health check.
    Health {
        step: u32,
        candidate_percent: u8,
        failing: Vec<String>,
    },
    /// The `verify` stage failed after promotion.
    Verify {
        stage: String,
        reason: String,
        analysis: Option<AnalysisTrigger>,
    },
    /// `gate rollback` or `gate abort`.
    Manual {
        action: ManualAction,
        by: String,
        at: String,
    },
    /// Stopped before any traffic moved (a gate stage, a migration, a hook).
    Abort { reason: String },
    /// The router, the strategy plugin or the promotion failed.
    Error { reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ManualAction {
    Rollback,
    Abort,
}

/// The analysis that decided, with its query, the value measured and the
/// thresholds it was held to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisTrigger {
    pub name: String,
    pub provider: String,
    pub query: String,
    pub conditions: Vec<Condition>,
    pub step: u32,
    pub candidate_percent: u8,
    /// `failure`, or `error` when it could not be measured too often in a row.
    pub result: Verdict,
    pub value: Option<f64>,
    pub stable_value: Option<f64>,
    pub samples: u64,
    pub message: Option<String>,
    /// Failed measurements in the step, and the number allowed.
    pub failures: u32,
    pub failure_limit: u32,
    /// Errors in a row at the end of the step, and the number allowed.
    pub consecutive_errors: u32,
    pub consecutive_error_limit: u32,
    /// When the deciding measurement was taken (Unix ms).
    pub measured_unix_ms: u64,
}

/// One condition of an analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub kind: ConditionKind,
    pub threshold: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "snake_case")]
pub enum ConditionKind {
    Max,
    Min,
    MaxIncrease,
    MaxRatio,
}

/// How much traffic the candidate had.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// The largest share of traffic the candidate had in this run.
    pub max_candidate_percent: u8,
    /// The candidate's share when the rollback was decided.
    pub candidate_percent_at_trigger: u8,
    /// When the candidate first got traffic (Unix ms), if it did.
    pub first_traffic_unix_ms: Option<u64>,
    /// Servers that ran the candidate (rolling).
    pub replaced_servers: Vec<String>,
}

/// From the rollback's decision to all traffic on stable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollbackFacts {
    pub decided_unix_ms: u64,
    pub stable_unix_ms: u64,
    /// `stable_unix_ms - decided_unix_ms`: the time to 100 % stable.
    pub time_to_stable_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthAfter {
    pub servers: Vec<String>,
    pub healthy: bool,
    pub problems: Vec<String>,
}

/// Who acted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Actors {
    /// The OS user running the gate process that rolled back.
    pub runner: String,
    /// The OS user who started the rollout.
    pub started_by: String,
    /// Who asked for a manual rollback or abort.
    pub requested_by: Option<String>,
    /// Everyone whose approval was counted, with the step.
    pub approvers: Vec<Approver>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approver {
    pub by: String,
    pub step: u32,
    /// Signed and checked against `[approvals]`, or given by name.
    pub verified: bool,
}

/// The trigger as the rollout's state keeps it from the decision until the
/// incident is opened, so a resumed rollback opens the same one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Opening {
    pub trigger: Trigger,
    pub decided_unix_ms: u64,
    /// The candidate's share when it was decided.
    pub candidate_percent: u8,
    /// Servers running the candidate then (rolling).
    pub replaced: Vec<String>,
}

impl Trigger {
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Analysis(_) => TriggerKind::Analysis,
            Trigger::Health { .. } => TriggerKind::Health,
            Trigger::Verify { .. } => TriggerKind::Verify,
            Trigger::Manual { .. } => TriggerKind::Manual,
            Trigger::Abort { .. } => TriggerKind::Abort,
            Trigger::Error { .. } => TriggerKind::Error,
        }
    }

    /// One line saying what triggered it, with the deciding values.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Analysis(a) => a.describe(),
            Trigger::Health {
                step,
                candidate_percent,
                failing,
            } => format!(
                "the candidate failed its health check at step {step} ({candidate_percent}% of traffic): {}",
                failing.join(", ")
            ),
            Trigger::Verify {
                stage,
                reason,
                analysis,
            } => match analysis {
                Some(a) => format!(
                    "verify stage `{stage}` failed after promotion: {}",
                    a.describe()
                ),
                None => format!("verify stage `{stage}` failed after promotion: {reason}"),
            },
            Trigger::Manual { action, by, at } => match action {
                ManualAction::Rollback => format!("`gate rollback` by {by} at {at}"),
                ManualAction::Abort => format!("`gate abort` by {by} at {at}"),
            },
            Trigger::Abort { reason } => format!("aborted before any traffic moved: {reason}"),
            Trigger::Error { reason } => format!("error: {reason}"),
        }
    }
}

impl AnalysisTrigger {
    /// The conditions as the spec words them: `max 0.01, max_ratio 1.5`.
    pub fn thresholds(&self) -> String {
        let all: Vec<String> = self
            .conditions
            .iter()
            .map(|c| format!("{} {}", c.kind, c.threshold))
            .collect();
        if all.is_empty() {
            "none".into()
        } else {
            all.join(", ")
        }
    }

    pub fn describe(&self) -> String {
        let measured = match (self.result, self.value) {
            (Verdict::Error, _) => format!(
                "could not be measured {} times in a row (limit {}){}",
                self.consecutive_errors,
                self.consecutive_error_limit,
                self.message
                    .as_deref()
                    .map_or(String::new(), |m| format!(": {m}"))
            ),
            (_, Some(v)) => format!(
                "measured {} over {} samples ({}){}",
                number(v),
                self.samples,
                self.thresholds(),
                self.stable_value
                    .map_or(String::new(), |s| format!(", stable {}", number(s)))
            ),
            (_, None) => format!("{} ({})", self.result_text(), self.thresholds()),
        };
        format!(
            "analysis `{}` ({} `{}`) {measured} at step {} with {}% on the candidate",
            self.name, self.provider, self.query, self.step, self.candidate_percent
        )
    }

    fn result_text(&self) -> &'static str {
        match self.result {
            Verdict::Success => "success",
            Verdict::Failure => "failure",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
            Verdict::Pending => "pending",
        }
    }
}

/// A measured number, as the rollout's events print it.
pub fn number(v: f64) -> String {
    format!("{v:.4}")
}

impl Incident {
    /// The outcome from the problems found on the way back.
    pub fn outcome_of(trigger: &Trigger, problems: &[String]) -> IncidentOutcome {
        match trigger {
            Trigger::Abort { .. } => IncidentOutcome::Aborted,
            _ if problems.is_empty() => IncidentOutcome::RolledBack,
            _ => IncidentOutcome::RolledBackWithProblems,
        }
    }

    /// The audit log's record of the opening.
    pub fn audit_record(&self) -> gate_audit::entry::Incident {
        gate_audit::entry::Incident {
            id: self.id.clone(),
            service: self.rollout.clone(),
            trigger: self.trigger.kind(),
            detail: self.trigger.describe(),
            outcome: self.outcome,
            time_to_stable_ms: self.rollback.as_ref().map(|r| r.time_to_stable_ms),
            problems: self.problems.clone(),
        }
    }

    /// The same incident with every text masked as audit entries are (a
    /// query, a message or a hook's output never carries a credential into
    /// the record).
    pub fn scrubbed(&self) -> Result<Incident, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        gate_audit::entry::scrub_value(&mut value);
        serde_json::from_value(value)
    }

    /// The id for the `n`-th incident of `rollout` on the UTC day of `unix_ms`.
    pub fn make_id(rollout: &str, unix_ms: u64, n: u32) -> String {
        format!("{rollout}-{}-{n}", day(unix_ms))
    }

    /// The `n` of an id of `rollout` opened on the day of `unix_ms`.
    pub fn number_in_day(&self) -> Option<u32> {
        self.id
            .strip_prefix(&format!("{}-{}-", self.rollout, day(self.opened_unix_ms)))?
            .parse()
            .ok()
    }

    /// Oldest first; the same day's by their number.
    pub fn sort(all: &mut [Incident]) {
        all.sort_by(|a, b| {
            (a.opened_unix_ms, a.number_in_day(), &a.id).cmp(&(
                b.opened_unix_ms,
                b.number_in_day(),
                &b.id,
            ))
        });
    }
}

/// `YYYYMMDD` of the UTC day of `unix_ms`.
pub fn day(unix_ms: u64) -> String {
    time(unix_ms).format("%Y%m%d").to_string()
}

pub(crate) fn time(unix_ms: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(i64::try_from(unix_ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
