//! The WIT a new plugin project is written against, carried in the binary so
//! that `gate plugin new` works offline and pins the version it writes.

use std::path::Path;

use crate::error::DevkitError;

/// The `gate:plugin` version new projects implement.
pub const VERSION: &str = "0.1.0";

/// `wit/gate-plugin.wit` at [`VERSION`].
pub const GATE_PLUGIN: &str = include_str!("../../../wit/gate-plugin.wit");

/// Writes the WIT into `dir/wit/gate-plugin.wit`.
pub fn write_into(dir: &Path) -> Result<(), DevkitError> {
    let wit_dir = dir.join("wit");
    std::fs::create_dir_all(&wit_dir).map_err(|source| DevkitError::Io {
        path: wit_dir.clone(),
        source,
    })?;
    let path = wit_dir.join("gate-plugin.wit");
    std::fs::write(&path, GATE_PLUGIN).map_err(|source| DevkitError::Io { path, source })
}
