//! Writing a project's files: each one atomically, beneath the project
//! directory, never through a symlink (`gate_core::atomic_file`).

use std::path::Path;

use crate::error::DevkitError;

/// Writes `contents` to `dir/rel`, creating its directories.
pub fn write(dir: &Path, rel: &str, contents: &str) -> Result<(), DevkitError> {
    write_bytes(dir, Path::new(rel), contents.as_bytes())
}

/// Writes `bytes` to `dir/rel`, creating its directories.
pub fn write_bytes(dir: &Path, rel: &Path, bytes: &[u8]) -> Result<(), DevkitError> {
    gate_core::atomic_file::write(&dir.join(rel), &[bytes])?;
    Ok(())
}
