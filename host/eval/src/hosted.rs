//! Hosted checks: checks that a built-in plugin lists, but that the host runs
//! itself because they combine several plugin kinds or host resources.
//!
//! A hosted check implements [`HostedCheck`] in the layer that owns its logic
//! (`config.migrations-tested` lives in `gate-migrate`) and is registered in a
//! [`HostedChecks`] by the program that assembles the layers (the `gate`
//! CLI). Evaluation appends each one's metadata to its plugin's `describe()`
//! and runs it under that plugin's sandbox (grants and limits), so gates,
//! `[[check]]`, exemptions, `gate checks list` and `gate policy lint` treat it
//! like any other check. The sandbox runtime below knows nothing of them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use gate_sandbox::plugin::{CheckMeta, CheckRun, LoadedPlugin, Runtime};

use crate::policy::Policy;

/// The future a hosted check's run returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckRun> + Send + 'a>>;

/// A check the host runs itself, on behalf of a built-in plugin.
pub trait HostedCheck: Send + Sync {
    /// The built-in plugin whose metadata lists the check and whose sandbox
    /// (grants, limits) it runs under.
    fn plugin(&self) -> &'static str;

    /// Its metadata, as `describe()` would give it; the id is in the plugin's
    /// namespace.
    fn meta(&self) -> CheckMeta;

    /// Fills in params the policy implies where its `[[check]]` leaves them
    /// out (for example from a policy section the check shares with a
    /// command). The default adds nothing.
    fn default_params(&self, _policy: &Policy, _params: &mut Map<String, Value>) {}

    /// Runs the check. Never panics and never fails: every problem becomes
    /// the run's error reason, as for a plugin's check.
    fn run<'a>(
        &'a self,
        runtime: &'a Runtime,
        plugin: &'a LoadedPlugin,
        params: &'a Value,
    ) -> CheckFuture<'a>;
}

/// The hosted checks one program registers.
#[derive(Clone, Default)]
pub struct HostedChecks(Vec<Arc<dyn HostedCheck>>);

impl fmt::Debug for HostedChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|c| c.meta().id))
            .finish()
    }
}

impl HostedChecks {
    /// No hosted checks.
    pub fn none() -> Self {
        HostedChecks::default()
    }

    /// This registry with `check` added.
    pub fn with(mut self, check: impl HostedCheck + 'static) -> Self {
        self.0.push(Arc::new(check));
        self
    }

    /// The metadata of the hosted checks `plugin` provides (built-ins only: an
    /// external plugin that shares a built-in's name gets none).
    pub fn metas(&self, plugin: &str, builtin: bool) -> Vec<CheckMeta> {
        self.0
            .iter()
            .filter(|c| builtin && c.plugin() == plugin)
            .map(|c| c.meta())
            .collect()
    }

    /// The hosted check `id` of `plugin`, if it is one.
    pub fn find(&self, plugin: &LoadedPlugin, id: &str) -> Option<&dyn HostedCheck> {
        self.0
            .iter()
            .find(|c| plugin.builtin && c.plugin() == plugin.name && c.meta().id == id)
            .map(|c| c.as_ref())
    }

    /// The params check `id` runs with: its `[[check]]` params, completed by
    /// the hosted check's [`HostedCheck::default_params`].
    pub fn params(&self, policy: &Policy, id: &str) -> Value {
        let mut params = policy
            .check_config(id)
            .map(|c| c.params.clone())
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let (Some(check), Some(map)) = (
            self.0.iter().find(|c| c.meta().id == id),
            params.as_object_mut(),
        ) {
            check.default_params(policy, map);
        }
        params
    }
}
