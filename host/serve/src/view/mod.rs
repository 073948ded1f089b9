//! What the pages and the API show, read from the deployment record: each
//! submodule gathers one subject into typed, serialisable data that the JSON
//! API returns as is and the templates render.

pub mod audit;
pub mod evaluations;
pub mod exemptions;
pub mod migrations;
pub mod rollouts;

/// Masks anything that looks like a secret in every text of a JSON value
/// (the same `scrub` the audit log applies to its entries).
pub fn scrub(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = gate_redact::scrub(s),
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}
