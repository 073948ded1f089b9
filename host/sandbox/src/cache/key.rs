//! The per-user secret that seals cache entries.
//!
//! It lives outside the cache directory (`$XDG_CONFIG_HOME/gate/cache.key`,
//! else `~/.config/gate/cache.key`), so a cache directory restored from shared
//! storage (a CI cache, another user's copy) carries entries that this key
//! never sealed: they fail verification and are recompiled. Created on first
//! use: 32 random bytes, mode 0600, never through a symlink, never replacing
//! an existing key.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use gate_core::file_error::{FileError, check_owned};

use super::CacheError;

pub(super) const LEN: usize = 32;

/// The secret. Its bytes never appear in `Debug`, logs or reports.
pub struct CacheKey([u8; LEN]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

impl CacheKey {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `$XDG_CONFIG_HOME/gate/cache.key`, else `~/.config/gate/cache.key`.
    pub fn default_path() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("gate").join("cache.key"))
    }

    /// Reads the key at `path`, creating it first if there is none.
    pub fn load_or_create(path: &Path) -> Result<CacheKey, CacheError> {
        let dir = path
            .parent()
            .ok_or_else(|| FileError::NoFileName(path.to_path_buf()))?;
        super::owner::private_dir(dir)?;
        match read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create(dir, path)?;
                read(path).map_err(|e| FileError::io("reading", path, e))?
            }
            other => other.map_err(|e| FileError::io("reading", path, e))?,
        }
    }
}

/// Opens without following a symlink and checks the file before trusting it.
fn read(path: &Path) -> std::io::Result<Result<CacheKey, CacheError>> {
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
        return Ok(Err(CacheError::KeyLength(path.to_path_buf())));
    }
    Ok(Ok(CacheKey(key)))
}

/// Writes a fresh key beside `path` and links it into place, so a concurrent
/// gate never reads a half-written key and an existing key is never replaced.
fn create(dir: &Path, path: &Path) -> Result<(), CacheError> {
    let mut key = [0u8; LEN];
    fill_random(&mut key).map_err(CacheError::Random)?;
    let tmp = dir.join(format!(".cache.key.{}.tmp", std::process::id()));
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
        .map_err(|e| FileError::io("fsync of", dir, e))?;
    tracing::info!("created the cache key {}", path.display());
    Ok(())
}

fn fill_random(buf: &mut [u8]) -> std::io::Result<()> {
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
        let path = dir.path().join("gate").join("cache.key");
        let first = CacheKey::load_or_create(&path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), LEN as u64);
        let again = CacheKey::load_or_create(&path).unwrap();
        assert_eq!(first.bytes(), again.bytes());
        assert_ne!(first.bytes(), &[0u8; LEN]);
        assert_eq!(format!("{first:?}"), "CacheKey(..)");
    }

    #[test]
    fn a_symlinked_or_shared_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        std::fs::create_dir(&gate).unwrap();
        let elsewhere = dir.path().join("elsewhere.key");
        std::fs::write(&elsewhere, [7u8; LEN]).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = gate.join("cache.key");
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(CacheKey::load_or_create(&path).is_err(), "symlink followed");

        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, [7u8; LEN]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = CacheKey::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("it must be 0600"), "{err}");
    }
}
