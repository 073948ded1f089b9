//! Signed checkpoints in the C2SP `tlog-checkpoint` and `signed-note`
//! formats: the note text (origin line, decimal tree size, base64 tree head,
//! each ending in a newline), a blank line, and one signature line
//! `— <key name> <base64(key id || Ed25519 signature)>`. The key id is the
//! first four bytes of `SHA-256(key name || 0x0A || 0x01 || public key)`; the
//! verifier key, the string a log's owner publishes, is
//! `<key name>+<hex key id>+<base64(0x01 || public key)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signed-note signature type of Ed25519.
const ED25519: u8 = 0x01;
/// Starts every signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// The key name every gate audit key signs as; the key id tells keys apart.
pub const KEY_NAME: &str = "gate-audit";

/// What a checkpoint commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text the signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }
}

/// Why a note or a verifier key was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("malformed verifier key: {0}")]
    BadKey(String),
    #[error("no signature by key {name}+{id:08x}")]
    Unsigned { name: String, id: u32 },
    #[error("the signature by key {name}+{id:08x} does not verify")]
    BadSignature { name: String, id: u32 },
}

/// The audit log's signing key.
pub struct Signer {
    key: SigningKey,
    verifier: Verifier,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.verifier)
    }
}

impl Signer {
    /// The key from its 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(seed);
        let public = key.verifying_key();
        Signer {
            key,
            verifier: Verifier::new(KEY_NAME, public),
        }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The signed note of `checkpoint`.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.verifier.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.verifier.name,
            B64.encode(blob)
        )
    }
}

/// A public key that checks notes, as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl std::fmt::Display for Verifier {
    /// The verifier key string.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut blob = vec![ED25519];
        blob.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(blob))
    }
}

fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl Verifier {
    fn new(name: &str, key: VerifyingKey) -> Verifier {
        Verifier {
            name: name.to_string(),
            id: key_id(name, &key),
            key,
        }
    }

    /// Parses `<name>+<hex key id>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Verifier, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("{why} (expected NAME+KEYID+KEY)"));
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("not three `+`-separated parts"));
        };
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(bad("the key name is empty or has a space"));
        }
        let id = u32::from_str_radix(id, 16)
            .ok()
            .filter(|_| id.len() == 8)
            .ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let blob = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        let Some((&ED25519, public)) = blob.split_first() else {
            return Err(bad("not an Ed25519 key (type byte 0x01)"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 key"))?;
        let verifier = Verifier::new(name, key);
        if verifier.id != id {
            return Err(bad("the key id does not match the key"));
        }
        Ok(verifier)
    }

    /// Checks `note`'s signature by this key and parses the checkpoint in it.
    /// Signatures by other keys are ignored, as signed-note specifies.
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let (body, signatures) = split_note(note)?;
        let mut found = false;
        for line in signatures.lines() {
            let (name, blob) = signature_line(line)?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.id.to_be_bytes() {
                continue;
            }
            found = true;
            let bytes: [u8; 64] = blob[4..]
                .try_into()
                .map_err(|_| NoteError::Malformed("an Ed25519 signature is 64 bytes".into()))?;
            let signature = Signature::from_bytes(&bytes);
            if self.key.verify_strict(body.as_bytes(), &signature).is_err() {
                return Err(NoteError::BadSignature {
                    name: self.name.clone(),
                    id: self.id,
                });
            }
        }
        if !found {
            return Err(NoteError::Unsigned {
                name: self.name.clone(),
                id: self.id,
            });
        }
        parse_body(body)
    }
}

/// The note's text (with its final newline) and its signature lines.
fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    let at = note
        .find("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (body, signatures) = (&note[..=at], &note[at + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the signature lines do not end in a newline".into(),
        ));
    }
    Ok((body, signatures))
}

fn signature_line(line: &str) -> Result<(&str, Vec<u8>), NoteError> {
    let malformed = || NoteError::Malformed(format!("bad signature line `{line}`"));
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(malformed)?;
    let (name, blob) = rest.split_once(' ').ok_or_else(malformed)?;
    let blob = B64.decode(blob).map_err(|_| malformed())?;
    Ok((name, blob))
}

