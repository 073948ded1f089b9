//! The per-user secret that seals cache entries.
//!
//! It lives outside the cache directory (`$XDG_CONFIG_HOME/gate/cache.key`,
//! else `~/.config/gate/cache.key`), so a cache directory restored from shared
//! storage (a CI cache, another user's copy) carries entries that this key
//! never sealed: they fail verification and are recompiled. Created on first
//! use: 32 random bytes, mode 0600, never through a symlink, never replacing
//! an existing key.

use std::path::{Path, PathBuf};

use gate_core::secret_file::{self, LEN};

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
        secret_file::config_path("cache.key")
    }

    /// Reads the key at `path`, creating it first if there is none
    /// ([`gate_core::secret_file`]).
    pub fn load_or_create(path: &Path) -> Result<CacheKey, super::CacheError> {
        Ok(CacheKey(secret_file::load_or_create(path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let key = CacheKey::load_or_create(&dir.path().join("gate").join("cache.key")).unwrap();
        assert_eq!(format!("{key:?}"), "CacheKey(..)");
        assert_ne!(key.bytes(), &[0u8; LEN]);
    }
}
