//! Durable, atomic file replacement: write a temporary file in the same
//! directory, fsync it, rename it over the target, fsync the directory. A
//! reader (or a process killed mid-way) sees the old file or the new one,
//! never a torn one. Used by the plugin cache and the rollout state.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with the concatenation of `parts`.
pub fn write(path: &Path, parts: &[&[u8]]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let err = |what: &str, e: std::io::Error| format!("{what} {}: {e}", tmp.display());
    let mut f = File::create(&tmp).map_err(|e| err("creating", e))?;
    for part in parts {
        f.write_all(part).map_err(|e| err("writing", e))?;
    }
    f.sync_all().map_err(|e| err("fsync of", e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| format!("renaming over {}: {e}", path.display()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("fsync of {}: {e}", dir.display()))
}
