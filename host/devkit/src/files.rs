//! Writing a project's files beneath the project directory, never through a
//! symlink: a new file is created exclusively (`O_CREAT | O_EXCL`, which
//! refuses any existing entry, a symlink included) with the user's umask;
//! a file the workflow rewrites (the built component, the snippet's pin) is
//! replaced atomically (`gate_core::atomic_file`), keeping its mode.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use crate::error::DevkitError;

/// One file of a new project: its path relative to the project and its
/// text, in which `{{name}}` stands for the plugin's name and `{{wit}}` for
/// the WIT version.
pub struct Template {
    pub path: &'static str,
    pub text: &'static str,
}

/// `text` with `{{name}}` and `{{wit}}` filled in.
pub fn render(text: &str, name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{wit}}", crate::wit::VERSION)
}

/// Creates every template in `dir`, rendered for plugin `name`.
pub fn create_all(dir: &Path, name: &str, templates: &[Template]) -> Result<(), DevkitError> {
    templates
        .iter()
        .try_for_each(|t| create(dir, t.path, &render(t.text, name)))
}

/// Creates `dir/rel` holding `contents`; fails if it exists. Its parents
/// are created below `dir` one at a time, and a parent that is a symlink or
/// not a directory is refused, so nothing is written outside `dir`.
pub fn create(dir: &Path, rel: &str, contents: &str) -> Result<(), DevkitError> {
    let rel = Path::new(rel);
    let components: Vec<Component> = rel.components().collect();
    let Some((file, parents)) = components.split_last() else {
        return Err(DevkitError::Other(format!(
            "empty path in {}",
            dir.display()
        )));
    };
    let mut parent = dir.to_path_buf();
    for c in parents.iter().chain([file]) {
        if !matches!(c, Component::Normal(_)) {
            return Err(DevkitError::Other(format!(
                "{}: a project file must be a plain relative path",
                rel.display()
            )));
        }
    }
    for c in parents {
        parent.push(c.as_os_str());
        match std::fs::symlink_metadata(&parent) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(DevkitError::Other(format!(
                    "{}: not a directory (a symlink is never followed)",
                    parent.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&parent)
                .map_err(|source| DevkitError::Io {
                    path: parent.clone(),
                    source,
                })?,
            Err(source) => {
                return Err(DevkitError::Io {
                    path: parent.clone(),
                    source,
                });
            }
        }
    }
    let path = parent.join(file.as_os_str());
    let io = |source| DevkitError::Io {
        path: path.clone(),
        source,
    };
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
    fn create_never_writes_through_a_symlinked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("src")).unwrap();
        let e = create(dir.path(), "src/app.py", "x").unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert!(create(dir.path(), "../escape.txt", "x").is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
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
