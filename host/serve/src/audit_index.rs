//! An index of one audit log, kept up to date as the log grows, so that a
//! request reads what was appended since the last one and nothing else.
//!
//! Each look reads the log's tail under its shared lock and hands it to a
//! [`Follower`], which checks every new entry and checkpoint as `gate audit
//! verify` does. The index keeps, per entry, only where its line is, its
//! kind and time (about 40 bytes; entries are read back from the file when
//! shown), plus what the pages ask of the whole log: each policy's latest
//! evaluation, evaluations by verdict, and when each check last passed.
//!
//! Following sees appends, not an earlier byte edited in place, so the whole
//! log is verified again from the start every [`FULL_EVERY`] on one
//! long-lived thread; a refusal there is shown as the log's state until the log is
//! looked at afresh. A file shorter than what was read (a recovery's cut, or
//! tampering) starts the index over.
//!
//! A rollout whose state is in PostgreSQL keeps its audit log there; that
//! log is read whole through the rollout's store on each look (there are no
//! files to read the tail of) and followed the same way.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gate_audit::entry::{CheckStatus, Record};
use gate_audit::follow::{Continues, Located};
use gate_audit::{AuditError, AuditLog, Entry, Follower, Kind, Snapshot, Tail, Verifier};
use gate_rollout::store::Store;
use tokio::runtime::Handle;

use crate::error::ApiError;
use crate::view::audit::Verification;

/// How often the whole log is verified again from its start.
pub const FULL_EVERY: Duration = Duration::from_secs(600);

/// Where an entry is and what it is.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub seq: u64,
    offset: u64,
    len: u64,
    pub kind: Kind,
    pub time: DateTime<Utc>,
}

/// A check of a policy's gate.
type CheckKey = (String, String, String);

/// What is known of the log after the last look.
#[derive(Default)]
struct Indexed {
    follower: Option<Follower>,
    slots: Vec<Slot>,
    /// Per policy name, the index in `slots` of its latest evaluation.
    latest_evaluation: HashMap<String, usize>,
    /// Evaluations per (policy name, verdict).
    evaluations: BTreeMap<(String, String), u64>,
    /// When each (policy, gate, check) last passed.
    last_passed: HashMap<CheckKey, DateTime<Utc>>,
    /// The tampering following or the last full verification found; the
    /// log is not followed further.
    refused: Option<Verification>,
    /// When the last full verification started.
    full_started: Option<Instant>,
}

/// Where a served audit log is.
pub enum Source {
    /// An audit directory (a policy's, or a rollout's with file state).
    Dir(PathBuf),
    /// The log of rollouts whose state is in PostgreSQL, read through a store.
    Store(Box<dyn Store>),
}

/// A log as opened for one look.
enum Reader {
    File(AuditLog),
    /// A log read whole (from PostgreSQL).
    Whole(Snapshot),
}

impl Reader {
    fn tail(&self, entries_from: u64, checkpoints_from: u64) -> Result<Tail, AuditError> {
        match self {
            Reader::File(log) => log.tail(entries_from, checkpoints_from),
            Reader::Whole(snap) => {
                let from = |bytes: &[u8], at: u64| {
                    bytes
                        .get(usize::try_from(at).unwrap_or(usize::MAX)..)
                        .unwrap_or_default()
                        .to_vec()
                };
                Ok(Tail {
                    entries_len: snap.entries.len() as u64,
                    entries: from(&snap.entries, entries_from),
                    checkpoints_len: snap.checkpoints.len() as u64,
                    checkpoints: from(&snap.checkpoints, checkpoints_from),
                })
            }
        }
    }

    fn files(&self) -> (PathBuf, PathBuf) {
        match self {
            Reader::File(log) => log.files(),
            Reader::Whole(snap) => (snap.entries_path.clone(), snap.checkpoints_path.clone()),
        }
    }

    fn read_lines(&self, ranges: &[(u64, u64)]) -> Result<Vec<Vec<u8>>, AuditError> {
        match self {
            Reader::File(log) => log.read_lines(ranges),
            Reader::Whole(snap) => Ok(ranges
                .iter()
                .map(|&(at, len)| {
                    let (at, len) = (at as usize, len as usize);
                    snap.entries.get(at..at + len).unwrap_or_default().to_vec()
                })
                .collect()),
        }
    }

    fn snapshot(self) -> Result<Snapshot, AuditError> {
        match self {
            Reader::File(log) => log.snapshot(),
            Reader::Whole(snap) => Ok(snap),
        }
    }
}

