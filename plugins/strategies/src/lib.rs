//! `gate.strategies`: the built-in deployment strategies (blue-green, canary,
//! rolling) as a `gate:plugin/strategy` component.
//!
//! The decision logic is plain Rust ([`decide`]) so it is unit-tested natively;
//! the WIT glue only exists in the wasm32 build. The plugin keeps no state and
//! never returns `memory`: every answer is a pure function of (spec, state),
//! so the host can resume after a crash at any point. docs/strategy-plugins.md
//! is the contract.

pub mod decide;
pub mod describe;
pub mod model;

pub use model::{Action, Decision, Spec, State};

/// The `decide` export: JSON spec and state in, JSON decision out.
pub fn decide_json(spec: &str, state: &str) -> Result<String, String> {
    let spec: Spec = serde_json::from_str(spec).map_err(|e| format!("spec: {e}"))?;
    let state: State = serde_json::from_str(state).map_err(|e| format!("state: {e}"))?;
    let decision = decide::decide(&spec, &state)?;
    serde_json::to_string(&decision).map_err(|e| format!("serialising the action: {e}"))
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "gate:plugin/strategy",
        generate_all,
    });

    use gate::plugin::types::{CheckInfo, ParamInfo, Severity};

    struct Strategies;

    impl Guest for Strategies {
        fn describe() -> PluginInfo {
            use crate::describe as d;
            PluginInfo {
                id: d::ID.into(),
                version: d::VERSION.into(),
                description: d::DESCRIPTION.into(),
                checks: d::strategies()
                    .into_iter()
                    .map(|s| CheckInfo {
                        id: s.id.into(),
                        title: s.title.into(),
                        description: s.description.into(),
                        default_severity: Severity::Info,
                        params: s
                            .params
                            .into_iter()
                            .map(|p| ParamInfo {
                                name: p.name.into(),
                                kind: p.kind.into(),
                                required: p.required,
                                description: p.description.into(),
                                default: p.default.map(Into::into),
                            })
                            .collect(),
                        capabilities: Vec::new(),
                    })
                    .collect(),
            }
        }

        fn decide(spec: String, state: String) -> Result<String, String> {
            crate::decide_json(&spec, &state)
        }
    }

    export!(Strategies);
}

#[cfg(test)]
mod tests;
