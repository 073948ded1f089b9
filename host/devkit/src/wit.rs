//! The WIT a new plugin project is written against, carried in the binary so
//! that `gate plugin new` works offline and pins the version it writes.

use std::path::Path;

use crate::error::DevkitError;

/// The `gate:plugin` version new projects implement: the newest this gate runs.
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

    #[test]
    fn new_projects_get_the_newest_supported_version() {
        assert!(supported(VERSION));
        assert_eq!(
            gate_sandbox::plugin::SUPPORTED_VERSIONS.last(),
            Some(&VERSION)
        );
        assert!(GATE_PLUGIN.contains(&format!("package gate:plugin@{VERSION};")));
        assert_eq!(
            gate_sandbox::plugin::World::PACKAGE,
            format!("gate:plugin@{VERSION}")
        );
    }
}
