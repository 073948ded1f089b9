//! Plugins written in Js. (Not written yet: every call says so.)

use std::path::{Path, PathBuf};

use crate::error::DevkitError;
use crate::lang::Toolchain;

pub struct Js;

impl Toolchain for Js {
    fn scaffold(&self, _name: &str, _dir: &Path) -> Result<(), DevkitError> {
        Err(DevkitError::Other(
            "js plugins are not supported yet".into(),
        ))
    }

    fn build(
        &self,
        _project: &Path,
        _log: &mut dyn std::io::Write,
    ) -> Result<PathBuf, DevkitError> {
        Err(DevkitError::Other(
            "js plugins are not supported yet".into(),
        ))
    }
}
