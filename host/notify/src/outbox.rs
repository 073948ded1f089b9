//! The durable outbox an event is written to before anything is sent, and
//! marked delivered in only after a 2xx answer. [`Outbox`] is what delivery
//! needs of one; it lives beside the state it belongs to:
//!
//! - [`FileOutbox`]: one file per (event, target) in a private directory
//!   (`<state_dir>/<rollout>.outbox/` for a rollout with its state in files,
//!   `.gate/notify/` beside the audit log for `gate evaluate`);
//! - the PostgreSQL outbox of a rollout with shared state
//!   (`gate_rollout::store::postgres::outbox`), shared by every runner.
//!
//! The file outbox:
//!
//! - An entry is created whole or not at all, and only if absent
//!   (`create_new`: a hard link of a fsynced temporary file), so the same
//!   event enqueued again (a resumed run, a second `gate evaluate`) is one
//!   entry, delivered once.
//! - It is marked delivered (rewritten atomically) only after a 2xx answer,
//!   and delivered entries stay as the record that it was sent.
//! - A delivery round holds `outbox.lock` (`flock`), so two processes never
//!   deliver the same entry at once; the kernel drops the lock of a killed
//!   process. A process killed mid-attempt leaves the entry pending with the
//!   same event id: the next round sends it again with the same
//!   `webhook-id`, which receivers deduplicate on.

use std::any::Any;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use gate_core::private_dir::PrivateDir;
use serde::{Deserialize, Serialize};

use crate::NotifyError;
use crate::event::Event;

/// The largest entry read back.
const MAX_ENTRY_BYTES: u64 = 4 << 20;
const LOCK: &str = "outbox.lock";

/// One notification of one event to one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub event: Event,
    /// The rule's name.
    pub target: String,
    /// Enqueue order (Unix microseconds).
    pub seq: u64,
    /// The event rendered with the rule's template.
    pub message: String,
    pub attempts: u32,
    /// Not before this (Unix ms).
    pub next_attempt_ms: u64,
    pub delivered_ms: Option<u64>,
    /// The last failed attempt's reason (never a secret: status, `Retry-After`,
    /// the kind of network error).
    pub last_error: Option<String>,
}

impl Entry {
    pub fn file_name(&self) -> String {
        format!("{}.{}.json", self.target, self.event.id)
    }
}

/// A delivery round's hold on an outbox: while one is held, no other
/// process delivers from it.
pub enum RoundLock {
    /// Held until dropped.
    Held(Box<dyn Any + Send>),
    /// Another process delivers now.
    Busy,
    /// The outbox does not exist yet: nothing to deliver.
    Empty,
}

/// Where notifications wait until delivered.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Where it is, for messages (a directory, a database and table).
    fn describe(&self) -> String;

    /// Writes `entry` unless an entry of the same event and target exists:
    /// false then. Synchronous and durable when it returns, so an event is
    /// in the outbox before whatever it reports goes on.
    fn enqueue(&self, entry: &Entry) -> Result<bool, NotifyError>;

    /// Rewrites an entry (its attempts, its delivery), atomically.
    async fn update(&self, entry: &Entry) -> Result<(), NotifyError>;

    /// Every entry, in enqueue order.
    async fn entries(&self) -> Result<Vec<Entry>, NotifyError>;

    /// Takes the delivery lock for one round.
    async fn lock(&self) -> Result<RoundLock, NotifyError>;

    /// A small state value of a target (a Slack thread), by name.
    async fn read_state(&self, name: &str) -> Result<Option<Vec<u8>>, NotifyError>;

    async fn write_state(&self, name: &str, bytes: &[u8]) -> Result<(), NotifyError>;
}

/// A private outbox directory.
pub struct FileOutbox {
    dir: PathBuf,
}

impl FileOutbox {
    pub fn new(dir: &Path) -> FileOutbox {
        FileOutbox {
            dir: dir.to_path_buf(),
        }
    }

    fn open(&self, create: bool) -> Result<Option<PrivateDir>, NotifyError> {
        PrivateDir::open(&self.dir, create).map_err(|e| NotifyError::Outbox(e.to_string()))
    }

    fn created(&self) -> Result<PrivateDir, NotifyError> {
        self.open(true)?
            .ok_or_else(|| NotifyError::Outbox("no directory".into()))
    }
}

