//! Severity names as policies write them.

use gate_plugin_sdk::Severity;

pub fn parse(name: &str) -> Option<Severity> {
    Some(match name {
        "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}
