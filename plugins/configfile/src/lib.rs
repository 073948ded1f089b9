//! Config files as the `config` and `security` plugins read them.
//!
//! * [`Format`] names a file's format, from a policy's word or its file name.
//! * [`documents`] parses JSON, YAML (every document of a stream, merge keys
//!   applied) and TOML into `serde_json::Value` trees, so a check reads every
//!   format alike; errors carry the parser's line and column.
//! * [`entries`] flattens a file into `dotted.key = value` [`Entry`]s, reading
//!   `.env`, `.properties` and INI files line by line; [`locate`] finds the line
//!   of an entry whose parser kept no position.
//! * [`assertion`] holds what `config.error-handling`, `config.rate-limits` and
//!   `security.compliance` assertions share: `exists`/`absent` resolution,
//!   anchored `matches` patterns and the shape of their findings.

pub mod assertion;
mod entries;
mod format;
mod tree;

pub use entries::{Entry, entries, locate};
pub use format::Format;
pub use tree::{ParseError, documents};

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 7), (2, 4));
        assert_eq!(line_col(text, 8), (3, 1));
        assert_eq!(line_col(text, 999), (3, 2));
    }
}
