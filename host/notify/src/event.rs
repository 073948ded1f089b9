//! What a notification is about: an event of a kind, with a stable id (the
//! `webhook-id` receivers deduplicate on) and the kind's fields, which the
//! templates see.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The kinds of events a `[[notify]]` rule can name.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum EventKind {
    /// `gate rollout` started a rollout (before any traffic moves).
    RolloutStarted,
    /// The candidate's share of traffic changed (or a server was replaced).
    Step,
    /// A step waits for `gate approve` or `gate promote`.
    AwaitingApproval,
    /// The candidate serves all traffic.
    Promoted,
    /// All traffic is back on stable.
    RolledBack,
    /// An analysis measured a failure.
    AnalysisFailed,
    /// `gate evaluate`: a blocking gate failed.
    EvaluationFailed,
    /// `gate evaluate`: an exemption expires within a rule's threshold.
    ExemptionExpiring,
    /// `gate drill`: a drill's result.
    DrillResult,
}

impl EventKind {
    /// The `type` of a webhook payload (`rollout.step`, `evaluation.failed`, …).
    pub fn webhook_type(self) -> &'static str {
        match self {
            EventKind::RolloutStarted => "rollout.started",
            EventKind::Step => "rollout.step",
            EventKind::AwaitingApproval => "rollout.awaiting_approval",
            EventKind::Promoted => "rollout.promoted",
            EventKind::RolledBack => "rollout.rolled_back",
            EventKind::AnalysisFailed => "rollout.analysis_failed",
            EventKind::EvaluationFailed => "evaluation.failed",
            EventKind::ExemptionExpiring => "exemption.expiring",
            EventKind::DrillResult => "drill.result",
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One event to notify about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_` and 32 hex digits, derived from what identifies the event
    /// (see [`Event::new`]), so the same event seen again (a resumed run, a
    /// second `gate evaluate`) has the same id and is sent once.
    pub id: String,
    pub kind: EventKind,
    /// What it is about: the rollout's or the policy's name.
    pub subject: String,
    /// Groups the events of one rollout run (its run id), so a chat target
    /// keeps one message for them; empty when the event stands alone.
    pub thread: String,
    /// When it happened, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// gate's own one-line description.
    pub summary: String,
    /// The kind's fields (step, weights, versions, reason, …).
    pub fields: Map<String, Value>,
}

impl Event {
    /// An event whose id is derived from `kind`, `subject` and `key`: the
    /// parts that make it this event and no other (a rollout's run id and
    /// step, an exemption and a threshold).
    pub fn new(
        kind: EventKind,
        subject: &str,
        key: &[&str],
        summary: &str,
        fields: Map<String, Value>,
    ) -> Event {
        Event::at(Utc::now(), kind, subject, key, summary, fields)
    }

    /// [`Event::new`] at a given time.
    pub fn at(
        time: DateTime<Utc>,
        kind: EventKind,
        subject: &str,
        key: &[&str],
        summary: &str,
        fields: Map<String, Value>,
    ) -> Event {
        let mut h = Sha256::new();
        for part in [kind.as_str(), subject].iter().chain(key) {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        Event {
            id: format!("evt_{}", hex::encode(&digest[..16])),
            kind,
            subject: subject.to_string(),
            thread: String::new(),
            time: time.to_rfc3339_opts(SecondsFormat::Millis, true),
            summary: summary.to_string(),
            fields,
        }
    }

    pub fn in_thread(mut self, thread: &str) -> Event {
        self.thread = thread.to_string();
        self
    }

    /// What a template sees: the kind's fields at the top level, and
    /// `event`, `id`, `subject`, `time` and `summary` beside them.
    pub fn context(&self) -> Value {
        let mut ctx = self.fields.clone();
        ctx.insert("event".into(), json!(self.kind.as_str()));
        ctx.insert("id".into(), json!(self.id));
        ctx.insert("subject".into(), json!(self.subject));
        ctx.insert("time".into(), json!(self.time));
        ctx.insert("summary".into(), json!(self.summary));
        Value::Object(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = Event::new(EventKind::Step, "web", &["run1", "2"], "x", Map::new());
        let b = Event::new(EventKind::Step, "web", &["run1", "2"], "y", Map::new());
        let c = Event::new(EventKind::Step, "web", &["run1", "3"], "x", Map::new());
        let d = Event::new(EventKind::Step, "web", &["run12", ""], "x", Map::new());
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_ne!(c.id, d.id);
        assert!(a.id.starts_with("evt_") && a.id.len() == 36);
    }

    #[test]
    fn kinds_read_and_print_kebab_case() {
        use std::str::FromStr;
        assert_eq!(
            EventKind::from_str("awaiting-approval").unwrap(),
            EventKind::AwaitingApproval
        );
        assert_eq!(EventKind::RolledBack.to_string(), "rolled-back");
    }
}
