//! The runtime: compiles (or loads cached) plugins and runs one check per fresh store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{CallHook, Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;

use super::call::{finding_size, with_deadline, within_output_cap};
use super::catalog::{PluginMeta, severity};
use super::source::{PluginError, PluginSource};
use crate::bindings::gate::plugin::types as wit;
use crate::bindings::parts::CheckInPartsPre;
use crate::bindings::{Check, CheckPre};
use crate::cache::{Cache, CacheOutcome};
use crate::capabilities::{HostState, Sandbox, StoreBudget};
use crate::engine::{GateEngine, MAX_CONCURRENT_STORES};
use gate_core::clock::WasiWallClock;
use gate_core::finding::FindingReport;
use gate_core::model::{Location, Status};

pub struct Runtime {
    pub(super) engine: GateEngine,
    pub(super) cache: Cache,
    pub(super) linker: Linker<HostState>,
    /// Linker for the `migration-validator` world (see `validator.rs`).
    pub(super) validator_linker: Linker<HostState>,
    pub(super) stores: Arc<Semaphore>,
    /// Each built-in's component, loaded once per runtime and shared by
    /// every load after: its code is mapped from the executable
    /// (`plugin::mapped`), one mapping per live component.
    builtin_code: std::sync::Mutex<Vec<(&'static str, Component, CacheOutcome)>>,
}

/// A compiled plugin, ready to instantiate: its `InstancePre` is reused by
/// every check, each of which gets a fresh store.
pub struct LoadedPlugin {
    pub name: String,
    pub sha256: String,
    pub builtin: bool,
    pub meta: PluginMeta,
    pub sandbox: Arc<Sandbox>,
    pub cache: CacheOutcome,
    pre: CheckPre<HostState>,
    /// The same code's `check-in-parts` exports, when it has them (built
    /// against `gate:plugin@0.1.1` with the SDK, or by hand): its checks may
    /// split a run into parts (`plugin::parts`).
    parts: Option<CheckInPartsPre<HostState>>,
}

/// The reason of a run whose plugin returned an empty list of findings.
pub const NO_FINDINGS: &str = "the plugin returned no findings; a check must report what it saw";

impl LoadedPlugin {
    /// The same compiled plugin under another sandbox (other grants, another
    /// working directory, stubbed capabilities), without compiling or
    /// describing it again.
    pub fn with_sandbox(&self, sandbox: Arc<Sandbox>) -> LoadedPlugin {
        LoadedPlugin {
            name: self.name.clone(),
            sha256: self.sha256.clone(),
            builtin: self.builtin,
            meta: self.meta.clone(),
            sandbox,
            cache: self.cache,
            pre: self.pre.clone(),
            parts: self.parts.clone(),
        }
    }
}

/// What running one check produced.
#[derive(Debug)]
pub struct CheckRun {
    /// The plugin's findings, or why the run failed (trap, timeout, limit, no findings).
    pub outcome: Result<Vec<RawFinding>, String>,
    pub duration: Duration,
    /// Part of `duration` spent in host calls: with parts, the largest of
    /// any one instance's.
    pub host_time: Duration,
    /// Instances that ran the check at once: its parts, or 1.
    pub instances: u32,
}

/// A finding as the plugin returned it, before policy overrides and exemptions.
#[derive(Clone, Debug)]
pub struct RawFinding {
    pub rule: Option<String>,
    pub subject: String,
    pub status: Status,
    pub severity: Option<gate_core::model::Severity>,
    pub message: String,
    pub evidence: Vec<(String, String)>,
    pub remediation: Option<String>,
    pub location: Option<Location>,
}

impl From<wit::Finding> for RawFinding {
    fn from(f: wit::Finding) -> Self {
        RawFinding {
            rule: f.rule,
            subject: f.subject,
            status: status(f.status),
            severity: f.severity.map(severity),
            message: f.message,
            evidence: f.evidence,
            remediation: f.remediation,
            location: f.location.map(|l| Location {
                file: l.file,
                line: l.line,
                column: l.column,
            }),
        }
    }
}

impl RawFinding {
    pub fn into_report(self, default_severity: gate_core::model::Severity) -> FindingReport {
        FindingReport {
            rule: self.rule,
            subject: self.subject,
            status: self.status,
            severity: self.severity.unwrap_or(default_severity),
            message: self.message,
            evidence: self.evidence.into_iter().collect(),
            remediation: self.remediation,
            location: self.location,
            exemption: None,
        }
    }
}

fn status(s: wit::Status) -> Status {
    match s {
        wit::Status::Pass => Status::Pass,
        wit::Status::Skip => Status::Skip,
        wit::Status::Warn => Status::Warn,
        wit::Status::Fail => Status::Fail,
        wit::Status::Error => Status::Error,
    }
}

impl Runtime {
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self> {
        Self::with_pooling(cache_dir, true)
    }

