//! Files: WASI preopens of the granted directories, plus a host-side resolve
//! that explains denials. Symlinks are resolved before the grant check, so a
//! link inside a granted directory that points outside it is denied here, and
//! cap-std refuses to follow it inside WASI as well.

use std::path::{Component, Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::{HostState, Sandbox};
use crate::bindings::gate::plugin::files::{FileStat, Host};
use crate::policy::Grants;

/// A granted directory, canonicalised at evaluation start.
#[derive(Clone, Debug)]
pub struct ResolvedFsGrant {
    /// As written in the policy (for messages).
    pub written: PathBuf,
    /// Canonical host path; `None` when it does not exist.
    pub host: Option<PathBuf>,
    pub writable: bool,
}

pub(super) fn resolve_grants(grants: &Grants, cwd: &Path) -> Vec<ResolvedFsGrant> {
    grants
        .fs
        .iter()
        .map(|g| ResolvedFsGrant {
            written: g.path.clone(),
            host: std::fs::canonicalize(cwd.join(&g.path)).ok(),
            writable: g.writable,
        })
        .collect()
}

/// Preopens every granted directory at its canonical host path, so the
/// absolute paths `files.resolve` returns open unchanged inside the guest.
pub fn preopen(builder: &mut WasiCtxBuilder, sandbox: &Sandbox) -> anyhow::Result<()> {
    for g in &sandbox.fs {
        let Some(host) = &g.host else { continue };
        if !host.is_dir() {
            continue;
        }
        let perms = if g.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        let guest = host.to_string_lossy().into_owned();
        builder.preopened_dir(host, guest, perms)?;
    }
    Ok(())
}

/// Removes `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Canonicalises the longest existing ancestor and appends the rest, so paths
/// that do not exist yet are still checked against real (symlink-free) prefixes.
fn canonical(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&existing) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

impl Sandbox {
    /// Checks `path` against the fs grants; returns its canonical absolute form.
    pub fn resolve_path(&self, path: &str, write: bool) -> Result<PathBuf, String> {
        let joined = normalize(&self.cwd.join(path));
        let real = canonical(&joined);
        let ok = self.fs.iter().any(|g| {
            g.host.as_ref().is_some_and(|h| real.starts_with(h)) && (!write || g.writable)
        });
        if ok {
            return Ok(real);
        }
        let shown = if real != joined {
            format!("{path}` (resolves to `{}`)", real.display())
        } else {
            path.to_string()
        };
        let shown = shown.trim_end_matches('`').to_string();
        let dir = if real.is_dir() {
            real.clone()
        } else {
            real.parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| real.clone())
        };
        let suggestion = format!("{}{}", dir.display(), if write { ":rw" } else { "" });
        Err(self.denied("fs", &shown, &suggestion))
    }
}

/// Owner and group names from the host's account databases.
fn name_of(db: &str, id: u32) -> Option<String> {
    let text = std::fs::read_to_string(db).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next();
        (f.next()?.parse::<u32>().ok()? == id).then(|| name.to_string())
    })
}

fn stat(sandbox: &Sandbox, path: &str) -> Result<FileStat, String> {
    use std::os::unix::fs::MetadataExt;
    // The grant check resolves symlinks; the metadata is of the path itself,
    // so a symlink is reported as one.
    sandbox.resolve_path(path, false)?;
    let joined = normalize(&sandbox.cwd.join(path));
    let md = std::fs::symlink_metadata(&joined).map_err(|e| format!("{path}: {e}"))?;
    let ft = md.file_type();
    let kind = if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else {
        "other"
    };
    Ok(FileStat {
        kind: kind.to_string(),
        size: md.len(),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        owner: name_of("/etc/passwd", md.uid()),
        group: name_of("/etc/group", md.gid()),
        modified: md.mtime(),
    })
}

fn read(sandbox: &Sandbox, path: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let real = sandbox.resolve_path(path, false)?;
    let file = std::fs::File::open(&real).map_err(|e| format!("{path}: {e}"))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max_bytes {
        return Err(format!(
            "{path}: {len} bytes exceeds the {max_bytes}-byte limit"
        ));
    }
    let mut buf = Vec::with_capacity(len as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{path}: {e}"))?;
    if buf.len() as u64 > max_bytes {
        return Err(format!("{path}: larger than the {max_bytes}-byte limit"));
    }
    Ok(buf)
}

impl Host for HostState {
    async fn read(
        &mut self,
        path: String,
        max_bytes: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        // Bounded by the plugin's memory too: the bytes land in its memory.
        let cap = max_bytes.min(self.sandbox.limits.memory_bytes as u64);
        Ok(read(&self.sandbox, &path, cap))
    }

    async fn stat(&mut self, path: String) -> wasmtime::Result<Result<FileStat, String>> {
        Ok(stat(&self.sandbox, &path))
    }

    async fn resolve(
        &mut self,
        path: String,
        write: bool,
    ) -> wasmtime::Result<Result<String, String>> {
        Ok(self
            .sandbox
            .resolve_path(&path, write)
            .map(|p| p.to_string_lossy().into_owned()))
    }
}
