//! The strategy plugin: loaded like any plugin (built-in or pinned by sha256),
//! called with a fresh store per decision. It has no grants: a strategy only
//! decides.

use std::sync::Arc;

use super::spec::{Spec, StrategyRef};
use gate_core::clock::Clock;
use gate_eval::policy::{Grants, Origin, PluginSpec};
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::plugin::call::{with_deadline, within_output_cap};
use gate_sandbox::plugin::{PluginSource, Runtime};

use gate_sandbox::bindings::strategy as wit;
use gate_strategy_protocol::{self as protocol, Decision};

/// Why `decide` gave no usable decision.
#[derive(Debug)]
pub enum DecideError {
    /// The plugin refused the spec or state, trapped, timed out, or did not
    /// answer JSON.
    Plugin(String),
    /// It answered JSON that is not a decision (an unknown action, a missing
    /// field).
    Invalid(String),
}

impl std::fmt::Display for DecideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecideError::Plugin(e) | DecideError::Invalid(e) => f.write_str(e),
        }
    }
}

pub type Decided = Result<Decision, DecideError>;

pub struct StrategyPlugin {
    runtime: Arc<Runtime>,
    pre: wit::StrategyPre<gate_sandbox::capabilities::HostState>,
    sandbox: Arc<Sandbox>,
    pub name: String,
    pub sha256: String,
}

/// The name of the built-in plugin that provides blue-green, canary and rolling.
pub const BUILTIN: &str = "strategies";

/// The state before anything has happened: what `gate rollout --check` shows
/// the plugin.
pub fn starting_state(spec: &Spec) -> protocol::State {
    protocol::State {
        now_ms: 0,
        step: 0,
        step_started_ms: 0,
        memory: serde_json::json!({}),
        candidate_percent: 0,
        health: protocol::Health::default(),
        analysis: spec
            .analysis
            .iter()
            .map(|a| (a.name.clone(), protocol::AnalysisState::default()))
            .collect(),
        approval: None,
        replaced: Vec::new(),
    }
}

impl StrategyPlugin {
    pub fn load(runtime: Arc<Runtime>, spec: &Spec, clock: Clock) -> Result<Self, String> {
        let source = match &spec.strategy {
            StrategyRef::Builtin(_) => {
                let b = gate_sandbox::plugin::strategy(BUILTIN)
                    .ok_or("the built-in strategy plugin is missing from this build")?;
                PluginSource::from_builtin(b)
            }
            StrategyRef::Custom { path, sha256, .. } => PluginSource::resolve(
                &path.display().to_string(),
                Some(&PluginSpec {
                    name: "strategy".into(),
                    path: Some(path.clone()),
                    sha256: Some(sha256.clone()),
                    grants: Grants::default(),
                    origin: Origin {
                        file: spec.file.clone(),
                        line: 1,
                        column: 1,
                    },
                }),
            )
            .map_err(|e| e.to_string())?,
        };
        let (pre, _cache) = runtime.instance_pre(&source).map_err(|e| e.to_string())?;
        let pre = wit::StrategyPre::new(pre).map_err(|e| {
            format!(
                "strategy plugin `{}` is not a gate strategy component: {e:#}",
                source.name
            )
        })?;
        let sandbox = Arc::new(Sandbox::new(
            &source.name,
            Grants::default(),
            &spec.dir,
            clock,
        ));
        Ok(StrategyPlugin {
            runtime,
            pre,
            sandbox,
            name: source.name,
            sha256: source.sha256,
        })
    }

    /// One decision. The spec and state go out, and the decision comes back,
    /// as the protocol's types (plugins/strategy-protocol).
    pub async fn decide(&self, spec: &protocol::Spec, state: &protocol::State) -> Decided {
        let text = self.call(spec, state).await.map_err(DecideError::Plugin)?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            DecideError::Plugin(format!(
                "strategy plugin `{}` returned an action that is not JSON: {e}",
                self.name
            ))
        })?;
        serde_json::from_value(value.clone()).map_err(|e| {
            DecideError::Invalid(format!(
                "strategy plugin `{}` returned an invalid action {value}: {e}",
                self.name
            ))
        })
    }

    /// Calls `decide` in a fresh store. `Err` carries the plugin's own refusal
    /// or a trap/timeout.
    async fn call(&self, spec: &protocol::Spec, state: &protocol::State) -> Result<String, String> {
        let mut store = self
            .runtime
            .new_store(&self.sandbox, "decide")
            .map_err(|e| e.to_string())?;
        let encode = |v: serde_json::Result<String>| v.map_err(|e| e.to_string());
        let (spec, state) = (
            encode(serde_json::to_string(spec))?,
            encode(serde_json::to_string(state))?,
        );
        let what = format!("strategy plugin `{}`: decide()", self.name);
        let out = with_deadline(&mut store, &self.sandbox, &what, async |store| {
            let instance = self.pre.instantiate_async(&mut *store).await?;
            instance.call_decide(store, &spec, &state).await
        })
        .await?;
        let text = out.map_err(|e| format!("strategy plugin `{}` refused: {e}", self.name))?;
        within_output_cap(
            &store,
            &self.sandbox,
            text.len(),
            self.sandbox.limits.output_bytes,
        )?;
        Ok(text)
    }
}
