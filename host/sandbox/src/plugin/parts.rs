//! One check run in parts at once (WIT world `check-in-parts`, added in
//! `gate:plugin@0.1.1`).
//!
//! The first instance is asked how many parts the run can use, given the
//! store slots free right now and the plugin's `parallel` limit. One: it
//! runs the check whole. More: it runs part 0 while every other part runs in
//! a fresh store of its own (on a thread of its own when the plugin has
//! directory grants, as in [`Runtime::run_check`](super::Runtime::run_check)),
//! each under the plugin's limits; then it merges the parts' findings. The
//! check's one deadline is the caller's, around all of this: a part still
//! running when it fires is left to end at its own deadline, and the run is
//! reported as timed out. A part that fails fails the run, named by its
//! number.

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;

use super::call::{finding_size, with_deadline, within_output_cap};
use super::runner::{FileCalls, STUCK_GRACE, StoreSpec, explain, host_time, on_own_thread};
use crate::bindings::gate::plugin::types as wit;
use crate::bindings::parts::{CheckInPartsPre, Part};
use crate::capabilities::{HostState, Sandbox};

/// A part's failure, already worded for the user: [`explain`] passes it on
/// as it is.
#[derive(Debug)]
pub struct PartFailed(String);

impl std::fmt::Display for PartFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PartFailed {}

/// What a run of a `check-in-parts` plugin produced.
pub(super) struct PartsRun {
    /// The check's findings: `run`'s, or `merge`'s of every part's.
    pub findings: Vec<wit::Finding>,
    /// The longest host time among the parts run beside the first instance.
    pub others_host_time: Duration,
    /// How many parts ran (1: the check ran whole).
    pub count: u32,
}

/// What one part beside the first produced, and its host time.
type PartOutcome = (Result<Vec<wit::Finding>, String>, Duration);

/// Runs `request` in `store`'s fresh instance and, when the plugin splits
/// it, in up to `spare.len()` more: `spare` holds their store slots.
pub(super) async fn run(
    store: &mut Store<HostState>,
    pre: &CheckInPartsPre<HostState>,
    spec: &StoreSpec,
    mut spare: Vec<OwnedSemaphorePermit>,
    request: &wit::CheckRequest,
) -> wasmtime::Result<PartsRun> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let available = u32::try_from(spare.len()).unwrap_or(u32::MAX - 1) + 1;
    let count = match available {
        1 => 1,
        _ => instance
            .call_parts(&mut *store, request, available)
            .await?
            .clamp(1, available),
    };
    if count == 1 {
        drop(spare);
        return Ok(PartsRun {
            findings: instance.call_run(store, request).await?,
            others_host_time: Duration::ZERO,
            count: 1,
        });
    }
    spare.truncate(count as usize - 1);
    let others: Vec<_> = spare
        .into_iter()
        .zip(1..count)
        .map(|(slot, index)| spawn_part(pre, spec, request, Part { index, count }, slot))
        .collect();
    let sandbox = &spec.sandbox;
    let failed =
        |index: u32, reason: String| PartFailed(format!("part {} of {count}: {reason}", index + 1));
    let first = instance
        .call_run_part(&mut *store, request, Part { index: 0, count })
        .await
        .map_err(|e| failed(0, explain_in(store, &e, sandbox)))?;
    checked_size(store, sandbox, &first).map_err(|reason| failed(0, reason))?;
    let mut parts = vec![first];
    let mut others_host_time = Duration::ZERO;
    for (index, other) in (1..count).zip(others) {
        let (findings, host) = other.await.unwrap_or_else(|e| {
            (
                Err(format!("the host failed running it: {e}")),
                Duration::ZERO,
            )
        });
        others_host_time = others_host_time.max(host);
        parts.push(findings.map_err(|reason| failed(index, reason))?);
    }
    let findings = instance.call_merge(store, request, &parts).await?;
    Ok(PartsRun {
        findings,
        others_host_time,
        count,
    })
}

/// Starts one part in a fresh store: on a thread of its own for a plugin
/// with directory grants, as a task otherwise. The store slot is freed when
/// the part ends.
fn spawn_part(
    pre: &CheckInPartsPre<HostState>,
    spec: &StoreSpec,
    request: &wit::CheckRequest,
    part: Part,
    slot: OwnedSemaphorePermit,
) -> tokio::task::JoinHandle<PartOutcome> {
    let (pre, spec, request) = (pre.clone(), spec.clone(), request.clone());
    let calls = spec.calls;
    let (timeout, plugin) = (spec.timeout, spec.sandbox.plugin.clone());
    let make = move || async move {
        let outcome = run_part(&pre, &spec, &request, part).await;
        drop(slot);
        outcome
    };
    match calls {
        FileCalls::OnPool => tokio::spawn(make()),
        FileCalls::OnGuestThread => tokio::spawn(async move {
            on_own_thread(timeout + STUCK_GRACE, make)
                .await
                .unwrap_or_else(|stop| (Err(stop.reason(timeout, &plugin)), timeout))
        }),
    }
}

/// One part, beside the first, in a store of its own.
async fn run_part(
    pre: &CheckInPartsPre<HostState>,
    spec: &StoreSpec,
    request: &wit::CheckRequest,
    part: Part,
) -> PartOutcome {
    let mut store = match spec.store() {
        Ok(store) => store,
        Err(e) => return (Err(e.to_string()), Duration::ZERO),
    };
    let sandbox = &spec.sandbox;
    let findings = with_deadline(&mut store, sandbox, "", async |store| {
        let instance = pre.instantiate_async(&mut *store).await?;
        instance.call_run_part(store, request, part).await
    })
    .await
    .and_then(|findings| {
        checked_size(&store, sandbox, &findings)?;
        Ok(findings)
    });
    (findings, host_time(&store))
}

/// A part's findings must fit the plugin's output cap on their own.
fn checked_size(
    store: &Store<HostState>,
    sandbox: &Sandbox,
    findings: &[wit::Finding],
) -> Result<(), String> {
    let size = findings.iter().map(finding_size).sum();
    within_output_cap(store, sandbox, size, sandbox.limits.output_bytes)
}

/// [`explain`], with the guest's panic message when it left one.
fn explain_in(store: &Store<HostState>, e: &wasmtime::Error, sandbox: &Sandbox) -> String {
    let reason = explain(e, sandbox);
    match store.data().panic_message() {
        Some(panic) => format!("{reason}: {panic}"),
        None => reason,
    }
}
