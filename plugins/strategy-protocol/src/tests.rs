//! The serialised forms are the documented JSON of docs/strategy-plugins.md,
//! field for field, and what a plugin in another language writes parses.

use serde_json::{Value, json};

use super::*;

fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    documented: Value,
) {
    let parsed: T = serde_json::from_value(documented.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), documented);
}

#[test]
fn spec_is_the_documented_json() {
    let documented = json!({
        "name": "web",
        "strategy": "blue-green",
        "stable":    { "servers": ["blue1"],  "version": "v1" },
        "candidate": { "servers": ["green1"], "version": "v2" },
        "blue_green": { "pause_ms": 0, "until_approved": false,
                        "pre_promotion_analysis": ["smoke"], "post_promotion_analysis": ["error-rate"],
                        "post_promotion_ms": 10000 },
        "analysis": [
            { "name": "error-rate", "interval_ms": 5000, "failure_limit": 1,
              "inconclusive_limit": 0, "consecutive_error_limit": 4, "min_samples": 100 }
        ]
    });
    round_trip::<Spec>(documented);
    round_trip::<Spec>(json!({
        "name": "web", "strategy": "canary",
        "stable": { "servers": ["blue1"] }, "candidate": { "servers": ["green1"] },
        "canary": { "steps": [1, 10, 50, 100], "pause_ms": 30000, "until_approved": false },
        "analysis": []
    }));
    round_trip::<Spec>(json!({
        "name": "web", "strategy": "rolling",
        "stable": { "servers": [] }, "candidate": { "servers": [], "version": "v2" },
        "rolling": { "servers": ["web1", "web2", "web3"], "pause_ms": 0, "until_approved": false },
        "analysis": []
    }));
}

#[test]
fn state_is_the_documented_json() {
    round_trip::<State>(json!({
        "now_ms": 41200,
        "step": 2,
        "step_started_ms": 36000,
        "memory": {},
        "candidate_percent": 10,
        "health": { "candidate": "healthy", "failing": [] },
        "analysis": {
            "error-rate": { "measurements": [
                { "at_ms": 41000, "result": "success", "value": 0.002, "samples": 180 },
                { "at_ms": 41500, "result": "error", "samples": 0, "message": "Prometheus down" }
            ] }
        },
        "approval": null,
        "replaced": []
    }));
    round_trip::<State>(json!({
        "now_ms": 1, "step": 1, "step_started_ms": 0, "memory": { "k": 1 },
        "candidate_percent": 0,
        "health": { "candidate": "unhealthy", "failing": ["web1"] },
        "analysis": {},
        "approval": { "by": "alice", "at": "2026-11-26T23:00:00Z" },
        "replaced": ["web1"]
    }));
}

#[test]
fn every_action_is_the_documented_json() {
    let documented = [
        json!({"action": "set-weights", "candidate_percent": 10, "step": 2,
               "reason": "step 2/4: 10% to candidate (step 1 passed)"}),
        json!({"action": "wait", "ms": 500}),
        json!({"action": "analyse", "names": ["error-rate"], "reason": "measuring"}),
        json!({"action": "await-approval"}),
        json!({"action": "replace", "server": "web1", "step": 1}),
        json!({"action": "promote", "reason": "done", "memory": {"n": 3}}),
        json!({"action": "rollback", "reason": "bad"}),
        json!({"action": "done"}),
    ];
    for d in documented {
        round_trip::<Decision>(d);
    }
    let d = Decision::new(
        Action::SetWeights {
            candidate_percent: 10,
            step: 2,
        },
        "r",
    );
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({"action": "set-weights", "candidate_percent": 10, "step": 2, "reason": "r"})
    );
    assert_eq!(d.action.name(), "set-weights");
}

/// What another plugin may leave out or add still parses, with the host's defaults.
#[test]
fn lenient_where_the_contract_allows() {
    let d: Decision = serde_json::from_value(json!({"action": "analyze", "extra": 1})).unwrap();
    assert_eq!(d.action, Action::Analyse { names: vec![] });
    assert_eq!(d.reason, "");
    let d: Decision = serde_json::from_value(json!({"action": "wait"})).unwrap();
    assert_eq!(d.action, Action::Wait { ms: 1000 });
    let s: State = serde_json::from_value(json!({"now_ms": 5})).unwrap();
    assert_eq!(s.memory, json!({}));
    assert_eq!(s.health.candidate, HealthStatus::Unknown);
    let err = serde_json::from_value::<Decision>(json!({"action": "teleport"})).unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `teleport`"),
        "{err}"
    );
}
