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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Rule, Target};

    #[tokio::test]
    async fn a_drill_result_is_notified_once_to_the_rules_that_want_it() {
        let tmp = tempfile::tempdir().unwrap();
        let rule = Rule {
            name: "status".into(),
            target: Target::Markdown {
                dir: tmp.path().join("status"),
            },
            events: vec![EventKind::DrillResult],
            templates: Default::default(),
            exemption_days: vec![7],
            timeout: std::time::Duration::from_secs(1),
            at: "test".into(),
        };
        let n = crate::Notifier::new(&[rule], &tmp.path().join("outbox"))
            .unwrap()
            .unwrap();
        let result = DrillResult {
            drill: "rollback".into(),
            subject: "web".into(),
            drill_id: "d1".into(),
            passed: true,
            summary: "back on stable in 0.8 s".into(),
            metrics: vec![("time_to_stable_ms".into(), json!(812))],
            target: Some("rollback under 5 minutes".into()),
        };
        let (event, errors) = notify(&n, &result);
        assert!(errors.is_empty());
        // The same drill reported again is the same event: one entry.
        let (again, _) = notify(&n, &result);
        assert_eq!(event.id, again.id);
        let entries = n.outbox().entries().await.unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].message.contains("Drill passed: rollback of web"));
        assert!(entries[0].message.contains("| time_to_stable_ms | 812 |"));
    }
}
