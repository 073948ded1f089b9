//! The persisted rollout state, its lock, and the command inbox.
//!
//! The state file is replaced atomically (write a temporary file, fsync it,
//! rename it over the old one, fsync the directory), so a kill at any moment
//! leaves either the old or the new state, never a torn one. Before touching
//! the router the controller records its `intent`; a run that finds an intent
//! on start-up repeats it (every router operation is idempotent) and only then
//! records the result.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::analysis::Measurement;
use super::approvals::{ApprovalRecord, Submission};
use gate_core::private_dir::PrivateDir;
use gate_strategy_protocol::Decision;

/// The largest state or command file read back.
const MAX_STATE_BYTES: u64 = 64 << 20;

/// The private directory holding `path` and `path`'s name in it. Every state,
/// lock, event and command file is opened through one (see [`PrivateDir`]).
fn private(path: &Path, create: bool) -> Result<Option<(PrivateDir, String)>, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{}: no file name", path.display()))?;
    Ok(PrivateDir::open(dir, create)
        .map_err(|e| e.to_string())?
        .map(|d| (d, name)))
}

/// 2: run id, revisions, `started_by`, and approvals as records.
pub const FORMAT: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Pre-flight gate and `pre_rollout` hooks; no traffic has moved.
    Starting,
    Progressing,
    RollingBack,
    /// The candidate serves all traffic and the `verify` stage's analyses
    /// are still measuring; a failure rolls back.
    Verifying,
    /// Terminal: the candidate serves all traffic.
    Promoted,
    /// Terminal: all traffic is back on stable.
    RolledBack,
    /// Terminal: stopped before any traffic moved (pre-flight or hook failed).
    Aborted,
}

impl Phase {
    pub fn terminal(self) -> bool {
        matches!(self, Phase::Promoted | Phase::RolledBack | Phase::Aborted)
    }
}

/// What the controller was about to do to the router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Intent {
    Weights {
        candidate_percent: u8,
        step: u32,
    },
    Replace {
        server: String,
        step: u32,
        version: String,
    },
    Rollback,
    Promote,
}

/// Approvals and health are recorded in the protocol's shape, which is what
/// the strategy plugin sees.
pub use gate_strategy_protocol::{Approval, Health, HealthStatus};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RolloutState {
    pub format: u32,
    pub name: String,
    /// Random, new for every rollout started (kept across resumed runs):
    /// approvals bind it, so none carries over to another run.
    #[serde(default)]
    pub run_id: String,
    /// Incremented on every write of the state.
    #[serde(default)]
    pub revision: u64,
    /// The revision written when the current step began: the approval window.
    #[serde(default)]
    pub step_revision: u64,
    /// The OS user who started the rollout (for `self_approval = false`).
    #[serde(default)]
    pub started_by: String,
    pub spec_digest: String,
    pub strategy: String,
    pub phase: Phase,
    pub started_unix_ms: u64,
    pub updated_unix_ms: u64,
    pub step: u32,
    pub step_started_ms: u64,
    pub memory: Value,
    /// The candidate's share as last applied and read back.
    pub candidate_percent: u8,
    pub intent: Option<Intent>,
    pub health: Health,
    /// Measurements of the current step, per analysis.
    pub analysis: BTreeMap<String, Vec<Measurement>>,
    /// What the strategy plugin sees: set once the current step is approved.
    pub approval: Option<Approval>,
    /// Every approval of this rollout, signed or not, with its step.
    #[serde(deserialize_with = "approval_records")]
    pub approvals: Vec<ApprovalRecord>,
    pub replaced: Vec<String>,
    pub last_action: Option<Decision>,
    /// Why the rollout ended (promoted, rolled back, aborted), and who asked.
    pub outcome: Option<String>,
    /// The pipeline's stages and how far each got in this run.
    #[serde(default)]
    pub stages: Vec<crate::pipeline::StageState>,
    /// When the `verify` stage began (ms since the rollout started).
    #[serde(default)]
    pub verify_started_ms: Option<u64>,
    /// What triggered the rollback or abort under way, noted when it was
    /// decided, for its incident (crate::incident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<crate::incident::Opening>,
}

