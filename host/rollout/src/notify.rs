//! A rollout's notifications: which of its events are notified (mapped in
//! one place from the event log's kinds), with the rollout's fields, to the
//! spec's `[[notify]]` rules through the outbox beside its state
//! (`<state_dir>/<name>.outbox/`, or the `gate.notify_outbox` table with
//! shared state). Delivery runs beside the controller
//! ([`gate_notify::Background`]) and never holds up a decision or a
//! rollback: an event is only written to the outbox where it is emitted.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gate_notify::{Event, EventKind, FileOutbox, Notifier, Outbox};
use serde_json::{Map, Value, json};

use crate::spec::Spec;
use crate::store::postgres::outbox::PgOutbox;

/// How long `gate rollout` goes on delivering after its outcome, at most.
/// What is left is delivered by the next run or `gate notify deliver`.
pub const FLUSH_GRACE: Duration = Duration::from_secs(3);

/// The outbox directory of `spec`'s rollout with its state in files.
pub fn outbox_dir(spec: &Spec) -> PathBuf {
    spec.state_dir.join(format!("{}.outbox", spec.name))
}

/// The outbox of `spec`'s rollout, beside its state: in files, or in the
/// database every runner shares.
pub async fn outbox(spec: &Spec) -> Result<Arc<dyn Outbox>, String> {
    Ok(match &spec.state_db {
        Some(url) => Arc::new(
            PgOutbox::open(&spec.name, url)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => Arc::new(FileOutbox::new(&outbox_dir(spec))),
    })
}

/// The notifier of `spec`'s rules; `None` without rules.
pub async fn notifier(spec: &Spec) -> Result<Option<Arc<Notifier>>, String> {
    if spec.notify.is_empty() {
        return Ok(None);
    }
    Notifier::with_outbox(&spec.notify, outbox(spec).await?).map_err(|e| e.to_string())
}

/// What turns a rollout's events into notifications.
pub struct RolloutNotify {
    notifier: Arc<Notifier>,
    rollout: String,
    run_id: String,
    /// Fields every notification of this rollout has.
    base: Map<String, Value>,
}

impl RolloutNotify {
    pub fn new(spec: &Spec, notifier: Arc<Notifier>, run_id: &str, started_by: &str) -> Self {
        let mut base = Map::new();
        base.insert("rollout".into(), json!(spec.name));
        base.insert("strategy".into(), json!(spec.strategy.kind()));
        base.insert("stable".into(), json!(spec.stable.version));
        base.insert("candidate".into(), json!(spec.candidate.version));
        base.insert("spec".into(), json!(spec.file.display().to_string()));
        base.insert("run_id".into(), json!(run_id));
        if !started_by.is_empty() {
            base.insert("started_by".into(), json!(started_by));
        }
        RolloutNotify {
            notifier,
            rollout: spec.name.clone(),
            run_id: run_id.to_string(),
            base,
        }
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// Called for every event the rollout emits (`event` is its JSON object).
    pub fn on_event(&self, event: &Map<String, Value>) {
        let Some((kind, key)) = kind_of(event) else {
            return;
        };
        let mut fields = self.base.clone();
        for (k, v) in event {
            if !matches!(k.as_str(), "ts" | "ts_ms" | "event" | "message" | "rollout") {
                fields.insert(k.clone(), v.clone());
            }
        }
        let summary = event.get("message").and_then(Value::as_str).unwrap_or("");
        let e = Event::new(kind, &self.rollout, &[&self.run_id, &key], summary, fields)
            .in_thread(&self.run_id);
        let (_, errors) = self.notifier.notify(&e);
        for error in errors {
            eprintln!("notify: {error}");
        }
    }
}

/// The notification kind of a rollout event, and what makes it distinct
/// within the run (so the same event seen again after a restart has the
/// same id); `None` for events that are not notified.
fn kind_of(event: &Map<String, Value>) -> Option<(EventKind, String)> {
    let field = |k: &str| event.get(k).map_or(String::new(), |v| v.to_string());
    Some(match event.get("event")?.as_str()? {
        "start" => (EventKind::RolloutStarted, String::new()),
        "step" => (
            EventKind::Step,
            format!(
                "{}/{}/{}",
                field("step"),
                field("candidate_percent"),
                field("server")
            ),
        ),
        "awaiting-approval" => (EventKind::AwaitingApproval, field("step")),
        "promote" => (EventKind::Promoted, String::new()),
        "rolled-back" => (EventKind::RolledBack, String::new()),
        "analysis" if event.get("measurement")?.get("result")?.as_str()? == "failure" => (
            EventKind::AnalysisFailed,
            format!(
                "{}/{}/{}",
                field("analysis"),
                field("step"),
                event.get("measurement")?.get("at_ms")?
            ),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn events_map_to_notification_kinds() {
        assert_eq!(
            kind_of(&obj(json!({"event": "start"}))).unwrap().0,
            EventKind::RolloutStarted
        );
        assert_eq!(
            kind_of(&obj(json!({"event": "promote"}))).unwrap().0,
            EventKind::Promoted
        );
        assert_eq!(
            kind_of(&obj(json!({"event": "rolled-back"}))).unwrap().0,
            EventKind::RolledBack
        );
        let failed = json!({"event": "analysis", "analysis": "errors", "step": 2,
                            "measurement": {"result": "failure", "at_ms": 5}});
        assert_eq!(kind_of(&obj(failed)).unwrap().0, EventKind::AnalysisFailed);
        let ok = json!({"event": "analysis", "measurement": {"result": "success", "at_ms": 5}});
        assert!(kind_of(&obj(ok)).is_none());
        // A tick's progress is not a notification.
        assert!(kind_of(&obj(json!({"event": "reconcile"}))).is_none());
        let a = kind_of(&obj(
            json!({"event": "step", "step": 1, "candidate_percent": 10}),
        ))
        .unwrap();
        let b = kind_of(&obj(
            json!({"event": "step", "step": 2, "candidate_percent": 50}),
        ))
        .unwrap();
        assert_ne!(a.1, b.1);
    }
}
