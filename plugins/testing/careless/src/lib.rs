//! Test-only plugin that breaks the rules every plugin keeps, so that
//! `gate plugin test` can be shown to catch each one:
//!
//! * `careless.reach` returns nothing when its params do not parse, and
//!   `pass` when the capability it needs is denied (it assumes the best);
//! * its catalogue entry has no description and a parameter that is not
//!   snake_case.
//!
//! Its one case passes: only the rules find what is wrong.

use gate_plugin_sdk::host::net;
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Plugin, Severity, Status, param};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "Target")]
    target: String,
}

struct Reach;

impl Check for Reach {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: "careless.reach".into(),
            title: "The target accepts connections".into(),
            description: String::new(),
            default_severity: Severity::High,
            params: vec![param("Target", "string", true, "host:port")],
            capabilities: vec!["net".into()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let Ok(p) = serde_json::from_value::<Params>(raw.clone()) else {
            return Vec::new();
        };
        let finding = match net::connect(&p.target, 1000) {
            Ok(c) if c.connected => ctx.finding(&p.target, Status::Pass).message("reachable"),
            Ok(_) => ctx.finding(&p.target, Status::Fail).message("unreachable"),
            Err(_) => ctx
                .finding(&p.target, Status::Pass)
                .message("probably reachable"),
        };
        vec![finding.build()]
    }
}

struct Careless;

impl Plugin for Careless {
    const ID: &'static str = "careless";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test-only plugin that breaks the plugin rules";
    fn checks() -> Vec<Box<dyn Check>> {
        vec![Box::new(Reach)]
    }
}

gate_plugin_sdk::plugin!(Careless);
