//! `unix`: byte exchange over granted Unix sockets (e.g. HAProxy's admin socket).
//!
//! The requested path is made absolute lexically (`..` refused) and matched
//! against the grants as a directory and a name. Then the granted directory is
//! opened, the socket is opened inside it with `O_PATH | O_NOFOLLOW`, and the
//! connection goes through that descriptor (`/proc/self/fd/N`): a symlink in
//! place of the socket, or a directory swapped after the check, never leads
//! anywhere else.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tokio::net::UnixStream;

use super::{HostState, bounded, exchange::exchange};
use crate::bindings::gate::plugin::net::ExchangeOptions;
use crate::bindings::gate::plugin::unix::Host;
use crate::grant::lexical_socket_path;

/// `open`/`openat` returning an owned descriptor.
fn open_at(dir: Option<&OwnedFd>, path: &[u8], flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| std::io::Error::other("NUL in path"))?;
    let fd = match dir {
        // SAFETY: `c` is a valid C string; the descriptor is owned below.
        Some(d) => unsafe { libc::openat(d.as_raw_fd(), c.as_ptr(), flags) },
        None => unsafe { libc::open(c.as_ptr(), flags) },
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `O_PATH` descriptor of the socket `name` directly inside `dir`, refusing
/// anything that is not a socket (a symlink included: it is not followed).
fn open_socket(dir: &Path, name: &str) -> Result<OwnedFd, String> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    let dir_fd = open_at(None, dir.as_os_str().as_bytes(), flags | libc::O_DIRECTORY)
        .map_err(|e| format!("open {}: {e}", dir.display()))?;
    let sock = open_at(Some(&dir_fd), name.as_bytes(), flags | libc::O_NOFOLLOW)
        .map_err(|e| format!("open {name} in {}: {e}", dir.display()))?;
    // SAFETY: an all-zero `stat` is a valid value to be overwritten by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `sock` is an open descriptor and `st` a valid out-pointer.
    if unsafe { libc::fstat(sock.as_raw_fd(), &mut st) } != 0 {
        return Err(format!("stat {name}: {}", std::io::Error::last_os_error()));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(format!(
            "{}/{name} is not a socket (symlinks are not followed)",
            dir.display()
        ));
    }
    Ok(sock)
}

impl Host for HostState {
    async fn exchange(
        &mut self,
        path: String,
        data: Vec<u8>,
        opts: ExchangeOptions,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let sandbox = &self.sandbox;
        let (dir, name) = match lexical_socket_path(&sandbox.cwd, &path) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if !sandbox
            .grants
            .unix
            .iter()
            .any(|g| g.allows(&sandbox.cwd, &dir, &name))
        {
            let full = dir.join(&name).display().to_string();
            return Ok(Err(sandbox.denied("unix", &path, &full)));
        }
        Ok(bounded(
            self.budget(opts.timeout_ms),
            &format!("exchange over {path}"),
            async {
                let sock = open_socket(&dir, &name)?;
                // The magic link names the opened inode itself, not a path to
                // look up again.
                let via = format!("/proc/self/fd/{}", sock.as_raw_fd());
                let mut s = UnixStream::connect(&via)
                    .await
                    .map_err(|e| format!("connect {path}: {e}"))?;
                drop(sock);
                exchange(&mut s, &data, opts.max_bytes, opts.delimiter.as_deref()).await
            },
        )
        .await)
    }
}
