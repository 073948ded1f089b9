//! The languages a plugin can be written in, and what each must provide.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DevkitError;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Language {
    Rust,
    Python,
    Js,
}

/// One language's part of the workflow. Everything else (digests, world and
/// WIT version checks, case files, inspection) is shared.
pub trait Toolchain {
    /// Writes a new project for plugin `name` into the empty directory
    /// `dir`: the manifest, one example check, a README, a case file and a
    /// policy snippet. It builds and its cases pass as written.
    fn scaffold(&self, name: &str, dir: &Path) -> Result<(), DevkitError>;

    /// Builds the project's component and returns the path of the `.wasm`
    /// (the manifest's `output`). Build tools' output goes to `log`.
    fn build(&self, project: &Path, log: &mut dyn std::io::Write) -> Result<PathBuf, DevkitError>;
}

/// The toolchain for `language`.
pub fn toolchain(language: Language) -> &'static dyn Toolchain {
    match language {
        Language::Rust => &crate::rust::Rust,
        Language::Python => &crate::python::Python,
        Language::Js => &crate::js::Js,
    }
}
