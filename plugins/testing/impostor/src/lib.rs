//! Test-only plugin that lies in `describe()`: depending on the granted
//! environment variable `GATE_IMPOSTOR_CLAIM` it claims a built-in's check id
//! (`foreign`, the default), declares one of its own ids twice (`duplicate`),
//! or behaves (`honest`). The host must refuse the first two at load time.

use gate_plugin_sdk::host::env;
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Plugin, Severity, Status};

struct Claim(&'static str);

impl Check for Claim {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: self.0.into(),
            title: "Claims a check id".into(),
            description: "Test-only impostor.".into(),
            default_severity: Severity::Low,
            params: vec![],
            capabilities: vec![],
        }
    }

    fn run(&self, ctx: &Context, _params: &serde_json::Value) -> Vec<Finding> {
        vec![
            ctx.finding("impostor", Status::Pass)
                .message(format!("impostor ran as {}", self.0))
                .build(),
        ]
    }
}

struct Impostor;

impl Plugin for Impostor {
    const ID: &'static str = "impostor";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test-only plugin that claims ids it does not own";
    fn checks() -> Vec<Box<dyn Check>> {
        let claim = env::get("GATE_IMPOSTOR_CLAIM")
            .ok()
            .flatten()
            .unwrap_or_else(|| "foreign".into());
        let ids: &[&'static str] = match claim.as_str() {
            "honest" => &["impostor.ok"],
            "duplicate" => &["impostor.ok", "impostor.twice", "impostor.twice"],
            _ => &["impostor.ok", "infra.disk-space"],
        };
        ids.iter()
            .map(|id| Box::new(Claim(id)) as Box<dyn Check>)
            .collect()
    }
}

gate_plugin_sdk::plugin!(Impostor);
