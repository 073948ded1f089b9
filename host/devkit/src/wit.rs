//! The WIT a new plugin project is written against, carried in the binary so
//! that `gate plugin new` works offline and pins the version it writes.

use std::path::Path;

use crate::error::DevkitError;

/// The `gate:plugin` version new projects implement: the newest this gate
/// runs that adds anything a plugin project can use.
pub const VERSION: &str = "0.1.1";

/// `wit/v0.1.1/gate-plugin.wit`, frozen.
pub const GATE_PLUGIN: &str = include_str!("../../../wit/v0.1.1/gate-plugin.wit");

/// Writes the WIT into `dir/wit/gate-plugin.wit`.
pub fn write_into(dir: &Path) -> Result<(), DevkitError> {
    crate::files::create(dir, "wit/gate-plugin.wit", GATE_PLUGIN)
}

/// Whether this gate runs components built against `gate:plugin@version`.
pub fn supported(version: &str) -> bool {
    gate_sandbox::plugin::SUPPORTED_VERSIONS.contains(&version)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Versions newer than [`VERSION`] that this gate runs, and why projects
    /// are not written against them: each adds only a world that plugins
    /// from files do not implement.
    const NOT_FOR_PROJECTS: &[(&str, &str)] = &[(
        "0.1.2",
        "adds `migration-validator-in-parts`, for gate's built-in validator \
         (validators are not loaded from files)",
    )];

    #[test]
    fn new_projects_get_the_newest_supported_version_a_project_can_use() {
        assert!(supported(VERSION));
        // Every version this gate runs beyond VERSION is one that adds
        // nothing for projects, and says why.
        let versions = gate_sandbox::plugin::SUPPORTED_VERSIONS;
        let at = versions.iter().position(|v| *v == VERSION).unwrap();
        let newer: Vec<&str> = versions[at + 1..].to_vec();
        let listed: Vec<&str> = NOT_FOR_PROJECTS.iter().map(|(v, _)| *v).collect();
        assert_eq!(newer, listed);
        assert!(GATE_PLUGIN.contains(&format!("package gate:plugin@{VERSION};")));
        assert_eq!(
            gate_sandbox::plugin::World::PACKAGE,
            format!("gate:plugin@{VERSION}")
        );
    }
}
