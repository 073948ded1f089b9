//! The persisted rollout state, its lock, and the command inbox.
//!
//! The state file is replaced atomically (write a temporary file, fsync it,
//! rename it over the old one, fsync the directory), so a kill at any moment
//! leaves either the old or the new state, never a torn one. Before touching
//! the router the controller records its `intent`; a run that finds an intent
//! on start-up repeats it (every router operation is idempotent) and only then
//! records the result.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::analysis::Measurement;

pub const FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Pre-flight gate and `pre_rollout` hooks; no traffic has moved.
    Starting,
    Progressing,
    RollingBack,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthState {
    /// `healthy`, `unhealthy` or `unknown`.
    pub candidate: String,
    pub failing: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RolloutState {
    pub format: u32,
    pub name: String,
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
    pub health: HealthState,
    /// Measurements of the current step, per analysis.
    pub analysis: BTreeMap<String, Vec<Measurement>>,
    pub approval: Option<Approval>,
    /// Every approval of this rollout, with its step.
    pub approvals: Vec<(u32, Approval)>,
    pub replaced: Vec<String>,
    pub last_action: Option<Value>,
    /// Why the rollout ended (promoted, rolled back, aborted), and who asked.
    pub outcome: Option<String>,
}

impl RolloutState {
    pub fn new(name: &str, digest: &str, strategy: &str, now_unix_ms: u64) -> Self {
        RolloutState {
            format: FORMAT,
            name: name.to_string(),
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
            health: HealthState {
                candidate: "unknown".into(),
                failing: vec![],
            },
            analysis: BTreeMap::new(),
            approval: None,
            approvals: vec![],
            replaced: vec![],
            last_action: None,
            outcome: None,
        }
    }

    pub fn load(path: &Path) -> Result<Option<RolloutState>, String> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: corrupt rollout state: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes the state atomically and durably.
    pub fn save(&mut self, path: &Path) -> Result<(), String> {
        self.updated_unix_ms = unix_ms();
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        write_atomic(path, &bytes)
    }
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::atomic_file::write(path, &[bytes])
}

/// An exclusive lock on one rollout, held while `gate rollout` (or a
/// stand-alone rollback) runs. The kernel drops it when the process dies, so a
/// killed run never leaves a stale lock.
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn try_acquire(path: &Path) -> Result<Option<Lock>, String> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
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
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }
}

/// A request from `gate promote|approve|abort|rollback` to a running rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub kind: CommandKind,
    pub by: String,
    pub at: String,
    #[serde(skip)]
    pub file: PathBuf,
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
/// half a file).
pub fn send_command(dir: &Path, kind: CommandKind, by: &str) -> Result<PathBuf, String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cmd = Command {
        kind,
        by: by.to_string(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        file: PathBuf::new(),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("{nanos:024}-{}.json", std::process::id()));
    write_atomic(&path, &serde_json::to_vec(&cmd).unwrap())?;
    Ok(path)
}

/// Pending commands, oldest first. Unreadable files are skipped (a writer
/// may be mid-rename on another filesystem); they are read on the next tick.
pub fn pending_commands(dir: &Path) -> Vec<Command> {
    let Ok(entries) = fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let mut c: Command = serde_json::from_slice(&fs::read(&p).ok()?).ok()?;
            c.file = p;
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
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
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
        drop(held);
        assert!(Lock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn commands_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        send_command(dir.path(), CommandKind::Approve, "alice").unwrap();
        send_command(dir.path(), CommandKind::Rollback, "bob").unwrap();
        let cmds = pending_commands(dir.path());
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].kind, CommandKind::Approve);
        assert_eq!(cmds[1].by, "bob");
    }
}
