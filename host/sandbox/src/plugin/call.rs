//! One guest call under the sandbox's limits: the single place that turns a
//! timeout, a trap, a resource limit, a guest panic or an oversized answer
//! into a reason a user can act on. Every call into a plugin (`describe`,
//! `run`, `validate`, `decide`) goes through here.

use wasmtime::Store;

use super::runner::explain;
use crate::bindings::gate::plugin::types::Finding;
use crate::capabilities::{HostState, Sandbox};

/// Runs `call` (which drives `store`) under the sandbox's timeout. On failure
/// the reason names the call (`what`, e.g. `describe()`; empty for a check's
/// `run`, whose reason is the check's), the plugin and the limit, and carries
/// the guest's panic message when it left one.
pub async fn with_deadline<T>(
    store: &mut Store<HostState>,
    sandbox: &Sandbox,
    what: &str,
    call: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
) -> Result<T, String> {
    let timeout = sandbox.limits.timeout;
    match tokio::time::timeout(timeout, call(store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            let mut reason = explain(&e, sandbox);
            if let Some(panic) = store.data().panic_message() {
                reason = format!("{reason}: {panic}");
            }
            Err(prefixed(what, reason))
        }
        Err(_) => Err(prefixed(
            what,
            format!(
                "timed out after {} ms (plugin `{}` timeout_ms)",
                timeout.as_millis(),
                sandbox.plugin
            ),
        )),
    }
}

fn prefixed(what: &str, reason: String) -> String {
    if what.is_empty() {
        reason
    } else {
        format!("{what}: {reason}")
    }
}

/// Refuses an answer larger than `cap` (the plugin's output cap for this
/// call): `answer` bytes plus what it already logged through the host.
pub fn within_output_cap(
    store: &Store<HostState>,
    sandbox: &Sandbox,
    answer: usize,
    cap: usize,
) -> Result<(), String> {
    let size = answer + store.data().output_used;
    if size > cap {
        return Err(format!(
            "output of {size} bytes exceeds the cap of {cap} bytes (plugin `{}` output_kb)",
            sandbox.plugin
        ));
    }
    Ok(())
}

/// The bytes a finding counts against the output cap.
pub fn finding_size(f: &Finding) -> usize {
    f.check.len()
        + f.rule.as_ref().map_or(0, String::len)
        + f.subject.len()
        + f.message.len()
        + f.evidence
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
        + f.remediation.as_ref().map_or(0, String::len)
        + f.location.as_ref().map_or(0, |l| l.file.len() + 8)
        + 16
}
