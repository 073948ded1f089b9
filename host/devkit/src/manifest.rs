//! `gate-plugin.toml`: what a plugin project is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DevkitError;
use crate::lang::Language;

/// The manifest's file name, at the project's root.
pub const FILE: &str = "gate-plugin.toml";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: the `name` of its `[[plugin]]` block and the
    /// prefix of its check ids (`acme.readme` for `acme`).
    pub name: String,
    pub language: Language,
    /// The `gate:plugin` WIT version the plugin is written against.
    pub wit: String,
    /// Where the built component is written, relative to the project.
    #[serde(default = "default_output")]
    pub output: PathBuf,
    /// The directory of case files `gate plugin test` runs.
    #[serde(default = "default_cases")]
    pub cases: PathBuf,
}

fn default_output() -> PathBuf {
    PathBuf::from("build/plugin.wasm")
}

fn default_cases() -> PathBuf {
    PathBuf::from("cases")
}

impl Manifest {
    /// Reads `DIR/gate-plugin.toml`.
    pub fn load(project: &Path) -> Result<Manifest, DevkitError> {
        let path = project.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| DevkitError::Io {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| DevkitError::Manifest {
            path,
            message: e.to_string(),
        })
    }
}
