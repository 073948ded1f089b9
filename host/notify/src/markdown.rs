//! The Markdown target: each event's message as a file in the rule's
//! directory (`<subject>.<event id>.md`), and the latest one of each subject
//! as `<subject>.md`, ready to paste into a status page or an email. Both
//! are replaced atomically, never through a symlink.

use std::path::Path;

use crate::deliver::Failure;
use crate::outbox::Entry;

/// A file-name-safe form of a subject.
pub fn file_stem(subject: &str) -> String {
    let s: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "gate".into() } else { s }
}

pub fn write(dir: &Path, entry: &Entry) -> Result<(), Failure> {
    let stem = file_stem(&entry.event.subject);
    let text = entry.message.as_bytes();
    for name in [
        format!("{stem}.{}.md", entry.event.id),
        format!("{stem}.md"),
    ] {
        gate_core::atomic_file::write(&dir.join(&name), &[text])
            .map_err(|e| Failure::config(e.to_string()))?;
    }
    Ok(())
}
