//! One run split into parts at once: a check of the WIT world
//! `check-in-parts` (added in `gate:plugin@0.1.1`) or a migration
//! validation of `migration-validator-in-parts` (added in 0.1.2). Both
//! worlds ask the same of the host, so one mechanism runs them ([`InParts`]
//! is what differs: which functions the instance exports and what they take).
//!
//! The first instance is asked how many parts the run can use, given the
//! store slots free right now and the plugin's `parallel` limit. One: it
//! runs whole. More: it runs part 0 while every other part runs in a fresh
//! store of its own (on a thread of its own when the plugin has directory
//! grants, as in [`Runtime::run_check`](super::Runtime::run_check)), each
//! under the plugin's limits; then it merges the parts' findings. The run's
//! one deadline is the caller's, around all of this: a part still running
//! when it fires is left to end at its own deadline, and the run is
//! reported as timed out. A part that fails fails the run, named by its
//! number.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;

use super::call::{finding_size, with_deadline, within_output_cap};
use super::runner::{FileCalls, STUCK_GRACE, StoreSpec, explain, host_time, on_own_thread};
use crate::bindings::gate::plugin::types as wit;
use crate::bindings::parts::{CheckInParts, CheckInPartsPre};
use crate::bindings::validator_parts::{
    MigrationFile, MigrationValidatorInParts, MigrationValidatorInPartsPre,
};
use crate::capabilities::HostState;
use crate::capabilities::Sandbox;

/// Which share of the run one instance does (the worlds' `part` record).
#[derive(Clone, Copy, Debug)]
pub(super) struct Share {
    pub index: u32,
    pub count: u32,
}

/// A world whose runs split into parts, with the run's arguments: how to
/// make an instance and call each of the functions the host asks of it.
pub(super) trait InParts: Clone + Send + Sync + 'static {
    type Instance: Send + Sync;

    fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Self::Instance>> + Send;

    /// How many parts the run can use with `available` instances.
    fn parts(
        &self,
        instance: &Self::Instance,
        store: &mut Store<HostState>,
        available: u32,
    ) -> impl Future<Output = wasmtime::Result<u32>> + Send;

    /// The run, whole.
    fn whole(
        &self,
        instance: &Self::Instance,
        store: &mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Vec<wit::Finding>>> + Send;

    fn part(
        &self,
        instance: &Self::Instance,
        store: &mut Store<HostState>,
        share: Share,
    ) -> impl Future<Output = wasmtime::Result<Vec<wit::Finding>>> + Send;

    fn merge(
        &self,
        instance: &Self::Instance,
        store: &mut Store<HostState>,
        parts: &[Vec<wit::Finding>],
    ) -> impl Future<Output = wasmtime::Result<Vec<wit::Finding>>> + Send;

    /// The most bytes of findings one part may return.
    fn part_cap(&self, sandbox: &Sandbox) -> usize;
}

/// A check of a `check-in-parts` plugin.
#[derive(Clone)]
pub(super) struct CheckCall {
    pub pre: CheckInPartsPre<HostState>,
    pub request: wit::CheckRequest,
}

impl InParts for CheckCall {
    type Instance = CheckInParts;

    async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<CheckInParts> {
        self.pre.instantiate_async(store).await
    }

    async fn parts(
        &self,
        instance: &CheckInParts,
        store: &mut Store<HostState>,
        available: u32,
    ) -> wasmtime::Result<u32> {
        instance.call_parts(store, &self.request, available).await
    }

    async fn whole(
        &self,
        instance: &CheckInParts,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Vec<wit::Finding>> {
        instance.call_run(store, &self.request).await
    }

    async fn part(
        &self,
        instance: &CheckInParts,
        store: &mut Store<HostState>,
        share: Share,
    ) -> wasmtime::Result<Vec<wit::Finding>> {
        let part = crate::bindings::parts::Part {
            index: share.index,
            count: share.count,
        };
        instance.call_run_part(store, &self.request, part).await
    }

    async fn merge(
        &self,
        instance: &CheckInParts,
        store: &mut Store<HostState>,
        parts: &[Vec<wit::Finding>],
    ) -> wasmtime::Result<Vec<wit::Finding>> {
        instance.call_merge(store, &self.request, parts).await
    }

    fn part_cap(&self, sandbox: &Sandbox) -> usize {
        sandbox.limits.output_bytes
    }
}

/// A validation of a `migration-validator-in-parts` plugin. The files are
/// shared, not copied, by the parts' tasks.
#[derive(Clone)]
pub(super) struct ValidateCall {
    pub pre: MigrationValidatorInPartsPre<HostState>,
    pub files: Arc<[MigrationFile]>,
    pub config: Arc<str>,
}

impl InParts for ValidateCall {
    type Instance = MigrationValidatorInParts;

    async fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<MigrationValidatorInParts> {
        self.pre.instantiate_async(store).await
    }

    async fn parts(
        &self,
        instance: &MigrationValidatorInParts,
        store: &mut Store<HostState>,
        available: u32,
    ) -> wasmtime::Result<u32> {
        instance
            .call_parts(store, &self.files, &self.config, available)
            .await
    }

