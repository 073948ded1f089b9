//! gate's append-only, tamper-evident audit log, built the way certificate
//! transparency logs are ([docs/audit.md](../../../docs/audit.md)):
//!
//! - [`entry`]: the typed entries and their canonical, masked JSON lines;
//! - [`merkle`]: the RFC 9162 tree, its frontier, inclusion and consistency proofs;
//! - [`note`]: signed checkpoints (C2SP `tlog-checkpoint` and `signed-note`);
//! - [`key`]: the signing key outside the log;
//! - [`seal`]: numbering, masking and signing an entry, for every backend;
//! - [`log`]: the audit directory, locking and durable appends;
//! - [`pg`]: the same log in PostgreSQL tables, one transaction per append;
//! - [`recover`]: cutting off what an interrupted append left, on record;
//! - [`snapshot`]: the files as read at one moment;
//! - [`verify`]: checking every entry and checkpoint, naming the first bad entry;
//! - [`follow`]: verifying only what was appended since the last look;
//! - [`proof`]: inclusion proofs for third parties;
//! - [`error`]: the one error type.

pub mod entry;
pub mod error;
pub mod follow;
pub mod key;
pub mod log;
pub mod merkle;
pub mod note;
pub mod pg;
pub mod proof;
mod recover;
pub mod seal;
pub mod snapshot;
mod summary;
#[cfg(test)]
mod tests;
pub mod verify;

pub use entry::{Entry, Kind, Record};
pub use error::AuditError;
pub use follow::Follower;
pub use log::{Appended, AuditLog, Draft, Tail};
pub use note::{Signer, Verifier};
pub use proof::InclusionProof;
pub use snapshot::Snapshot;
pub use verify::{Earlier, Verified, verify};
