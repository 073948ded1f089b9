//! The log end to end on a temporary directory: appends, verification,
//! every kind of tampering (each named by its first bad entry), crashes at
//! every point of an append, and inclusion proofs.

use std::path::Path;

use crate::entry::{Record, Stage, StageState};
use crate::error::AuditError;
use crate::log::{AuditLog, CHECKPOINTS, Draft, ENTRIES};
use crate::note::Signer;
use crate::proof::InclusionProof;
use crate::verify::{Earlier, verify};

fn signer() -> Signer {
    Signer::from_seed(&[42u8; 32])
}

fn draft(n: usize) -> Draft {
    Draft {
        actor: "alice".into(),
        run_id: Some(format!("run-{n}")),
        record: Record::Stage(Stage {
            name: format!("stage {n}"),
            state: StageState::Passed,
            detail: None,
        }),
    }
}

/// A log with `n` entries.
fn log_with(dir: &Path, n: usize) -> AuditLog {
    let log = AuditLog::open(&dir.join("audit"), true).unwrap().unwrap();
    for i in 0..n {
        log.append(&signer(), draft(i)).unwrap();
    }
    log
}

fn check(log: &AuditLog) -> Result<crate::verify::Verified, AuditError> {
    verify(&log.snapshot().unwrap(), signer().verifier(), None)
}

/// The seq of the first bad entry the verification names.
fn first_bad(log: &AuditLog) -> u64 {
    match check(log) {
        Err(AuditError::Tampered { seq, line, .. }) => {
            assert_eq!(line, seq + 1);
            seq
        }
        other => panic!("expected a tampered entry, got {other:?}"),
    }
}

fn read(log: &AuditLog, name: &str) -> Vec<u8> {
    std::fs::read(log.path().join(name)).unwrap()
}

fn write(log: &AuditLog, name: &str, bytes: &[u8]) {
    std::fs::write(log.path().join(name), bytes).unwrap();
}

fn lines(log: &AuditLog) -> Vec<String> {
    String::from_utf8(read(log, ENTRIES))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn set_lines(log: &AuditLog, lines: &[String]) {
    write(log, ENTRIES, format!("{}\n", lines.join("\n")).as_bytes());
}

#[test]
fn appends_verify_and_the_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 5);
    let verified = check(&log).unwrap();
    assert_eq!((verified.entries, verified.checkpoints), (5, 5));
    let mode = std::fs::metadata(log.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let mode = std::fs::metadata(log.path().join(ENTRIES))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let entries = log.snapshot().unwrap().entries().unwrap();
    assert_eq!(entries.len(), 5);
    assert!(entries.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    assert!(entries.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn a_stale_saved_state_is_rebuilt_without_a_recovery() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 3);
    // The state of two appends ago: as if the process died after the
    // checkpoint but before saving the state.
    std::fs::remove_file(log.path().join("state.json")).unwrap();
    let appended = log.append(&signer(), draft(3)).unwrap();
    assert!(appended.recovered.is_none());
    assert_eq!(appended.entry.seq, 3);
    assert_eq!(check(&log).unwrap().entries, 4);
}

#[test]
fn a_saved_state_lost_in_a_crash_is_rebuilt_without_a_recovery() {
    // The state is saved without fsync, so after a crash it may be empty,
    // a torn prefix, or an older state: each is rebuilt from the files.
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 2);
    let path = log.path().join("state.json");
    let older = std::fs::read(&path).unwrap();
    log.append(&signer(), draft(2)).unwrap();
    let saved = std::fs::read(&path).unwrap();
    for (i, lost) in [Vec::new(), saved[..saved.len() / 2].to_vec(), older]
        .into_iter()
        .enumerate()
    {
        std::fs::write(&path, &lost).unwrap();
        let appended = log.append(&signer(), draft(3 + i)).unwrap();
        assert!(appended.recovered.is_none());
        assert_eq!(appended.entry.seq, 3 + i as u64);
    }
    assert_eq!(check(&log).unwrap().entries, 6);
}

#[test]
fn an_edited_entry_is_named() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 6);
    let mut l = lines(&log);
    l[3] = l[3].replace("stage 3", "stage X");
    set_lines(&log, &l);
    assert_eq!(first_bad(&log), 3);
    // An append trusts its saved frontier (it does not rehash the log), so
    // it goes ahead, but its checkpoint signs the entries as they were.
    log.append(&signer(), draft(9)).unwrap();
    assert_eq!(first_bad(&log), 3);
    // A change of length is noticed by the append itself.
    let mut l = lines(&log);
    l[4] = l[4].replace("stage 4", "stage 44");
    set_lines(&log, &l);
    let e = log.append(&signer(), draft(10)).unwrap_err();
    assert!(matches!(e, AuditError::Checkpoint { number: 7, .. }), "{e}");
    assert_eq!(first_bad(&log), 3);
}

