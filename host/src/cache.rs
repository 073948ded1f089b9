//! On-disk cache of precompiled plugins.
//!
//! An entry is keyed by the plugin's sha256 and the engine's compatibility hash,
//! so a wasmtime upgrade or a different CPU never reuses stale code. Each entry
//! carries a 128-bit xxh3 checksum of its own payload; a truncated or corrupted entry fails
//! that check and is recompiled instead of being handed to `deserialize`,
//! which must only ever see bytes that wasmtime itself produced.

use std::fs;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::Result;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"GATECW02";
/// Length of the checksum that follows the magic.
const SUM: usize = 16;

/// Detects accidental corruption (truncation, bit flips, a half-written file);
/// the cache directory is the user's own, so this is not a tamper seal. xxh3 runs
/// at memory speed, which keeps warm start-up in the low milliseconds even for
/// multi-megabyte components.
fn checksum(payload: &[u8]) -> [u8; SUM] {
    xxhash_rust::xxh3::xxh3_128(payload).to_le_bytes()
}

pub struct Cache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// Where a component came from, for tracing and benches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    /// Compiled and stored.
    Miss,
    /// An entry existed but failed verification; recompiled.
    Corrupt,
    /// Caching disabled.
    Disabled,
}

impl Cache {
    /// `dir = None` disables the cache.
    pub fn new(dir: Option<PathBuf>, engine_key: String) -> Self {
        Cache { dir, engine_key }
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

    pub fn entry_path(&self, digest: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// Loads `digest`'s precompiled code, or compiles `wasm` and stores it.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: &[u8],
    ) -> Result<(Component, CacheOutcome)> {
        let Some(path) = self.entry_path(digest) else {
            return Ok((Component::new(engine, wasm)?, CacheOutcome::Disabled));
        };
        let mut outcome = CacheOutcome::Miss;
        let t = std::time::Instant::now();
        if let Ok(bytes) = fs::read(&path) {
            let read = t.elapsed();
            let verified = verified_payload(&bytes);
            tracing::trace!(
                read_ms = read.as_secs_f64() * 1e3,
                verify_ms = (t.elapsed() - read).as_secs_f64() * 1e3,
                "cache entry read"
            );
            match verified {
                // SAFETY: the payload's checksum matches the one written next to
                // it when wasmtime produced it, and the key includes the engine's
                // compatibility hash; wasmtime re-checks its own header too.
                Some(payload) => match unsafe { Component::deserialize(engine, payload) } {
                    Ok(c) => return Ok((c, CacheOutcome::Hit)),
                    Err(e) => {
                        tracing::warn!(
                            "cache entry {} rejected: {e:#}; recompiling",
                            path.display()
                        );
                        outcome = CacheOutcome::Corrupt;
                    }
                },
                None => {
                    tracing::warn!("cache entry {} is corrupt; recompiling", path.display());
                    outcome = CacheOutcome::Corrupt;
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Err(e) = store(&path, &component.serialize()?) {
            // A read-only or full cache directory must not fail the evaluation.
            tracing::warn!("could not write cache entry {}: {e:#}", path.display());
        }
        Ok((component, outcome))
    }
}

fn verified_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < SUM {
        return None;
    }
    let (sum, payload) = rest.split_at(SUM);
    (checksum(payload) == sum).then_some(payload)
}

/// Writes atomically and durably (see [`crate::atomic_file`]).
fn store(path: &Path, payload: &[u8]) -> anyhow::Result<()> {
    crate::atomic_file::write(path, &[MAGIC, &checksum(payload), payload])
        .map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_checksum_detects_flipped_byte() {
        let payload = b"precompiled bytes".to_vec();
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&checksum(&payload));
        entry.extend_from_slice(&payload);
        assert_eq!(verified_payload(&entry), Some(&payload[..]));
        let last = entry.len() - 1;
        entry[last] ^= 1;
        assert_eq!(verified_payload(&entry), None);
        assert_eq!(verified_payload(b"GATECW02short"), None);
        assert_eq!(verified_payload(b"garbage"), None);
    }
}