impl RolloutState {
    pub fn new(name: &str, digest: &str, strategy: &str, now_unix_ms: u64) -> Self {
        RolloutState {
            format: FORMAT,
            name: name.to_string(),
            run_id: new_run_id(),
            revision: 0,
            step_revision: 0,
            started_by: String::new(),
            spec_digest: digest.to_string(),
            strategy: strategy.to_string(),
            phase: Phase::Starting,
            started_unix_ms: now_unix_ms,
            updated_unix_ms: now_unix_ms,
            step: 0,
            step_started_ms: 0,
            memory: Value::Object(Default::default()),
            candidate_percent: 0,
            intent: None,
            health: Health::default(),
            analysis: BTreeMap::new(),
            approval: None,
            approvals: vec![],
            replaced: vec![],
            last_action: None,
            outcome: None,
            stages: Vec::new(),
            verify_started_ms: None,
            incident: None,
        }
    }

    /// Reads the state; writes nothing, so read-only commands can use it.
    pub fn load(path: &Path) -> Result<Option<RolloutState>, String> {
        let Some((dir, name)) = private(path, false)? else {
            return Ok(None);
        };
        match dir
            .read(&name, MAX_STATE_BYTES)
            .map_err(|e| e.to_string())?
        {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: corrupt rollout state: {e}", path.display())),
            None => Ok(None),
        }
    }

    /// Writes the state atomically and durably, as the next revision.
    pub fn save(&mut self, path: &Path) -> Result<(), String> {
        self.updated_unix_ms = unix_ms();
        self.revision += 1;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        write_atomic(path, &bytes)
    }
}

impl RolloutState {
    /// Opens a new approval window (a new step): approvals of earlier
    /// windows no longer count. The window is the revision of the next write.
    pub fn begin_approval_window(&mut self) {
        self.step_revision = self.revision + 1;
    }
}

/// 128 random bits in hex; the clock and pid if the system has no randomness.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_be_bytes();
    }
    hex::encode(bytes)
}

/// `approvals` as records; states written before records existed hold
/// `[step, {by, at}]` pairs, read as unverified approvals.
fn approval_records<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ApprovalRecord>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Record(ApprovalRecord),
        Pair(u32, Approval),
    }
    let stored: Vec<Stored> = Vec::deserialize(d)?;
    Ok(stored
        .into_iter()
        .map(|s| match s {
            Stored::Record(r) => r,
            Stored::Pair(step, a) => ApprovalRecord {
                step,
                action: super::approvals::ApprovalAction::Approve,
                by: a.by,
                at: a.at,
                verified: false,
                revision: 0,
                statement: None,
            },
        })
        .collect())
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let (dir, name) =
        private(path, true)?.ok_or_else(|| format!("{}: no directory", path.display()))?;
    dir.write_atomic(&name, bytes).map_err(|e| e.to_string())
}

/// An exclusive lock on one rollout, held while `gate rollout` (or a
/// stand-alone rollback) runs. The kernel drops it when the process dies, so a
/// killed run never leaves a stale lock.
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn try_acquire(path: &Path) -> Result<Option<Lock>, String> {
        let (dir, name) =
            private(path, true)?.ok_or_else(|| format!("{}: no directory", path.display()))?;
        let file = dir
            .open_rw(&name, true)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{}: not created", path.display()))?;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(None);
            }
            return Err(format!("locking {}: {e}", path.display()));
        }
        let mut f = &file;
        let _ = f.set_len(0);
        let _ = writeln!(f, "{}", std::process::id());
        Ok(Some(Lock { _file: file }))
    }

    /// The pid written by the holder, for messages.
    pub fn holder(path: &Path) -> Option<u32> {
        let (dir, name) = private(path, false).ok()??;
        let bytes = dir.read(&name, 64).ok()??;
        String::from_utf8(bytes).ok()?.trim().parse().ok()
    }

    /// Whether a run holds the lock, without taking it, creating or writing
    /// anything: a probe for read-only commands such as `gate status`.
    pub fn is_held(path: &Path) -> Result<bool, String> {
        let Some((dir, name)) = private(path, false)? else {
            return Ok(false);
        };
        let Some(file) = dir.open_rw(&name, false).map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        // SAFETY: flock on a file descriptor we own; a shared lock conflicts
        // only with the holder's exclusive one, and closing the file drops it.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(false);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(true);
        }
        Err(format!("probing the lock {}: {e}", path.display()))
    }
}

/// A request from `gate promote|approve|abort|rollback` to a running rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub kind: CommandKind,
    pub by: String,
    pub at: String,
    /// A signed approval (`gate approve --key|--signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<Submission>,
    /// The store's name for it (a file name, a row id), set when read back.
    #[serde(skip)]
    pub id: String,
}

