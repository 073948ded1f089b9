//! The file store: a rollout's state, lock, commands and events in a private
//! directory on one machine (`[rollout] state_dir`, `.gate/state` beside the
//! spec by default), and its audit log in `[audit] dir`.
//!
//! The lease is an `flock` on `<name>.lock`: the kernel drops it when the
//! process dies, so it needs no expiry, and its fencing token is constant
//! (only one process on this machine can hold it at a time).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use gate_audit::{Appended, AuditLog, Draft, key};
use gate_core::private_dir::PrivateDir;
use serde_json::Value;

use super::{EventSink, Holder, Lease, Store, StoreError};
use crate::incident::{Incident, files as incident_files};
use crate::spec::Spec;
use crate::state::{self, Command, Lock, RolloutState};

/// The largest event log read back.
const MAX_EVENT_LOG_BYTES: u64 = 256 << 20;

pub struct FileStore {
    name: String,
    state_dir: PathBuf,
    audit_dir: PathBuf,
}

impl FileStore {
    pub fn new(spec: &Spec) -> FileStore {
        FileStore::at(&spec.name, &spec.state_dir, &spec.audit_dir)
    }

    /// The store of rollout `name` in `state_dir`, recording in `audit_dir`.
    pub fn at(name: &str, state_dir: &Path, audit_dir: &Path) -> FileStore {
        FileStore {
            name: name.to_string(),
            state_dir: state_dir.to_path_buf(),
            audit_dir: audit_dir.to_path_buf(),
        }
    }

    fn path(&self, suffix: &str) -> PathBuf {
        self.state_dir.join(format!("{}{suffix}", self.name))
    }

    pub fn state_file(&self) -> PathBuf {
        self.path(".state.json")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.path(".lock")
    }
    pub fn commands_dir(&self) -> PathBuf {
        self.path(".commands")
    }
    pub fn events_file(&self) -> PathBuf {
        self.path(".events.jsonl")
    }

    fn holder_of(&self, pid: Option<u32>) -> Holder {
        Holder {
            runner: pid.map_or_else(|| "another process".into(), |p| format!("pid {p}")),
            token: 0,
            expires_unix_ms: None,
        }
    }
}

#[async_trait]
impl Store for FileStore {
    fn describe(&self) -> String {
        self.state_dir.display().to_string()
    }

    async fn acquire(&self, _runner: &str) -> Result<Result<Lease, Holder>, StoreError> {
        // Created 0700; refused when it is a symlink, another user's, or
        // writable by others.
        PrivateDir::open(&self.state_dir, true)
            .map_err(|e| StoreError::Unusable(format!("cannot use the state directory: {e}")))?;
        match Lock::try_acquire(&self.lock_file()).map_err(StoreError::Io)? {
            Some(lock) => Ok(Ok(Lease {
                holder: self.holder_of(Some(std::process::id())),
                _guard: Some(Box::new(lock)),
            })),
            None => Ok(Err(self.holder_of(Lock::holder(&self.lock_file())))),
        }
    }

    async fn holder(&self) -> Result<Option<Holder>, StoreError> {
        // A probe that takes no lock and writes nothing.
        let held = Lock::is_held(&self.lock_file()).map_err(StoreError::Io)?;
        Ok(held.then(|| self.holder_of(Lock::holder(&self.lock_file()))))
    }

    async fn fence(&self, _lease: &Lease) -> Result<(), StoreError> {
        // The flock is held for as long as this process lives.
        Ok(())
    }

    async fn load(&self) -> Result<Option<RolloutState>, StoreError> {
        RolloutState::load(&self.state_file()).map_err(StoreError::Io)
    }

    async fn save(&self, _lease: &Lease, state: &mut RolloutState) -> Result<(), StoreError> {
        state.save(&self.state_file()).map_err(StoreError::Io)
    }

    async fn archive(&self, _lease: &Lease, old: &RolloutState) -> Result<(), StoreError> {
        let archived = self.path(&format!(".state.{}.json", old.started_unix_ms));
        let _ = std::fs::rename(self.state_file(), archived);
        let _ = std::fs::remove_dir_all(self.commands_dir());
        Ok(())
    }

    async fn send(&self, command: &Command) -> Result<String, StoreError> {
        state::send_command(&self.commands_dir(), command).map_err(StoreError::Io)
    }

