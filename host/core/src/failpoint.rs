//! Failpoints for the crash tests: the process kills itself with SIGKILL,
//! as a power cut or `kill -9` would, the N-th time (default the first) it
//! passes the armed point. Armed by `GATE_FAILPOINT=NAME[:N]` in the
//! environment, or by `gate rollout --failpoint NAME[:N]` (a hidden flag),
//! which [`configure`] passes before the environment is read.
//!
//! Points, by the code that passes them:
//! - audit log (`gate_audit`): `mid-entry` (half the entry line written),
//!   `after-entry` (the entry written and fsynced, no checkpoint yet),
//!   `mid-checkpoint`, `after-checkpoint` (both written, the saved state not
//!   yet updated);
//! - rollouts (`gate_rollout`): `after-intent`, `after-router-write` (the
//!   router changed, the state not yet), `after-state-write` (a step
//!   boundary), `after-analysis`, `in-replace` (rolling: drained and
//!   stopped, not yet started), `rollback-saved` (a rollback decided and
//!   saved, no traffic moved back yet), `after-incident-entry` (the
//!   incident's audit entry written, its number not yet kept),
//!   `after-incident` (the incident opened, the rolled-back phase not yet
//!   saved);
//! - expand/contract migrations (`gate_migrate::expand`):
//!   `migrate-after-expand` (the expand committed, the backfill not begun),
//!   `migrate-after-batch` (a backfill batch committed),
//!   `migrate-before-contract-commit` (complete's statements run, not
//!   committed), `migrate-before-rollback-commit` (likewise for rollback).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

static SPEC: OnceLock<Option<(String, u32)>> = OnceLock::new();
static HITS: AtomicU32 = AtomicU32::new(0);

fn parse(spec: &str) -> (String, u32) {
    match spec.split_once(':') {
        Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
        None => (spec.to_string(), 1),
    }
}

/// Arms `spec` (`NAME[:N]`) instead of the environment's; only the first
/// call counts, and only before any point is passed.
pub fn configure(spec: Option<&str>) {
    let _ = SPEC.set(spec.map(parse));
}

fn armed_spec() -> Option<&'static (String, u32)> {
    SPEC.get_or_init(|| std::env::var("GATE_FAILPOINT").ok().map(|s| parse(&s)))
        .as_ref()
}

/// Whether the failpoint `name` is armed.
pub fn armed(name: &str) -> bool {
    armed_spec().is_some_and(|(want, _)| want == name)
}

/// Kills the process the N-th time `name` is passed, when it is armed.
pub fn hit(name: &str) {
    let Some((want, n)) = armed_spec() else {
        return;
    };
    if want != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        eprintln!("failpoint {name}:{n}: killing the process");
        // SAFETY: sending a signal to ourselves.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
