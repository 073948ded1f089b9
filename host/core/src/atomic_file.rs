//! Durable, atomic file replacement: write a temporary file in the same
//! directory, fsync it, rename it over the target, fsync the directory. A
//! reader (or a process killed mid-way) sees the old file or the new one,
//! never a torn one. Used by the plugin cache and the rollout state.
//!
//! Everything happens beneath a directory handle opened without following a
//! symlink: the temporary file is created `O_EXCL | O_NOFOLLOW`, and the
//! rename replaces whatever entry has the target's name (a symlink planted
//! there is replaced, never written through).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use cap_primitives::fs::{OpenOptions, OpenOptionsExt};

use crate::file_error::FileError;

/// Replaces `path` with the concatenation of `parts`, creating its directory.
pub fn write(path: &Path, parts: &[&[u8]]) -> Result<(), FileError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::create_dir_all(dir).map_err(|e| FileError::io("creating", dir, e))?;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP | libc::ENOTDIR) => FileError::NotRealDirectory(dir.to_path_buf()),
            _ => FileError::io("opening", dir, e),
        })?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| FileError::NoFileName(path.to_path_buf()))?;
    write_in(&handle, dir, name, parts)
}

/// Replaces `name` in the opened directory `dir` (shown as `shown`).
pub fn write_in(dir: &File, shown: &Path, name: &str, parts: &[&[u8]]) -> Result<(), FileError> {
    let tmp = write_tmp(dir, shown, name, parts, Sync::Durable)?;
    rename_over(dir, shown, &tmp, name)?;
    dir.sync_all()
        .map_err(|e| FileError::io("fsync of", shown, e))
}

/// Replaces `name` in the opened directory `dir` atomically but without
/// waiting for the disk: a reader sees the old file or the new one, and
/// after a crash the file may be the old one, or empty. Only for a cache
/// its reader verifies against durable data and rebuilds when it does not
/// match (the audit log's saved state): two fsyncs fewer per write.
pub fn write_cache_in(
    dir: &File,
    shown: &Path,
    name: &str,
    parts: &[&[u8]],
) -> Result<(), FileError> {
    let tmp = write_tmp(dir, shown, name, parts, Sync::Cache)?;
    rename_over(dir, shown, &tmp, name)
}

fn rename_over(dir: &File, shown: &Path, tmp: &str, name: &str) -> Result<(), FileError> {
    cap_primitives::fs::rename(dir, Path::new(tmp), dir, Path::new(name))
        .map_err(|e| FileError::io("renaming over", shown.join(name), e))
}

/// Whether a temporary file is fsynced before it takes its name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    Durable,
    Cache,
}

/// Creates `name` in the opened directory `dir` with the concatenation of
/// `parts`, whole or not at all, unless it exists: false when it did (the
/// existing file is left as it was). The content is written and fsynced
/// under a temporary name first, then hard-linked to `name` (a link never
/// replaces an entry, a symlink included), so two writers racing on one
/// name leave exactly one of them, and a reader never sees a torn file.
pub fn create_new_in(
    dir: &File,
    shown: &Path,
    name: &str,
    parts: &[&[u8]],
) -> Result<bool, FileError> {
    let tmp = write_tmp(dir, shown, name, parts, Sync::Durable)?;
    let linked = cap_primitives::fs::hard_link(dir, Path::new(&tmp), dir, Path::new(name));
    let _ = cap_primitives::fs::remove_file(dir, Path::new(&tmp));
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(FileError::io("creating", shown.join(name), e)),
    }
    dir.sync_all()
        .map_err(|e| FileError::io("fsync of", shown, e))?;
    Ok(true)
}

/// Writes (and, when durable, fsyncs) a temporary file beside `name`;
/// returns its name.
fn write_tmp(
    dir: &File,
    shown: &Path,
    name: &str,
    parts: &[&[u8]],
    sync: Sync,
) -> Result<String, FileError> {
    let tmp = format!(".{name}.tmp-{}", std::process::id());
    let err = |what, e| FileError::io(what, shown.join(&tmp), e);
    // A leftover from a killed run of this same pid would make O_EXCL fail.
    let _ = cap_primitives::fs::remove_file(dir, Path::new(&tmp));
    let mut f = cap_primitives::fs::open(
        dir,
        Path::new(&tmp),
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600),
    )
    .map_err(|e| err("creating", e))?;
    for part in parts {
        f.write_all(part).map_err(|e| err("writing", e))?;
    }
    if sync == Sync::Durable {
        f.sync_all().map_err(|e| err("fsync of", e))?;
    }
    Ok(tmp)
}
