//! Verifying a whole log: every entry parses, its `seq` is its index and its
//! time does not go backwards; every checkpoint's signature holds and its
//! head equals the tree of its size; the last checkpoint covers the whole
//! log; and, given a checkpoint seen earlier, the log is consistent with it
//! (an RFC 9162 consistency proof). The error names the first bad entry.
//!
//! Cutting entries and checkpoints off the end together leaves a shorter
//! log that verifies on its own; only a checkpoint kept from before
//! (`--checkpoint`) shows it.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::entry::Entry;
use crate::error::AuditError;
use crate::merkle::{Frontier, Hash, consistency_proof, leaf_hash, verify_consistency};
use crate::note::{Checkpoint, Located, NoteError, Verifier};
use crate::snapshot::Snapshot;

/// What a verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    pub checkpoints: u64,
    pub root: Hash,
}

/// A checkpoint kept from an earlier look at the log, and where it came from.
pub struct Earlier<'a> {
    pub path: &'a Path,
    pub note: &'a str,
}

/// Verifies `snap` with `verifier`, and against `earlier` when given.
pub fn verify(
    snap: &Snapshot,
    verifier: &Verifier,
    earlier: Option<Earlier<'_>>,
) -> Result<Verified, AuditError> {
    let lines = snap.lines();
    let leaves: Vec<Hash> = lines.complete.iter().map(|(_, l)| leaf_hash(l)).collect();
    let count = leaves.len() as u64;
    let bodies: Vec<&[u8]> = lines.complete.iter().map(|(_, l)| *l).collect();
    let mut first_bad = check_entries(snap, &bodies);
    if first_bad.is_none() && lines.partial.is_some() {
        first_bad = Some(bad(
            snap,
            count,
            "incomplete (no newline): an append was interrupted; the next append cuts it off \
             and records a recovery entry",
        ));
    }
    let checked = check_checkpoints(snap, verifier, &leaves, &mut first_bad);
    // A bad entry is named before a bad checkpoint.
    let (checkpoints, last) = match (checked, first_bad) {
        (_, Some(e)) | (Err(e), None) => return Err(e),
        (Ok(checked), None) => checked,
    };
    let covered = last.as_ref().map_or(0, |c| c.size);
    if covered < count {
        return Err(bad(
            snap,
            covered,
            "not covered by any checkpoint: its append was interrupted before it was \
             confirmed; the next append cuts it off and records a recovery entry",
        ));
    }
    let root = last.map_or_else(crate::merkle::empty_root, |c| c.root);
    if let Some(earlier) = earlier {
        check_earlier(snap, verifier, &leaves, &root, earlier)?;
    }
    Ok(Verified {
        entries: count,
        checkpoints,
        root,
    })
}

fn bad(snap: &Snapshot, seq: u64, problem: &str) -> AuditError {
    tampered(&snap.entries_path, seq, problem)
}

/// Entry `seq` of the log at `path` is not what was recorded.
pub(crate) fn tampered(path: &Path, seq: u64, problem: &str) -> AuditError {
    AuditError::Tampered {
        path: path.to_path_buf(),
        seq,
        line: seq + 1,
        problem: problem.to_string(),
        help: "the log is not what was recorded from this entry on; keep a copy for the \
               investigation and compare it with your backups or a published checkpoint"
            .into(),
    }
}

/// The first entry that does not parse, is out of sequence or goes back in time.
fn check_entries(snap: &Snapshot, lines: &[&[u8]]) -> Option<AuditError> {
    let mut previous: Option<DateTime<Utc>> = None;
    for (i, line) in lines.iter().enumerate() {
        let seq = i as u64;
        match check_entry(line, seq, previous) {
            Ok(entry) => previous = Some(entry.time),
            Err(problem) => return Some(bad(snap, seq, &problem)),
        }
    }
    None
}

/// Entry `seq`, parsed from its line: it must parse, hold its own `seq`
/// and not go back in time from the entry before it; else what is wrong.
pub(crate) fn check_entry(
    line: &[u8],
    seq: u64,
    previous: Option<DateTime<Utc>>,
) -> Result<Entry, String> {
    let entry = Entry::decode(line).map_err(|e| format!("not a valid entry: {e}"))?;
    if entry.seq != seq {
        return Err(format!(
            "out of sequence: line {} holds entry {} (entries were removed, reordered or \
             inserted)",
            seq + 1,
            entry.seq
        ));
    }
    if previous.is_some_and(|p| entry.time < p) {
        return Err(format!(
            "its time {} is earlier than the entry before it",
            entry.time
        ));
    }
    Ok(entry)
}

