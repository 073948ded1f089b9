//! SSHSIG signatures (`ssh-keygen -Y sign`, OpenSSH's PROTOCOL.sshsig):
//! verifying one against an [`AllowedSigners`] file for a namespace, and
//! making one with an OpenSSH private key file (Ed25519, ECDSA, RSA).
//!
//! Verification follows `ssh-keygen -Y verify`: the signature's namespace must
//! be the expected one, its key must be listed for that namespace and valid at
//! the given time, the signature must verify over the message, and, when a
//! principal is asked for, the key's line must admit it. Keys held by
//! hardware tokens (`sk-ssh-ed25519@openssh.com`, `sk-ecdsa-sha2-nistp256@openssh.com`)
//! verify like any other; they sign through `ssh-keygen`, not through gate.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ssh_key::{HashAlg, LineEnding, PrivateKey, SshSig};
use zeroize::Zeroizing;

use crate::allowed_signers::{AllowedSigners, Entry};

/// What a verified signature proves, for the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The principals field of the allowed_signers line that lists the key
    /// (as `ssh-keygen -Y find-principals` prints it), or the principal asked for.
    pub principal: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The line of the allowed_signers file that admitted the key.
    pub line: usize,
}

/// A verified signature with everything an audit record needs to check it
/// again later with `ssh-keygen -Y verify`: the exact message signed (UTF-8
/// text by construction), the armored signature, the namespace, the
/// principal and the key's fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatement {
    pub namespace: String,
    pub message: String,
    pub signature: String,
    pub principal: String,
    pub fingerprint: String,
}

impl SignedStatement {
    /// The signature's binary form (what the armor wraps, starting with
    /// `SSHSIG`), for records that keep it as bytes.
    pub fn signature_blob(&self) -> Result<Vec<u8>, VerifyError> {
        use base64ct::Encoding;
        // Checked first, so only a well-formed armor is unwrapped.
        let _: SshSig = self
            .signature
            .trim()
            .parse()
            .map_err(|e| VerifyError::Malformed(format!("{e}")))?;
        let body: String = self
            .signature
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64ct::Base64::decode_vec(&body).map_err(|e| VerifyError::Malformed(format!("{e}")))
    }
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not an SSH signature ({0}); expected the armored output of `ssh-keygen -Y sign`")]
    Malformed(String),
    #[error("the signature is for namespace `{found}`, not `{expected}`")]
    Namespace { found: String, expected: String },
    #[error("key {fingerprint} is not listed in {}", file.display())]
    UnknownKey { fingerprint: String, file: PathBuf },
    #[error("key {fingerprint} may not sign here: {reason}")]
    NotAllowed { fingerprint: String, reason: String },
    #[error("bad signature by key {fingerprint}: it does not match the signed message")]
    BadSignature { fingerprint: String },
}

impl VerifyError {
    /// A short kind for event logs and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "malformed",
            VerifyError::Namespace { .. } => "wrong-namespace",
            VerifyError::UnknownKey { .. } => "unknown-key",
            VerifyError::NotAllowed { .. } => "not-allowed",
            VerifyError::BadSignature { .. } => "bad-signature",
        }
    }
}

impl AllowedSigners {
    /// Verifies `armored` over `message` in `namespace` at time `at`. With
    /// `principal`, only a line admitting that principal counts.
    pub fn verify(
        &self,
        namespace: &str,
        message: &[u8],
        armored: &str,
        principal: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Verified, VerifyError> {
        let sig: SshSig = armored
            .trim()
            .parse()
            .map_err(|e| VerifyError::Malformed(format!("{e}")))?;
        if sig.namespace() != namespace {
            return Err(VerifyError::Namespace {
                found: sig.namespace().to_string(),
                expected: namespace.to_string(),
            });
        }
        let fingerprint = sig.public_key().fingerprint(HashAlg::Sha256).to_string();
        let listed: Vec<&Entry> = self
            .entries()
            .iter()
            .filter(|e| e.key.key_data() == sig.public_key())
            .collect();
        if listed.is_empty() {
            return Err(VerifyError::UnknownKey {
                fingerprint,
                file: self.file.clone(),
            });
        }
        let entry = admitting(&listed, namespace, principal, at).map_err(|reason| {
            VerifyError::NotAllowed {
                fingerprint: fingerprint.clone(),
                reason,
            }
        })?;
        entry
            .key
            .verify(namespace, message, &sig)
            .map_err(|_| VerifyError::BadSignature {
                fingerprint: fingerprint.clone(),
            })?;
        Ok(Verified {
            principal: principal.map_or_else(|| entry.principals.clone(), str::to_string),
            fingerprint,
            line: entry.line,
        })
    }
}

/// The first line (in file order) that lists the key for `namespace` at
/// `at` and admits `principal`; else why none does.
fn admitting<'a>(
    listed: &[&'a Entry],
    namespace: &str,
    principal: Option<&str>,
    at: DateTime<Utc>,
) -> Result<&'a Entry, String> {
    let mut why = String::new();
    for entry in listed {
        if let Err(reason) = entry.allows(namespace, at) {
            why = format!("line {}: {reason}", entry.line);
            continue;
        }
        match principal {
            Some(p) if !entry.admits(p) => {
                why = format!(
                    "line {} lists it for `{}`, not for `{p}`",
                    entry.line, entry.principals
                );
            }
            _ => return Ok(entry),
        }
    }
    Err(why)
}

