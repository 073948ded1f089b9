//! gate's built-in infrastructure checks (`infra.*`).
//!
//! Each check lives in its own module with its parameters, its pure evaluation
//! logic and its tests; host calls happen only in the module's `Check::run`.
//! Adding a check means adding a module and one line in [`InfraPlugin::checks`].

use gate_plugin_sdk::Check;

pub mod alert_rules;
pub mod alert_thresholds;
pub mod backup;
pub mod certificates;
pub mod db_replicas;
pub mod disk_space;
pub mod drills;
pub mod file_glob;
pub mod firewall;
pub mod haproxy_stats;
pub mod health_checks;
pub mod k8s_limits;
pub mod load_balancer;
pub mod monitoring;
pub mod network;
pub mod promql;
pub mod resource_limits;
pub mod runbooks;
pub mod size;
pub mod tcp_probe;
// New check modules go above this line (`cargo xtask new-check`).

/// The `infra` plugin.
pub struct InfraPlugin;

impl gate_plugin_sdk::Plugin for InfraPlugin {
    const ID: &'static str = "infra";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Infrastructure preflight checks: disk space, health, network, certificates and more";

    fn checks() -> Vec<Box<dyn Check>> {
        vec![
            Box::new(disk_space::DiskSpace),
            Box::new(certificates::Certificates),
            Box::new(network::Network),
            Box::new(firewall::Firewall),
            Box::new(health_checks::HealthChecks),
            Box::new(alert_thresholds::AlertThresholds),
            Box::new(runbooks::Runbooks),
            Box::new(load_balancer::LoadBalancer),
            Box::new(db_replicas::DbReplicas),
            Box::new(monitoring::Monitoring),
            Box::new(backup::Backup),
            Box::new(drills::Drills),
            // New checks go above this line (`cargo xtask new-check`).
            Box::new(resource_limits::ResourceLimits),
        ]
    }
}

gate_plugin_sdk::plugin!(InfraPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use gate_plugin_sdk::Plugin;

    /// Ids in the `infra.` namespace, unique and well-formed; titles, capabilities
    /// and parameters declared (the SDK's catalogue invariants).
    #[test]
    fn check_ids_are_unique_and_namespaced() {
        let info = gate_plugin_sdk::describe::<InfraPlugin>();
        gate_plugin_sdk::testing::assert_catalogue_invariants(&info);
        assert_eq!(info.checks.len(), InfraPlugin::checks().len());
    }

    /// Every check has a docs page that mentions each of its parameters.
    #[test]
    fn every_check_is_documented() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/checks");
        let info = gate_plugin_sdk::describe::<InfraPlugin>();
        gate_plugin_sdk::testing::assert_checks_documented(&info, &docs);
    }
}
