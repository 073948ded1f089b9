//! Reading the files a check inspects, through the plugin's `fs` grant.

use gate_configfile::{Format, ParseError};
use gate_plugin_sdk::{Context, Finding, Status, paths};

/// Files larger than this are refused rather than read into a 64 MiB sandbox.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A file's text, under the path the user wrote in the policy.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text: String = text.into();
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text);
        SourceFile {
            path: path.into(),
            text,
        }
    }
}

/// Reads `path` through the host's grant check. Tests pass their own reader instead.
pub fn read(path: &str) -> Result<SourceFile, String> {
    paths::read_to_string(path, MAX_FILE_BYTES)
        .map(|(granted, text)| SourceFile::new(granted.display, text))
}

/// The `error` finding for a file the check could not read.
pub fn unreadable(ctx: &Context, path: &str, message: &str) -> Finding {
    // I/O errors from the SDK already start with the path.
    let message = message
        .strip_prefix(&format!("{path}: "))
        .unwrap_or(message);
    ctx.finding(path, Status::Error)
        .message(format!("cannot read {path}: {message}"))
        .remediation(
            "check that the file exists and that the `config` plugin's `fs` grant covers it",
        )
        .build()
}

/// The `error` finding for a file that does not parse as `format`, at the
/// parser's position when it has one.
pub fn unparsable(ctx: &Context, path: &str, format: Format, e: &ParseError) -> Finding {
    let (line, column) = e.position.unzip();
    ctx.finding(path, Status::Error)
        .message(format!(
            "{path} is not valid {}: {}",
            format.name(),
            e.message
        ))
        .location(path, line, column)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_does_not_repeat_the_path() {
        let ctx = Context {
            check: "config.x".into(),
            cwd: "/".into(),
        };
        let f = unreadable(
            &ctx,
            "a.yaml",
            "a.yaml: No such file or directory (os error 44)",
        );
        assert_eq!(
            f.message,
            "cannot read a.yaml: No such file or directory (os error 44)"
        );
        assert_eq!(f.status, Status::Error);
    }

    #[test]
    fn strips_byte_order_mark() {
        assert_eq!(SourceFile::new("a", "\u{feff}x=1").text, "x=1");
    }
}
