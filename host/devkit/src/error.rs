//! What can go wrong in a plugin author's command, each naming the file,
//! the tool or the step.

use std::path::PathBuf;

use gate_core::file_error::FileError;
use gate_sandbox::plugin::PluginError;

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
    #[error(transparent)]
    File(#[from] FileError),
    /// A build tool is missing or failed; `tool` names it, `help` says how to get it.
    #[error("{tool}: {message}")]
    Tool {
        tool: String,
        message: String,
        help: Option<String>,
    },
    /// A plugin name a policy would refuse.
    #[error("`{name}` is not a valid plugin name: {why}")]
    Name { name: String, why: String },
    /// `gate plugin new` into a directory that already holds something.
    #[error(
        "{path}: the directory is not empty; `gate plugin new` writes a project only into a new or empty directory"
    )]
    NotEmpty { path: PathBuf },
    /// The component could not be loaded, or is of another WIT version.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The built component is not what the project promises.
    #[error("{path}: {message}")]
    Component { path: PathBuf, message: String },
    /// A case file that cannot be used (`gate plugin test`).
    #[error(transparent)]
    Cases(#[from] crate::cases::CaseFileError),
    #[error("{0}")]
    Other(String),
}

impl DevkitError {
    /// The `help:` line to print under the error, when there is one.
    pub fn help(&self) -> Option<&str> {
        match self {
            DevkitError::Tool { help, .. } => help.as_deref(),
            _ => None,
        }
    }
}
