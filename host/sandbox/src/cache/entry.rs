//! The format of one cache entry, and its HMAC-SHA256 seal.
//!
//! ```text
//! magic "GATECW03" | plugin sha256 (32) | engine key length (u16 LE) | engine key
//! | payload length (u64 LE) | HMAC-SHA256 tag (32) | payload
//! ```
//!
//! The tag covers every byte before it and the payload, so the entry itself
//! says which plugin and which engine its code belongs to, and only a holder
//! of the per-user key (see [`super::key`]) can produce one. The file name is
//! only where to look; a renamed, edited or foreign entry fails here.

use hmac::{KeyInit, Mac};

use super::key::CacheKey;

type HmacSha256 = hmac::Hmac<sha2_hmac::Sha256>;

pub const MAGIC: &[u8; 8] = b"GATECW03";
const DIGEST: usize = 32;
const TAG: usize = 32;

/// What an entry must be bound to.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// The plugin's sha256 (raw bytes of the pinned digest).
    pub digest: &'a [u8; DIGEST],
    /// The engine's compatibility key ([`crate::engine::GateEngine::compatibility_key`]).
    pub engine: &'a str,
}

/// Why an entry was not handed to wasmtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not a gate cache entry, or truncated")]
    Malformed,
    #[error("its seal does not verify (corrupt, edited, or sealed with another key)")]
    BadSeal,
    #[error("it holds another plugin's code")]
    OtherPlugin,
    #[error("it was compiled for another engine")]
    OtherEngine,
}

/// The header (everything the tag follows) for `binding` and a payload of `len` bytes.
fn header(binding: Binding<'_>, len: usize) -> Vec<u8> {
    let engine = binding.engine.as_bytes();
    let engine_len = u16::try_from(engine.len()).expect("engine key fits in u16");
    let mut h = Vec::with_capacity(MAGIC.len() + DIGEST + 2 + engine.len() + 8);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(binding.digest);
    h.extend_from_slice(&engine_len.to_le_bytes());
    h.extend_from_slice(engine);
    h.extend_from_slice(&(len as u64).to_le_bytes());
    h
}

fn mac(key: &CacheKey, header: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key.bytes()).expect("HMAC takes any key length");
    mac.update(header);
    mac.update(payload);
    mac
}

/// The header and tag to write before `payload` (which is not copied).
pub fn seal(key: &CacheKey, binding: Binding<'_>, payload: &[u8]) -> Vec<u8> {
    let mut head = header(binding, payload.len());
    let tag = mac(key, &head, payload).finalize().into_bytes();
    head.extend_from_slice(&tag);
    head
}

/// The payload of `entry` if, and only if, its seal verifies under `key` and
/// it is bound to `binding`.
pub fn open<'e>(
    key: &CacheKey,
    binding: Binding<'_>,
    entry: &'e [u8],
) -> Result<&'e [u8], Rejection> {
    let rest = entry.strip_prefix(MAGIC).ok_or(Rejection::Malformed)?;
    let (digest, rest) = split(rest, DIGEST)?;
    let (engine_len, rest) = split(rest, 2)?;
    let engine_len = usize::from(u16::from_le_bytes([engine_len[0], engine_len[1]]));
    let (engine, rest) = split(rest, engine_len)?;
    let (len, rest) = split(rest, 8)?;
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let (tag, payload) = split(rest, TAG)?;
    if payload.len() as u64 != len {
        return Err(Rejection::Malformed);
    }
    let head = &entry[..entry.len() - payload.len() - TAG];
    mac(key, head, payload)
        .verify_slice(tag)
        .map_err(|_| Rejection::BadSeal)?;
    // Authentic, so these are what this user's gate wrote; they must still be
    // what this lookup asked for (a renamed entry is authentic but foreign).
    if digest != binding.digest {
        return Err(Rejection::OtherPlugin);
    }
    if engine != binding.engine.as_bytes() {
        return Err(Rejection::OtherEngine);
    }
    Ok(payload)
}

fn split(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), Rejection> {
    (bytes.len() >= n)
        .then(|| bytes.split_at(n))
        .ok_or(Rejection::Malformed)
}