#[test]
fn a_deleted_reordered_or_inserted_entry_is_named() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 6);
    let original = lines(&log);

    let mut deleted = original.clone();
    deleted.remove(2);
    set_lines(&log, &deleted);
    assert_eq!(first_bad(&log), 2);

    let mut reordered = original.clone();
    reordered.swap(1, 4);
    set_lines(&log, &reordered);
    assert_eq!(first_bad(&log), 1);

    let mut inserted = original.clone();
    inserted.insert(4, original[4].clone());
    set_lines(&log, &inserted);
    assert_eq!(first_bad(&log), 5);

    // An inserted entry with every later seq renumbered still breaks the
    // checkpoints from the insertion on.
    let mut renumbered = original.clone();
    renumbered.insert(2, original[2].replace("stage 2", "stage inserted"));
    for (i, line) in renumbered.iter_mut().enumerate().skip(3) {
        *line = line.replacen(&format!("\"seq\":{}", i - 1), &format!("\"seq\":{i}"), 1);
    }
    set_lines(&log, &renumbered);
    assert_eq!(first_bad(&log), 2);

    set_lines(&log, &original);
    assert_eq!(check(&log).unwrap().entries, 6);
}

#[test]
fn truncated_entries_are_named_and_a_cut_of_both_files_needs_an_earlier_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 6);
    let original = lines(&log);
    let notes = read(&log, CHECKPOINTS);
    set_lines(&log, &original[..4]);
    assert_eq!(first_bad(&log), 4);

    // Cut both files back to four entries: the log verifies on its own...
    let snap = log.snapshot().unwrap();
    let kept = snap.notes().complete[3];
    write(&log, CHECKPOINTS, &notes[..kept.0 + kept.1.len()]);
    assert_eq!(check(&log).unwrap().entries, 4);
    // ...but not against the checkpoint seen when it had six.
    let full = String::from_utf8(notes).unwrap();
    let last = crate::note::split_notes(&full).0[5].1.to_string();
    let earlier = Earlier {
        path: Path::new("seen.note"),
        note: &last,
    };
    let e = verify(&log.snapshot().unwrap(), signer().verifier(), Some(earlier)).unwrap_err();
    assert!(matches!(e, AuditError::Tampered { seq: 4, .. }), "{e}");
}

#[test]
fn an_earlier_checkpoint_of_a_grown_log_is_consistent() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 3);
    let seen = log.append(&signer(), draft(3)).unwrap().checkpoint;
    for i in 4..11 {
        log.append(&signer(), draft(i)).unwrap();
    }
    let earlier = Earlier {
        path: Path::new("seen.note"),
        note: &seen,
    };
    let verified = verify(&log.snapshot().unwrap(), signer().verifier(), Some(earlier)).unwrap();
    assert_eq!(verified.entries, 11);

    // Rewriting history and re-signing everything (as a holder of the key
    // could) still contradicts the checkpoint published before.
    let mut l = lines(&log);
    l[1] = l[1].replace("stage 1", "stage rewritten");
    let rewritten = tempfile::tempdir().unwrap();
    let forged = AuditLog::open(&rewritten.path().join("audit"), true)
        .unwrap()
        .unwrap();
    for line in &l {
        let entry = crate::entry::Entry::decode(line.as_bytes()).unwrap();
        forged
            .append(
                &signer(),
                Draft {
                    actor: entry.actor,
                    run_id: entry.run_id,
                    record: entry.record,
                },
            )
            .unwrap();
    }
    let earlier = Earlier {
        path: Path::new("seen.note"),
        note: &seen,
    };
    let e = verify(
        &forged.snapshot().unwrap(),
        signer().verifier(),
        Some(earlier),
    )
    .unwrap_err();
    assert!(e.is_tampering(), "{e}");
}

#[test]
fn another_key_or_an_altered_checkpoint_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 3);
    let other = Signer::from_seed(&[1u8; 32]);
    let e = verify(&log.snapshot().unwrap(), other.verifier(), None).unwrap_err();
    assert!(matches!(e, AuditError::Checkpoint { number: 1, .. }), "{e}");
    let notes = String::from_utf8(read(&log, CHECKPOINTS)).unwrap();
    write(
        &log,
        CHECKPOINTS,
        notes.replacen("\n2\n", "\n1\n", 1).as_bytes(),
    );
    let e = check(&log).unwrap_err();
    assert!(
        matches!(
            e,
            AuditError::Checkpoint {
                number: 2,
                line: 6,
                ..
            }
        ),
        "{e}"
    );
}