/// One served audit log and its index.
pub struct AuditIndex {
    /// Where it is, as shown (a directory, or a database without its password).
    pub location: String,
    source: Source,
    verifier: Option<Verifier>,
    state: Mutex<Indexed>,
}

/// The log as of one look: its state and the index's lock, for reading
/// entries consistently with it.
pub struct Looked<'a> {
    pub verification: Verification,
    index: MutexGuard<'a, Indexed>,
    reader: Option<Reader>,
}

impl AuditIndex {
    pub fn new(source: Source, verifier: Option<Verifier>) -> Arc<AuditIndex> {
        let location = match &source {
            Source::Dir(dir) => dir.display().to_string(),
            Source::Store(store) => store.audit_location(),
        };
        Arc::new(AuditIndex {
            location,
            source,
            verifier,
            state: Mutex::new(Indexed::default()),
        })
    }

    /// Reads what was appended since the last look and returns the log's
    /// state; a blocking call (file reads, signature checks).
    pub fn look(self: &Arc<Self>) -> Result<Looked<'_>, ApiError> {
        let reader = self.open()?;
        let mut index = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(reader) = reader else {
            *index = Indexed::default();
            return Ok(Looked {
                verification: Verification::Empty,
                index,
                reader: None,
            });
        };
        if index.refused.is_none() {
            match self.follow(&reader, &mut index) {
                Ok(()) => {}
                Err(e) if e.is_tampering() => index.refused = Some(refusal(&e)),
                Err(e) => return Err(e.into()),
            }
        }
        self.full_check_when_due(&mut index);
        let verification = self.verification(&index);
        Ok(Looked {
            verification,
            index,
            reader: Some(reader),
        })
    }

    /// The directory if the source is one.
    pub fn dir(&self) -> Option<&Path> {
        match &self.source {
            Source::Dir(dir) => Some(dir),
            Source::Store(_) => None,
        }
    }

    /// Opens the log for a look; `None` when there is none yet. Reading
    /// through a store needs the server's runtime (requests run in its
    /// blocking threads).
    fn open(&self) -> Result<Option<Reader>, ApiError> {
        match &self.source {
            Source::Dir(dir) => Ok(AuditLog::open(dir, false)?.map(Reader::File)),
            Source::Store(store) => {
                let handle = Handle::try_current().map_err(|e| {
                    ApiError::Unavailable(format!(
                        "reading the audit log in {}: {e}",
                        self.location
                    ))
                })?;
                Ok(handle.block_on(store.audit_snapshot())?.map(Reader::Whole))
            }
        }
    }

    fn follow(&self, log: &Reader, index: &mut Indexed) -> Result<(), AuditError> {
        let (e, c) = index.follower.as_ref().map_or((0, 0), Follower::offsets);
        let mut tail = log.tail(e, c)?;
        let cut = index
            .follower
            .as_ref()
            .is_some_and(|f| f.continues(&tail) == Continues::Cut);
        if cut {
            *index = Indexed {
                full_started: index.full_started,
                ..Indexed::default()
            };
            tail = log.tail(0, 0)?;
        }
        let (entries, checkpoints) = log.files();
        let follower = index
            .follower
            .get_or_insert_with(|| Follower::new(entries, checkpoints));
        let added = follower.advance(self.verifier.as_ref(), &tail)?;
        for located in added {
            index.add(located);
        }
        Ok(())
    }

    /// Starts a verification of the whole log in a thread of its own when
    /// the last one is older than [`FULL_EVERY`]. The first look is one.
    fn full_check_when_due(self: &Arc<Self>, index: &mut Indexed) {
        let now = Instant::now();
        let Some(started) = index.full_started else {
            index.full_started = Some(now);
            return;
        };
        if now.duration_since(started) < FULL_EVERY || self.verifier.is_none() {
            return;
        }
        index.full_started = Some(now);
        let this = self.clone();
        let runtime = Handle::try_current().ok();
        full_checks::run(Box::new(move || {
            let _entered = runtime.as_ref().map(Handle::enter);
            let verified = this.verify_whole();
            full_checks::give_back_memory();
            let refused = match verified {
                Ok(Ok(())) => return,
                Ok(Err(e)) if e.is_tampering() => refusal(&e),
                Ok(Err(e)) => {
                    tracing::warn!("verifying the audit log in {}: {e}", this.location);
                    return;
                }
                Err(e) => {
                    tracing::warn!("reading the audit log in {}: {e}", this.location);
                    return;
                }
            };
            tracing::warn!(
                "the audit log in {} no longer verifies: {}",
                this.location,
                refused.detail()
            );
            this.state.lock().unwrap_or_else(|p| p.into_inner()).refused = Some(refused);
        }));
    }

    /// Verifies the whole log: `Err` when it cannot be read, `Ok(Err)` when
    /// it does not verify.
    fn verify_whole(&self) -> Result<Result<(), AuditError>, ApiError> {
        let (Some(reader), Some(verifier)) = (self.open()?, &self.verifier) else {
            return Ok(Ok(()));
        };
        let snap = reader.snapshot()?;
        Ok(gate_audit::verify(&snap, verifier, None).map(|_| ()))
    }

    fn verification(&self, index: &Indexed) -> Verification {
        if let Some(refused) = &index.refused {
            return refused.clone();
        }
        let Some(follower) = &index.follower else {
            return Verification::Empty;
        };
        if follower.entries() == 0 {
            return Verification::Empty;
        }
        if self.verifier.is_none() {
            return Verification::Unchecked {
                detail: "no verifier key: pass --vkey (gate audit key prints it)".into(),
            };
        }
        let verified = follower.verified();
        Verification::Verified {
            entries: verified.entries,
            checkpoints: verified.checkpoints,
        }
    }
}

