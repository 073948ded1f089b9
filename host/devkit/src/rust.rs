//! Plugins written in Rust. (Not written yet: every call says so.)

use std::path::{Path, PathBuf};

use crate::error::DevkitError;
use crate::lang::Toolchain;

pub struct Rust;

impl Toolchain for Rust {
    fn scaffold(&self, _name: &str, _dir: &Path) -> Result<(), DevkitError> {
        Err(DevkitError::Other(
            "rust plugins are not supported yet".into(),
        ))
    }

    fn build(
        &self,
        _project: &Path,
        _log: &mut dyn std::io::Write,
    ) -> Result<PathBuf, DevkitError> {
        Err(DevkitError::Other(
            "rust plugins are not supported yet".into(),
        ))
    }
}
