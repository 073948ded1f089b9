//! A 32-byte per-user secret kept in a file of its own (the plugin cache's
//! sealing key, the audit log's signing key): created on first use from the
//! OS's random source, mode 0600 in a 0700 directory the user owns, never
//! through a symlink and never replacing an existing secret; refused when
//! another user owns it or others may read it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::file_error::{FileError, check_owned};

/// The length of every secret kept this way.
pub const LEN: usize = 32;

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{}: not a {LEN}-byte key; delete it and gate writes a new one", .0.display())]
    Length(PathBuf),
    #[error("no random bytes for a new key: {0}")]
    Random(std::io::Error),
}

/// `$XDG_CONFIG_HOME/gate/NAME`, else `~/.config/gate/NAME`.
pub fn config_path(name: &str) -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("gate").join(name))
}

/// Reads the secret at `path`, creating it (and its directory, 0700) first
/// if there is none.
pub fn load_or_create(path: &Path) -> Result<[u8; LEN], SecretError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::private_dir::PrivateDir::open(dir, true)?;
    match read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create(dir, path)?;
            read(path).map_err(|e| FileError::io("reading", path, e))?
        }
        other => other.map_err(|e| FileError::io("reading", path, e))?,
    }
}

/// Reads the secret at `path` without creating anything.
pub fn load(path: &Path) -> Result<[u8; LEN], SecretError> {
    read(path).map_err(|e| FileError::io("reading", path, e))?
}

/// Opens without following a symlink and checks the file before trusting it.
fn read(path: &Path) -> std::io::Result<Result<[u8; LEN], SecretError>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Err(FileError::NotRegularFile(path.to_path_buf()).into()));
    }
    if let Err(e) = check_owned(path, &meta) {
        return Ok(Err(e.into()));
    }
    if meta.mode() & 0o077 != 0 {
        return Ok(Err(FileError::NotPrivate {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o777,
        }
        .into()));
    }
    let mut key = [0u8; LEN];
    let mut rest = Vec::new();
    file.read_exact(&mut key)?;
    file.take(1).read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Ok(Err(SecretError::Length(path.to_path_buf())));
    }
    Ok(Ok(key))
}

/// Writes a fresh secret beside `path` (`O_EXCL | O_NOFOLLOW`, 0600) and
/// links it into place, so a concurrent gate never reads a half-written
/// secret and an existing one is never replaced.
fn create(dir: &Path, path: &Path) -> Result<(), SecretError> {
    let mut key = [0u8; LEN];
    fill_random(&mut key).map_err(SecretError::Random)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let err = |what, e| FileError::io(what, &tmp, e);
    // A stale temporary from a killed run of this same pid is ours to remove.
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| err("creating", e))?;
    let written = file
        .write_all(&key)
        .and_then(|()| file.sync_all())
        .map_err(|e| err("writing", e));
    drop(file);
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        // Another gate created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(|e| FileError::io("creating", path, e)),
    });
    let _ = std::fs::remove_file(&tmp);
    linked?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FileError::io("fsync of", dir, e).into())
}

/// Fills `buf` from the kernel's random source.
pub fn fill_random(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
            continue;
        }
        filled += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate").join("some.key");
        let first = load_or_create(&path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir_mode = std::fs::metadata(dir.path().join("gate")).unwrap();
        assert_eq!(dir_mode.permissions().mode() & 0o777, 0o700);
        assert_eq!(meta.len(), LEN as u64);
        assert_eq!(load_or_create(&path).unwrap(), first);
        assert_eq!(load(&path).unwrap(), first);
        assert_ne!(first, [0u8; LEN]);
    }

    #[test]
    fn a_symlinked_or_shared_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        std::fs::create_dir(&gate).unwrap();
        let elsewhere = dir.path().join("elsewhere.key");
        std::fs::write(&elsewhere, [7u8; LEN]).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = gate.join("some.key");
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(load_or_create(&path).is_err(), "symlink followed");

        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, [7u8; LEN]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("it must be 0600"), "{err}");
        assert!(load(&dir.path().join("missing")).is_err());
    }
}
