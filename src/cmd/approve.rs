//! `gate approve` and `gate promote`: approve the paused step of a running
//! rollout. On a spec with `[approvals]` the approval is signed with an SSH
//! key (`--key`), or its challenge is printed (`--challenge`) for
//! `ssh-keygen -Y sign` and the signature submitted (`--signature`); the
//! principal comes from the allowed_signers file. Otherwise `--by NAME` is
//! recorded as unverified (docs/approvals.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gate_rollout::Spec;
use gate_rollout::approvals::{self, ApprovalAction, Challenge, Submission, Tally};
use gate_rollout::controller;
use gate_rollout::signed_approval::{Accepted, NotSent, SignedApproval};
use gate_rollout::state::{Command, CommandKind, RolloutState};
use gate_rollout::store::Store;
use gate_trust::SigningKey;

use super::rollout::load_spec;
use super::shared;
use crate::exit;

/// The largest detached signature file read.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

#[derive(clap::Args, Debug)]
pub struct ApproveArgs {
    /// The rollout spec
    #[arg(long, short)]
    pub spec: PathBuf,
    /// Who approves, on a spec without [approvals] (recorded as unverified);
    /// defaults to $GATE_USER or $USER
    #[arg(long, conflicts_with_all = ["key", "signature", "challenge"])]
    pub by: Option<String>,
    /// Sign with this OpenSSH private key (Ed25519, ECDSA, RSA); an encrypted
    /// key's passphrase is read from GATE_KEY_PASSPHRASE
    #[arg(long, value_name = "PATH", conflicts_with_all = ["signature", "challenge"])]
    pub key: Option<PathBuf>,
    /// Print the exact bytes to sign for the current step, and nothing else
    /// (sign them with `ssh-keygen -Y sign -n gate-approval -f KEY`)
    #[arg(long, conflicts_with = "signature")]
    pub challenge: bool,
    /// Submit a signature of the challenge made by `ssh-keygen -Y sign -n
    /// gate-approval` (for SSH agents and hardware tokens)
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// How long to wait for the running rollout to count the approval
    #[arg(long, default_value = "10")]
    pub wait_secs: u64,
    /// Audit directory to record the rollout's decisions in (default: the spec's [audit] dir, else .gate/audit beside the spec)
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
}