/// The one thread that runs full verifications, one after another, and
/// hands the memory a verification used back to the system afterwards.
/// Without both, the allocator kept each verification's freed pages (a
/// fresh arena per thread, and fragments of the many small allocations of
/// reading the whole log): the server's memory grew by about the size of a
/// verification every [`FULL_EVERY`].
mod full_checks {
    use std::sync::Mutex;
    use std::sync::OnceLock;
    use std::sync::mpsc::{Sender, channel};

    type Job = Box<dyn FnOnce() + Send>;

    static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

    pub(super) fn run(job: Job) {
        let queue = QUEUE.get_or_init(|| {
            let (send, receive) = channel::<Job>();
            let started = std::thread::Builder::new()
                .name("audit-verify".into())
                .spawn(move || receive.into_iter().for_each(|job| job()));
            if let Err(e) = started {
                tracing::warn!("cannot start the audit verification thread: {e}");
            }
            Mutex::new(send)
        });
        let send = queue.lock().unwrap_or_else(|p| p.into_inner());
        if send.send(job).is_err() {
            tracing::warn!("the audit verification thread is gone: the log is only followed");
        }
    }

    /// Returns the allocator's free pages to the system (glibc keeps them
    /// otherwise, and a long-running server's resident memory would keep
    /// the high-water mark of every verification).
    pub(super) fn give_back_memory() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory of the allocator;
        // it takes no pointers and is safe to call from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

fn refusal(e: &AuditError) -> Verification {
    let detail = gate_redact::scrub(&e.to_string());
    if e.is_tampering() {
        Verification::Tampered { detail }
    } else {
        Verification::Unchecked { detail }
    }
}

impl Indexed {
    fn add(&mut self, located: Located) {
        let Located { offset, len, entry } = located;
        let at = self.slots.len();
        if let Record::Evaluation(e) = &entry.record {
            self.latest_evaluation.insert(e.policy_name.clone(), at);
            *self
                .evaluations
                .entry((e.policy_name.clone(), e.verdict.to_string()))
                .or_insert(0) += 1;
            for c in e.checks.iter().filter(|c| c.status == CheckStatus::Pass) {
                let key = (e.policy_name.clone(), c.gate.clone(), c.id.clone());
                self.last_passed.insert(key, entry.time);
            }
        }
        self.slots.push(Slot {
            seq: entry.seq,
            offset,
            len,
            kind: entry.record.kind(),
            time: entry.time,
        });
    }
}

impl Looked<'_> {
    /// Every indexed entry, oldest first.
    pub fn slots(&self) -> &[Slot] {
        &self.index.slots
    }

    /// The entries at these slots, read back from the file.
    pub fn read(&self, slots: &[Slot]) -> Result<Vec<Entry>, ApiError> {
        let Some(reader) = &self.reader else {
            return Ok(Vec::new());
        };
        let ranges: Vec<(u64, u64)> = slots.iter().map(|s| (s.offset, s.len)).collect();
        let lines = reader.read_lines(&ranges)?;
        let path = reader.files().0;
        lines
            .iter()
            .zip(slots)
            .map(|(line, slot)| {
                Entry::decode(line).map_err(|e| {
                    ApiError::from(AuditError::Tampered {
                        path: path.clone(),
                        seq: slot.seq,
                        line: slot.seq + 1,
                        problem: format!("changed since it was verified: {e}"),
                        help: "run `gate audit verify` for the first bad entry".into(),
                    })
                })
            })
            .collect()
    }