impl Command {
    /// A command by `by`, now.
    pub fn new(kind: CommandKind, by: &str, signed: Option<Submission>) -> Command {
        Command {
            kind,
            by: by.to_string(),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            signed,
            id: String::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandKind {
    Approve,
    Promote,
    Abort,
    Rollback,
}

/// Drops a command into the rollout's inbox (atomically: a reader never sees
/// half a file); returns the file's name.
pub fn send_command(dir: &Path, cmd: &Command) -> Result<String, String> {
    let inbox = PrivateDir::open(dir, true)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: not created", dir.display()))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("{nanos:024}-{}.json", std::process::id());
    let bytes = serde_json::to_vec(cmd).map_err(|e| e.to_string())?;
    inbox
        .write_atomic(&name, &bytes)
        .map_err(|e| e.to_string())?;
    Ok(name)
}

/// Pending commands, oldest first. Unreadable files are skipped (a writer
/// may be mid-rename on another filesystem); they are read on the next tick.
pub fn pending_commands(dir: &Path) -> Vec<Command> {
    let Ok(Some(inbox)) = PrivateDir::open(dir, false) else {
        return vec![];
    };
    inbox
        .list()
        .into_iter()
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .filter_map(|name| {
            let bytes = inbox.read(&name, MAX_STATE_BYTES).ok()??;
            let mut c: Command = serde_json::from_slice(&bytes).ok()?;
            c.id = name;
            Some(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.state.json");
        let mut s = RolloutState::new("web", "abc", "canary", 1);
        s.intent = Some(Intent::Weights {
            candidate_percent: 10,
            step: 2,
        });
        s.save(&path).unwrap();
        let back = RolloutState::load(&path).unwrap().unwrap();
        assert_eq!(back.intent, s.intent);
        assert_eq!(back.phase, Phase::Starting);
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.lock");
        let held = Lock::try_acquire(&path).unwrap();
        assert!(held.is_some());
        // flock is per open file description: a second open in the same process conflicts too.
        assert!(Lock::try_acquire(&path).unwrap().is_none());
        assert_eq!(Lock::holder(&path), Some(std::process::id()));
        assert!(Lock::is_held(&path).unwrap());
        drop(held);
        assert!(!Lock::is_held(&path).unwrap());
        assert!(Lock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn a_symlinked_lock_or_state_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let state_dir = dir.path().join("state");
        std::fs::create_dir(&state_dir).unwrap();
        std::os::unix::fs::symlink(&victim, state_dir.join("web.lock")).unwrap();
        std::os::unix::fs::symlink(&victim, state_dir.join("web.state.json")).unwrap();
        assert!(Lock::is_held(&state_dir.join("web.lock")).is_err());
        assert!(Lock::try_acquire(&state_dir.join("web.lock")).is_err());
        assert!(RolloutState::load(&state_dir.join("web.state.json")).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn commands_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let signed = Submission {
            challenge: "c".into(),
            signature: "s".into(),
        };
        let approve = Command::new(CommandKind::Approve, "alice", Some(signed.clone()));
        send_command(dir.path(), &approve).unwrap();
        send_command(
            dir.path(),
            &Command::new(CommandKind::Rollback, "bob", None),
        )
        .unwrap();
        let cmds = pending_commands(dir.path());
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].kind, CommandKind::Approve);
        assert_eq!(cmds[0].signed, Some(signed));
        assert_eq!(cmds[1].by, "bob");
    }

    #[test]
    fn every_write_is_a_new_revision_and_old_states_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.state.json");
        let mut s = RolloutState::new("web", "abc", "canary", 1);
        s.save(&path).unwrap();
        s.begin_approval_window();
        s.save(&path).unwrap();
        let back = RolloutState::load(&path).unwrap().unwrap();
        assert_eq!((back.revision, back.step_revision), (2, 2));
        assert_eq!(back.run_id, s.run_id);

        // A state written by format 1: approvals as [step, {by, at}] pairs.
        let mut old = serde_json::to_value(&back).unwrap();
        let obj = old.as_object_mut().unwrap();
        for key in ["run_id", "revision", "step_revision", "started_by"] {
            obj.remove(key);
        }
        obj["approvals"] = serde_json::json!([[1, {"by": "alice", "at": "t"}]]);
        let old: RolloutState = serde_json::from_value(old).unwrap();
        assert_eq!(old.approvals[0].by, "alice");
        assert!(!old.approvals[0].verified);
        assert!(old.run_id.is_empty());
    }
}
