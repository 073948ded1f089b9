//! Submitting a signed approval of a running rollout through its store, as
//! `gate approve --key/--signature` and the dashboard's approval form both
//! do: the submission is checked with [`approvals::check`]; a verified one is
//! sent to the rollout as a command, a refused one is recorded in the audit
//! log and the event log before the refusal is reported.

use chrono::{DateTime, Utc};
use gate_audit::entry::RolloutEvent;
use gate_trust::SignedStatement;
use serde_json::json;

use crate::approvals::{self, ApprovalAction, ApprovalRules, Refusal, Submission, Tally};
use crate::events::Events;
use crate::record::Recorder;
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
    /// Refused (and recorded as refused).
    #[error("approval refused: {0}")]
    Refused(Refusal),
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
    /// Checks `submission` for `action` at `now`; sends it when it verifies,
    /// records the refusal when it does not.
    pub async fn submit(
        &self,
        action: ApprovalAction,
        submission: Submission,
        now: DateTime<Utc>,
    ) -> Result<Accepted, NotSent> {
        let statement =
            match approvals::check(self.rules, self.state, action, Some(&submission), now) {
                Ok(statement) => statement,
                Err(refusal) => {
                    self.record_refusal(&refusal).await;
                    return Err(NotSent::Refused(refusal));
                }
            };
        if Tally::of(self.state, self.rules.required).has(&statement.principal) {
            return Ok(Accepted::AlreadyCounted { statement });
        }
        let kind = match action {
            ApprovalAction::Approve => CommandKind::Approve,
            ApprovalAction::Promote => CommandKind::Promote,
        };
        let command = Command::new(kind, self.submitted_by, Some(submission));
        let id = self.store.send(&command).await?;
        Ok(Accepted::Sent { id, statement })
    }

    /// Records a refusal in the audit log and the event log. A record that
    /// fails is logged as a warning: the refusal stands either way.
    pub async fn record_refusal(&self, refusal: &Refusal) {
        let (spec, state, by) = (self.spec, self.state, self.submitted_by);
        let event = RolloutEvent::ApprovalRefused {
            step: state.step,
            reason: refusal.to_string(),
            submitted_by: by.to_string(),
        };
        let draft = Recorder::new(spec).rollout(&state.run_id, event);
        if let Err(e) = self.store.record(draft).await {
            tracing::warn!("the refusal could not be recorded in the audit log: {e}");
        }
        match self.store.events() {
            Ok(log) => Events::new(log, &spec.name, state.started_unix_ms)
                .quiet(true)
                .emit(
                    "approval-refused",
                    &format!("step {}: approval refused: {refusal}", state.step),
                    json!({ "step": state.step, "reason": refusal.kind(), "submitted_by": by }),
                ),
            Err(e) => tracing::warn!("the refusal could not be recorded: {e}"),
        }
    }
}