/// Checks every checkpoint; a head that does not match points at the
/// entries since the last one that did, which replaces `first_bad` when
/// earlier. Returns how many there were and the last one.
fn check_checkpoints(
    snap: &Snapshot,
    verifier: &Verifier,
    leaves: &[Hash],
    first_bad: &mut Option<AuditError>,
) -> Result<(u64, Option<Checkpoint>), AuditError> {
    let notes = snap.notes();
    let count = leaves.len() as u64;
    let mut frontier = Frontier::default();
    let mut last: Option<Checkpoint> = None;
    let bad_seq = |e: &Option<AuditError>| match e {
        Some(AuditError::Tampered { seq, .. }) => *seq,
        _ => u64::MAX,
    };
    let opened = open_all(verifier, &notes.complete);
    for (n, (&(at, _), opened)) in notes.complete.iter().zip(opened).enumerate() {
        let refuse = |problem: String| AuditError::Checkpoint {
            path: snap.checkpoints_path.clone(),
            number: n as u64 + 1,
            line: snap.checkpoint_line(at),
            problem,
            help: "a checkpoint was altered or is not signed by this log's key; check the \
                   verifier key (`gate audit key`) and keep a copy for the investigation"
                .into(),
        };
        let checkpoint = opened.map_err(|e| refuse(e.to_string()))?;
        let previous = last.as_ref().map_or(0, |c| c.size);
        if checkpoint.size < previous {
            return Err(refuse(format!(
                "its size {} is smaller than the checkpoint before it ({previous})",
                checkpoint.size
            )));
        }
        if checkpoint.size > count {
            let e = bad(
                snap,
                count,
                &format!(
                    "missing: checkpoint {} covers {} entries, the file holds {count}",
                    n + 1,
                    checkpoint.size
                ),
            );
            if count < bad_seq(first_bad) {
                *first_bad = Some(e);
            }
            return Ok((n as u64 + 1, Some(checkpoint)));
        }
        while frontier.size() < checkpoint.size {
            frontier.push(leaves[frontier.size() as usize]);
        }
        if frontier.root() != checkpoint.root {
            let e = bad(
                snap,
                previous,
                &format!(
                    "changed: entries {previous}..{} no longer hash to checkpoint {} \
                     (the first of them that differs was edited, or an entry was inserted)",
                    checkpoint.size - 1,
                    n + 1
                ),
            );
            if previous < bad_seq(first_bad) {
                *first_bad = Some(e);
            }
            return Ok((n as u64 + 1, Some(checkpoint)));
        }
        last = Some(checkpoint);
    }
    if let Some(at) = notes.torn_at {
        return Err(AuditError::Checkpoint {
            path: snap.checkpoints_path.clone(),
            number: notes.complete.len() as u64 + 1,
            line: snap.checkpoint_line(at),
            problem: "incomplete: an append was interrupted while writing it".into(),
            help: "the next append cuts it off and records a recovery entry".into(),
        });
    }
    Ok((notes.complete.len() as u64, last))
}

/// Every note's signature checked and its checkpoint parsed, on all cores
/// (signatures are most of a verification's time).
pub(crate) fn open_all(
    verifier: &Verifier,
    notes: &[Located<'_>],
) -> Vec<Result<Checkpoint, NoteError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = notes.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = notes
            .chunks(chunk)
            .map(|part| {
                let handle = scope.spawn(move || {
                    part.iter()
                        .map(|(_, note)| verifier.open(note))
                        .collect::<Vec<_>>()
                });
                (part.len(), handle)
            })
            .collect();
        // One result per note, whatever happens to a thread.
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..len)
                        .map(|_| Err(NoteError::Malformed("verification thread failed".into())))
                        .collect()
                })
            })
            .collect()
    })
}

/// The log extends the checkpoint seen earlier.
fn check_earlier(
    snap: &Snapshot,
    verifier: &Verifier,
    leaves: &[Hash],
    root: &Hash,
    earlier: Earlier<'_>,
) -> Result<(), AuditError> {
    let old = verifier
        .open(earlier.note)
        .map_err(|e| AuditError::note(earlier.path, e))?;
    let count = leaves.len() as u64;
    if old.size > count {
        return Err(bad(
            snap,
            count,
            &format!(
                "missing: {} covers {} entries, the log holds {count} (entries and their \
                 checkpoints were cut off the end)",
                earlier.path.display(),
                old.size
            ),
        ));
    }
    if old.size == 0 {
        return Ok(());
    }
    let proof = consistency_proof(old.size as usize, leaves).unwrap_or_default();
    if !verify_consistency(old.size, count, &old.root, root, &proof) {
        return Err(bad(
            snap,
            0,
            &format!(
                "the first {} entries are not those {} signed for: an entry before \
                 entry {} was changed",
                old.size,
                earlier.path.display(),
                old.size
            ),
        ));
    }
    Ok(())
}