    async fn pending(&self) -> Result<Vec<Command>, StoreError> {
        Ok(state::pending_commands(&self.commands_dir()))
    }

    async fn done(&self, command: &Command) -> Result<(), StoreError> {
        let inbox = PrivateDir::open(&self.commands_dir(), false)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        if let Some(inbox) = inbox {
            inbox
                .remove(&command.id)
                .map_err(|e| StoreError::Io(e.to_string()))?;
        }
        Ok(())
    }

    fn events(&self) -> Result<Box<dyn EventSink>, StoreError> {
        let log = PrivateDir::open(&self.state_dir, true)
            .map_err(|e| StoreError::Io(e.to_string()))?
            .ok_or_else(|| StoreError::Io(format!("{}: no directory", self.state_dir.display())))?
            .append(&format!("{}.events.jsonl", self.name))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Box::new(EventFile(log)))
    }

    async fn read_events(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Value)>, StoreError> {
        let Some(dir) =
            PrivateDir::open(&self.state_dir, false).map_err(|e| StoreError::Io(e.to_string()))?
        else {
            return Ok(Vec::new());
        };
        let name = format!("{}.events.jsonl", self.name);
        let bytes = dir
            .read(&name, MAX_EVENT_LOG_BYTES)
            .map_err(|e| StoreError::Io(e.to_string()))?
            .unwrap_or_default();
        // The position is the line number; a line still being written (no
        // newline yet) or unreadable is left for the next call.
        let start = after.map_or(0, |a| a + 1);
        Ok(bytes
            .split_inclusive(|b| *b == b'\n')
            .filter(|l| l.ends_with(b"\n"))
            .enumerate()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .filter_map(|(i, l)| Some((i as u64, serde_json::from_slice(l).ok()?)))
            .take(limit)
            .collect())
    }

    async fn record(&self, draft: Draft) -> Result<Appended, StoreError> {
        append(&self.audit_dir, draft)
    }

    fn audit_location(&self) -> String {
        self.audit_dir.display().to_string()
    }

    async fn audit_snapshot(&self) -> Result<Option<gate_audit::Snapshot>, StoreError> {
        match gate_audit::AuditLog::open(&self.audit_dir, false)? {
            Some(log) => Ok(Some(log.snapshot()?)),
            None => Ok(None),
        }
    }

    async fn open_incident(&self, incident: Incident) -> Result<(Incident, bool), StoreError> {
        incident_files::open(&self.state_dir, incident).map_err(StoreError::Io)
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        incident_files::write(&self.state_dir, incident).map_err(StoreError::Io)
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StoreError> {
        incident_files::list(&self.state_dir, Some(&self.name)).map_err(StoreError::Io)
    }
}

/// Appends to the audit log in `dir` with the user's signing key.
pub fn append(dir: &Path, draft: Draft) -> Result<Appended, StoreError> {
    let signer = key::path().and_then(|p| key::load_or_create(&p))?;
    let log = AuditLog::open(dir, true)?.ok_or_else(|| {
        StoreError::Io(format!(
            "{}: the audit directory could not be created",
            dir.display()
        ))
    })?;
    Ok(log.append(&signer, draft)?)
}

/// The event log, opened once for appending, never through a symlink.
struct EventFile(std::fs::File);

impl EventSink for EventFile {
    fn write(&self, event: &Value) {
        use std::io::Write;
        // One write per line: O_APPEND keeps concurrent writers' lines whole.
        let _ = (&self.0).write_all(format!("{event}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn events_come_back_with_positions_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at("web", &dir.path().join("state"), &dir.path().join("audit"));
        assert!(store.read_events(None, 10).await.unwrap().is_empty());
        let sink = store.events().unwrap();
        for i in 0..5 {
            sink.write(&json!({ "event": "step", "n": i }));
        }
        let all = store.read_events(None, 10).await.unwrap();
        assert_eq!(
            all.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(all[3].1["n"], 3);
        let newer = store.read_events(Some(2), 1).await.unwrap();
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].0, 3);
        // A line being written (no newline yet) is not returned.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(store.events_file())
            .unwrap();
        f.write_all(b"{\"event\":\"ha").unwrap();
        assert_eq!(store.read_events(Some(4), 10).await.unwrap().len(), 0);
    }
}