/// Writes what an append interrupted at some point leaves, then appends
/// again: the leftover is cut off, a recovery entry says so, and the log
/// verifies.
fn recovers_from(leftover: impl Fn(&AuditLog), discarded_entries: u64, torn_checkpoint: bool) {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 3);
    leftover(&log);
    assert!(
        check(&log).is_err(),
        "the leftover is visible before recovery"
    );
    let appended = log.append(&signer(), draft(7)).unwrap();
    let recovery = appended.recovered.expect("a recovery");
    assert_eq!(recovery.discarded_entries, discarded_entries);
    assert_eq!(recovery.discarded_checkpoint_bytes > 0, torn_checkpoint);
    let entries = log.snapshot().unwrap().entries().unwrap();
    assert_eq!(entries.len(), 5);
    assert!(matches!(&entries[3].record, Record::Recovery(r) if *r == recovery));
    assert_eq!(entries[4].run_id.as_deref(), Some("run-7"));
    assert_eq!(check(&log).unwrap().entries, 5);
}

/// The line the next append would write, as `write_entry` encodes it.
fn next_line(log: &AuditLog) -> Vec<u8> {
    let mut entry = log.snapshot().unwrap().entries().unwrap().pop().unwrap();
    entry.seq += 1;
    let mut line = entry.encode();
    line.push(b'\n');
    line
}

fn append_bytes(log: &AuditLog, name: &str, bytes: &[u8]) {
    let mut all = read(log, name);
    all.extend_from_slice(bytes);
    write(log, name, &all);
}

#[test]
fn a_crash_at_every_byte_of_the_entry_is_recovered() {
    let t = tempfile::tempdir().unwrap();
    let line = next_line(&log_with(t.path(), 3));
    // Cut at every 11th byte and just before the newline.
    for cut in (1..line.len()).step_by(11).chain([line.len() - 1]) {
        recovers_from(|log| append_bytes(log, ENTRIES, &line[..cut]), 0, false);
    }
    // The whole entry written, its checkpoint not.
    recovers_from(|log| append_bytes(log, ENTRIES, &line), 1, false);
}

#[test]
fn a_crash_at_every_byte_of_the_checkpoint_is_recovered() {
    let t = tempfile::tempdir().unwrap();
    let model = log_with(t.path(), 4);
    let snap = model.snapshot().unwrap();
    let last = snap.lines().complete[3].1.to_vec();
    let note = snap.notes().complete[3].1.to_string();
    // Every byte up to the signature line's em dash and into its first
    // characters (a torn em dash is not UTF-8), then every 17th.
    let dash = note.find('\u{2014}').unwrap();
    let cuts = (1..dash + 6).chain((dash + 6..note.len()).step_by(17));
    for cut in cuts.chain([note.len() - 1]) {
        recovers_from(
            |log| {
                append_bytes(log, ENTRIES, &[&last[..], b"\n"].concat());
                append_bytes(log, CHECKPOINTS, &note.as_bytes()[..cut]);
            },
            1,
            true,
        );
    }
}

#[test]
fn more_than_one_uncovered_entry_is_not_a_crash_and_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 5);
    let notes = read(&log, CHECKPOINTS);
    let snap = log.snapshot().unwrap();
    let third = snap.notes().complete[2];
    write(&log, CHECKPOINTS, &notes[..third.0 + third.1.len()]);
    let e = log.append(&signer(), draft(9)).unwrap_err();
    assert!(matches!(e, AuditError::Checkpoint { .. }), "{e}");
    assert_eq!(lines(&log).len(), 5, "nothing was cut");
}

#[test]
fn inclusion_proofs_round_trip_and_a_forged_one_fails() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 7);
    let snap = log.snapshot().unwrap();
    let path = Path::new("proof.json");
    for seq in 0..7 {
        let proof = InclusionProof::build(&snap, seq).unwrap();
        let json = serde_json::to_string(&proof).unwrap();
        let back: InclusionProof = serde_json::from_str(&json).unwrap();
        let entry = back.check(path, signer().verifier()).unwrap();
        assert_eq!(entry.seq, seq);
    }
    assert!(InclusionProof::build(&snap, 7).is_err());
    let mut forged = InclusionProof::build(&snap, 2).unwrap();
    forged.entry = forged.entry.replace("stage 2", "stage 9");
    forged.leaf_hash = hex::encode(crate::merkle::leaf_hash(forged.entry.as_bytes()));
    assert!(forged.check(path, signer().verifier()).is_err());
    let other = Signer::from_seed(&[1u8; 32]);
    let honest = InclusionProof::build(&snap, 2).unwrap();
    assert!(honest.check(path, other.verifier()).is_err());
}

