//! Submitting a signed approval of a running rollout through its store, as
//! `gate approve --key/--signature` and the dashboard's approval form both
//! do: the submission is checked with [`approvals::check`] and sent to the
//! rollout as a command either way; the rollout's runner counts a verified
//! one and records a refused one.

use chrono::{DateTime, Utc};
use gate_trust::SignedStatement;

use crate::approvals::{self, ApprovalAction, ApprovalRules, Refusal, Submission, Tally};
use crate::spec::Spec;
use crate::state::{Command, CommandKind, RolloutState};
use crate::store::{Store, StoreError};

/// What became of a signed approval that verified.
#[derive(Debug)]
pub enum Accepted {
    /// Sent to the rollout as the command with this id.
    Sent {
        id: String,
        statement: SignedStatement,
    },
    /// The principal had already approved this step; nothing was sent.
    AlreadyCounted { statement: SignedStatement },
}

/// Why a signed approval was not sent.
#[derive(Debug, thiserror::Error)]
pub enum NotSent {
    /// Refused. The submission still goes to the rollout as a command: its
    /// runner checks it again, refuses it and records the refusal (audit log
    /// and event log), since only the runner, holding the log's signing key,
    /// appends to a rollout's record. `forwarded` is that command's id, or
    /// why the store could not take it.
    #[error("approval refused: {refusal}")]
    Refused {
        refusal: Refusal,
        forwarded: Result<String, StoreError>,
    },
    /// Verified, but the store could not take the command.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed approval of the current step of a rollout.
pub struct SignedApproval<'a> {
    pub spec: &'a Spec,
    pub store: &'a dyn Store,
    pub rules: &'a ApprovalRules,
    pub state: &'a RolloutState,
    /// Who submitted it (the OS user, or the dashboard and its peer), for
    /// the command and a refusal's record; the approver is the principal
    /// the signature proves.
    pub submitted_by: &'a str,
}

impl SignedApproval<'_> {
    /// Checks `submission` (`None`: unsigned) for `action` at `now` and
    /// sends it to the rollout: a verified one to be counted, a refused one
    /// to be recorded as refused.
    pub async fn submit(
        &self,
        action: ApprovalAction,
        submission: Option<Submission>,
        now: DateTime<Utc>,
    ) -> Result<Accepted, NotSent> {
        let kind = match action {
            ApprovalAction::Approve => CommandKind::Approve,
            ApprovalAction::Promote => CommandKind::Promote,
        };
        let checked = approvals::check(self.rules, self.state, action, submission.as_ref(), now);
        let statement = match checked {
            Ok(statement) => statement,
            Err(refusal) => {
                let command = Command::new(kind, self.submitted_by, submission);
                let forwarded = self.store.send(&command).await;
                return Err(NotSent::Refused { refusal, forwarded });
            }
        };
        if Tally::of(self.state, self.rules.required).has(&statement.principal) {
            return Ok(Accepted::AlreadyCounted { statement });
        }
        let command = Command::new(kind, self.submitted_by, submission);
        let id = self.store.send(&command).await?;
        Ok(Accepted::Sent { id, statement })
    }
}