    async fn whole(
        &self,
        instance: &MigrationValidatorInParts,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Vec<wit::Finding>> {
        instance
            .call_validate(store, &self.files, &self.config)
            .await
    }

    async fn part(
        &self,
        instance: &MigrationValidatorInParts,
        store: &mut Store<HostState>,
        share: Share,
    ) -> wasmtime::Result<Vec<wit::Finding>> {
        let part = crate::bindings::validator_parts::Part {
            index: share.index,
            count: share.count,
        };
        instance
            .call_validate_part(store, &self.files, &self.config, part)
            .await
    }

    async fn merge(
        &self,
        instance: &MigrationValidatorInParts,
        store: &mut Store<HostState>,
        parts: &[Vec<wit::Finding>],
    ) -> wasmtime::Result<Vec<wit::Finding>> {
        instance.call_merge(store, &self.config, parts).await
    }

    fn part_cap(&self, sandbox: &Sandbox) -> usize {
        sandbox.output_cap_for_files(self.files.len())
    }
}

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

/// What a run in parts produced.
pub(super) struct PartsRun {
    /// The run's findings: whole, or `merge`'s of every part's.
    pub findings: Vec<wit::Finding>,
    /// The longest host time among the parts run beside the first instance.
    pub others_host_time: Duration,
    /// How many parts ran (1: the check ran whole).
    pub count: u32,
}

/// What one part beside the first produced, and its host time.
type PartOutcome = (Result<Vec<wit::Finding>, String>, Duration);

/// Runs `run` in `store`'s fresh instance and, when the plugin splits it,
/// in up to `spare.len()` more: `spare` holds their store slots.
pub(super) async fn run<R: InParts>(
    store: &mut Store<HostState>,
    run: &R,
    spec: &StoreSpec,
    mut spare: Vec<OwnedSemaphorePermit>,
) -> wasmtime::Result<PartsRun> {
    let instance = run.instantiate(&mut *store).await?;
    let available = u32::try_from(spare.len()).unwrap_or(u32::MAX - 1) + 1;
    let count = match available {
        1 => 1,
        _ => run
            .parts(&instance, &mut *store, available)
            .await?
            .clamp(1, available),
    };
    if count == 1 {
        drop(spare);
        return Ok(PartsRun {
            findings: run.whole(&instance, store).await?,
            others_host_time: Duration::ZERO,
            count: 1,
        });
    }
    spare.truncate(count as usize - 1);
    let others: Vec<_> = spare
        .into_iter()
        .zip(1..count)
        .map(|(slot, index)| spawn_part(run, spec, Share { index, count }, slot))
        .collect();
    let sandbox = &spec.sandbox;
    let failed =
        |index: u32, reason: String| PartFailed(format!("part {} of {count}: {reason}", index + 1));
    let first = run
        .part(&instance, &mut *store, Share { index: 0, count })
        .await
        .map_err(|e| failed(0, explain_in(store, &e, sandbox)))?;
    checked_size(store, sandbox, &first, run.part_cap(sandbox))
        .map_err(|reason| failed(0, reason))?;
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
    let findings = run.merge(&instance, store, &parts).await?;
    Ok(PartsRun {
        findings,
        others_host_time,
        count,
    })
}

/// Starts one part in a fresh store: on a thread of its own for a plugin
/// with directory grants, as a task otherwise. The store slot is freed when
/// the part ends.
fn spawn_part<R: InParts>(
    run: &R,
    spec: &StoreSpec,
    share: Share,
    slot: OwnedSemaphorePermit,
) -> tokio::task::JoinHandle<PartOutcome> {
    let (run, spec) = (run.clone(), spec.clone());
    let calls = spec.calls;
    let (timeout, plugin) = (spec.timeout, spec.sandbox.plugin.clone());
    let make = move || async move {
        let outcome = run_part(&run, &spec, share).await;
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
async fn run_part<R: InParts>(run: &R, spec: &StoreSpec, share: Share) -> PartOutcome {
    let mut store = match spec.store() {
        Ok(store) => store,
        Err(e) => return (Err(e.to_string()), Duration::ZERO),
    };
    let sandbox = &spec.sandbox;
    let findings = with_deadline(&mut store, sandbox, "", async |store| {
        let instance = run.instantiate(&mut *store).await?;
        run.part(&instance, store, share).await
    })
    .await
    .and_then(|findings| {
        checked_size(&store, sandbox, &findings, run.part_cap(sandbox))?;
        Ok(findings)
    });
    (findings, host_time(&store))
}

/// A part's findings must fit the plugin's output cap (`cap`) on their own.
fn checked_size(
    store: &Store<HostState>,
    sandbox: &Sandbox,
    findings: &[wit::Finding],
    cap: usize,
) -> Result<(), String> {
    let size = findings.iter().map(finding_size).sum();
    within_output_cap(store, sandbox, size, cap)
}

/// [`explain`], with the guest's panic message when it left one.
fn explain_in(store: &Store<HostState>, e: &wasmtime::Error, sandbox: &Sandbox) -> String {
    let reason = explain(e, sandbox);
    match store.data().panic_message() {
        Some(panic) => format!("{reason}: {panic}"),
        None => reason,
    }
}
