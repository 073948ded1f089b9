//! The drill result event: what `gate drill` calls when a drill ends, so
//! its result goes to the rules that want `drill-result`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::event::{Event, EventKind};

/// A drill's result, as `gate drill` measured it.
#[derive(Clone, Debug, Serialize)]
pub struct DrillResult {
    /// `rollback`, `restore`, …
    pub drill: String,
    /// What was drilled: the rollout's name, or the connection's.
    pub subject: String,
    /// The drill's own id (it makes the event's id: one notification per drill).
    pub drill_id: String,
    pub passed: bool,
    /// One line: what happened.
    pub summary: String,
    /// Named measures, in order (`time_to_stable_ms`, `failed_requests`, …).
    pub metrics: Vec<(String, Value)>,
    /// The target it is compared with, as text (`rollback under 5 minutes`).
    pub target: Option<String>,
}

impl DrillResult {
    pub fn event(&self) -> Event {
        let mut fields = Map::new();
        fields.insert("drill".into(), json!(self.drill));
        fields.insert("drill_id".into(), json!(self.drill_id));
        fields.insert("passed".into(), json!(self.passed));
        let metrics: Map<String, Value> = self.metrics.iter().cloned().collect();
        fields.insert("metrics".into(), Value::Object(metrics));
        if let Some(t) = &self.target {
            fields.insert("target".into(), json!(t));
        }
        Event::new(
            EventKind::DrillResult,
            &self.subject,
            &[&self.drill, &self.drill_id],
            &self.summary,
            fields,
        )
    }
}

/// Notifies `result` through `notifier` (the rules of the drilled spec or
/// policy). Returns the event (its id names it in the outbox) and any
/// error to show; a failure never changes the drill's result.
pub fn notify(
    notifier: &crate::Notifier,
    result: &DrillResult,
) -> (Event, Vec<crate::NotifyError>) {
    let event = result.event();
    let (_, errors) = notifier.notify(&event);
    (event, errors)
}
