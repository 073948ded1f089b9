//! Files: WASI preopens of the granted directories, and the host-side
//! `files` calls (resolve, stat, read), all through the grants opened once per
//! evaluation ([`crate::fs_grants`]): the kernel resolves every path beneath
//! its grant's directory handle, and WASI (cap-std) does the same inside the
//! guest.

use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::{HostState, Sandbox, bounded};
use crate::bindings::gate::plugin::files::{FileStat, Host};
use crate::fs_grants::FsError;
use gate_core::beneath::Kind;

/// Preopens every granted directory under the absolute path its grant names,
/// so the paths `files.resolve` returns open unchanged inside the guest. WASI
/// opens the directory handle gate opened at evaluation start, not the path.
pub fn preopen(builder: &mut WasiCtxBuilder, sandbox: &Sandbox) -> anyhow::Result<()> {
    for (guest, handle, writable) in sandbox.fs.preopens() {
        let perms = if writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder.preopened_dir(handle, guest, perms)?;
    }
    Ok(())
}

impl Sandbox {
    /// The message for a refused or failed file access, naming the plugin,
    /// the path and the grant to add.
    pub fn fs_message(&self, e: &FsError) -> String {
        let p = &self.plugin;
        match e {
            FsError::Ungranted {
                path,
                write,
                suggestion,
            } => {
                let mode = if *write { ":rw" } else { "" };
                self.denied("fs", path, &format!("{}{mode}", suggestion.display()))
            }
            FsError::Escape { path, grant } => format!(
                "plugin `{p}` is not granted `fs` access to `{path}`: it leads outside its grant \
                 `{}` through `..`, a symlink or a /proc magic link, and the kernel refused it; \
                 only what lies beneath a granted directory is reachable (grant the directory it \
                 leads to under [plugin.grants] of the [[plugin]] entry with name = \"{p}\" if it \
                 is meant to be read)",
                grant.display()
            ),
            FsError::Unopened {
                path,
                grant,
                reason,
                ..
            } => format!(
                "plugin `{p}` is not granted `fs` access to `{path}`: its grant `{}` could not be \
                 opened when the evaluation started: {reason}",
                grant.display()
            ),
            other => other.to_string(),
        }
    }

    /// Checks `path` for a plugin's own WASI open; returns the absolute path to open.
    pub fn resolve_path(&self, path: &str, write: bool) -> Result<String, String> {
        self.fs
            .check(path, write)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| self.fs_message(&e))
    }

    /// Runs blocking file-system work on the blocking pool, bounded by
    /// `budget`: a slow or hung file system ends the call with an error at
    /// the check's deadline instead of holding the check.
    pub async fn fs_io<T: Send + 'static>(
        self: &Arc<Self>,
        budget: std::time::Duration,
        what: &str,
        work: impl FnOnce(&Sandbox) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let sandbox = self.clone();
        bounded(budget, what, async move {
            tokio::task::spawn_blocking(move || work(&sandbox))
                .await
                .map_err(|e| format!("file access failed: {e}"))?
        })
        .await
    }

    /// Reads a granted regular file, at most `cap` bytes, within `budget`.
    /// The one reader for files named by plugins: `files.read` and `ca_file`.
    ///
    /// A file on its grant's own local file system is read right here: that
    /// cannot wait on anything but the disk, and handing it to the blocking
    /// pool cost more than the read (two thread wake-ups, about 50 µs a call
    /// on the 2-core build machine). Anything else (a grant on NFS or FUSE, a
    /// mount point beneath the grant) goes to the pool under `budget`.
    pub async fn read_granted(
        self: &Arc<Self>,
        path: &str,
        cap: u64,
        budget: std::time::Duration,
    ) -> Result<Vec<u8>, String> {
        if let Some(got) = self.fs.read_in_place(path, cap) {
            return got.map_err(|e| self.fs_message(&e));
        }
        let owned = path.to_string();
        self.fs_io(budget, path, move |s| {
            s.fs.read(&owned, cap).map_err(|e| s.fs_message(&e))
        })
        .await
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
    let md = sandbox.fs.lstat(path).map_err(|e| sandbox.fs_message(&e))?;
    let kind = match Kind::of_mode(md.mode()) {
        Kind::Symlink => "symlink",
        Kind::Dir => "dir",
        Kind::File => "file",
        _ => "other",
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

impl Host for HostState {
    async fn read(
        &mut self,
        path: String,
        max_bytes: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        // Bounded by the plugin's memory too: the bytes land in its memory.
        let cap = max_bytes.min(self.sandbox.limits.memory_bytes as u64);
        let budget = self.budget(0);
        Ok(self.sandbox.read_granted(&path, cap, budget).await)
    }

    async fn stat(&mut self, path: String) -> wasmtime::Result<Result<FileStat, String>> {
        let budget = self.budget(0);
        let shown = path.clone();
        Ok(self
            .sandbox
            .fs_io(budget, &shown, move |s| stat(s, &path))
            .await)
    }

    async fn resolve(
        &mut self,
        path: String,
        write: bool,
    ) -> wasmtime::Result<Result<String, String>> {
        let budget = self.budget(0);
        let shown = path.clone();
        Ok(self
            .sandbox
            .fs_io(budget, &shown, move |s| s.resolve_path(&path, write))
            .await)
    }
}