    pub fn with_pooling(cache_dir: Option<PathBuf>, pooling: bool) -> Result<Self> {
        let engine = GateEngine::with_pooling(pooling)?;
        let cache = Cache::new(cache_dir, engine.compatibility_key());
        let mut linker = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Check::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;
        let validator_linker = super::validator::linker(&engine.engine)?;
        Ok(Runtime {
            engine,
            cache,
            linker,
            validator_linker,
            stores: Arc::new(Semaphore::new(MAX_CONCURRENT_STORES)),
            builtin_code: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn pooling(&self) -> bool {
        self.engine.pooling
    }

    /// A plugin's native code: a built-in's from the binary, an external
    /// plugin's from the authenticated cache (or freshly compiled).
    pub(super) fn component(
        &self,
        source: &PluginSource,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        match source.builtin {
            Some(builtin) => {
                let known = |code: &Vec<(&'static str, Component, CacheOutcome)>| {
                    code.iter()
                        .find(|(name, _, _)| *name == builtin.name)
                        .map(|(_, c, o)| (c.clone(), *o))
                };
                if let Some(loaded) = self.builtin_code.lock().ok().and_then(|c| known(&c)) {
                    return Ok(loaded);
                }
                // Built outside the lock, so built-ins load in parallel; of
                // two racing loads of one built-in, the first kept wins.
                let (component, outcome) =
                    builtin.component(&self.engine.engine, self.engine.compiler)?;
                let mut code = self
                    .builtin_code
                    .lock()
                    .map_err(|_| wasmtime::format_err!("the built-in table is poisoned"))?;
                if let Some(loaded) = known(&code) {
                    return Ok(loaded);
                }
                code.push((builtin.name, component.clone(), outcome));
                Ok((component, outcome))
            }
            None => self
                .cache
                .load_or_compile(&self.engine.engine, &source.sha256, &source.wasm),
        }
    }

    /// Compiles (or loads from cache) and describes a plugin. Blocking: call
    /// from `spawn_blocking` when loading several at once.
    pub fn compile(
        &self,
        source: &PluginSource,
    ) -> Result<(CheckPre<HostState>, CacheOutcome), PluginError> {
        let started = Instant::now();
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            name: source.name.clone(),
            error: format!("{e:#}"),
        };
        let (component, outcome) = self.component(source).map_err(invalid)?;
        let loaded = started.elapsed();
        write_memory_image(&component).map_err(invalid)?;
        let imaged = started.elapsed();
        let pre = self.linker.instantiate_pre(&component).map_err(invalid)?;
        tracing::trace!(
            load_ms = loaded.as_secs_f64() * 1e3,
            image_ms = (imaged - loaded).as_secs_f64() * 1e3,
            pre_ms = (started.elapsed() - imaged).as_secs_f64() * 1e3,
            "instance-pre ready"
        );
        let pre = CheckPre::new(pre).map_err(invalid)?;
        tracing::debug!(
            plugin = %source.name,
            cache = ?outcome,
            prepared = source.builtin.is_some_and(|b| b.prepared),
            compile_ms = started.elapsed().as_secs_f64() * 1e3,
            "plugin compiled"
        );
        Ok((pre, outcome))
    }

    /// Compiles (or loads from cache) any component against the host linker,
    /// for worlds other than `check` (strategy, migration-validator): the
    /// caller wraps the `InstancePre` in its world's `…Pre`.
    pub fn instance_pre(
        &self,
        source: &PluginSource,
    ) -> Result<(wasmtime::component::InstancePre<HostState>, CacheOutcome), PluginError> {
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            name: source.name.clone(),
            error: format!("{e:#}"),
        };
        let (component, outcome) = self.component(source).map_err(invalid)?;
        let pre = self.linker.instantiate_pre(&component).map_err(invalid)?;
        Ok((pre, outcome))
    }

    /// A fresh store for one call into a plugin of any world, under the
    /// sandbox's limits and with epoch yields, for a call made on a runtime
    /// thread: WASI's file calls go to the blocking pool (see
    /// [`Runtime::run_check`] for the calls that get a thread of their own).
    pub fn new_store(
        &self,
        sandbox: &Arc<Sandbox>,
        label: &str,
    ) -> Result<Store<HostState>, PluginError> {
        self.store(sandbox, label, sandbox.limits.timeout, FileCalls::OnPool)
    }

    /// Compiles a plugin and asks it to describe itself.
    pub async fn load(
        &self,
        source: &PluginSource,
        sandbox: Arc<Sandbox>,
    ) -> Result<LoadedPlugin, PluginError> {
        let (pre, cache) = self.compile(source)?;
        self.describe(source, sandbox, pre, cache).await
    }

    /// What a compiled plugin says about itself: a built-in's answer is the
    /// one its `describe()` gave at build time ([`Builtin::meta`]), so no
    /// instance is made for it; any other plugin is asked.
    ///
    /// [`Builtin::meta`]: super::Builtin::meta
    pub async fn describe(
        &self,
        source: &PluginSource,
        sandbox: Arc<Sandbox>,
        pre: CheckPre<HostState>,
        cache: CacheOutcome,
    ) -> Result<LoadedPlugin, PluginError> {
        let started = Instant::now();
        let built = source.builtin.and_then(|b| b.meta());
        let embedded = built.is_some();
        let meta = match built {
            Some(meta) => meta,
            None => self.ask_describe(source, &sandbox, &pre).await?,
        };
        tracing::debug!(
            plugin = %source.name,
            cache = ?cache,
            embedded,
            describe_ms = started.elapsed().as_secs_f64() * 1e3,
            "plugin loaded"
        );
        if let Some(problem) = super::catalog::id_problem(&source.name, &meta) {
            return Err(PluginError::CheckIds {
                name: source.name.clone(),
                problem,
            });
        }
        let parts = CheckInPartsPre::new(pre.instance_pre().clone()).ok();
        Ok(LoadedPlugin {
            name: source.name.clone(),
            sha256: source.sha256.clone(),
            builtin: source.path.is_none(),
            meta,
            sandbox,
            cache,
            pre,
            parts,
        })
    }

    /// Instantiates a compiled plugin and calls its `describe()`.
    pub async fn ask_describe(
        &self,
        source: &PluginSource,
        sandbox: &Arc<Sandbox>,
        pre: &CheckPre<HostState>,
    ) -> Result<PluginMeta, PluginError> {
        let mut store = self.new_store(sandbox, "describe")?;
        let info = with_deadline(&mut store, sandbox, "describe()", async |store| {
            let instance = pre.instantiate_async(&mut *store).await?;
            instance.call_describe(store).await
        })
        .await
        .map_err(|error| PluginError::Invalid {
            name: source.name.clone(),
            error,
        })?;
        Ok(info.into())
    }

    pub(super) fn store(
        &self,
        sandbox: &Arc<Sandbox>,
        check: &str,
        timeout: Duration,
        calls: FileCalls,
    ) -> Result<Store<HostState>, PluginError> {
        StoreSpec {
            engine: self.engine.engine.clone(),
            sandbox: sandbox.clone(),
            check: check.to_string(),
            timeout,
            calls,
        }
        .store()
    }

    /// Runs one check in a fresh store, under the plugin's limits. Never panics
    /// and never fails: every problem becomes the run's error reason.
    ///
    /// A plugin granted directories runs on a thread of its own, where WASI's
    /// file calls (open, stat, list a directory) block that thread instead of
    /// each being handed to tokio's blocking pool and back: the hand-offs, two
    /// thread wake-ups per call, were most of the host's time walking a tree.
    /// The deadline still holds when one of those calls never returns (a FIFO
    /// opened for reading, a hung network file system): this task stops
    /// waiting for the thread at the timeout and reports the run as timed
    /// out; the thread is left to finish on its own and then frees its store.
    pub async fn run_check(
        &self,
        plugin: &LoadedPlugin,
        check: &str,
        params: &serde_json::Value,
    ) -> CheckRun {
        let started = Instant::now();
        let slot = self.stores.clone().acquire_owned().await;
        let sandbox = plugin.sandbox.clone();
        let timeout = sandbox.limits.timeout;
        let calls = FileCalls::for_sandbox(&sandbox);
        let spec = StoreSpec {
            engine: self.engine.engine.clone(),
            sandbox: sandbox.clone(),
            check: check.to_string(),
            timeout,
            calls,
        };
        let store = match spec.store() {
            Ok(store) => store,
            Err(e) => {
                return CheckRun {
                    outcome: Err(e.to_string()),
                    duration: started.elapsed(),
                    host_time: Duration::ZERO,
                    instances: 1,
                };
            }
        };
        let request = wit::CheckRequest {
            check: check.to_string(),
            params: params.to_string(),
            cwd: sandbox.cwd.to_string_lossy().into_owned(),
        };
        let entry = match &plugin.parts {
            Some(pre) => Entry::InParts {
                pre: pre.clone(),
                spec,
                extra: self.spare_slots(sandbox.limits.parallel),
            },
            None => Entry::Whole(plugin.pre.clone()),
        };
        let (outcome, host_time, instances) = match calls {
            FileCalls::OnPool => run_in_store(store, entry, sandbox, request).await,
            FileCalls::OnGuestThread => {
                let plugin_name = sandbox.plugin.clone();
                let ran = on_own_thread(timeout + STUCK_GRACE, move || async move {
                    let ran = run_in_store(store, entry, sandbox, request).await;
                    drop(slot);
                    ran
                })
                .await;
                match ran {
                    Ok(ran) => ran,
                    Err(stop) => (
                        Err(stop.reason(timeout, &plugin_name)),
                        started.elapsed(),
                        1,
                    ),
                }
            }
        };
        CheckRun {
            outcome,
            duration: started.elapsed(),
            host_time,
            instances,
        }
    }
}

/// Prepares the initial memory that every instance of `component` maps
/// copy-on-write, so that no check pays for it. A built-in mapped from the
/// executable ([`super::mapped`]) has its images in the executable's file,
/// where instances map them from: nothing is written, and the pages are
/// shared through the page cache by every gate process. Any other plugin's
/// are written into memfds here, on the plugin's own loading thread (a few
/// hundred KiB for most).
fn write_memory_image(component: &Component) -> wasmtime::Result<()> {
    component.initialize_copy_on_write_image()
}

/// What one check's stores are made from: the first, and one more for each
/// part the check runs in.
#[derive(Clone)]
pub(super) struct StoreSpec {
    pub engine: wasmtime::Engine,
    pub sandbox: Arc<Sandbox>,
    pub check: String,
    pub timeout: Duration,
    pub calls: FileCalls,
}

impl StoreSpec {
    /// A fresh store under the sandbox's limits, with epoch yields and the
    /// host/guest time split.
    pub(super) fn store(&self) -> Result<Store<HostState>, PluginError> {
        let StoreSpec {
            engine,
            sandbox,
            check,
            timeout,
            calls,
        } = self;
        let stderr =
            wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(crate::capabilities::STDERR_CAPTURE);
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_blocking_current_thread(*calls == FileCalls::OnGuestThread)
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(WasiWallClock(sandbox.clock));
        crate::capabilities::preopen_files(&mut wasi, sandbox).map_err(|e| {
            PluginError::Invalid {
                name: sandbox.plugin.clone(),
                error: format!("preparing fs grants: {e:#}"),
            }
        })?;
        let mut table = ResourceTable::new();
        table.set_max_capacity(sandbox.limits.handles);
        let state = HostState {
            wasi: wasi.build(),
            table,
            limits: StoreBudget::new(&sandbox.plugin, sandbox.limits.memory_bytes),
            sandbox: sandbox.clone(),
            check: check.clone(),
            deadline: Instant::now() + *timeout,
            output_used: 0,
            stderr,
            host_time: Duration::ZERO,
            host_entered: None,
            host_depth: 0,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        // Attribute wall time to the host (capabilities, WASI) or the guest.
        store.call_hook(|mut ctx, hook| {
            let state = ctx.data_mut();
            match hook {
                CallHook::CallingHost => {
                    if state.host_depth == 0 {
                        state.host_entered = Some(Instant::now());
                    }
                    state.host_depth += 1;
                }
                CallHook::ReturningFromHost => {
                    state.host_depth = state.host_depth.saturating_sub(1);
                    if state.host_depth == 0
                        && let Some(t) = state.host_entered.take()
                    {
                        state.host_time += t.elapsed();
                    }
                }
                _ => {}
            }
            Ok(())
        });
        // Yield to tokio at every epoch tick, so the timeout below can fire
        // even while the guest spins without calling the host.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        Ok(store)
    }
}

impl Runtime {
    /// Store slots for a run's parts beyond its first, up to `parallel`
    /// in all: only those free right now, so a run never waits for slots
    /// another holds (and an evaluation with every slot taken runs its
    /// checks whole).
    pub(super) fn spare_slots(&self, parallel: u32) -> Vec<OwnedSemaphorePermit> {
        (1..parallel)
            .map_while(|_| self.stores.clone().try_acquire_owned().ok())
            .collect()
    }
}

/// How a check's first instance is made and called.
enum Entry {
    /// A plugin of the `check` world: `run`.
    Whole(CheckPre<HostState>),
    /// A plugin of the `check-in-parts` world: `parts`, then `run` or the
    /// parts and `merge` (`plugin::parts`), with `extra` slots for the parts
    /// beyond the first and `spec` to make their stores.
    InParts {
        pre: CheckInPartsPre<HostState>,
        spec: StoreSpec,
        extra: Vec<OwnedSemaphorePermit>,
    },
}

/// Where the blocking file calls of WASI (open, stat, read a directory) run
/// for one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileCalls {
    /// Each on tokio's blocking pool, awaited under the call's deadline: for
    /// calls into a plugin on a runtime thread, which must never block.
    OnPool,
    /// On the thread running the guest, a thread given to this one call
    /// ([`Runtime::run_check`]).
    OnGuestThread,
}

impl FileCalls {
    /// A check of a plugin granted directories gets a thread of its own;
    /// without preopened directories WASI has no file calls to make.
    fn for_sandbox(sandbox: &Sandbox) -> Self {
        if sandbox.fs.preopens().next().is_some() {
            FileCalls::OnGuestThread
        } else {
            FileCalls::OnPool
        }
    }
}

/// How long past its timeout a check's thread may take to return before the
/// run is reported without it. The check's own timeout fires on that thread
/// as soon as the guest or the host call it is in yields; a thread still
/// silent after this is blocked in the kernel.
pub(super) const STUCK_GRACE: Duration = Duration::from_millis(500);

/// Why a call given its own thread produced no result.
pub(super) enum Stopped {
    /// Still inside a call that had not returned when the wait ended.
    Stuck,
    /// The thread panicked (a bug in gate, never the plugin's doing).
    Panicked(String),
}

impl Stopped {
    pub(super) fn reason(&self, timeout: Duration, plugin: &str) -> String {
        match self {
            Stopped::Stuck => format!(
                "timed out after {} ms (plugin `{plugin}` timeout_ms): a file-system call had \
                 not returned (a FIFO, or a file system that does not answer); its thread is \
                 left to finish on its own",
                timeout.as_millis()
            ),
            Stopped::Panicked(what) => format!("the host failed running the check: {what}"),
        }
    }
}

/// Runs the future `make` builds on a blocking-pool thread of its own,
/// driven there by this runtime, and waits for it at most `budget`.
pub(super) async fn on_own_thread<F>(
    budget: Duration,
    make: impl FnOnce() -> F + Send + 'static,
) -> Result<F::Output, Stopped>
where
    F: std::future::Future,
    F::Output: Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    let job = tokio::task::spawn_blocking(move || handle.block_on(make()));
    match tokio::time::timeout(budget, job).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(Stopped::Panicked(e.to_string())),
        Err(_) => Err(Stopped::Stuck),
    }
}

