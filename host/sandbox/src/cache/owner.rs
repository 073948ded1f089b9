//! Where the cache and its key may live: a private directory (created 0700,
//! a real directory owned by this user and not writable by group or others:
//! `gate_core::private_dir`), and a key kept outside the cache directory.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use gate_core::file_error::FileError;
use gate_core::private_dir::PrivateDir;

/// Creates `dir` (0700) if missing, then checks that it is a real directory
/// (not a symlink), owned by this user, and not writable by group or others.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    PrivateDir::open(dir, true).map(drop)
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
