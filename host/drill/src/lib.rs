//! Incident drills (docs/drills.md): practising the two recoveries an
//! on-call team relies on, on the real systems, and keeping the figures.
//!
//! - [`rollback`]: a small share of traffic to a rollout's candidate through
//!   the rollout's own traffic driver, then a forced rollback, timed to all
//!   weight on stable and to stable healthy again;
//! - [`restore`]: the latest base backup plus archived WAL of a PostgreSQL
//!   primary recovered to a point in time in a [`scratch`] instance, checked
//!   with the policy's verification queries, then removed;
//! - [`records`]: every drill's [`Drill`] record, appended to a JSON-lines
//!   store the `infra.drills` check reads, and compared with the last ones.
//!
//! A drill that ran and missed its target is a `Drill` with result `fail`;
//! [`DrillError`] is for a drill that could not run at all.

pub mod base_backup;
pub mod records;
pub mod restore;
pub mod rollback;
pub mod scratch;

pub use gate_audit::entry::{
    Drill, DrillComparison, DrillKind, DrillMeasures, DrillResult, ROLLBACK_TARGET_MS,
    RestoreMeasures, RollbackMeasures, VerifyOutcome,
};

/// Why a drill could not run (exit 2): nothing it measured is recorded.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// Bad input, or the environment is not in a state a drill may start
    /// from (a rollout running, traffic already on the candidate).
    #[error("{0}")]
    Refused(String),
    /// Reading or writing gate's own files failed.
    #[error("{0}")]
    Io(String),
}
