//! Signed approvals: the `[approvals]` rules of a spec, the challenge an
//! approver signs, checking a signed approval, and counting who approved the
//! current step (docs/approvals.md).
//!
//! The challenge binds the rollout's name, its run id (new for every rollout
//! started), the step, the state revision at which that step began and the
//! action, so a signature counts for this step of this run only: replayed on
//! another step, another run or after the step was re-entered, it verifies
//! over different bytes and is refused. The principal is the one the
//! allowed_signers file gives the key, never a name the approver typed.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use gate_trust::allowed_signers::SignersErrors;
use gate_trust::{AllowedSigners, SignedStatement, VerifyError};
use serde::{Deserialize, Serialize};

use super::state::RolloutState;

/// The SSHSIG namespace of approvals (`ssh-keygen -Y sign -n gate-approval`).
pub const NAMESPACE: &str = "gate-approval";

/// `[approvals]` of a spec.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRules {
    /// The OpenSSH allowed_signers file, resolved against the spec's directory.
    pub allowed_signers: PathBuf,
    /// Distinct principals whose approval advances a step.
    pub required: u32,
    /// Whether the OS user who started the rollout may approve it.
    pub self_approval: bool,
}

/// What an approver approves: `gate approve` or `gate promote`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ApprovalAction {
    Approve,
    Promote,
}

/// The exact bytes an approver signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub rollout: String,
    pub run_id: String,
    pub step: u32,
    /// The state revision written when the step began.
    pub revision: u64,
    pub action: ApprovalAction,
}

impl Challenge {
    /// The challenge for the rollout's current step.
    pub fn current(state: &RolloutState, action: ApprovalAction) -> Challenge {
        Challenge {
            rollout: state.name.clone(),
            run_id: state.run_id.clone(),
            step: state.step,
            revision: state.step_revision,
            action,
        }
    }

    /// The canonical text: six `\n`-terminated lines, ASCII only (rollout
    /// names and run ids are letters, digits, `-`, `_` and `.`), e.g.
    ///
    /// ```text
    /// gate-approval-v1
    /// rollout=web
    /// run=4f0c…
    /// step=2
    /// revision=17
    /// action=approve
    /// ```
    pub fn text(&self) -> String {
        let action: &str = self.action.into();
        format!(
            "gate-approval-v1\nrollout={}\nrun={}\nstep={}\nrevision={}\naction={action}\n",
            self.rollout, self.run_id, self.step, self.revision
        )
    }
}

/// One approval of a step, as recorded in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub step: u32,
    pub action: ApprovalAction,
    /// The verified principal, or the name given with `--by` when unverified.
    pub by: String,
    pub at: String,
    /// Whether a signature proved `by`; `false` for `--by` on specs without `[approvals]`.
    pub verified: bool,
    /// The state revision at which the step began (the approval window).
    #[serde(default)]
    pub revision: u64,
    /// The signed challenge, its signature, the principal and the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<SignedStatement>,
}

/// Why a signed approval was not counted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "this rollout requires signed approvals ([approvals] in the spec): use `--key` or `--signature`"
    )]
    Unsigned,
    #[error(
        "the approval was signed for another step, run or revision (a replay or a stale challenge); the current challenge is for step {step}, revision {revision}: sign it again"
    )]
    Stale { step: u32, revision: u64 },
    #[error("{0}")]
    Signers(#[from] SignersErrors),
    #[error("{0}")]
    Signature(#[from] VerifyError),
    #[error("{principal} started this rollout and may not approve it (`self_approval = false`)")]
    SelfApproval { principal: String },
}

impl Refusal {
    /// A short kind for the event log.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::Stale { .. } => "stale",
            Refusal::Signers(_) => "allowed-signers",
            Refusal::Signature(e) => e.kind(),
            Refusal::SelfApproval { .. } => "self-approval",
        }
    }
}

/// A signed approval as submitted: the challenge the approver saw and the
/// armored signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub challenge: String,
    pub signature: String,
}

/// Checks a signed approval of `action` against the current step of
/// `state`: the signature must verify over the current challenge under a key
/// that `rules.allowed_signers` lists for [`NAMESPACE`] at `at`. The
/// allowed_signers file is read afresh, so a removed key stops counting at once.
pub fn check(
    rules: &ApprovalRules,
    state: &RolloutState,
    action: ApprovalAction,
    submission: Option<&Submission>,
    at: DateTime<Utc>,
) -> Result<SignedStatement, Refusal> {
    let submission = submission.ok_or(Refusal::Unsigned)?;
    let challenge = Challenge::current(state, action).text();
    if submission.challenge != challenge {
        return Err(Refusal::Stale {
            step: state.step,
            revision: state.step_revision,
        });
    }
    let signers = AllowedSigners::load(&rules.allowed_signers)?;
    let verified = signers.verify(
        NAMESPACE,
        challenge.as_bytes(),
        &submission.signature,
        None,
        at,
    )?;
    if !rules.self_approval && is_user(&verified.principal, &state.started_by) {
        return Err(Refusal::SelfApproval {
            principal: verified.principal,
        });
    }
    Ok(SignedStatement {
        namespace: NAMESPACE.to_string(),
        message: challenge,
        signature: submission.signature.clone(),
        principal: verified.principal,
        fingerprint: verified.fingerprint,
    })
}

/// Whether a principals field names the OS user `user`: one of its
/// comma-separated names is `user` or `user@…`.
fn is_user(principals: &str, user: &str) -> bool {
    !user.is_empty()
        && principals
            .split(',')
            .any(|p| p == user || p.split_once('@').is_some_and(|(local, _)| local == user))
}