/// Instantiates the plugin in `store` and runs one check: its findings or
/// why it failed, the part of the time spent in host calls, and how many
/// instances ran it.
async fn run_in_store(
    mut store: Store<HostState>,
    entry: Entry,
    sandbox: Arc<Sandbox>,
    request: wit::CheckRequest,
) -> (Result<Vec<RawFinding>, String>, Duration, u32) {
    // The longest host time of the parts run beside the first instance, and
    // how many instances ran.
    let mut parts_host_time = Duration::ZERO;
    let mut instances = 1;
    let outcome = async {
        let findings = with_deadline(&mut store, &sandbox, "", async |store| match entry {
            Entry::Whole(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_run(store, &request).await
            }
            Entry::InParts { pre, spec, extra } => {
                let call = super::parts::CheckCall { pre, request };
                let ran = super::parts::run(store, &call, &spec, extra).await?;
                parts_host_time = ran.others_host_time;
                instances = ran.count;
                Ok(ran.findings)
            }
        })
        .await?;
        within_output_cap(
            &store,
            &sandbox,
            findings.iter().map(finding_size).sum(),
            sandbox.limits.output_bytes,
        )?;
        if findings.is_empty() {
            return Err(NO_FINDINGS.to_string());
        }
        Ok(findings.into_iter().map(RawFinding::from).collect())
    }
    .await;
    (outcome, host_time(&store).max(parts_host_time), instances)
}

