//! The audit directory and appending to it.
//!
//! Layout (a [`PrivateDir`]: 0700, the user's, no symlinks, every file
//! opened `O_NOFOLLOW` beneath it):
//!
//! - `entries.jsonl`: one canonical JSON entry per line;
//! - `checkpoints`: a signed checkpoint note per append, one after another;
//! - `state.json`: the tree's frontier and the files' lengths after the last
//!   append, so the next append hashes O(log n) nodes instead of the whole
//!   log; a cache that is checked against the last checkpoint and rebuilt
//!   from the files whenever it does not match, so it is replaced
//!   atomically but never fsynced (an append fsyncs twice: the entry, then
//!   its checkpoint);
//! - `lock`: `flock`ed exclusively by an append, shared by readers.
//!
//! An append writes and fsyncs the entry, then writes and fsyncs its signed
//! checkpoint, and only then returns. An entry no checkpoint covers was
//! never confirmed to its caller, so the action it recorded did not go
//! ahead: the next append cuts it off (with any partial line or checkpoint)
//! and records a `recovery` entry first ([`crate::recover`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use gate_core::private_dir::PrivateDir;
use serde::{Deserialize, Serialize};

use crate::entry::{Entry, Record, Recovery, os_user};
use crate::error::AuditError;
use crate::merkle::Frontier;
use crate::note::Signer;
use crate::seal::{Head, seal};
use gate_core::failpoint;

pub const ENTRIES: &str = "entries.jsonl";
pub const CHECKPOINTS: &str = "checkpoints";
const STATE: &str = "state.json";
const LOCK: &str = "lock";
/// The largest entries or checkpoints file read at once.
pub(crate) const READ_CAP: u64 = 4 << 30;

/// An opened audit directory.
#[derive(Debug)]
pub struct AuditLog {
    pub(crate) dir: PrivateDir,
}

/// What to record; the time and the sequence number are the log's.
#[derive(Clone, Debug)]
pub struct Draft {
    pub actor: String,
    pub run_id: Option<String>,
    pub record: Record,
}

impl Draft {
    /// A record by the OS user running gate.
    pub fn new(record: Record) -> Draft {
        Draft {
            actor: os_user(),
            run_id: None,
            record,
        }
    }
}

/// What [`AuditLog::tail`] read: the bytes after the offsets asked for, and
/// each file's whole length.
#[derive(Debug, Default)]
pub struct Tail {
    pub entries_len: u64,
    pub entries: Vec<u8>,
    pub checkpoints_len: u64,
    pub checkpoints: Vec<u8>,
}

/// The result of an append: the entry as written (masked) and its checkpoint.
#[derive(Clone, Debug)]
pub struct Appended {
    pub entry: Entry,
    pub checkpoint: String,
    /// What an earlier, interrupted append left and this one cut off.
    pub recovered: Option<Recovery>,
}

/// The tree and the files' lengths after the last complete append.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(flatten)]
    pub head: Head,
    pub entries_len: u64,
    pub checkpoints_len: u64,
    /// Where the last checkpoint starts in the checkpoints file.
    pub last_checkpoint_at: u64,
}

impl State {
    pub fn empty() -> State {
        State {
            head: Head::default(),
            entries_len: 0,
            checkpoints_len: 0,
            last_checkpoint_at: 0,
        }
    }

    pub fn frontier(&self) -> Option<Frontier> {
        self.head.frontier()
    }

    pub fn set_frontier(&mut self, frontier: &Frontier) {
        self.head.set_frontier(frontier);
    }
}

