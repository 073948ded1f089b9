//! Baselines: the secrets a team has accepted (an existing repository adopting the
//! check), each recorded by file, rule and a salted SHA-256 of the secret, never
//! the secret itself. `gate secrets baseline` writes the file from the check's own
//! `fingerprint` evidence; the check reads it back through its `fs` grant.
//!
//! ```json
//! { "version": 1, "salt": "<64 hex>",
//!   "secrets": [ { "file": "./config/prod.env", "rule": "generic-secret", "hash": "<64 hex>" } ] }
//! ```
//!
//! The salt is random per baseline, so a hash says nothing across repositories
//! and a precomputed table is useless; like any hash of a weak password it can
//! still be guessed by someone who holds the file, so the file lists accepted
//! secrets, which are to be rotated in time, not hidden ones.

use std::collections::HashSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const VERSION: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    salt: String,
    #[serde(default)]
    secrets: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    file: String,
    rule: String,
    hash: String,
}

pub struct Baseline {
    salt: Vec<u8>,
    accepted: HashSet<(String, String, String)>,
}

impl Baseline {
    /// Parses a baseline file; errors name the line and column.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let f: File = serde_json::from_str(text)
            .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
        if f.version != VERSION {
            return Err(format!(
                "version {} is not supported (this gate writes {VERSION})",
                f.version
            ));
        }
        let salt = unhex(&f.salt)
            .filter(|s| s.len() >= 16)
            .ok_or("`salt` must be at least 16 bytes of hex")?;
        Ok(Baseline {
            salt,
            accepted: f
                .secrets
                .into_iter()
                .map(|e| (e.file, e.rule, e.hash.to_ascii_lowercase()))
                .collect(),
        })
    }

    /// The salted hash that stands for `secret` found by `rule`.
    pub fn fingerprint(&self, rule: &str, secret: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(rule.as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn accepts(&self, file: &str, rule: &str, fingerprint: &str) -> bool {
        self.accepted
            .contains(&(file.to_string(), rule.to_string(), fingerprint.to_string()))
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn fingerprints_are_salted_sha256_of_rule_and_secret() {
        let b = Baseline::parse(&format!(r#"{{"version":1,"salt":"{SALT}"}}"#)).unwrap();
        let f = b.fingerprint("generic-secret", "s3cr3t-value");
        assert_eq!(f.len(), 64);
        assert!(!f.contains("s3cr3t"));
        assert_ne!(f, b.fingerprint("github-token", "s3cr3t-value"));
        let other = Baseline::parse(&format!(
            r#"{{"version":1,"salt":"{}"}}"#,
            SALT.replace('0', "1")
        ))
        .unwrap();
        assert_ne!(f, other.fingerprint("generic-secret", "s3cr3t-value"));
        let with = Baseline::parse(&format!(
            r#"{{"version":1,"salt":"{SALT}","secrets":[{{"file":"./a.env","rule":"generic-secret","hash":"{f}"}}]}}"#
        ))
        .unwrap();
        assert!(with.accepts("./a.env", "generic-secret", &f));
        assert!(!with.accepts("./b.env", "generic-secret", &f));
    }

    #[test]
    fn bad_files_are_errors_with_a_position() {
        let e = Baseline::parse("{\n  \"version\": 1,\n  \"salt\": 3\n}")
            .err()
            .unwrap();
        assert!(e.starts_with("line 3, column"), "{e}");
        assert!(Baseline::parse(r#"{"version":2,"salt":"00"}"#).is_err());
        assert!(Baseline::parse(r#"{"version":1,"salt":"0011"}"#).is_err());
        assert!(Baseline::parse(r#"{"version":1,"salt":"zz"}"#).is_err());
    }
}