/// The time a store's calls spent in the host; a call cut off by the
/// timeout is still inside the host.
pub(super) fn host_time(store: &Store<HostState>) -> Duration {
    let state = store.data();
    state.host_time + state.host_entered.map_or(Duration::ZERO, |t| t.elapsed())
}

/// Turns a wasmtime error into a reason a user can act on.
pub fn explain(e: &wasmtime::Error, sandbox: &Sandbox) -> String {
    if let Some(part) = e.downcast_ref::<super::parts::PartFailed>() {
        return part.to_string();
    }
    let text = format!("{e:#}");
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::StackOverflow => {
                "trapped: stack overflow (the guest exhausted its wasm stack)".to_string()
            }
            Trap::UnreachableCodeReached => "trapped: the plugin panicked or aborted".to_string(),
            _ => format!("trapped: {trap}"),
        };
    }
    if let Some(reason) =
        crate::capabilities::limit_reason(e, &sandbox.plugin, sandbox.limits.handles)
    {
        return reason;
    }
    if text.contains("growing memory") {
        return format!(
            "memory limit of {} MiB exceeded (plugin `{}` memory_mb); {text}",
            sandbox.limits.memory_bytes >> 20,
            sandbox.plugin
        );
    }
    format!("plugin failed: {text}")
}
