//! Why gate refused or failed to use one of its own files or directories
//! (state, locks, event logs, the plugin cache and its key). Every variant
//! names the path; the refusals also say how to fix the directory.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An operation on `path` failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{}: refusing to follow a symlink where gate keeps its own file", .0.display())]
    SymlinkFile(PathBuf),
    #[error(
        "{}: not a directory (a symlink is refused: gate keeps its files only in a real directory)",
        .0.display()
    )]
    NotRealDirectory(PathBuf),
    #[error("{}: not a regular file", .0.display())]
    NotRegularFile(PathBuf),
    #[error("{}: larger than {cap} bytes", path.display())]
    TooLarge { path: PathBuf, cap: u64 },
    #[error("{}: no file name", .0.display())]
    NoFileName(PathBuf),
    #[error(
        "{}: owned by uid {owner}, not by this user (uid {me}); gate keeps its files only where the user owns them",
        path.display()
    )]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{}: writable by group or others (mode {mode:o}); run `chmod go-w {}`",
        path.display(),
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error("{}: readable or writable by others (mode {mode:o}); it must be 0600", path.display())]
    NotPrivate { path: PathBuf, mode: u32 },
}

impl FileError {
    /// `action` (`"creating"`, `"reading"`, …) on `path` failed with `source`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> FileError {
        FileError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// `meta` (of `path`) belongs to the effective user.
pub fn check_owned(path: &std::path::Path, meta: &std::fs::Metadata) -> Result<(), FileError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(FileError::NotOwned {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    Ok(())
}
