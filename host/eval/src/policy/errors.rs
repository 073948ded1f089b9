//! Collecting every problem in a policy, then reporting them in file order.

use std::path::{Path, PathBuf};

use super::{Origin, PolicyError, PolicyErrors};

impl PolicyError {
    pub fn at(origin: &Origin, message: impl Into<String>) -> Self {
        PolicyError {
            origin: Some(origin.clone()),
            file: origin.file.clone(),
            message: message.into(),
            help: None,
        }
    }

    /// For a file that could not be read at all, so there is no position.
    pub(crate) fn file_level(file: &Path, message: impl Into<String>) -> Self {
        PolicyError {
            origin: None,
            file: file.to_path_buf(),
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// An allowed_signers problem, located in that file; one about the file
    /// as a whole (it cannot be read) is located at `named_at`, where the
    /// policy or spec names the file.
    pub fn from_signers(e: &gate_trust::SignersError, named_at: &Origin) -> Self {
        let at = if e.line == 0 {
            named_at.clone()
        } else {
            Origin {
                file: e.file.clone(),
                line: e.line as u32,
                column: e.column as u32,
            }
        };
        let message = if e.line == 0 {
            format!("{}: {}", e.file.display(), e.message)
        } else {
            e.message.clone()
        };
        PolicyError::at(&at, message).with_help_opt(e.help.clone())
    }

    pub(crate) fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

#[derive(Default)]
pub struct Errors {
    list: Vec<PolicyError>,
    /// Files in the order they were first read; errors are sorted by this, then by position.
    files: Vec<PathBuf>,
}

impl Errors {
    pub fn note_file(&mut self, file: &Path) {
        if !self.files.iter().any(|f| f == file) {
            self.files.push(file.to_path_buf());
        }
    }

    pub fn push(&mut self, error: PolicyError) {
        self.list.push(error);
    }

    pub fn into_result<T>(self, value: T) -> Result<T, PolicyErrors> {
        if self.list.is_empty() {
            return Ok(value);
        }
        let Errors { mut list, files } = self;
        let rank = |file: &Path| files.iter().position(|f| f == file).unwrap_or(files.len());
        list.sort_by_key(|e| {
            let (line, column) = e.origin.as_ref().map_or((0, 0), |o| (o.line, o.column));
            (rank(&e.file), line, column)
        });
        list.dedup();
        Err(PolicyErrors(list))
    }
}
