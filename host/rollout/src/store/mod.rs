//! Where a rollout keeps what outlives one process: its state, the lease
//! that lets one runner drive it, the command inbox, the event log and the
//! audit log. [`open`] picks the backend the spec names; the controller and
//! the CLI speak only to the [`Store`] trait.
//!
//! - [`file`]: the default, a private directory on one machine (flock lease);
//! - [`postgres`]: `state = "postgres://…"`, shared by every machine with
//!   the spec (a lease with fencing tokens on the database clock).
//!
//! Every write of the state is *fenced*: it is refused unless the writer
//! still holds the lease it took, so a runner that lost its lease (paused,
//! partitioned, expired) can neither record nor move traffic again.

pub mod file;
pub mod postgres;

use async_trait::async_trait;
use gate_audit::{Appended, Draft};
use serde_json::Value;

use crate::incident::Incident;
use crate::spec::Spec;
use crate::state::{Command, CommandKind, RolloutState};

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or database cannot be used as configured
    /// (exit 2: nothing was attempted).
    #[error("{0}")]
    Unusable(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
    /// Another runner holds the lease now: this one must stop without
    /// touching the router.
    #[error("the lease on rollout `{rollout}` was lost{}; this runner stops without touching the router", holder.as_ref().map_or(String::new(), |h| format!(" to {h}")))]
    LeaseLost {
        rollout: String,
        holder: Option<Holder>,
    },
    /// The audit log could not record an entry.
    #[error(transparent)]
    Audit(#[from] gate_audit::AuditError),
}

/// Who holds a rollout's lease.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// `host:pid`, or `pid N` for the file store (which is on one host).
    pub runner: String,
    /// The fencing token of its lease: larger for every new lease.
    pub token: u64,
    /// When the lease runs out unless renewed (Unix ms); `None` while the
    /// holding process lives (the file store's flock).
    pub expires_unix_ms: Option<u64>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (lease {})", self.runner, self.token)
    }
}

/// A held lease. Dropping it releases what the process holds (the file
/// store's flock); a database lease runs out at its expiry.
pub struct Lease {
    pub holder: Holder,
    /// Whatever keeps the lease alive in this process.
    pub(crate) _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// Where events go besides stderr. Writing never fails the rollout: the
/// audit log, not the event log, is the record that must be complete.
pub trait EventSink: Send + Sync {
    fn write(&self, event: &Value);
}

/// A rollout's persistent parts, on one backend.
#[async_trait]
pub trait Store: Send + Sync {
    /// Where this store is, for messages (never a password).
    fn describe(&self) -> String;

    /// Takes the lease for `runner`; `Ok(Err(holder))` while another live
    /// runner holds it.
    async fn acquire(&self, runner: &str) -> Result<Result<Lease, Holder>, StoreError>;

    /// The live holder of the lease, if any, without taking or writing anything.
    async fn holder(&self) -> Result<Option<Holder>, StoreError>;

    /// Checks that `lease` is still the live lease and extends it. Called
    /// before every router write and every tick.
    async fn fence(&self, lease: &Lease) -> Result<(), StoreError>;

    async fn load(&self) -> Result<Option<RolloutState>, StoreError>;

    /// Writes the state as the next revision, fenced by `lease`.
    async fn save(&self, lease: &Lease, state: &mut RolloutState) -> Result<(), StoreError>;

    /// Sets a finished rollout's state aside before a new one starts, and
    /// drops commands sent before the new rollout existed.
    async fn archive(&self, lease: &Lease, old: &RolloutState) -> Result<(), StoreError>;

    /// Queues a command for the running rollout; returns its id.
    async fn send(&self, command: &Command) -> Result<String, StoreError>;

    /// Pending commands, oldest first, each with its id.
    async fn pending(&self) -> Result<Vec<Command>, StoreError>;

    /// Marks a command handled.
    async fn done(&self, command: &Command) -> Result<(), StoreError>;

    /// The event log's writer.
    fn events(&self) -> Result<Box<dyn EventSink>, StoreError>;

    /// Events after position `after` (all with `None`), oldest first, at
    /// most `limit`, each with its position: the next call passes the last
    /// position seen to get only newer ones.
    async fn read_events(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Value)>, StoreError>;

    /// Appends an audit entry, durably, before returning.
    async fn record(&self, draft: Draft) -> Result<Appended, StoreError>;

    /// Where the audit log is, as `gate audit --audit` takes it.
    fn audit_location(&self) -> String;

    /// The whole audit log as read now, for readers such as the dashboard;
    /// `None` when nothing was recorded yet.
    async fn audit_snapshot(&self) -> Result<Option<gate_audit::Snapshot>, StoreError>;

    /// Opens `incident` with the next id of its day (`true`), or returns
    /// the one of the same rollout, run and trigger kind opened before
    /// (`false`): one incident per rollback, however often it resumes.
    async fn open_incident(&self, incident: Incident) -> Result<(Incident, bool), StoreError>;

    /// Rewrites an opened incident (its audit entry's number).
    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError>;

    /// This rollout's incidents, oldest first.
    async fn incidents(&self) -> Result<Vec<Incident>, StoreError>;
}

/// The store `spec` names.
pub async fn open(spec: &Spec) -> Result<Box<dyn Store>, StoreError> {
    Ok(match &spec.state_db {
        Some(url) => Box::new(postgres::PgStore::open(spec, url).await?),
        None => Box::new(file::FileStore::new(spec)),
    })
}

/// Whether a pending command asks to stop the rollout.
pub fn stops(commands: &[Command]) -> bool {
    commands
        .iter()
        .any(|c| matches!(c.kind, CommandKind::Abort | CommandKind::Rollback))
}
