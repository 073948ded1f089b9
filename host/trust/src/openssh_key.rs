//! A repair of OpenSSH private key files before `ssh-key` reads them.
//!
//! OpenSSH stores an ECDSA private scalar as an SSH `mpint`, which drops
//! leading zero bytes: about one P-256 key in 256 (and half of all P-521
//! keys) has a scalar shorter than the curve size, which `ssh-key` 0.6
//! refuses as "length invalid". For an unencrypted key this module re-encodes
//! the private section with the scalar padded back to full size, leaving
//! every other byte as it was; an encrypted key cannot be repaired before it
//! is decrypted, so the caller reports it.

use base64ct::{Base64, Encoding};

const MAGIC: &[u8] = b"openssh-key-v1\0";
const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";

/// A cursor over SSH wire-format data.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// The curve size in bytes of an ECDSA key type.
fn scalar_size(key_type: &[u8]) -> Option<usize> {
    match key_type {
        b"ecdsa-sha2-nistp256" => Some(32),
        b"ecdsa-sha2-nistp384" => Some(48),
        b"ecdsa-sha2-nistp521" => Some(66),
        _ => None,
    }
}

/// The key file with a short ECDSA scalar padded; `None` when there is
/// nothing to repair (not ECDSA, encrypted, already full size, or unreadable).
pub(crate) fn pad_ecdsa_scalar(pem: &str) -> Option<String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != BEGIN)
        .skip(1)
        .take_while(|l| *l != END)
        .collect();
    let blob = Base64::decode_vec(&body).ok()?;
    let mut r = Reader(blob.strip_prefix(MAGIC)?);
    let cipher = r.string()?;
    let (kdf, kdf_options, count) = (r.string()?, r.string()?, r.u32()?);
    let public = r.string()?;
    let private = r.string()?;
    if cipher != b"none" || count != 1 {
        return None;
    }
    let mut p = Reader(private);
    let (check1, check2) = (p.take(4)?, p.take(4)?);
    let key_type = p.string()?;
    let size = scalar_size(key_type)?;
    let (curve, point, scalar, comment) = (p.string()?, p.string()?, p.string()?, p.string()?);
    if scalar.len() >= size {
        return None;
    }
    let mut section = Vec::new();
    section.extend_from_slice(check1);
    section.extend_from_slice(check2);
    for field in [key_type, curve, point] {
        put_string(&mut section, field);
    }
    let mut padded = vec![0u8; size - scalar.len()];
    padded.extend_from_slice(scalar);
    put_string(&mut section, &padded);
    put_string(&mut section, comment);
    let mut pad = 1u8;
    while section.len() % 8 != 0 {
        section.push(pad);
        pad += 1;
    }
    let mut out = MAGIC.to_vec();
    for field in [cipher, kdf, kdf_options] {
        put_string(&mut out, field);
    }
    out.extend_from_slice(&count.to_be_bytes());
    put_string(&mut out, public);
    put_string(&mut out, &section);
    let encoded = Base64::encode_string(&out);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(70)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Some(format!("{BEGIN}\n{}\n{END}\n", lines.join("\n")))
}
