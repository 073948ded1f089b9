//! On-disk cache of external plugins' precompiled code.
//!
//! Built-in plugins never come here: their code is precompiled at build time
//! and embedded in the binary (see [`crate::plugin::Builtin::component`]).
//!
//! An entry is native code that runs outside the sandbox, so it is only
//! deserialised after its HMAC-SHA256 seal verifies under a per-user key kept
//! outside the cache directory ([`key`]), and only if the entry itself says it
//! holds this plugin's code (its sha256) for this engine (the compatibility
//! key); see [`entry`]. An entry that fails is recompiled and rewritten. A
//! cache directory that is a symlink, belongs to another user, or is writable
//! by group or others is not used: caching is disabled with one warning and
//! every external plugin is compiled.

mod entry;
mod key;
mod owner;

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wasmtime::Engine;
use wasmtime::Result;
use wasmtime::component::Component;

pub use entry::Rejection;
pub use key::CacheKey;

pub struct Cache {
    dir: Option<PathBuf>,
    engine_key: String,
    key_path: Option<PathBuf>,
    /// The checked directory and the loaded key, or `None` when caching is
    /// disabled or refused. Opened on first use, so a run that loads only
    /// built-ins never touches the cache directory or the key.
    opened: OnceLock<Option<Sealed>>,
}

/// A usable cache: a directory that passed [`owner::private_dir`] and the key.
struct Sealed {
    dir: PathBuf,
    key: CacheKey,
}

/// Where a component's code came from, for tracing, tests and benches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A verified cache entry.
    Hit,
    /// Compiled and stored.
    Miss,
    /// An entry existed but failed verification; recompiled and rewritten.
    Corrupt,
    /// Caching disabled or refused; compiled.
    Disabled,
    /// A built-in's code embedded in the binary at build time.
    Embedded,
    /// A built-in compiled from its embedded wasm, because the embedded code
    /// does not match this engine (Winch, another CPU).
    Compiled,
}

impl Cache {
    /// `dir = None` disables the cache. The key is read from (or created at)
    /// [`CacheKey::default_path`].
    pub fn new(dir: Option<PathBuf>, engine_key: String) -> Self {
        Self::with_key(dir, engine_key, CacheKey::default_path())
    }

    /// As [`Cache::new`], with the key at `key_path` (`None`: no key, so no cache).
    pub fn with_key(dir: Option<PathBuf>, engine_key: String, key_path: Option<PathBuf>) -> Self {
        Cache {
            dir,
            engine_key,
            key_path,
            opened: OnceLock::new(),
        }
    }

    /// The default location: `$GATE_CACHE_DIR`, else `$XDG_CACHE_HOME/gate`, else
    /// `~/.cache/gate`. `GATE_CACHE_DIR=off` disables caching.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("GATE_CACHE_DIR") {
            if dir == "off" {
                return None;
            }
            return Some(PathBuf::from(dir));
        }
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(x).join("gate"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("gate"))
    }

    fn opened(&self) -> Option<&Sealed> {
        self.opened
            .get_or_init(|| {
                let dir = self.dir.clone()?;
                match open(&dir, self.key_path.as_deref()) {
                    Ok(sealed) => Some(sealed),
                    Err(why) => {
                        tracing::warn!("plugin cache disabled: {why}");
                        None
                    }
                }
            })
            .as_ref()
    }

    fn entry_path(dir: &Path, digest: &str, engine_key: &str) -> PathBuf {
        dir.join(format!("{digest}-{engine_key}.cwasm"))
    }

    /// Loads the verified code of the plugin whose sha256 is `digest` (hex),
    /// or compiles `wasm` and stores it sealed.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: &[u8],
    ) -> Result<(Component, CacheOutcome)> {
        let raw_digest = <[u8; 32]>::try_from(hex::decode(digest).unwrap_or_default()).ok();
        let (Some(sealed), Some(raw_digest)) = (self.opened(), raw_digest) else {
            return Ok((Component::new(engine, wasm)?, CacheOutcome::Disabled));
        };
        let binding = entry::Binding {
            digest: &raw_digest,
            engine: &self.engine_key,
        };
        let path = Self::entry_path(&sealed.dir, digest, &self.engine_key);
        let mut outcome = CacheOutcome::Miss;
        let t = std::time::Instant::now();
        match read_entry(&path) {
            Ok(Some(bytes)) => {
                let read = t.elapsed();
                let verified = entry::open(&sealed.key, binding, &bytes);
                tracing::trace!(
                    read_ms = read.as_secs_f64() * 1e3,
                    verify_ms = (t.elapsed() - read).as_secs_f64() * 1e3,
                    "cache entry read"
                );
                match verified {
                    // SAFETY: the seal verified under this user's key, so
                    // this user's gate wrote these bytes from wasmtime's own
                    // output for this plugin and this engine; wasmtime
                    // re-checks its header against the engine too.
                    Ok(payload) => match unsafe { Component::deserialize(engine, payload) } {
                        Ok(c) => return Ok((c, CacheOutcome::Hit)),
                        Err(e) => {
                            tracing::warn!(
                                "cache entry {} rejected by wasmtime: {e:#}; recompiling",
                                path.display()
                            );
                            outcome = CacheOutcome::Corrupt;
                        }
                    },
                    Err(why) => {
                        tracing::warn!(
                            "cache entry {} is corrupt or not ours: {why}; recompiling",
                            path.display()
                        );
                        outcome = CacheOutcome::Corrupt;
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("cache entry {} unusable: {e}; recompiling", path.display());
                outcome = CacheOutcome::Corrupt;
            }
        }
        let component = Component::new(engine, wasm)?;
        let payload = component.serialize()?;
        let head = entry::seal(&sealed.key, binding, &payload);
        if let Err(e) = gate_core::atomic_file::write(&path, &[&head, &payload]) {
            // A read-only or full cache directory must not fail the evaluation.
            tracing::warn!("could not write cache entry {}: {e:#}", path.display());
        }
        Ok((component, outcome))
    }
}

/// Checks the directory and loads the key; the reason when either is unusable.
fn open(dir: &Path, key_path: Option<&Path>) -> Result<Sealed, CacheError> {
    let key_path = key_path.ok_or(CacheError::NoKeyLocation)?;
    owner::private_dir(dir)?;
    // A key inside the cache directory would travel with it into shared
    // storage, and with it the power to seal entries. Compared by inode, so
    // neither symlinks nor `..` in either path hide it.
    if owner::is_within(key_path, dir) {
        return Err(CacheError::KeyInsideCache {
            key: key_path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    let key = CacheKey::load_or_create(key_path)?;
    Ok(Sealed {
        dir: dir.to_path_buf(),
        key,
    })
}

/// The entry's bytes, `None` if there is none. Never follows a symlink and
/// never blocks on a FIFO: only a regular file is read.
fn read_entry(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Why the cache cannot be used (caching is then disabled with a warning).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("no key location ($XDG_CONFIG_HOME and $HOME are unset)")]
    NoKeyLocation,
    #[error(transparent)]
    File(#[from] gate_core::file_error::FileError),
    #[error("the cache key {} is inside the cache directory {}", key.display(), dir.display())]
    KeyInsideCache {
        key: std::path::PathBuf,
        dir: std::path::PathBuf,
    },
    #[error(transparent)]
    Key(#[from] gate_core::secret_file::SecretError),
}

#[cfg(test)]
mod tests;
