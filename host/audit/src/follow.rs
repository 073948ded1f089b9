//! Following a log as it grows. A reader that serves the log while entries
//! are appended (the dashboard) keeps a [`Follower`]: what it has verified
//! so far (the tree's frontier at the last checkpoint, the entries after it,
//! the last entry's time) and where in each file it stopped. Each look reads
//! only what was appended since ([`crate::AuditLog::tail`]) and checks the
//! new entries and checkpoints exactly as [`crate::verify`] checks them,
//! without re-reading or re-hashing the rest.
//!
//! Following checks what is appended; it cannot see an earlier byte edited
//! in place. A follower therefore runs a full [`crate::verify`] when it
//! starts and again from time to time, and starts over when a file is
//! shorter than what it has read.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::entry::Entry;
use crate::error::AuditError;
use crate::log::Tail;
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::note::{Verifier, split_notes};
use crate::verify::{Verified, check_entry, open_all, tampered};

/// A log verified up to some point.
#[derive(Clone, Debug)]
pub struct Follower {
    entries_path: PathBuf,
    checkpoints_path: PathBuf,
    /// Bytes of the entries file read (whole lines only).
    entries_offset: u64,
    /// Bytes of the checkpoints file read (whole notes only).
    checkpoints_offset: u64,
    /// The leaves of the entries the last checkpoint covers.
    frontier: Frontier,
    /// The leaves of the entries after it.
    uncovered: Vec<Hash>,
    last_time: Option<DateTime<Utc>>,
    checkpoints: u64,
    /// Lines of the checkpoints file read, for naming a bad checkpoint's line.
    checkpoint_lines: u64,
}

/// A new entry and where its line starts in the entries file.
#[derive(Clone, Debug)]
pub struct Located {
    pub offset: u64,
    /// The line's length without its newline.
    pub len: u64,
    pub entry: Entry,
}

/// Whether a tail continues what a follower has read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continues {
    Yes,
    /// A file is shorter than what was read: it was cut (a recovery, or
    /// tampering); start over with a full verification.
    Cut,
}

impl Follower {
    /// A follower of the log whose files are at these paths, at its start.
    pub fn new(entries_path: PathBuf, checkpoints_path: PathBuf) -> Follower {
        Follower {
            entries_path,
            checkpoints_path,
            entries_offset: 0,
            checkpoints_offset: 0,
            frontier: Frontier::default(),
            uncovered: Vec::new(),
            last_time: None,
            checkpoints: 0,
            checkpoint_lines: 0,
        }
    }

    /// Where to read from next: the entries file's and the checkpoints file's offsets.
    pub fn offsets(&self) -> (u64, u64) {
        (self.entries_offset, self.checkpoints_offset)
    }

    /// What has been verified: the entries the last checkpoint covers.
    pub fn verified(&self) -> Verified {
        Verified {
            entries: self.frontier.size(),
            checkpoints: self.checkpoints,
            root: self.frontier.root(),
        }
    }

    /// Entries read and checked, covered by a checkpoint or not yet.
    pub fn entries(&self) -> u64 {
        self.frontier.size() + self.uncovered.len() as u64
    }

    /// Whether `tail` (read at [`Follower::offsets`]) continues this log.
    pub fn continues(&self, tail: &Tail) -> Continues {
        if tail.entries_len < self.entries_offset || tail.checkpoints_len < self.checkpoints_offset
        {
            Continues::Cut
        } else {
            Continues::Yes
        }
    }

    /// Checks and takes in what `tail` adds: each whole new entry (parses,
    /// in sequence, not back in time) and each whole new checkpoint (signed
    /// by `verifier`, not smaller than the one before, its head the tree of
    /// its size). A checkpoint covering entries not read yet, and a partial
    /// line or note, are left for the next look. Without a verifier the
    /// entries are checked and the checkpoints left unread. Returns the new
    /// entries. On an error the follower is left as it was.
    pub fn advance(
        &mut self,
        verifier: Option<&Verifier>,
        tail: &Tail,
    ) -> Result<Vec<Located>, AuditError> {
        let mut next = self.clone();
        let added = next.take_entries(&tail.entries)?;
        if let Some(verifier) = verifier {
            next.take_checkpoints(verifier, &tail.checkpoints)?;
        }
        *self = next;
        Ok(added)
    }

    fn take_entries(&mut self, bytes: &[u8]) -> Result<Vec<Located>, AuditError> {
        let mut added = Vec::new();
        let mut at = 0usize;
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let Some(body) = line.strip_suffix(b"\n") else {
                break;
            };
            let seq = self.entries();
            let entry = check_entry(body, seq, self.last_time)
                .map_err(|problem| tampered(&self.entries_path, seq, &problem))?;
            self.last_time = Some(entry.time);
            self.uncovered.push(leaf_hash(body));
            added.push(Located {
                offset: self.entries_offset + at as u64,
                len: body.len() as u64,
                entry,
            });
            at += line.len();
        }
        self.entries_offset += at as u64;
        Ok(added)
    }

    fn take_checkpoints(&mut self, verifier: &Verifier, bytes: &[u8]) -> Result<(), AuditError> {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        };
        let (notes, _partial) = split_notes(text);
        let opened = open_all(verifier, &notes);
        let start = self.checkpoints_offset;
        for (&(at, note), opened) in notes.iter().zip(opened) {
            let number = self.checkpoints + 1;
            let refuse = |problem: String| AuditError::Checkpoint {
                path: self.checkpoints_path.clone(),
                number,
                line: self.checkpoint_lines + 1,
                problem,
                help: "a checkpoint was altered or is not signed by this log's key; run \
                       `gate audit verify` for the whole log"
                    .into(),
            };
            let checkpoint = opened.map_err(|e| refuse(e.to_string()))?;
            let covered = self.frontier.size();
            if checkpoint.size < covered {
                return Err(refuse(format!(
                    "its size {} is smaller than the checkpoint before it ({covered})",
                    checkpoint.size
                )));
            }
            if checkpoint.size > self.entries() {
                // Its entries are not read yet: this note is read again next time.
                break;
            }
            let take = (checkpoint.size - covered) as usize;
            let mut frontier = self.frontier.clone();
            for leaf in &self.uncovered[..take] {
                frontier.push(*leaf);
            }
            if frontier.root() != checkpoint.root {
                return Err(tampered(
                    &self.entries_path,
                    covered,
                    &format!(
                        "changed: entries {covered}..{} no longer hash to checkpoint {number}",
                        checkpoint.size.saturating_sub(1)
                    ),
                ));
            }
            self.frontier = frontier;
            self.uncovered.drain(..take);
            self.checkpoints = number;
            self.checkpoints_offset = start + (at + note.len()) as u64;
            self.checkpoint_lines += note.matches('\n').count() as u64;
        }
        Ok(())
    }
}
