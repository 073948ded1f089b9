//! What `gate evaluate` notifies ([docs/incidents.md](../../../docs/incidents.md#notifications)):
//! `evaluation-failed` when a blocking gate failed, and `exemption-expiring`
//! for each exemption with at most a rule's threshold of days left, once
//! per exemption and threshold (the event id is made of them, and the
//! outbox keeps an id once).

use chrono::NaiveDate;
use gate_notify::{Event, EventKind, Rule};
use serde_json::{Map, Value, json};

use crate::policy::{Exemption, Policy};
use crate::report::{Report, Verdict};

/// The events of one evaluation for `rules`. `evaluation` (unique to this
/// evaluation: the wall-clock time it ran) makes the failure's id, so each
/// evaluation that fails is its own event.
pub fn evaluation_events(
    report: &Report,
    policy: &Policy,
    rules: &[Rule],
    today: NaiveDate,
    run_id: Option<&str>,
    evaluation: &str,
) -> Vec<Event> {
    let mut events = Vec::new();
    if report.verdict == Verdict::Fail {
        let failed: Vec<Value> = report
            .gates
            .iter()
            .flat_map(|g| g.checks.iter().map(move |c| (g, c)))
            .filter(|(_, c)| c.blocking)
            .map(|(g, c)| {
                json!({ "gate": g.name, "id": c.id, "status": c.status.as_str(),
                        "findings": c.findings.len() })
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("policy".into(), json!(report.policy_file));
        fields.insert("failed".into(), json!(failed));
        if let Some(r) = run_id {
            fields.insert("run_id".into(), json!(r));
        }
        events.push(Event::new(
            EventKind::EvaluationFailed,
            &policy.name,
            &[run_id.unwrap_or(""), evaluation],
            &format!(
                "policy `{}` failed: {} blocking check(s)",
                policy.name,
                failed.len()
            ),
            fields,
        ));
    }
    // The thresholds any rule asks about; each rule gets the events of its
    // own thresholds only (they are separate events).
    for rule in rules
        .iter()
        .filter(|r| r.wants(EventKind::ExemptionExpiring))
    {
        for ex in &policy.exemptions {
            if let Some(e) = expiring(policy, ex, rule, today)
                && !events.iter().any(|x| x.id == e.id)
            {
                events.push(e);
            }
        }
    }
    events
}

/// The event for `ex` when it has at most one of `rule`'s thresholds of
/// days left: the smallest threshold it is within, so each threshold is
/// crossed once.
fn expiring(policy: &Policy, ex: &Exemption, rule: &Rule, today: NaiveDate) -> Option<Event> {
    let days_left = (ex.expires - today).num_days();
    if days_left < 0 {
        return None;
    }
    let threshold = rule
        .exemption_days
        .iter()
        .copied()
        .filter(|t| days_left <= i64::from(*t))
        .min()?;
    let expires = ex.expires.to_string();
    let mut fields = Map::new();
    fields.insert("check".into(), json!(ex.check));
    if let Some(m) = &ex.subject_match {
        fields.insert("match".into(), json!(m));
    }
    fields.insert("approved_by".into(), json!(ex.approved_by));
    if let Some(t) = &ex.ticket {
        fields.insert("ticket".into(), json!(t));
    }
    fields.insert("expires".into(), json!(expires));
    fields.insert("days_left".into(), json!(days_left));
    fields.insert("threshold_days".into(), json!(threshold));
    fields.insert("at".into(), json!(ex.origin.to_string()));
    Some(Event::new(
        EventKind::ExemptionExpiring,
        &policy.name,
        &[
            &ex.check,
            ex.subject_match.as_deref().unwrap_or(""),
            &expires,
            &threshold.to_string(),
        ],
        &format!(
            "exemption of `{}` expires on {expires} ({days_left} day(s) left)",
            ex.check
        ),
        fields,
    ))
}