/// `gate approve` (`promote = false`) and `gate promote`.
pub async fn run(args: ApproveArgs, promote: bool) -> u8 {
    let spec = match load_spec(&args.spec, args.audit.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match controller::open_store(&spec).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let state = match unfinished_state(&spec, &*store).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (kind, action) = if promote {
        (CommandKind::Promote, ApprovalAction::Promote)
    } else {
        (CommandKind::Approve, ApprovalAction::Approve)
    };
    let Some(rules) = spec.approvals.clone() else {
        return unverified(&spec, &*store, &args, kind).await;
    };
    if args.by.is_some() {
        eprintln!(
            "error: {}: this rollout requires signed approvals ([approvals]); `--by` is for specs without them\n  help: sign with `--key KEY`, or `--challenge` then `--signature FILE`; the approver's name comes from {}",
            spec.file.display(),
            rules.allowed_signers.display()
        );
        return exit::ERROR;
    }
    let challenge = Challenge::current(&state, action).text();
    if args.challenge {
        print!("{challenge}");
        return exit::PASS;
    }
    let signature = match signature(&args, &challenge) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let submission = Submission {
        challenge,
        signature,
    };
    let now = match shared::clock() {
        Ok(c) => c.now(),
        Err(code) => return code,
    };
    let approval = SignedApproval {
        spec: &spec,
        store: &*store,
        rules: &rules,
        state: &state,
        submitted_by: &controller::whoami(),
    };
    match approval.submit(action, Some(submission), now).await {
        Ok(Accepted::AlreadyCounted { statement }) => {
            eprintln!(
                "{} has already approved step {} of rollout `{}`; an approval counts once per principal",
                statement.principal, state.step, spec.name
            );
            exit::PASS
        }
        Ok(Accepted::Sent { id, statement }) => {
            let sent = Sent {
                approval: &approval,
                id,
                statement,
            };
            sent.wait(args.wait_secs).await
        }
        Err(NotSent::Refused { refusal, forwarded }) => {
            eprintln!("error: approval refused: {refusal}");
            match forwarded {
                Ok(id) if processed(&*store, &id, args.wait_secs).await => {}
                Ok(_) => eprintln!("the refusal is recorded when the rollout's runner picks it up"),
                Err(e) => eprintln!("warning: the refusal could not be sent to the rollout: {e}"),
            }
            exit::FAIL
        }
        Err(NotSent::Store(e)) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

/// The state of a rollout that has started and not finished.
async fn unfinished_state(spec: &Spec, store: &dyn Store) -> Result<RolloutState, u8> {
    match store.load().await {
        Ok(Some(s)) if !s.phase.terminal() => Ok(s),
        Ok(Some(s)) => {
            eprintln!(
                "error: rollout `{}` has already finished ({:?}); nothing to approve",
                spec.name, s.phase
            );
            Err(exit::ERROR)
        }
        Ok(None) => {
            eprintln!("error: rollout `{}` has not started", spec.name);
            Err(exit::ERROR)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(exit::ERROR)
        }
    }
}

/// A spec without `[approvals]`: the name given (or the user's) is recorded, unverified.
async fn unverified(spec: &Spec, store: &dyn Store, args: &ApproveArgs, kind: CommandKind) -> u8 {
    if args.key.is_some() || args.signature.is_some() || args.challenge {
        eprintln!(
            "error: {}: the spec has no [approvals] table, so there is no allowed_signers file to verify a signature against\n  help: add `[approvals]` with `allowed_signers = \"…\"` to the spec (docs/approvals.md), or approve with `--by NAME`",
            spec.file.display()
        );
        return exit::ERROR;
    }
    let by = args.by.clone().unwrap_or_else(controller::whoami);
    match store.send(&Command::new(kind, &by, None)).await {
        Ok(_) => {
            eprintln!(
                "{} recorded for rollout `{}` by {by} (unverified)",
                if kind == CommandKind::Promote {
                    "promotion"
                } else {
                    "approval"
                },
                spec.name
            );
            exit::PASS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

/// The armored signature: made with `--key`, or read from `--signature`.
fn signature(args: &ApproveArgs, challenge: &str) -> Result<String, u8> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        exit::ERROR
    };
    if let Some(path) = &args.key {
        let passphrase = std::env::var("GATE_KEY_PASSPHRASE").ok();
        let key = SigningKey::load(path, passphrase.as_deref()).map_err(|e| fail(&e))?;
        return key
            .sign(approvals::NAMESPACE, challenge.as_bytes())
            .map_err(|e| fail(&e));
    }
    let Some(path) = &args.signature else {
        eprintln!(
            "error: this rollout requires signed approvals\n  help: pass `--key KEY`, or print the challenge with `--challenge`, sign it with `ssh-keygen -Y sign -n {} -f KEY`, and pass `--signature FILE`",
            approvals::NAMESPACE
        );
        return Err(exit::ERROR);
    };
    read_signature(path).map_err(|e| fail(&e))
}

fn read_signature(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("{}: cannot read the signature: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_SIGNATURE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: cannot read the signature: {e}", path.display()))?;
    Ok(text)
}

/// Waits (at most `wait_secs`) while a runner holds the rollout and command
/// `id` is pending; whether it was handled.
async fn processed(store: &dyn Store, id: &str, wait_secs: u64) -> bool {
    if !matches!(store.holder().await, Ok(Some(_))) {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(wait_secs);
    loop {
        let pending = store
            .pending()
            .await
            .map_or(true, |cmds| cmds.iter().any(|c| c.id == id));
        if !pending {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A verified approval sent to the rollout.
struct Sent<'a> {
    approval: &'a SignedApproval<'a>,
    id: String,
    statement: gate_trust::SignedStatement,
}

impl Sent<'_> {
    /// When a rollout is running, waits until it has counted the approval.
    async fn wait(&self, wait_secs: u64) -> u8 {
        let SignedApproval {
            spec,
            store,
            rules,
            state,
            ..
        } = *self.approval;
        let (id, statement) = (&self.id, &self.statement);
        eprintln!(
            "step {} of rollout `{}` signed by {} ({})",
            state.step, spec.name, statement.principal, statement.fingerprint
        );
        if !matches!(store.holder().await, Ok(Some(_))) {
            eprintln!("no rollout is running: the approval is counted when `gate rollout` resumes");
            return exit::PASS;
        }
        let handled = processed(store, id, wait_secs).await;
        let after = store.load().await.ok().flatten();
        let counted = after.as_ref().is_some_and(|s| {
            s.approvals.iter().any(|r| {
                r.statement
                    .as_ref()
                    .is_some_and(|st| st.signature == statement.signature)
            })
        });
        match (counted, !handled) {
            (true, _) => {
                let tally = Tally::of(after.as_ref().unwrap_or(state), rules.required);
                eprintln!("approvals: {}", tally.summary());
                exit::PASS
            }
            (false, true) => {
                eprintln!(
                    "the running rollout has not picked the approval up within {wait_secs} s; it is counted when it does"
                );
                exit::PASS
            }
            (false, false) => {
                eprintln!(
                    "error: the running rollout refused the approval (the step moved on meanwhile?); see `gate status` and its events in {}",
                    store.describe()
                );
                exit::FAIL
            }
        }
    }
}
