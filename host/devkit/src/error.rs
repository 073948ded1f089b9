//! What can go wrong in a plugin author's command, each naming the file,
//! the tool or the step.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DevkitError {
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A build tool is missing or failed; `tool` names it, `help` says how to get it.
    #[error("{tool}: {message}")]
    Tool {
        tool: String,
        message: String,
        help: Option<String>,
    },
    /// A case file that cannot be used (`gate plugin test`).
    #[error(transparent)]
    Cases(#[from] crate::cases::CaseFileError),
    #[error("{0}")]
    Other(String),
}
