//! A sample event of each kind, with the fields gate fills in, for `gate
//! notify render` (previewing a template) and the default templates'
//! snapshot tests.

use chrono::{TimeZone, Utc};
use serde_json::{Map, Value, json};

use crate::event::{Event, EventKind};

fn fields(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

pub fn event(kind: EventKind) -> Event {
    let time = Utc
        .with_ymd_and_hms(2026, 12, 3, 14, 5, 0)
        .single()
        .unwrap_or_default();
    let rollout = json!({
        "rollout": "web", "strategy": "canary", "stable": "v1.4.2", "candidate": "v1.5.0",
        "spec": "deploy/web.toml", "run_id": "3f0c9a1e", "started_by": "alice",
    });
    let with = |extra: Value| {
        let mut f = fields(rollout.clone());
        f.extend(fields(extra));
        f
    };
    let (subject, summary, f) = match kind {
        EventKind::RolloutStarted => (
            "web",
            "canary rollout of `web`: v1.4.2 → v1.5.0 via haproxy",
            with(json!({})),
        ),
        EventKind::Step => (
            "web",
            "step 2: 50% to the candidate",
            with(
                json!({"step": 2, "candidate_percent": 50, "weights": {"web-blue": 100, "web-green": 100}}),
            ),
        ),
        EventKind::AwaitingApproval => (
            "web",
            "step 2 waits for `gate promote` or `gate approve`",
            with(json!({"step": 2})),
        ),
        EventKind::Promoted => (
            "web",
            "v1.5.0 is promoted: it serves all traffic",
            with(json!({"version": "v1.5.0"})),
        ),
        EventKind::RolledBack => (
            "web",
            "all traffic is on v1.4.2 (4 ms to switch)",
            with(
                json!({"reason": "error-rate: failure 0.0625 over 160 samples (max 0.01)", "switch_ms": 4, "problems": [],
                        "incident": "web-20261203-1"}),
            ),
        ),
        EventKind::AnalysisFailed => (
            "web",
            "error-rate: failure 0.0625 over 160 samples",
            with(json!({"analysis": "error-rate", "step": 2,
                        "measurement": {"result": "failure", "value": 0.0625, "samples": 160}})),
        ),
        EventKind::EvaluationFailed => (
            "production",
            "policy `production` failed: 2 blocking checks",
            fields(
                json!({"policy": "policies/production.toml", "gate": "preflight", "run_id": "ci-4711",
                          "failed": [{"gate": "preflight", "id": "infra.backup", "status": "fail", "findings": 1},
                                     {"gate": "preflight", "id": "security.tls", "status": "error", "findings": 0}]}),
            ),
        ),
        EventKind::ExemptionExpiring => (
            "production",
            "exemption of `security.api-keys-rotated` expires on 2026-12-10 (7 days left)",
            fields(
                json!({"check": "security.api-keys-rotated", "match": "key:legacy-billing",
                          "approved_by": "secops@example.com", "ticket": "SEC-1234",
                          "expires": "2026-12-10", "days_left": 7, "threshold_days": 7,
                          "at": "policies/production.toml:41:1"}),
            ),
        ),
        EventKind::DrillResult => (
            "web",
            "rollback drill: 100% on stable 0.8 s after the forced rollback, 0 failed requests",
            fields(
                json!({"drill": "rollback", "drill_id": "d-20261203-1", "passed": true,
                          "metrics": {"time_to_stable_ms": 812, "time_to_healthy_ms": 1430, "failed_requests": 0},
                          "target": "rollback under 5 minutes"}),
            ),
        ),
    };
    Event::at(time, kind, subject, &["sample"], summary, f)
}
