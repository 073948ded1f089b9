//! The strategy plugin: loaded like any plugin (built-in or pinned by sha256),
//! called with a fresh store per decision. It has no grants: a strategy only
//! decides.

use std::sync::Arc;

use super::spec::{Spec, StrategyRef};
use gate_core::clock::Clock;
use gate_eval::policy::{Grants, Origin, PluginSpec};
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::plugin::{PluginSource, Runtime, explain};

use gate_sandbox::bindings::strategy as wit;

pub struct StrategyPlugin {
    runtime: Arc<Runtime>,
    pre: wit::StrategyPre<gate_sandbox::capabilities::HostState>,
    sandbox: Arc<Sandbox>,
    pub name: String,
    pub sha256: String,
}

/// The name of the built-in plugin that provides blue-green, canary and rolling.
pub const BUILTIN: &str = "strategies";

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

    /// One decision. `Err` carries the plugin's own refusal or a trap/timeout.
    pub async fn decide(
        &self,
        spec: &serde_json::Value,
        state: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let mut store = self
            .runtime
            .new_store(&self.sandbox, "decide")
            .map_err(|e| e.to_string())?;
        let (spec, state) = (spec.to_string(), state.to_string());
        let call = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance.call_decide(&mut store, &spec, &state).await
        };
        let timeout = self.sandbox.limits.timeout;
        let out = match tokio::time::timeout(timeout, call).await {
            Err(_) => {
                return Err(format!(
                    "strategy plugin `{}`: decide() timed out after {} ms",
                    self.name,
                    timeout.as_millis()
                ));
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "strategy plugin `{}`: {}",
                    self.name,
                    explain(&e, &self.sandbox)
                ));
            }
            Ok(Ok(out)) => out,
        };
        let text = out.map_err(|e| format!("strategy plugin `{}` refused: {e}", self.name))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "strategy plugin `{}` returned an action that is not JSON: {e}",
                self.name
            )
        })
    }
}
