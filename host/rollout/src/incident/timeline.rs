//! The rollout's events (docs/rollouts.md#events) as an incident's
//! timeline: typed entries for what an on-call reader needs (steps with
//! their weights, each analysis verdict with its value, approvals, health,
//! the rollback), and the rest by kind and message. Measurements without a
//! verdict (`pending`) decided nothing and are left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use gate_strategy_protocol::Verdict;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at_unix_ms: u64,
    #[serde(flatten)]
    pub event: TimelineEvent,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TimelineEvent {
    Start {
        strategy: String,
        stable: String,
        candidate: String,
    },
    Stage {
        stage: String,
        progress: String,
    },
    /// Traffic moved (`candidate_percent`, the router's weights read back),
    /// or a server was replaced (rolling).
    Step {
        step: u32,
        candidate_percent: Option<u8>,
        weights: BTreeMap<String, u64>,
        server: Option<String>,
    },
    Analysis {
        analysis: String,
        step: u32,
        result: Verdict,
        value: Option<f64>,
        stable_value: Option<f64>,
        samples: u64,
    },
    AwaitingApproval {
        step: u32,
    },
    Approved {
        step: u32,
        by: String,
    },
    ApprovalRefused {
        step: u32,
    },
    HealthFailed {
        failing: Vec<String>,
    },
    Health {
        servers: Vec<String>,
    },
    Promote,
    Verify,
    Rollback {
        reason: String,
    },
    RolledBack {
        switch_ms: Option<u64>,
        problems: Vec<String>,
    },
    Aborted,
    Error,
    /// Any other kind (`hook`, `resume`, `reconcile`, …), kept by name.
    Other {
        kind: String,
    },
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

fn u32_of(v: &Value, key: &str) -> u32 {
    v[key]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One event as a timeline entry; `None` for what decided nothing (a
/// pending measurement, `done`).
pub fn entry(v: &Value) -> Option<TimelineEntry> {
    let kind = v["event"].as_str()?;
    let at_unix_ms = v["ts_ms"].as_u64()?;
    let event = match kind {
        "start" => TimelineEvent::Start {
            strategy: text(v, "strategy"),
            stable: text(v, "stable"),
            candidate: text(v, "candidate"),
        },
        "stage" => TimelineEvent::Stage {
            stage: text(v, "stage"),
            progress: text(v, "progress"),
        },
        "step" => TimelineEvent::Step {
            step: u32_of(v, "step"),
            candidate_percent: v["candidate_percent"]
                .as_u64()
                .and_then(|p| u8::try_from(p).ok()),
            weights: v["weights"]
                .as_object()
                .map(|w| {
                    w.iter()
                        .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
                        .collect()
                })
                .unwrap_or_default(),
            server: v["server"].as_str().map(str::to_string),
        },
        "analysis" => {
            let m = &v["measurement"];
            let result: Verdict = serde_json::from_value(m["result"].clone()).ok()?;
            if result == Verdict::Pending {
                return None;
            }
            TimelineEvent::Analysis {
                analysis: text(v, "analysis"),
                step: u32_of(v, "step"),
                result,
                value: m["value"].as_f64(),
                stable_value: m["stable_value"].as_f64(),
                samples: m["samples"].as_u64().unwrap_or(0),
            }
        }
        "awaiting-approval" => TimelineEvent::AwaitingApproval {
            step: u32_of(v, "step"),
        },
        "approved" => TimelineEvent::Approved {
            step: u32_of(v, "step"),
            by: text(v, "by"),
        },
        "approval-refused" => TimelineEvent::ApprovalRefused {
            step: u32_of(v, "step"),
        },
        "health-failed" => TimelineEvent::HealthFailed {
            failing: strings(&v["failing"]),
        },
        "health" => TimelineEvent::Health {
            servers: strings(&v["servers"]),
        },
        "promote" => TimelineEvent::Promote,
        "verify" => TimelineEvent::Verify,
        "rollback" => TimelineEvent::Rollback {
            reason: text(v, "reason"),
        },
        "rolled-back" => TimelineEvent::RolledBack {
            switch_ms: v["switch_ms"].as_u64(),
            problems: strings(&v["problems"]),
        },
        "aborted" => TimelineEvent::Aborted,
        "error" => TimelineEvent::Error,
        "done" => return None,
        other => TimelineEvent::Other {
            kind: other.to_string(),
        },
    };
    Some(TimelineEntry {
        at_unix_ms,
        event,
        message: text(v, "message"),
    })
}

/// The entries of the events from `since_unix_ms` on, in order.
pub fn of_events(events: &[Value], since_unix_ms: u64) -> Vec<TimelineEntry> {
    let mut entries: Vec<TimelineEntry> = events
        .iter()
        .filter_map(entry)
        .filter(|e| e.at_unix_ms >= since_unix_ms)
        .collect();
    // Stable: events of one writer are already in order.
    entries.sort_by_key(|e| e.at_unix_ms);
    entries
}

impl TimelineEntry {
    /// The kind's name, as in the event log.
    pub fn kind(&self) -> &str {
        match &self.event {
            TimelineEvent::Start { .. } => "start",
            TimelineEvent::Stage { .. } => "stage",
            TimelineEvent::Step { .. } => "step",
            TimelineEvent::Analysis { .. } => "analysis",
            TimelineEvent::AwaitingApproval { .. } => "awaiting-approval",
            TimelineEvent::Approved { .. } => "approved",
            TimelineEvent::ApprovalRefused { .. } => "approval-refused",
            TimelineEvent::HealthFailed { .. } => "health-failed",
            TimelineEvent::Health { .. } => "health",
            TimelineEvent::Promote => "promote",
            TimelineEvent::Verify => "verify",
            TimelineEvent::Rollback { .. } => "rollback",
            TimelineEvent::RolledBack { .. } => "rolled-back",
            TimelineEvent::Aborted => "aborted",
            TimelineEvent::Error => "error",
            TimelineEvent::Other { kind } => kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_analyses_and_the_rollback_become_typed_entries() {
        let events = vec![
            json!({"ts_ms": 5, "event": "start", "message": "m", "strategy": "canary", "stable": "v1", "candidate": "v2"}),
            json!({"ts_ms": 1, "event": "step", "message": "older run"}),
            json!({"ts_ms": 10, "event": "step", "message": "s", "step": 1, "candidate_percent": 50, "weights": {"blue1": 100, "green1": 100}}),
            json!({"ts_ms": 11, "event": "analysis", "message": "p", "analysis": "e", "step": 1, "measurement": {"at_ms": 1, "result": "pending", "samples": 3}}),
            json!({"ts_ms": 12, "event": "analysis", "message": "f", "analysis": "e", "step": 1, "measurement": {"at_ms": 2, "result": "failure", "value": 0.05, "samples": 300}}),
            json!({"ts_ms": 13, "event": "rollback", "message": "r", "reason": "bad"}),
            json!({"ts_ms": 14, "event": "hook", "message": "h"}),
        ];
        let t = of_events(&events, 5);
        let kinds: Vec<&str> = t.iter().map(|e| e.kind()).collect();
        assert_eq!(kinds, ["start", "step", "analysis", "rollback", "hook"]);
        assert_eq!(
            t[1].event,
            TimelineEvent::Step {
                step: 1,
                candidate_percent: Some(50),
                weights: [("blue1".to_string(), 100), ("green1".to_string(), 100)].into(),
                server: None,
            }
        );
        assert!(matches!(
            t[2].event,
            TimelineEvent::Analysis { value: Some(v), samples: 300, result: Verdict::Failure, .. } if v == 0.05
        ));
        // Round trip through JSON, as stored.
        let back: Vec<TimelineEntry> =
            serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