#[test]
fn secrets_never_reach_the_file() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 0);
    let secret = "ghp_0123456789abcdefABCDEFabcdef01234567";
    let mut d = draft(0);
    d.run_id = Some(format!("token={secret}"));
    log.append(&signer(), d).unwrap();
    let text = String::from_utf8(read(&log, ENTRIES)).unwrap();
    assert!(!text.contains(secret), "{text}");
    assert_eq!(check(&log).unwrap().entries, 1);
}

/// Follows `log` from where `follower` stopped.
fn follow(log: &AuditLog, follower: &mut crate::Follower) -> Result<usize, AuditError> {
    let (e, c) = follower.offsets();
    let tail = log.tail(e, c)?;
    assert_eq!(follower.continues(&tail), crate::follow::Continues::Yes);
    follower
        .advance(Some(signer().verifier()), &tail)
        .map(|a| a.len())
}

#[test]
fn a_follower_verifies_what_is_appended_as_a_full_verification_does() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 3);
    let (entries, checkpoints) = log.files();
    let mut follower = crate::Follower::new(entries, checkpoints);
    assert_eq!(follow(&log, &mut follower).unwrap(), 3);
    assert_eq!(follower.verified(), check(&log).unwrap());
    let mut unread = 0;
    for i in 3..40 {
        log.append(&signer(), draft(i)).unwrap();
        unread += 1;
        if i % 7 == 0 {
            assert_eq!(follow(&log, &mut follower).unwrap(), unread);
            assert_eq!(follower.verified(), check(&log).unwrap());
            unread = 0;
        }
    }
    follow(&log, &mut follower).unwrap();
    assert_eq!(follower.verified(), check(&log).unwrap());
    assert_eq!(follower.entries(), 40);
    // Nothing appended: nothing read, nothing changes.
    assert_eq!(follow(&log, &mut follower).unwrap(), 0);
    assert_eq!(follower.verified().entries, 40);
}

#[test]
fn a_follower_refuses_an_edited_new_entry_and_a_foreign_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 4);
    let (entries, checkpoints) = log.files();
    let mut follower = crate::Follower::new(entries, checkpoints);
    follow(&log, &mut follower).unwrap();
    let before = follower.verified();
    log.append(&signer(), draft(4)).unwrap();
    let mut all = lines(&log);
    all[4] = all[4].replace("stage 4", "stage X");
    set_lines(&log, &all);
    match follow(&log, &mut follower) {
        Err(AuditError::Tampered { seq, .. }) => assert_eq!(seq, 4),
        other => panic!("expected entry 4 to be refused, got {other:?}"),
    }
    // A refused look leaves the follower where it was.
    assert_eq!(follower.verified(), before);

    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 2);
    let (entries, checkpoints) = log.files();
    let mut follower = crate::Follower::new(entries, checkpoints);
    follow(&log, &mut follower).unwrap();
    // The third checkpoint is replaced by one with the right head, signed by another key.
    log.append(&signer(), draft(2)).unwrap();
    let notes = String::from_utf8(read(&log, CHECKPOINTS)).unwrap();
    let (split, _) = crate::note::split_notes(&notes);
    let (at, third) = split[2];
    let checkpoint = signer().verifier().open(third).unwrap();
    let forged = Signer::from_seed(&[7u8; 32]).sign(&checkpoint);
    write(
        &log,
        CHECKPOINTS,
        format!("{}{forged}", &notes[..at]).as_bytes(),
    );
    assert!(
        matches!(
            follow(&log, &mut follower),
            Err(AuditError::Checkpoint { number: 3, .. })
        ),
        "a checkpoint signed by another key must be refused"
    );
}

#[test]
fn a_cut_file_is_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let log = log_with(t.path(), 3);
    let (entries, checkpoints) = log.files();
    let mut follower = crate::Follower::new(entries, checkpoints);
    follow(&log, &mut follower).unwrap();
    let all = lines(&log);
    set_lines(&log, &all[..2]);
    let (e, c) = follower.offsets();
    let tail = log.tail(e, c).unwrap();
    assert_eq!(follower.continues(&tail), crate::follow::Continues::Cut);
}
