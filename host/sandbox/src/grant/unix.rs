//! `unix` grants: one socket path, or a directory plus a file-name pattern.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::{GrantError, RequestError};
use crate::glob;

/// A socket grant. The socket must sit directly in `dir` (no subdirectory)
/// and its name match `name`, where `*` stays within the one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixGrant {
    /// As written; relative directories resolve against the working directory.
    pub dir: PathBuf,
    pub name: String,
}

impl UnixGrant {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        if text.is_empty() {
            return Err(GrantError::EmptyPath);
        }
        let path = Path::new(text);
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(GrantError::ParentDir);
        }
        let name = match path.components().next_back() {
            Some(Component::Normal(n)) => n.to_str().ok_or(GrantError::NotUtf8)?,
            _ => return Err(GrantError::NoSocketName),
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.to_string_lossy().contains('*') {
            return Err(GrantError::StarInDirectory);
        }
        Ok(UnixGrant {
            dir,
            name: name.to_string(),
        })
    }

    /// The granted directory, lexically absolute.
    pub fn dir_in(&self, cwd: &Path) -> PathBuf {
        normal(&cwd.join(&self.dir))
    }

    /// Whether the socket `name` in directory `dir` (both from
    /// [`lexical_socket_path`]) is inside this grant.
    pub fn allows(&self, cwd: &Path, dir: &Path, name: &str) -> bool {
        self.dir_in(cwd) == dir && glob::matches(&self.name, name)
    }
}

impl fmt::Display for UnixGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dir.join(&self.name).display())
    }
}

/// A requested socket path, made absolute against `cwd` without touching the
/// file system: `(directory, name)`. `..` is refused rather than resolved,
/// because lexical and kernel resolution disagree across symlinks.
pub fn lexical_socket_path(cwd: &Path, requested: &str) -> Result<(PathBuf, String), RequestError> {
    let path = Path::new(requested);
    if requested.is_empty() || path.components().any(|c| c == Component::ParentDir) {
        return Err(RequestError::SocketPath(requested.to_string()));
    }
    let full = normal(&cwd.join(path));
    let name = match full.file_name().and_then(|n| n.to_str()) {
        Some(n) => n.to_string(),
        None => return Err(RequestError::NoSocketName(requested.to_string())),
    };
    let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((dir, name))
}

/// Drops `.` components and repeated separators.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}
