//! Rebuilding the append state from the files, and cutting off what an
//! interrupted append left: a partial last line, complete entries that no
//! checkpoint covers (their append never returned, so the actions they
//! recorded did not go ahead), and a partial last checkpoint. What is cut
//! is described in a [`Recovery`] record, which the append writes first;
//! nothing is ever dropped silently.
//!
//! A log that does not match its own last checkpoint (entries removed or
//! changed) is not repaired: the append fails, and `gate audit verify`
//! names the first bad entry.

use sha2::{Digest, Sha256};

use crate::entry::{Entry, Recovery};
use crate::error::AuditError;
use crate::log::{AuditLog, CHECKPOINTS, ENTRIES, State};
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::note::Signer;
use crate::snapshot::{Notes, Snapshot};

/// The longest checkpoint note gate writes, with room to spare.
const MAX_NOTE: usize = 1024;

/// The state after the last checkpointed append, with the files cut back
/// to it; the recovery record when anything was cut.
pub(crate) fn rebuild(
    log: &AuditLog,
    signer: &Signer,
) -> Result<(State, Option<Recovery>), AuditError> {
    let snap = Snapshot::read(log)?;
    let notes = snap.notes();
    let (checkpoints_len, covered, root) = last_checkpoint(&snap, &notes, signer)?;
    let lines = snap.lines();
    let count = lines.complete.len() as u64;
    if covered > count {
        return Err(AuditError::Tampered {
            path: snap.entries_path.clone(),
            seq: count,
            line: count + 1,
            problem: format!(
                "missing: the last checkpoint covers {covered} entries, the file holds {count}"
            ),
            help: "entries were removed; nothing more is appended until the log is \
                   investigated (`gate audit verify`) and restored from a copy"
                .into(),
        });
    }
    let kept = &lines.complete[..covered as usize];
    let mut frontier = Frontier::default();
    for (_, line) in kept {
        frontier.push(leaf_hash(line));
    }
    if let Some(root) = root
        && frontier.root() != root
    {
        let at = notes.complete.last().map_or(0, |(at, _)| *at);
        return Err(refused(
            &snap,
            notes.complete.len(),
            at,
            "the entries no longer hash to this checkpoint's head",
        ));
    }
    let entries_len = lines
        .complete
        .get(covered as usize)
        .map(|(at, _)| *at)
        .or(lines.partial.map(|(at, _)| at))
        .unwrap_or(snap.entries.len());
    let last_time = match kept.last() {
        Some((_, line)) => Some(
            Entry::decode(line)
                .map_err(|e| AuditError::Tampered {
                    path: snap.entries_path.clone(),
                    seq: covered - 1,
                    line: covered,
                    problem: format!("not a valid entry: {e}"),
                    help: "run `gate audit verify` for the first bad entry".into(),
                })?
                .time,
        ),
        None => None,
    };
    // One append writes one entry and then its checkpoint: an interruption
    // leaves at most one uncovered entry and one torn checkpoint. More
    // than that was not a crash.
    let torn = snap.checkpoints.len() - checkpoints_len;
    if count - covered > 1 || torn > MAX_NOTE {
        let at = notes.complete.last().map_or(0, |(at, _)| *at);
        return Err(refused(
            &snap,
            notes.complete.len(),
            at,
            &format!(
                "{} entries and {torn} bytes follow the last checkpoint; an interrupted \
                 append leaves at most one entry and one partial checkpoint",
                count - covered
            ),
        ));
    }
    let recovery = cut(log, &snap, entries_len, checkpoints_len, count - covered)?;
    let mut state = State::empty();
    state.set_frontier(&frontier);
    state.entries_len = entries_len as u64;
    state.checkpoints_len = checkpoints_len as u64;
    state.last_checkpoint_at = notes.complete.last().map_or(0, |(at, _)| *at as u64);
    state.head.last_time = last_time;
    Ok((state, recovery))
}

/// Where the last complete checkpoint ends, the size it covers and its
/// head (none before the first append); an error when it does not verify.
fn last_checkpoint(
    snap: &Snapshot,
    notes: &Notes<'_>,
    signer: &Signer,
) -> Result<(usize, u64, Option<Hash>), AuditError> {
    let Some(&(at, note)) = notes.complete.last() else {
        return Ok((0, 0, None));
    };
    let checkpoint = signer.verifier().open(note).map_err(|e| {
        refused(
            snap,
            notes.complete.len(),
            at,
            &format!("the last checkpoint does not verify: {e}"),
        )
    })?;
    Ok((at + note.len(), checkpoint.size, Some(checkpoint.root)))
}

/// Truncates both files to what the last checkpoint covers; the record of
/// what was cut, if anything was.
fn cut(
    log: &AuditLog,
    snap: &Snapshot,
    entries_len: usize,
    checkpoints_len: usize,
    discarded_entries: u64,
) -> Result<Option<Recovery>, AuditError> {
    let discarded = &snap.entries[entries_len..];
    let torn = snap.checkpoints.len() - checkpoints_len;
    if discarded.is_empty() && torn == 0 {
        return Ok(None);
    }
    if !discarded.is_empty() {
        log.truncate(ENTRIES, entries_len as u64)?;
    }
    if torn > 0 {
        log.truncate(CHECKPOINTS, checkpoints_len as u64)?;
    }
    Ok(Some(Recovery {
        discarded_bytes: discarded.len() as u64,
        discarded_entries,
        discarded_sha256: hex::encode(Sha256::digest(discarded)),
        discarded_checkpoint_bytes: torn as u64,
    }))
}

fn refused(snap: &Snapshot, number: usize, at: usize, problem: &str) -> AuditError {
    AuditError::Checkpoint {
        path: snap.checkpoints_path.clone(),
        number: number as u64,
        line: snap.checkpoint_line(at),
        problem: problem.to_string(),
        help: "the log no longer matches what was signed; nothing more is appended until \
               it is investigated (`gate audit verify` names the first bad entry)"
            .into(),
    }
}
