//! Where a policy or spec item was written.

use std::fmt;
use std::path::PathBuf;

/// Where a policy item was written: file, line and column (1-based).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}
