//! Writing a project's files beneath the project directory, never through a
//! symlink: a new file is created exclusively (`O_CREAT | O_EXCL`, which
//! refuses any existing entry, a symlink included) with the user's umask;
//! a file the workflow rewrites (the built component, the snippet's pin) is
//! replaced atomically (`gate_core::atomic_file`), keeping its mode.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::DevkitError;

/// Creates `dir/rel` (and its directories) holding `contents`; fails if it exists.
pub fn create(dir: &Path, rel: &str, contents: &str) -> Result<(), DevkitError> {
    let path = dir.join(rel);
    let io = |source| DevkitError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)
}

/// Writes `contents` to `dir/rel`, replacing it atomically.
pub fn write(dir: &Path, rel: &str, contents: &str) -> Result<(), DevkitError> {
    write_bytes(dir, Path::new(rel), contents.as_bytes())
}

/// Writes `bytes` to `dir/rel`, replacing it atomically and keeping the
/// mode of the file it replaces (a new file gets 0644).
pub fn write_bytes(dir: &Path, rel: &Path, bytes: &[u8]) -> Result<(), DevkitError> {
    let path = dir.join(rel);
    let mode = std::fs::symlink_metadata(&path)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0o644, |m| m.permissions().mode() & 0o777);
    gate_core::atomic_file::write(&path, &[bytes])?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| DevkitError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuses_an_existing_entry_even_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path(), "a/b.txt", "one").unwrap();
        assert!(create(dir.path(), "a/b.txt", "two").is_err());
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
        assert!(create(dir.path(), "link", "x").is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a/b.txt")).unwrap(),
            "one"
        );
    }

    #[test]
    fn write_replaces_a_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("out.wasm")).unwrap();
        write(dir.path(), "out.wasm", "new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.wasm")).unwrap(),
            "new"
        );
    }
}