/// Who approved the current step, and how many more are needed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Distinct principals, in the order they approved.
    pub approved_by: Vec<String>,
    pub required: u32,
    pub missing: u32,
}

impl Tally {
    /// The verified approvals of the current step of `state` (its approval window).
    pub fn of(state: &RolloutState, required: u32) -> Tally {
        let mut approved_by: Vec<String> = Vec::new();
        for r in state
            .approvals
            .iter()
            .filter(|r| r.verified && r.step == state.step && r.revision == state.step_revision)
        {
            if !approved_by.contains(&r.by) {
                approved_by.push(r.by.clone());
            }
        }
        let missing = required.saturating_sub(approved_by.len() as u32);
        Tally {
            approved_by,
            required,
            missing,
        }
    }

    pub fn has(&self, principal: &str) -> bool {
        self.approved_by.iter().any(|p| p == principal)
    }

    /// `1 of 2 (alice@example.com); 1 more needed`.
    pub fn summary(&self) -> String {
        let who = if self.approved_by.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.approved_by.join(", "))
        };
        let more = match self.missing {
            0 => "approved".to_string(),
            n => format!("{n} more needed"),
        };
        format!(
            "{} of {}{who}; {more}",
            self.approved_by.len(),
            self.required
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_binds_every_field() {
        let mut s = RolloutState::new("web", "d", "canary", 1);
        s.step = 2;
        s.step_revision = 17;
        let c = Challenge::current(&s, ApprovalAction::Approve);
        assert_eq!(
            c.text(),
            format!(
                "gate-approval-v1\nrollout=web\nrun={}\nstep=2\nrevision=17\naction=approve\n",
                s.run_id
            )
        );
        let promote = Challenge::current(&s, ApprovalAction::Promote).text();
        assert_ne!(c.text(), promote);
        let other_run = RolloutState::new("web", "d", "canary", 1);
        assert_ne!(s.run_id, other_run.run_id);
        assert_eq!(s.run_id.len(), 32);
    }

    #[test]
    fn self_approval_matches_the_user_or_its_address() {
        assert!(is_user("alice", "alice"));
        assert!(is_user("alice@example.com", "alice"));
        assert!(is_user("ops@example.com,alice@example.com", "alice"));
        assert!(!is_user("alicea@example.com", "alice"));
        assert!(!is_user("bob@alice", "alice"));
        assert!(!is_user("alice", ""));
    }

    /// A key made by the real `ssh-keygen`, listed for `principal`.
    fn listed_key(dir: &std::path::Path, name: &str, principal: &str) -> gate_trust::SigningKey {
        let key = dir.join(name);
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen runs");
        assert!(out.status.success(), "{out:?}");
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let signers = dir.join("allowed_signers");
        let mut text = std::fs::read_to_string(&signers).unwrap_or_default();
        text.push_str(&format!("{principal} {public}"));
        std::fs::write(&signers, text).unwrap();
        gate_trust::SigningKey::load(&key, None).unwrap()
    }

    fn submission(key: &gate_trust::SigningKey, state: &RolloutState) -> Submission {
        let challenge = Challenge::current(state, ApprovalAction::Approve).text();
        Submission {
            signature: key.sign(NAMESPACE, challenge.as_bytes()).unwrap(),
            challenge,
        }
    }

    #[test]
    fn signatures_count_for_the_current_window_only_and_once_per_principal() {
        let dir = tempfile::tempdir().unwrap();
        let alice = listed_key(dir.path(), "alice", "alice@example.com");
        let ops = listed_key(dir.path(), "ops", "ops@example.com");
        let rules = ApprovalRules {
            allowed_signers: dir.path().join("allowed_signers"),
            required: 2,
            self_approval: false,
        };
        let mut state = RolloutState::new("web", "d", "canary", 1);
        state.step = 1;
        state.step_revision = 4;
        state.started_by = "ops".into();
        let now = Utc::now();
        let check_now = |state: &RolloutState, s: &Submission| {
            check(&rules, state, ApprovalAction::Approve, Some(s), now)
        };

        let by_alice = submission(&alice, &state);
        let statement = check_now(&state, &by_alice).unwrap();
        assert_eq!(statement.principal, "alice@example.com");
        assert_eq!(statement.message, by_alice.challenge);
        // The user who started the rollout may not approve it.
        let by_ops = submission(&ops, &state);
        assert!(matches!(
            check_now(&state, &by_ops),
            Err(Refusal::SelfApproval { .. })
        ));
        assert!(matches!(
            check(&rules, &state, ApprovalAction::Approve, None, now),
            Err(Refusal::Unsigned)
        ));

        let record = |by: &str, revision| ApprovalRecord {
            step: 1,
            action: ApprovalAction::Approve,
            by: by.into(),
            at: "t".into(),
            verified: true,
            revision,
            statement: None,
        };
        state.approvals = vec![
            record("alice@example.com", 4),
            record("alice@example.com", 4),
        ];
        let tally = Tally::of(&state, rules.required);
        assert_eq!((tally.approved_by.len(), tally.missing), (1, 1));
        assert_eq!(tally.summary(), "1 of 2 (alice@example.com); 1 more needed");

        // A new window (the step began again): old signatures and records no longer count.
        state.step_revision = 9;
        assert!(matches!(
            check_now(&state, &by_alice),
            Err(Refusal::Stale { .. })
        ));
        let forged = Submission {
            challenge: Challenge::current(&state, ApprovalAction::Approve).text(),
            signature: by_alice.signature.clone(),
        };
        assert!(matches!(
            check_now(&state, &forged),
            Err(Refusal::Signature(VerifyError::BadSignature { .. }))
        ));
        assert_eq!(Tally::of(&state, rules.required).missing, 2);
    }
}
