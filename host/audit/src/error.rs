//! The one error type of the audit log: every variant names the file it is
//! about (and the entry's seq and line, or the checkpoint's number and line,
//! where there is one) and ends with a `help:` line that says what to do.

use std::path::PathBuf;

use crate::note::NoteError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log's files cannot be read or written.
    #[error("{path}: {message}\nhelp: {help}", path = path.display())]
    Io {
        path: PathBuf,
        message: String,
        help: String,
    },
    /// The signing key cannot be read, created or parsed.
    #[error("{path}: {message}\nhelp: {help}", path = path.display())]
    Key {
        path: PathBuf,
        message: String,
        help: String,
    },
    /// An entry was changed, removed, reordered, inserted or cut off.
    #[error(
        "{path}:{line}: entry {seq}: {problem}\nhelp: {help}",
        path = path.display()
    )]
    Tampered {
        path: PathBuf,
        seq: u64,
        line: u64,
        problem: String,
        help: String,
    },
    /// A checkpoint does not verify (its signature, its size or its head).
    #[error(
        "{path}:{line}: checkpoint {number}: {problem}\nhelp: {help}",
        path = path.display()
    )]
    Checkpoint {
        path: PathBuf,
        /// 1-based position in the checkpoints file.
        number: u64,
        line: u64,
        problem: String,
        help: String,
    },
    /// A proof, verifier key or checkpoint given to check is malformed or
    /// does not hold.
    #[error("{path}: {problem}\nhelp: {help}", path = path.display())]
    Proof {
        path: PathBuf,
        problem: String,
        help: String,
    },
}

impl AuditError {
    /// Whether the log (or a proof) was found not to be what was recorded,
    /// as opposed to not being readable at all: `gate audit verify` exits 1
    /// for these and 2 for the rest.
    pub fn is_tampering(&self) -> bool {
        matches!(
            self,
            AuditError::Tampered { .. } | AuditError::Checkpoint { .. } | AuditError::Proof { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> AuditError {
        AuditError::Io {
            path: path.into(),
            message: message.to_string(),
            help: "check that the audit directory exists, is yours (mode 0700) and the disk \
                   is not full; set it with `[audit] dir` in the policy or `--audit DIR`"
                .to_string(),
        }
    }

    pub(crate) fn note(path: impl Into<PathBuf>, e: NoteError) -> AuditError {
        AuditError::Proof {
            path: path.into(),
            problem: e.to_string(),
            help: "pass the checkpoint note exactly as gate wrote it, and the verifier key \
                   `gate audit key` printed for this log"
                .to_string(),
        }
    }
}
