//! One policy file's text, and the mapping from byte spans to 1-based line:column.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Origin;
use super::PolicyError;
use super::errors::Errors;

/// The text of a policy or exemption file, as read from disk.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset at which each line starts.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// Reads `path`. A failure is reported at `requested_at` (the `extends` or
    /// `exemptions` entry that named the file) when there is one.
    pub fn read(path: &Path, requested_at: Option<&Origin>, errors: &mut Errors) -> Option<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(SourceFile::new(path.to_path_buf(), text)),
            Err(e) => {
                let error = match requested_at {
                    Some(origin) => PolicyError::at(
                        origin,
                        format!("cannot read `{}`: {}", path.display(), io_reason(&e)),
                    ),
                    None => PolicyError::file_level(
                        path,
                        format!("cannot read policy file: {}", io_reason(&e)),
                    ),
                };
                errors.push(error);
                None
            }
        }
    }

    /// The 1-based position of a byte offset; the column counts characters, as editors do.
    pub fn origin(&self, offset: usize) -> Origin {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column = match self.text.get(start..offset) {
            Some(prefix) => prefix.chars().count(),
            None => offset - start,
        };
        Origin {
            file: self.path.clone(),
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    pub fn origin_of(&self, span: &Range<usize>) -> Origin {
        self.origin(span.start)
    }

    pub fn at<T>(&self, value: Spanned<T>) -> At<T> {
        let origin = self.origin_of(&value.span());
        At {
            value: value.into_inner(),
            origin,
        }
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// A value and where it was written. Merged items keep one per field, so an error
/// about a field points at the file that set it.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub origin: Origin,
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Joins `relative` onto `dir`, dropping `.` components so that paths in messages
/// read naturally. `..` is kept: resolving it lexically would be wrong across symlinks.
pub(crate) fn resolve(dir: &Path, relative: &str) -> PathBuf {
    dir.join(relative)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = SourceFile::new("p.toml".into(), "a = 1\nné = \"x\"\n".into());
        let o = src.origin(0);
        assert_eq!((o.line, o.column), (1, 1));
        let o = src.origin(6);
        assert_eq!((o.line, o.column), (2, 1));
        // `=` after the two-byte `é` is the 4th character of line 2.
        let o = src.origin(src.text.find("= \"x").unwrap());
        assert_eq!((o.line, o.column), (2, 4));
        let o = src.origin(src.text.len());
        assert_eq!((o.line, o.column), (3, 1));
    }

    #[test]
    fn resolve_drops_cur_dir() {
        assert_eq!(
            resolve(Path::new("policies/./prod"), "./base.toml"),
            PathBuf::from("policies/prod/base.toml")
        );
        assert_eq!(
            resolve(Path::new("policies"), "/abs/x.wasm"),
            PathBuf::from("/abs/x.wasm")
        );
    }
}