/// The checkpoint in a note's text: origin, size and head, and nothing else
/// gate writes (extension lines are refused).
fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
    let malformed = |why: &str| NoteError::Malformed(format!("checkpoint {why}"));
    let mut lines = body.lines();
    let (Some(origin), Some(size), Some(root), None) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err(malformed("is not three lines (origin, size, root hash)"));
    };
    if origin.is_empty() {
        return Err(malformed("origin is empty"));
    }
    let size = size
        .parse::<u64>()
        .ok()
        .filter(|_| size == "0" || !size.starts_with('0'))
        .ok_or_else(|| malformed("size is not a decimal number"))?;
    let root: Hash = B64
        .decode(root)
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| malformed("root hash is not 32 bytes of base64"))?;
    Ok(Checkpoint {
        origin: origin.to_string(),
        size,
        root,
    })
}

/// A piece of a file and its byte offset.
pub type Located<'a> = (usize, &'a str);

/// Splits a file of notes written one after another into the notes, each
/// with its byte offset; a trailing incomplete note is returned apart (an
/// append interrupted while writing it).
pub fn split_notes(text: &str) -> (Vec<Located<'_>>, Option<Located<'_>>) {
    let mut notes = Vec::new();
    let (mut start, mut at) = (0, 0);
    // After the blank line; and whether a signature line followed it.
    let (mut in_signatures, mut signed) = (false, false);
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        if in_signatures {
            if line.starts_with(SIG_PREFIX) {
                signed = true;
                at += line.len();
                continue;
            }
            notes.push((start, &text[start..at]));
            start = at;
            signed = false;
        }
        in_signatures = line == "\n";
        at += line.len();
    }
    if in_signatures && signed {
        notes.push((start, &text[start..at]));
        start = at;
    }
    let rest = (start < text.len()).then(|| (start, &text[start..]));
    (notes, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::from_seed(&[7u8; 32])
    }

    fn checkpoint(size: u64) -> Checkpoint {
        Checkpoint {
            origin: "gate-audit".into(),
            size,
            root: crate::merkle::leaf_hash(&size.to_be_bytes()),
        }
    }

    #[test]
    fn a_note_has_the_c2sp_layout_and_round_trips() {
        let s = signer();
        let note = s.sign(&checkpoint(3));
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "gate-audit");
        assert_eq!(lines[1], "3");
        assert_eq!(B64.decode(lines[2]).unwrap().len(), 32);
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} gate-audit "), "{note}");
        let blob = B64.decode(lines[4].rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(blob.len(), 4 + 64);
        assert_eq!(blob[..4], s.verifier().id.to_be_bytes());
        assert_eq!(s.verifier().open(&note).unwrap(), checkpoint(3));
    }

    #[test]
    fn the_verifier_key_string_round_trips_and_matches_its_id() {
        let v = signer().verifier().clone();
        let text = v.to_string();
        assert!(text.starts_with("gate-audit+"), "{text}");
        let parts: Vec<&str> = text.split('+').collect();
        assert_eq!(parts[1].len(), 8);
        let expected = {
            let mut h = Sha256::new();
            h.update(b"gate-audit\n\x01");
            h.update(v.key.as_bytes());
            hex::encode(&h.finalize()[..4])
        };
        assert_eq!(parts[1], expected);
        assert_eq!(Verifier::parse(&text).unwrap(), v);
        let wrong_id = format!("gate-audit+00000000+{}", parts[2]);
        assert!(Verifier::parse(&wrong_id).is_err());
        assert!(Verifier::parse("gate-audit+1234").is_err());
    }

    #[test]
    fn a_changed_note_or_another_key_is_refused() {
        let s = signer();
        let note = s.sign(&checkpoint(3));
        let edited = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(
            s.verifier().open(&edited),
            Err(NoteError::BadSignature { .. })
        ));
        let other = Signer::from_seed(&[8u8; 32]);
        assert!(matches!(
            other.verifier().open(&note),
            Err(NoteError::Unsigned { .. })
        ));
        assert!(s.verifier().open("gate-audit\n3\n").is_err());
    }

    #[test]
    fn notes_in_a_file_split_and_a_torn_one_is_apart() {
        let s = signer();
        let (a, b) = (s.sign(&checkpoint(1)), s.sign(&checkpoint(2)));
        let file = format!("{a}{b}");
        let (notes, rest) = split_notes(&file);
        assert_eq!(notes, [(0, a.as_str()), (a.len(), b.as_str())]);
        assert!(rest.is_none());
        for cut in (1..b.len()).filter(|c| b.is_char_boundary(*c)) {
            let torn = &file[..a.len() + cut];
            let (notes, rest) = split_notes(torn);
            assert_eq!(notes, [(0, a.as_str())], "cut at {cut}");
            assert_eq!(rest, Some((a.len(), &b[..cut])), "cut at {cut}");
        }
    }
}
