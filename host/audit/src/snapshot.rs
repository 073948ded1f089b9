//! The entries and checkpoints files as read at one moment, split into
//! complete lines and complete checkpoint notes, with whatever an
//! interrupted append left at the end of each kept apart.

use std::path::PathBuf;

use crate::entry::Entry;
use crate::error::AuditError;
use crate::log::{AuditLog, CHECKPOINTS, ENTRIES, READ_CAP};
use crate::note::split_notes;

/// Both files of a log.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub entries_path: PathBuf,
    pub checkpoints_path: PathBuf,
    pub entries: Vec<u8>,
    pub checkpoints: Vec<u8>,
}

/// The entries file in lines.
pub struct Lines<'a> {
    /// `(byte offset, line without its newline)`, in order.
    pub complete: Vec<(usize, &'a [u8])>,
    /// Bytes after the last newline, if any.
    pub partial: Option<(usize, &'a [u8])>,
}

/// The checkpoints file in notes.
pub struct Notes<'a> {
    /// `(byte offset, note)`, in order.
    pub complete: Vec<(usize, &'a str)>,
    /// Where an incomplete last note starts, if there is one.
    pub torn_at: Option<usize>,
}

impl Snapshot {
    /// Reads both files (absent ones are empty); the caller holds the lock.
    pub(crate) fn read(log: &AuditLog) -> Result<Snapshot, AuditError> {
        let read = |name: &str| {
            log.dir
                .read(name, READ_CAP)
                .map(Option::unwrap_or_default)
                .map_err(|e| AuditError::io(log.file(name), e))
        };
        Ok(Snapshot {
            entries_path: log.file(ENTRIES),
            checkpoints_path: log.file(CHECKPOINTS),
            entries: read(ENTRIES)?,
            checkpoints: read(CHECKPOINTS)?,
        })
    }

    pub fn lines(&self) -> Lines<'_> {
        let mut complete = Vec::new();
        let mut at = 0;
        for line in self.entries.split_inclusive(|b| *b == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(body) => complete.push((at, body)),
                None => {
                    return Lines {
                        complete,
                        partial: Some((at, line)),
                    };
                }
            }
            at += line.len();
        }
        Lines {
            complete,
            partial: None,
        }
    }

    /// The notes; bytes that are not UTF-8 end the readable part (a torn
    /// em dash at the very end is an interrupted write, anything else is
    /// reported by the caller as a bad checkpoint).
    pub fn notes(&self) -> Notes<'_> {
        let text = match std::str::from_utf8(&self.checkpoints) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&self.checkpoints[..e.valid_up_to()]).unwrap_or(""),
        };
        let (complete, rest) = split_notes(text);
        let end = complete.last().map_or(0, |(at, n)| at + n.len());
        let torn_at = rest
            .map(|(at, _)| at)
            .or((end < self.checkpoints.len()).then_some(end));
        Notes { complete, torn_at }
    }

    /// The 1-based line of byte `offset` in the checkpoints file.
    pub fn checkpoint_line(&self, offset: usize) -> u64 {
        let upto = &self.checkpoints[..offset.min(self.checkpoints.len())];
        upto.iter().filter(|b| **b == b'\n').count() as u64 + 1
    }

    /// Every complete entry, parsed; the first that does not parse is an error.
    pub fn entries(&self) -> Result<Vec<Entry>, AuditError> {
        self.lines()
            .complete
            .iter()
            .enumerate()
            .map(|(i, (_, line))| {
                Entry::decode(line).map_err(|e| AuditError::Tampered {
                    path: self.entries_path.clone(),
                    seq: i as u64,
                    line: i as u64 + 1,
                    problem: format!("not a valid entry: {e}"),
                    help: "run `gate audit verify` for the first bad entry".into(),
                })
            })
            .collect()
    }
}
