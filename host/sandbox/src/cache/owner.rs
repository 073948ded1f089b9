//! Ownership checks for the cache directory and the key's directory: a
//! directory that another user owns or can write to could hand gate code to
//! run, so it is not used.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// Creates `dir` (0700) if missing, then checks that it is a real directory
/// (not a symlink), owned by this user, and not writable by group or others.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let meta =
        std::fs::symlink_metadata(dir).map_err(|e| format!("inspecting {}: {e}", dir.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} is a symlink; point gate at the real directory",
            dir.display()
        ));
    }
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    owned_by_me(dir, &meta)?;
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o}); run `chmod go-w {}`",
            dir.display(),
            meta.mode() & 0o777,
            dir.display()
        ));
    }
    Ok(())
}

/// `meta` (of `path`) belongs to the effective user.
pub fn owned_by_me(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "{} is owned by uid {}, not by this user (uid {me})",
            path.display(),
            meta.uid()
        ));
    }
    Ok(())
}

/// `path` (which need not exist yet) lies in `dir` or below it: one of its
/// existing ancestors is the same directory (device and inode) as `dir`.
pub fn is_within(path: &Path, dir: &Path) -> bool {
    let Ok(target) = std::fs::metadata(dir) else {
        return false;
    };
    path.ancestors().any(|a| {
        std::fs::metadata(a).is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
    })
}
