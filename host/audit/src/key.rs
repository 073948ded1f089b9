//! The audit log's signing key: an Ed25519 seed kept outside the log
//! (`$GATE_AUDIT_KEY`, else `$XDG_CONFIG_HOME/gate/audit.key`, else
//! `~/.config/gate/audit.key`), created 0600 on first use by
//! [`gate_core::secret_file`]. Whoever holds it can sign checkpoints; the
//! verifier key derived from it is public.

use std::path::PathBuf;

use crate::error::AuditError;
use crate::note::Signer;

/// Where the key is: `$GATE_AUDIT_KEY`, else the config directory's `audit.key`.
pub fn path() -> Result<PathBuf, AuditError> {
    if let Some(p) = std::env::var_os("GATE_AUDIT_KEY").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    gate_core::secret_file::config_path("audit.key").ok_or_else(|| AuditError::Key {
        path: PathBuf::from("~/.config/gate/audit.key"),
        message: "neither HOME nor XDG_CONFIG_HOME is set".into(),
        help: "set GATE_AUDIT_KEY to the audit signing key's path".into(),
    })
}

/// The key at `path`, created first when there is none.
pub fn load_or_create(path: &std::path::Path) -> Result<Signer, AuditError> {
    gate_core::secret_file::load_or_create(path)
        .map(|seed| Signer::from_seed(&seed))
        .map_err(|e| AuditError::Key {
            path: path.to_path_buf(),
            message: e.to_string(),
            help: "the audit key must be a 32-byte file of yours, mode 0600, in a directory \
                   only you can write; set GATE_AUDIT_KEY to use another path"
                .into(),
        })
}

/// The key at `path`, which must exist.
pub fn load(path: &std::path::Path) -> Result<Signer, AuditError> {
    gate_core::secret_file::load(path)
        .map(|seed| Signer::from_seed(&seed))
        .map_err(|e| AuditError::Key {
            path: path.to_path_buf(),
            message: e.to_string(),
            help: "verify with the published key instead: `--vkey NAME+KEYID+KEY` \
                   (`gate audit key` prints it where the signing key is)"
                .into(),
        })
}