    /// The latest evaluation of policy `name`, if the log has one.
    pub fn latest_evaluation(&self, name: &str) -> Result<Option<Entry>, ApiError> {
        let Some(&at) = self.index.latest_evaluation.get(name) else {
            return Ok(None);
        };
        Ok(self.read(&self.index.slots[at..=at])?.pop())
    }

    /// When check `id` of gate `gate` of policy `policy` last passed.
    pub fn last_passed(&self, policy: &str, gate: &str, id: &str) -> Option<DateTime<Utc>> {
        let key = (policy.to_string(), gate.to_string(), id.to_string());
        self.index.last_passed.get(&key).copied()
    }

    /// Evaluations per (policy name, verdict).
    pub fn evaluations(&self) -> &BTreeMap<(String, String), u64> {
        &self.index.evaluations
    }
}

/// The directories of the served logs, once each, however they are named.
pub fn distinct(dirs: impl Iterator<Item = PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let key = |d: &Path| d.canonicalize().unwrap_or_else(|_| d.to_path_buf());
    for dir in dirs {
        if !out.iter().any(|d| key(d) == key(&dir)) {
            out.push(dir);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use gate_audit::entry::{Stage, StageState};
    use gate_audit::{Draft, Signer};

    use super::*;

    fn signer() -> Signer {
        Signer::from_seed(&[9u8; 32])
    }

    fn append(log: &AuditLog, n: usize) {
        let draft = Draft {
            actor: "alice".into(),
            run_id: None,
            record: Record::Stage(Stage {
                name: format!("stage {n}"),
                state: StageState::Passed,
                detail: None,
            }),
        };
        log.append(&signer(), draft).unwrap();
    }

    fn verified(index: &Arc<AuditIndex>) -> (u64, usize) {
        let looked = index.look().unwrap();
        match looked.verification {
            Verification::Verified { entries, .. } => (entries, looked.slots().len()),
            ref other => panic!("expected a verified log, got {other:?}"),
        }
    }

    #[test]
    fn the_index_follows_appends_and_reads_entries_back() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("audit");
        let index = AuditIndex::new(Source::Dir(dir.clone()), Some(signer().verifier().clone()));
        assert!(matches!(
            index.look().unwrap().verification,
            Verification::Empty
        ));
        let log = AuditLog::open(&dir, true).unwrap().unwrap();
        for n in 0..5 {
            append(&log, n);
        }
        assert_eq!(verified(&index), (5, 5));
        for n in 5..12 {
            append(&log, n);
        }
        assert_eq!(verified(&index), (12, 12));
        let looked = index.look().unwrap();
        let newest: Vec<Slot> = looked.slots().iter().rev().take(2).copied().collect();
        let read = looked.read(&newest).unwrap();
        let names: Vec<String> = read.iter().map(|e| e.record.summary()).collect();
        assert_eq!(names, ["stage 11 passed", "stage 10 passed"]);
    }

    #[test]
    fn an_edited_appended_entry_or_a_cut_log_is_seen() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("audit");
        let index = AuditIndex::new(Source::Dir(dir.clone()), Some(signer().verifier().clone()));
        let log = AuditLog::open(&dir, true).unwrap().unwrap();
        for n in 0..3 {
            append(&log, n);
        }
        assert_eq!(verified(&index), (3, 3));
        // Cut to two entries (and their checkpoints): the index starts over.
        let entries = std::fs::read_to_string(dir.join("entries.jsonl")).unwrap();
        let kept: Vec<&str> = entries.lines().take(2).collect();
        std::fs::write(dir.join("entries.jsonl"), format!("{}\n", kept.join("\n"))).unwrap();
        let notes = std::fs::read_to_string(dir.join("checkpoints")).unwrap();
        let (split, _) = gate_audit::note::split_notes(&notes);
        std::fs::write(dir.join("checkpoints"), &notes[..split[2].0]).unwrap();
        assert_eq!(verified(&index), (2, 2));
        // An appended entry edited after it was written is tampering.
        append(&log, 3);
        let entries = std::fs::read_to_string(dir.join("entries.jsonl")).unwrap();
        std::fs::write(
            dir.join("entries.jsonl"),
            entries.replace("stage 3", "stage X"),
        )
        .unwrap();
        match index.look().unwrap().verification {
            Verification::Tampered { detail } => assert!(detail.contains("entry 2"), "{detail}"),
            other => panic!("expected tampering, got {other:?}"),
        }
    }
}