/// An `flock` held until dropped.
pub(crate) struct Lock(#[allow(dead_code)] File);

impl AuditLog {
    /// Opens the audit directory at `path`; with `create`, creates it
    /// (0700). Without it, a missing directory is `None`.
    pub fn open(path: &Path, create: bool) -> Result<Option<AuditLog>, AuditError> {
        let dir = PrivateDir::open(path, create).map_err(|e| AuditError::io(path, e))?;
        Ok(dir.map(|dir| AuditLog { dir }))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Takes the lock: exclusive for an append, shared for a reader (who
    /// then sees no half-finished append).
    pub(crate) fn lock(&self, exclusive: bool) -> Result<Option<Lock>, AuditError> {
        let file = match self.dir.open_rw(LOCK, exclusive) {
            Ok(Some(f)) => f,
            // No appender ever ran here, so there is nothing to wait for.
            Ok(None) => return Ok(None),
            Err(e) => return Err(AuditError::io(self.file(LOCK), e)),
        };
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a file descriptor we own.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(Some(Lock(file)));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(AuditError::io(self.file(LOCK), e));
            }
        }
    }

    /// Appends `draft`, durably and with its signed checkpoint, before
    /// returning. A leftover of an interrupted append is cut off first and
    /// recorded as a `recovery` entry.
    pub fn append(&self, signer: &Signer, draft: Draft) -> Result<Appended, AuditError> {
        let _lock = self.lock(true)?;
        let (mut state, recovered) = self.prepare(signer)?;
        if let Some(recovery) = &recovered {
            let note = Draft {
                actor: draft.actor.clone(),
                run_id: None,
                record: Record::Recovery(recovery.clone()),
            };
            self.write_entry(signer, &mut state, note)?;
        }
        let (entry, checkpoint) = self.write_entry(signer, &mut state, draft)?;
        Ok(Appended {
            entry,
            checkpoint,
            recovered,
        })
    }

    /// The state after the last complete append: the saved one when it
    /// matches the files and the last checkpoint, else rebuilt from the
    /// files (cutting off what an interrupted append left).
    fn prepare(&self, signer: &Signer) -> Result<(State, Option<Recovery>), AuditError> {
        if let Some(state) = self.saved_state(signer) {
            return Ok((state, None));
        }
        crate::recover::rebuild(self, signer)
    }

    fn saved_state(&self, signer: &Signer) -> Option<State> {
        let bytes = self.dir.read(STATE, 1 << 20).ok()??;
        let state: State = serde_json::from_slice(&bytes).ok()?;
        let frontier = state.frontier()?;
        if self.len_of(ENTRIES) != state.entries_len
            || self.len_of(CHECKPOINTS) != state.checkpoints_len
        {
            return None;
        }
        if state.head.size == 0 {
            return Some(state);
        }
        let file = self.dir.open_rw(CHECKPOINTS, false).ok()??;
        let len = state
            .checkpoints_len
            .checked_sub(state.last_checkpoint_at)?;
        let mut note = vec![0u8; usize::try_from(len).ok().filter(|l| *l < 1 << 16)?];
        file.read_exact_at(&mut note, state.last_checkpoint_at)
            .ok()?;
        let checkpoint = signer
            .verifier()
            .open(std::str::from_utf8(&note).ok()?)
            .ok()?;
        (checkpoint.size == state.head.size && checkpoint.root == frontier.root()).then_some(state)
    }

    fn len_of(&self, name: &str) -> u64 {
        match self.dir.open_rw(name, false) {
            Ok(Some(f)) => f.metadata().map_or(u64::MAX, |m| m.len()),
            Ok(None) => 0,
            Err(_) => u64::MAX,
        }
    }

    /// Writes one entry and its checkpoint, each fsynced, then the state.
    fn write_entry(
        &self,
        signer: &Signer,
        state: &mut State,
        draft: Draft,
    ) -> Result<(Entry, String), AuditError> {
        let sealed =
            seal(signer, &state.head, draft).map_err(|e| AuditError::io(self.file(STATE), e))?;
        let mut line = sealed.line;
        line.push(b'\n');
        let first = state.head.size == 0;
        self.write_durably(ENTRIES, &line, "mid-entry", first)?;
        failpoint::hit("after-entry");
        self.write_durably(CHECKPOINTS, sealed.note.as_bytes(), "mid-checkpoint", first)?;
        failpoint::hit("after-checkpoint");
        state.head = sealed.head;
        state.entries_len += line.len() as u64;
        state.last_checkpoint_at = state.checkpoints_len;
        state.checkpoints_len += sealed.note.len() as u64;
        self.save_state(state)?;
        Ok((sealed.entry, sealed.note))
    }

    /// Appends `bytes` to `name` and fsyncs it (and the directory when the
    /// file is new). The failpoint `torn` stops half-way.
    fn write_durably(
        &self,
        name: &str,
        bytes: &[u8],
        torn: &str,
        new: bool,
    ) -> Result<(), AuditError> {
        use std::io::Write;
        let path = self.file(name);
        let mut file = self
            .dir
            .append(name)
            .map_err(|e| AuditError::io(&path, e))?;
        if failpoint::armed(torn) {
            let _ = file.write_all(&bytes[..bytes.len() / 2]);
            let _ = file.sync_all();
            failpoint::hit(torn);
        }
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| AuditError::io(&path, format!("writing: {e}")))?;
        if new {
            self.dir.sync().map_err(|e| AuditError::io(&path, e))?;
        }
        Ok(())
    }

    /// Saves the state as a cache, without fsync: `saved_state` checks it
    /// against the files and the last signed checkpoint, and an append
    /// rebuilds it when it is stale, empty or torn (as after a crash), so
    /// only the entry and its checkpoint need to reach the disk first.
    pub(crate) fn save_state(&self, state: &State) -> Result<(), AuditError> {
        let json = serde_json::to_vec(state).expect("state serialises");
        self.dir
            .write_cache(STATE, &json)
            .map_err(|e| AuditError::io(self.file(STATE), e))
    }

    /// Cuts `name` back to `len` bytes, durably.
    pub(crate) fn truncate(&self, name: &str, len: u64) -> Result<(), AuditError> {
        let path = self.file(name);
        let file = self
            .dir
            .append(name)
            .map_err(|e| AuditError::io(&path, e))?;
        file.set_len(len)
            .and_then(|()| file.sync_all())
            .map_err(|e| AuditError::io(&path, format!("truncating: {e}")))
    }

    /// What was appended to both files since byte `entries_from` of the
    /// entries file and `checkpoints_from` of the checkpoints file, read
    /// under the shared lock (so no append is half-seen), with the files'
    /// lengths: a file shorter than its offset was cut, not appended to.
    pub fn tail(&self, entries_from: u64, checkpoints_from: u64) -> Result<Tail, AuditError> {
        let _lock = self.lock(false)?;
        let read = |name: &str, from: u64| {
            self.dir
                .read_from(name, from, READ_CAP)
                .map(Option::unwrap_or_default)
                .map_err(|e| AuditError::io(self.file(name), e))
        };
        let (checkpoints_len, checkpoints) = read(CHECKPOINTS, checkpoints_from)?;
        let (entries_len, entries) = read(ENTRIES, entries_from)?;
        Ok(Tail {
            entries_len,
            entries,
            checkpoints_len,
            checkpoints,
        })
    }

    /// The entry lines at these `(offset, len)` ranges of the entries file
    /// (as a [`crate::Follower`] located them).
    pub fn read_lines(&self, ranges: &[(u64, u64)]) -> Result<Vec<Vec<u8>>, AuditError> {
        self.dir
            .read_ranges(ENTRIES, ranges)
            .map_err(|e| AuditError::io(self.file(ENTRIES), e))
    }

    /// The entries file's path and the checkpoints file's, for messages.
    pub fn files(&self) -> (PathBuf, PathBuf) {
        (self.file(ENTRIES), self.file(CHECKPOINTS))
    }

    /// Both files as they are now, read under the shared lock.
    pub fn snapshot(&self) -> Result<crate::snapshot::Snapshot, AuditError> {
        let _lock = self.lock(false)?;
        crate::snapshot::Snapshot::read(self)
    }
}