/// Why a private key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: cannot read the key: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an OpenSSH private key ({reason}); keys made by `ssh-keygen` are", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{}: the key is encrypted; put its passphrase in GATE_KEY_PASSPHRASE, or sign with `ssh-keygen -Y sign` and pass `--signature`", path.display())]
    Encrypted { path: PathBuf },
    #[error("{}: the passphrase does not decrypt the key", path.display())]
    Passphrase { path: PathBuf },
    #[error("{}: cannot sign with this key: {reason}", path.display())]
    Sign { path: PathBuf, reason: String },
}

/// An OpenSSH private key, ready to sign.
pub struct SigningKey {
    key: PrivateKey,
    path: PathBuf,
}

impl SigningKey {
    /// Reads the private key at `path`, decrypting it with `passphrase` when
    /// it is encrypted.
    pub fn load(path: &Path, passphrase: Option<&str>) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let key = PrivateKey::from_openssh(text.as_bytes())
            .or_else(|e| {
                let repaired = crate::openssh_key::pad_ecdsa_scalar(&text).map(Zeroizing::new);
                repaired.map_or(Err(e), |t| PrivateKey::from_openssh(t.as_bytes()))
            })
            .map_err(|e| KeyError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let key = match (key.is_encrypted(), passphrase) {
            (false, _) => key,
            (true, None) => {
                return Err(KeyError::Encrypted {
                    path: path.to_path_buf(),
                });
            }
            (true, Some(p)) => key.decrypt(p).map_err(|e| match e {
                // The one format quirk a decrypted key can still hit (see `openssh_key`).
                ssh_key::Error::Encoding(_) => KeyError::Format {
                    path: path.to_path_buf(),
                    reason: "its ECDSA scalar is stored shortened, which gate reads only from \
                             unencrypted keys; sign with `ssh-keygen -Y sign` and pass `--signature`"
                        .into(),
                },
                _ => KeyError::Passphrase {
                    path: path.to_path_buf(),
                },
            })?,
        };
        Ok(SigningKey {
            key,
            path: path.to_path_buf(),
        })
    }

    /// `SHA256:…` of the public key.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Signs `message` in `namespace` (SHA-512, as `ssh-keygen -Y sign`
    /// does); the armored signature.
    pub fn sign(&self, namespace: &str, message: &[u8]) -> Result<String, KeyError> {
        let failed = |e: ssh_key::Error| KeyError::Sign {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let sig = match self.key.key_data().rsa() {
            Some(rsa) => sign_rsa(rsa, &self.key, namespace, message),
            None => self.key.sign(namespace, HashAlg::Sha512, message),
        }
        .map_err(failed)?;
        sig.to_pem(LineEnding::LF).map_err(failed)
    }
}

/// RSA signing done here: `ssh-key` 0.6 builds the RSA key from the wrong
/// primes (`p` twice) and cannot sign. Same algorithm as `ssh-keygen -Y
/// sign`: `rsa-sha2-512`, PKCS#1 v1.5, over the SSHSIG signed data.
fn sign_rsa(
    keypair: &ssh_key::private::RsaKeypair,
    key: &PrivateKey,
    namespace: &str,
    message: &[u8],
) -> ssh_key::Result<SshSig> {
    use rsa::signature::{SignatureEncoding, Signer};
    let int = |m: &ssh_key::Mpint| {
        m.as_positive_bytes()
            .map(rsa::BigUint::from_bytes_be)
            .ok_or(ssh_key::Error::Crypto)
    };
    let private = rsa::RsaPrivateKey::from_components(
        int(&keypair.public.n)?,
        int(&keypair.public.e)?,
        int(&keypair.private.d)?,
        vec![int(&keypair.private.p)?, int(&keypair.private.q)?],
    )
    .map_err(|_| ssh_key::Error::Crypto)?;
    let signed = SshSig::signed_data(namespace, HashAlg::Sha512, message)?;
    let data = rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(private)
        .try_sign(&signed)
        .map_err(|_| ssh_key::Error::Crypto)?
        .to_vec();
    let algorithm = ssh_key::Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    };
    SshSig::new(
        key.public_key().key_data().clone(),
        namespace,
        HashAlg::Sha512,
        ssh_key::Signature::new(algorithm, data)?,
    )
}
