use gate_plugin_sdk::Status;
use serde_json::json;

use super::*;
use crate::testutil::{Sandbox, all_text, ctx, evidence, statuses};

const NOW: &str = "2025-06-30T12:00:00Z";

fn now() -> i64 {
    parse_timestamp(NOW).unwrap()
}

fn check(sb: &Sandbox, params: serde_json::Value) -> Vec<Finding> {
    match params::parse::<Params>(&ctx(ID), &params) {
        Ok(p) => evaluate(&ctx(ID), &p, now(), &sb.grants()),
        Err(f) => f,
    }
}

const INVENTORY: &str = r#"# Key inventory, maintained by the platform team.
[[key]]
id = "stripe-live"
owner = "payments"
created = 2023-01-10
rotated_at = 2025-05-01T09:30:00Z
secret = "sk_live_51HxQ2vKZ3exampleexampleexample"

[[key]]
id = "legacy-billing"
owner = "billing"
created = "2024-01-15"

[[key]]
id = "partner-api"
owner = "integrations"
rotated_at = "2025-06-01"
expires = "2025-06-15"

[[key]]
id = "github-deploy"
owner = "platform"
rotated_at = "2025-04-10"
"#;

#[test]
fn ages_expiry_and_subjects() {
    let sb = Sandbox::new();
    sb.write("keys.toml", INVENTORY);
    let out = check(
        &sb,
        json!({"inventory": "keys.toml", "max_age_days": 90, "warn_days": 14}),
    );
    assert_eq!(
        statuses(&out),
        [Status::Pass, Status::Fail, Status::Fail, Status::Warn],
        "{out:#?}"
    );
    assert_eq!(out[0].subject, "key:stripe-live");
    assert_eq!(evidence(&out[0], "age_days"), Some("60"));
    assert_eq!(evidence(&out[0], "rotated_at"), Some("2025-05-01"));
    assert_eq!(out[0].location.as_ref().unwrap().line, Some(3));

    let legacy = &out[1];
    assert_eq!(legacy.subject, "key:legacy-billing");
    assert_eq!(legacy.rule.as_deref(), Some("max-age"));
    assert_eq!(evidence(legacy, "age_days"), Some("532"));
    assert_eq!(evidence(legacy, "created"), Some("2024-01-15"));
    assert_eq!(evidence(legacy, "owner"), Some("billing"));
    assert!(
        legacy.message.contains("532 days ago"),
        "{}",
        legacy.message
    );

    assert_eq!(out[2].rule.as_deref(), Some("expired"));
    assert!(out[2].message.contains("expired on 2025-06-15"));
    // 81 days old, 9 days before the 90-day limit.
    assert!(out[3].message.contains("in 9 days"), "{}", out[3].message);
    for f in &out {
        assert!(
            !all_text(f).contains("sk_live"),
            "key material leaked: {f:#?}"
        );
    }
}

#[test]
fn per_key_limits_json_and_yaml() {
    let sb = Sandbox::new();
    sb.write(
        "keys.json",
        r#"{"keys": [{"id": "short-lived", "rotated_at": "2025-06-01", "max_age_days": 7, "value": "hunter2hunter2"}]}"#,
    );
    let out = check(&sb, json!({"inventory": "keys.json", "max_age_days": 365}));
    assert_eq!(statuses(&out), [Status::Fail]);
    assert_eq!(evidence(&out[0], "max_age_days"), Some("7"));
    assert!(!all_text(&out[0]).contains("hunter2"));

    sb.write(
        "keys.yaml",
        "key:\n  - id: ci-token\n    created: 2025-06-29\n  - id: old\n    rotated_at: 2020-01-01T00:00:00+02:00\n",
    );
    let out = check(&sb, json!({"inventory": "keys.yaml", "max_age_days": 30}));
    assert_eq!(statuses(&out), [Status::Pass, Status::Fail]);
    assert_eq!(out[1].location.as_ref().unwrap().line, Some(4));
}

#[test]
fn missing_or_broken_dates_are_errors_for_that_key() {
    let sb = Sandbox::new();
    sb.write(
        "keys.toml",
        "[[key]]\nid = \"no-dates\"\nowner = \"x\"\n\n[[key]]\nid = \"bad\"\nrotated_at = \"last tuesday\"\n\n\
         [[key]]\nowner = \"anonymous\"\ncreated = \"2025-01-01\"\n\n[[key]]\nid = \"future\"\nrotated_at = \"2026-01-01\"\n\n\
         [[key]]\nid = \"dup\"\ncreated = \"2025-06-01\"\n\n[[key]]\nid = \"dup\"\ncreated = \"2025-06-02\"\n\n\
         [[key]]\nid = \"ok\"\ncreated = \"2025-06-01\"\n",
    );
    let out = check(&sb, json!({"inventory": "keys.toml", "max_age_days": 90}));
    assert_eq!(
        statuses(&out),
        [
            Status::Error,
            Status::Error,
            Status::Error,
            Status::Error,
            Status::Error,
            Status::Error,
            Status::Pass
        ],
        "{out:#?}"
    );
    assert!(
        out[0]
            .message
            .contains("neither `rotated_at` nor `created`")
    );
    assert!(out[1].message.contains("last tuesday"));
    assert_eq!(out[2].subject, "key:#3");
    assert!(out[3].message.contains("in the future"));
    assert!(out[4].message.contains("more than once"));
}

#[test]
fn cannot_see_the_inventory() {
    let sb = Sandbox::new();
    let out = check(
        &sb,
        json!({"inventory": "missing.toml", "max_age_days": 90}),
    );
    assert_eq!(statuses(&out), [Status::Error]);

    sb.write("empty.toml", "# nothing yet\n");
    let out = check(&sb, json!({"inventory": "empty.toml", "max_age_days": 90}));
    assert_eq!(statuses(&out), [Status::Error]);
    assert!(out[0].message.contains("no keys"));

    sb.write("broken.json", "{\"keys\": [");
    let out = check(&sb, json!({"inventory": "broken.json", "max_age_days": 90}));
    assert_eq!(statuses(&out), [Status::Error]);
    assert!(out[0].message.contains("not valid JSON"));
}

#[test]
fn bad_params() {
    let sb = Sandbox::new();
    let out = check(
        &sb,
        json!({"inventory": "keys.ini", "max_age_days": 0, "warn_days": -1}),
    );
    assert_eq!(out.len(), 1);
    for part in ["max_age_days", "warn_days", "keys.ini"] {
        assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
    }
    let out = check(&sb, json!({"inventory": "keys.toml"}));
    assert!(out[0].message.contains("max_age_days"));
}

#[test]
fn civil_dates_round_trip() {
    for d in ["1970-01-01", "2000-02-29", "2024-12-31", "1969-07-20"] {
        assert_eq!(day(parse_timestamp(d).unwrap()), d);
    }
}
