//! The dashboard's one write: a signed approval (or, on the last step, a
//! signed promotion) of a rollout's current step, posted from the rollout
//! page (the challenge shown there, signed with
//! `ssh-keygen -Y sign -n gate-approval`, pasted back). It is checked and
//! sent exactly as `gate approve --signature` does it
//! ([`SignedApproval`]); a missing or invalid signature is refused with 403
//! and recorded as refused in the audit log and the event log.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use gate_rollout::approvals::{ApprovalAction, Submission};
use gate_rollout::signed_approval::{Accepted, NotSent, SignedApproval};

use crate::app::App;
use crate::error::ApiError;
use crate::pages::{Outcome, render};

/// The largest signature accepted (an armored SSHSIG is about 300 bytes to a few KiB).
const MAX_SIGNATURE: usize = 64 * 1024;

/// The approval form.
#[derive(Debug, serde::Deserialize)]
pub struct ApprovalForm {
    /// `approve` or `promote`.
    pub action: String,
    /// The challenge as shown on the page.
    pub challenge: String,
    /// The armored SSHSIG signature of the challenge.
    #[serde(default)]
    pub signature: String,
}

pub async fn submit(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Form(form): Form<ApprovalForm>,
) -> Result<Response, ApiError> {
    let spec = app.spec(&name)?;
    let Some(rules) = &spec.approvals else {
        return Err(ApiError::Forbidden(format!(
            "rollout `{name}` has no [approvals]: there is no allowed_signers file to verify a signature against, so it is approved with `gate approve --by` only"
        )));
    };
    let action = match form.action.as_str() {
        "approve" => ApprovalAction::Approve,
        "promote" => ApprovalAction::Promote,
        _ => {
            return Err(ApiError::BadRequest(
                "action: expected approve or promote".into(),
            ));
        }
    };
    if form.signature.len() > MAX_SIGNATURE || form.challenge.len() > MAX_SIGNATURE {
        return Err(ApiError::BadRequest("the signature is too large".into()));
    }
    let store = gate_rollout::store::open(spec).await?;
    let state = match store.load().await? {
        Some(s) if !s.phase.terminal() => s,
        Some(_) => {
            return Err(ApiError::BadRequest(format!(
                "rollout `{name}` has finished; nothing to approve"
            )));
        }
        None => {
            return Err(ApiError::BadRequest(format!(
                "rollout `{name}` has not started"
            )));
        }
    };
    let approval = SignedApproval {
        spec,
        store: &*store,
        rules,
        state: &state,
        submitted_by: &app.submitter,
    };
    let submission = (!form.signature.trim().is_empty()).then(|| Submission {
        challenge: form.challenge.replace("\r\n", "\n"),
        signature: form.signature.replace("\r\n", "\n"),
    });
    let outcome = approval
        .submit(action, submission, chrono::Utc::now())
        .await;
    let (status, title, detail) = match outcome {
        Ok(Accepted::Sent { statement, .. }) => (
            StatusCode::OK,
            match action {
                ApprovalAction::Approve => "Approval sent",
                ApprovalAction::Promote => "Promotion sent",
            },
            format!(
                "{} step {} of rollout `{name}` signed by {} ({}); the running rollout counts it at its next tick",
                <&str>::from(action),
                state.step,
                statement.principal,
                statement.fingerprint
            ),
        ),
        Ok(Accepted::AlreadyCounted { statement }) => (
            StatusCode::OK,
            "Already approved",
            format!(
                "{} has already approved step {}; an approval counts once per principal",
                statement.principal, state.step
            ),
        ),
        Err(NotSent::Refused { refusal, forwarded }) => {
            if let Err(e) = forwarded {
                tracing::warn!(
                    "a refused approval of `{name}` could not be sent to its rollout to be recorded: {e}"
                );
            }
            (
                StatusCode::FORBIDDEN,
                "Approval refused",
                gate_redact::scrub(&refusal.to_string()),
            )
        }
        Err(NotSent::Store(e)) => return Err(e.into()),
    };
    let page = Outcome {
        title,
        detail,
        rollout: name,
    };
    Ok((status, Html(render(&page)?)).into_response())
}