#[async_trait]
impl Outbox for FileOutbox {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn enqueue(&self, entry: &Entry) -> Result<bool, NotifyError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| NotifyError::Outbox(e.to_string()))?;
        self.created()?
            .create_new(&entry.file_name(), &bytes)
            .map_err(|e| NotifyError::Outbox(e.to_string()))
    }

    async fn update(&self, entry: &Entry) -> Result<(), NotifyError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| NotifyError::Outbox(e.to_string()))?;
        self.created()?
            .write_atomic(&entry.file_name(), &bytes)
            .map_err(|e| NotifyError::Outbox(e.to_string()))
    }

    /// An entry that cannot be read is reported and skipped (it stays on
    /// disk for a person to look at).
    async fn entries(&self) -> Result<Vec<Entry>, NotifyError> {
        let Some(dir) = self.open(false)? else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        for name in dir.list() {
            let Some(name) = name.to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || !name.ends_with(".json") || name.starts_with("slack.") {
                continue;
            }
            match dir.read(&name, MAX_ENTRY_BYTES) {
                Ok(Some(bytes)) => match serde_json::from_slice::<Entry>(&bytes) {
                    Ok(e) => entries.push(e),
                    Err(e) => tracing::warn!(
                        "{}: not an outbox entry: {e}",
                        dir.path().join(&name).display()
                    ),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
        sort(&mut entries);
        Ok(entries)
    }

    /// `flock` on `outbox.lock`, which the kernel drops with a killed process.
    async fn lock(&self) -> Result<RoundLock, NotifyError> {
        let Some(dir) = self.open(false)? else {
            return Ok(RoundLock::Empty);
        };
        let file = dir
            .open_rw(LOCK, true)
            .map_err(|e| NotifyError::Outbox(e.to_string()))?
            .ok_or_else(|| NotifyError::Outbox("lock not created".into()))?;
        // SAFETY: flock on a descriptor this function owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(RoundLock::Busy);
            }
            return Err(NotifyError::Outbox(format!(
                "locking {}: {e}",
                self.dir.join(LOCK).display()
            )));
        }
        Ok(RoundLock::Held(Box::new(file)))
    }

    async fn read_state(&self, name: &str) -> Result<Option<Vec<u8>>, NotifyError> {
        let Some(dir) = self.open(false)? else {
            return Ok(None);
        };
        dir.read(name, MAX_ENTRY_BYTES)
            .map_err(|e| NotifyError::Outbox(e.to_string()))
    }

    async fn write_state(&self, name: &str, bytes: &[u8]) -> Result<(), NotifyError> {
        self.created()?
            .write_atomic(name, bytes)
            .map_err(|e| NotifyError::Outbox(e.to_string()))
    }
}

/// Enqueue order: by sequence number, then target.
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| (a.seq, &a.target).cmp(&(b.seq, &b.target)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    fn entry(target: &str) -> Entry {
        Entry {
            event: Event::new(EventKind::Promoted, "web", &["r"], "s", Default::default()),
            target: target.into(),
            seq: 1,
            message: "m".into(),
            attempts: 0,
            next_attempt_ms: 0,
            delivered_ms: None,
            last_error: None,
        }
    }

    #[tokio::test]
    async fn an_event_is_enqueued_once_per_target() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = FileOutbox::new(&tmp.path().join("outbox"));
        assert!(outbox.enqueue(&entry("ops")).unwrap());
        let mut delivered = entry("ops");
        delivered.delivered_ms = Some(5);
        outbox.update(&delivered).await.unwrap();
        // Enqueued again (a resumed run): the delivered entry stays delivered.
        assert!(!outbox.enqueue(&entry("ops")).unwrap());
        assert!(outbox.enqueue(&entry("chat")).unwrap());
        let all = outbox.entries().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all.iter().find(|e| e.target == "ops").unwrap().delivered_ms,
            Some(5)
        );
    }

    #[tokio::test]
    async fn one_round_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = FileOutbox::new(tmp.path());
        let held = outbox.lock().await.unwrap();
        assert!(matches!(held, RoundLock::Held(_)));
        assert!(matches!(outbox.lock().await.unwrap(), RoundLock::Busy));
        drop(held);
        assert!(matches!(outbox.lock().await.unwrap(), RoundLock::Held(_)));
        let none = FileOutbox::new(&tmp.path().join("absent"));
        assert!(matches!(none.lock().await.unwrap(), RoundLock::Empty));
    }

    #[tokio::test]
    async fn a_symlinked_entry_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let outbox = FileOutbox::new(&dir);
        outbox.enqueue(&entry("a")).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let e = entry("ops");
        std::os::unix::fs::symlink(&victim, dir.join(e.file_name())).unwrap();
        assert!(!outbox.enqueue(&e).unwrap());
        let _ = outbox.update(&e).await;
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
