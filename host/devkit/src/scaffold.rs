//! Writing a new project: one file at a time, never over anything that is
//! already there and never through a symlink, with the plugin's name filled
//! into the templates.

use std::io::Write;
use std::path::{Component, Path};

use crate::error::DevkitError;

/// One file of a new project: its path relative to the project and its
/// text, in which `{{name}}` stands for the plugin's name and `{{wit}}` for
/// the WIT version.
pub struct Template {
    pub path: &'static str,
    pub text: &'static str,
}

/// Checks that `name` can name a plugin (the `name` of its `[[plugin]]`
/// block and the prefix of its check ids).
pub fn check_name(name: &str) -> Result<(), DevkitError> {
    if gate_sandbox::ids::is_plugin_name(name) {
        return Ok(());
    }
    Err(DevkitError::Other(format!(
        "`{name}` cannot name a plugin: use lower-case kebab-case starting with a letter, e.g. `acme-checks`"
    )))
}

/// Creates `dir` if needed and checks that it is an empty directory.
pub fn empty_dir(dir: &Path) -> Result<(), DevkitError> {
    let io = |source| DevkitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
            return Err(DevkitError::Other(format!(
                "{}: not a directory (a new project goes into a new or empty directory)",
                dir.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)?
        }
        Err(e) => return Err(io(e)),
    }
    if std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(DevkitError::Other(format!(
            "{}: not empty; a new project goes into a new or empty directory",
            dir.display()
        )));
    }
    Ok(())
}

/// `text` with `{{name}}` and `{{wit}}` filled in.
pub fn render(text: &str, name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{wit}}", crate::wit::VERSION)
}

/// Writes every template into `dir` (which [`empty_dir`] has checked).
pub fn write_all(dir: &Path, name: &str, templates: &[Template]) -> Result<(), DevkitError> {
    for t in templates {
        write_new(dir, t.path, render(t.text, name).as_bytes())?;
    }
    Ok(())
}

/// Creates `dir/relative` with `contents`. The file must not exist yet
/// (`O_CREAT | O_EXCL`, which also refuses a symlink in its place), and its
/// parents are created below `dir` one at a time, refusing symlinks.
pub fn write_new(dir: &Path, relative: &str, contents: &[u8]) -> Result<(), DevkitError> {
    let relative = Path::new(relative);
    let mut parent = dir.to_path_buf();
    let components: Vec<Component> = relative.components().collect();
    let Some((file, parents)) = components.split_last() else {
        return Err(DevkitError::Other(format!(
            "empty path in {}",
            dir.display()
        )));
    };
    for c in parents {
        let Component::Normal(part) = c else {
            return Err(DevkitError::Other(format!(
                "{}: a project file must be a plain relative path",
                relative.display()
            )));
        };
        parent.push(part);
        match std::fs::symlink_metadata(&parent) {
            Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => {}
            Ok(_) => {
                return Err(DevkitError::Other(format!(
                    "{}: not a directory",
                    parent.display()
                )));
            }
            Err(_) => std::fs::create_dir(&parent).map_err(|source| DevkitError::Io {
                path: parent.clone(),
                source,
            })?,
        }
    }
    let path = parent.join(file.as_os_str());
    let io = |source| DevkitError::Io {
        path: path.clone(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io)?;
    f.write_all(contents).map_err(io)
}
