//! gate's built-in configuration checks (`config.*`).
//!
//! Each check lives in its own module with its parameters, its pure evaluation
//! logic and its tests; host calls happen only in the module's `Check::run`.
//! Adding a check means adding a module and one line in [`ConfigPlugin::checks`].

use gate_plugin_sdk::Check;

pub mod assertions;
pub mod cache;
pub mod date;
pub mod env_vars;
pub mod error_handling;
pub mod feature_flags;
pub mod http_probe;
pub mod logging_levels;
pub mod metrics;
pub mod nginx;
pub mod prometheus;
pub mod rate_limits;
pub mod resp;
pub mod source;
pub mod traces;
// New check modules go above this line (`cargo xtask new-check`).

/// The `config` plugin.
pub struct ConfigPlugin;

impl gate_plugin_sdk::Plugin for ConfigPlugin {
    const ID: &'static str = "config";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Configuration preflight checks: environment variables, logging levels, feature flags and more";

    fn checks() -> Vec<Box<dyn Check>> {
        vec![
            Box::new(env_vars::EnvVars),
            Box::new(logging_levels::LoggingLevels),
            Box::new(feature_flags::FeatureFlags),
            Box::new(cache::Cache),
            Box::new(metrics::Metrics),
            Box::new(error_handling::ErrorHandling),
            Box::new(rate_limits::RateLimits),
            // New checks go above this line (`cargo xtask new-check`).
        ]
    }
}

gate_plugin_sdk::plugin!(ConfigPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use gate_plugin_sdk::Plugin;

    /// Ids in the `config.` namespace, unique and well-formed; titles, capabilities
    /// and parameters declared (the SDK's catalogue invariants).
    #[test]
    fn check_ids_are_unique_and_namespaced() {
        let info = gate_plugin_sdk::describe::<ConfigPlugin>();
        gate_plugin_sdk::testing::assert_catalogue_invariants(&info);
        assert_eq!(info.checks.len(), ConfigPlugin::checks().len());
    }

    /// Every check has a docs page that mentions each of its parameters.
    #[test]
    fn every_check_is_documented() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/checks");
        let info = gate_plugin_sdk::describe::<ConfigPlugin>();
        gate_plugin_sdk::testing::assert_checks_documented(&info, &docs);
    }

    #[test]
    fn unknown_check_is_an_error() {
        let out = gate_plugin_sdk::run::<ConfigPlugin>(gate_plugin_sdk::CheckRequest {
            check: "config.nope".to_string(),
            params: "{}".to_string(),
            cwd: "/".to_string(),
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, gate_plugin_sdk::Status::Error);
    }
}
