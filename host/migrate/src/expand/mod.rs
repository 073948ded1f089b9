//! Expand/contract migrations that gate runs on PostgreSQL: an operations
//! file ([`ops`]) is expanded into new physical columns, triggers that keep
//! the old and new columns in step ([`triggers`]) and a schema of views per
//! version ([`schema`]); existing rows are backfilled in keyed batches
//! ([`backfill`]), checked ([`validate`]) and the old version is then
//! contracted away, or the expand rolled back. The state lives in the
//! database ([`state`]), so every command can be killed and run again.
//!
//! The phases, in order: `old-only` → `expanded` (both versions served,
//! dual writes) → `backfilled` → `validated` → `contracted`; `rolled-back`
//! from any phase before `contracted`.

pub mod backfill;
pub mod ops;
pub mod plan;
pub mod run;
pub mod schema;
pub mod sql;
pub mod state;
pub mod triggers;
pub mod validate;

use gate_sandbox::postgres::{ConnectError, db_error};
use tokio_postgres::error::SqlState;

pub use run::{Options, complete, rollback, set_rate, start, status, validate_cmd};
pub use state::{Phase, Status};

/// Why an expand/contract command stopped. No variant holds the database
/// URL.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    #[error(transparent)]
    Ops(#[from] ops::OpsError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A statement failed; `during` says what gate was doing.
    #[error("{during}: {reason}")]
    Db {
        during: String,
        reason: String,
        /// The statement waited longer than lock_timeout, or deadlocked:
        /// worth retrying.
        retryable: bool,
    },
    /// Another gate holds the migration lock.
    #[error("{0}")]
    Busy(String),
    /// The command does not apply to the migration's state.
    #[error("{0}")]
    State(String),
    /// An operation does not fit the database (a missing table, …).
    #[error("{0}")]
    Plan(String),
    /// Rows that would break the new version's constraints: complete is blocked.
    #[error("{0}")]
    Validation(validate::Failures),
    /// `gate migrate rollback` asked the backfill to stop.
    #[error("the backfill was stopped by `gate migrate rollback`")]
    Cancelled,
}

impl ExpandError {
    fn db(during: impl Into<String>, e: &tokio_postgres::Error) -> Self {
        let retryable = matches!(
            e.code(),
            Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
        );
        ExpandError::Db {
            during: during.into(),
            reason: db_error(e),
            retryable,
        }
    }

    fn retryable(&self) -> bool {
        matches!(
            self,
            ExpandError::Db {
                retryable: true,
                ..
            }
        )
    }
}
