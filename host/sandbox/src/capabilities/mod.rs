//! Host capabilities offered to plugins, deny-by-default.
//!
//! A [`Sandbox`] holds one plugin's resolved grants and limits; a [`HostState`]
//! is the per-store state of one check run. Every capability checks its grant
//! before doing anything and explains a denial by naming the plugin, the
//! resource and the grant line to add.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::grants::Grants;
use crate::resources::{Connection, MetricsProvider};
use gate_core::clock::Clock;

/// Named resources a policy defines, which `sql` and `metrics` grants refer to.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub connections: std::collections::BTreeMap<String, Connection>,
    pub metrics: std::collections::BTreeMap<String, MetricsProvider>,
}

mod env;
mod exchange;
mod files;
mod http;
mod limiter;
mod log;
pub mod metrics;
mod net;
mod sql;
mod stub;
mod system;
mod tls;
mod unix;

pub use files::preopen as preopen_files;
pub use stub::{ConnectStub, HttpStub, NetStub, SqlStub, StatementMatch, Stubs};

/// The largest `ca_file` (a PEM bundle) a plugin may name.
pub(crate) const CA_FILE_CAP: u64 = 1 << 20;
pub use limiter::{MemoryCapExceeded, StoreBudget, limit_reason};

/// Per-plugin limits, from `[plugin.grants]` or the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_bytes: usize,
    pub output_bytes: usize,
    /// Host handles (WASI descriptors and streams: each open file or
    /// directory is a host fd) one check may hold at once.
    pub handles: usize,
    /// Instances that may run one check's parts at once (`parallel`); each
    /// has the memory and handle limits above.
    pub parallel: u32,
}

impl Limits {
    pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
    pub const DEFAULT_MEMORY_MB: u64 = 128;
    pub const DEFAULT_OUTPUT_KB: u64 = 1024;
    /// What a migration validator's default output cap grows by for each
    /// file it is given: its findings are per file (a summary, the rules
    /// that fire), so a fixed cap would fail a large repository's lint
    /// that a small one passes. An explicit `output_kb` is kept as it is.
    pub const OUTPUT_PER_FILE_KB: u64 = 4;
    /// Host handles per check: far above what any built-in check holds (a
    /// few preopens and streams), far below the process's fd limit even
    /// with every store of an evaluation open at once.
    pub const HANDLES: usize = 256;

    /// The most instances one check may run at once, whatever the policy says.
    pub const MAX_PARALLEL: u32 = 16;

    /// One instance per core the process may use, at most [`Self::MAX_PARALLEL`].
    /// Read once per process: the standard library reads the cgroup's CPU
    /// quota from /sys on every call, and every plugin's limits ask.
    pub fn default_parallel() -> u32 {
        static CORES: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        *CORES.get_or_init(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get() as u32)
                .clamp(1, Self::MAX_PARALLEL)
        })
    }

    pub fn from_grants(grants: &Grants) -> Self {
        let memory_mb = grants
            .memory_mb
            .unwrap_or(Self::DEFAULT_MEMORY_MB)
            .min(crate::engine::MAX_MEMORY_MB);
        Limits {
            timeout: Duration::from_millis(grants.timeout_ms.unwrap_or(Self::DEFAULT_TIMEOUT_MS)),
            memory_bytes: (memory_mb as usize) << 20,
            output_bytes: (grants.output_kb.unwrap_or(Self::DEFAULT_OUTPUT_KB) as usize) << 10,
            handles: Self::HANDLES,
            parallel: grants.parallel.map_or_else(Self::default_parallel, |p| {
                p.clamp(1, Self::MAX_PARALLEL as u64) as u32
            }),
        }
    }
}

impl Sandbox {
    /// The output cap of one call given `files` migration files.
    pub fn output_cap_for_files(&self, files: usize) -> usize {
        match self.grants.output_kb {
            Some(_) => self.limits.output_bytes,
            None => self
                .limits
                .output_bytes
                .saturating_add(files.saturating_mul((Limits::OUTPUT_PER_FILE_KB as usize) << 10)),
        }
    }
}

/// One plugin's grants, resolved once per evaluation and shared by its checks.
pub struct Sandbox {
    pub plugin: String,
    pub grants: Grants,
    /// The `fs` grants, opened once: every host-side file access goes through them.
    pub fs: Arc<crate::fs_grants::FsGrants>,
    pub cwd: PathBuf,
    pub limits: Limits,
    pub clock: Clock,
    pub resources: Arc<Resources>,
    /// Canned answers that replace the real `env`, `http`, `net` and `sql`
    /// (`gate plugin test`); `None` everywhere else. See [`Sandbox::stubbed`].
    pub stubs: Option<Arc<Stubs>>,
}

impl Sandbox {
    pub fn new(plugin: &str, grants: Grants, cwd: &Path, clock: Clock) -> Self {
        Self::with_resources(plugin, grants, cwd, clock, Arc::default())
    }

    pub fn with_resources(
        plugin: &str,
        grants: Grants,
        cwd: &Path,
        clock: Clock,
        resources: Arc<Resources>,
    ) -> Self {
        let fs = Arc::new(crate::fs_grants::FsGrants::open(&grants.fs, cwd));
        Sandbox {
            plugin: plugin.to_string(),
            limits: Limits::from_grants(&grants),
            grants,
            fs,
            cwd: cwd.to_path_buf(),
            clock,
            resources,
            stubs: None,
        }
    }

    /// The message for a call outside the grants.
    pub fn denied(&self, grant: &str, resource: &str, suggestion: &str) -> String {
        format!(
            "plugin `{p}` is not granted `{grant}` access to `{resource}`; add `{grant} = [\"{suggestion}\"]` \
             under [plugin.grants] of the [[plugin]] entry with name = \"{p}\"",
            p = self.plugin
        )
    }
}

/// State of one store: one check run in its own sandbox.
pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    /// One memory budget for all of the store's memories and tables.
    pub limits: StoreBudget,
    pub sandbox: Arc<Sandbox>,
    pub check: String,
    /// When the whole check must be done; host calls never wait past it.
    pub deadline: Instant,
    /// Bytes of output (log messages) produced so far.
    pub output_used: usize,
    /// The guest's stderr (panic messages land here), bounded.
    pub stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
    /// Wall time spent inside host calls (capabilities and WASI), for timings.
    pub host_time: Duration,
    pub host_entered: Option<Instant>,
    /// Host calls nest (a capability lowering its result calls the guest's
    /// allocator, which may grow memory through a libcall): only the
    /// outermost one is timed.
    pub host_depth: u32,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// How much of a plugin's stderr is kept for error reasons.
pub const STDERR_CAPTURE: usize = 16 << 10;

impl HostState {
    /// The guest's panic message, if it printed one.
    pub fn panic_message(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        let text: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        let start = text.iter().rposition(|l| l.contains("panicked at"))?;
        let msg = text[start..].join(" ").trim().to_string();
        Some(msg.chars().take(2000).collect())
    }

    /// Time left before the deadline, capped by what the plugin asked for.
    pub fn budget(&self, requested_ms: u32) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let requested = if requested_ms == 0 {
            left
        } else {
            Duration::from_millis(requested_ms as u64)
        };
        requested.min(left)
    }

    /// Charges `n` bytes against the output cap; an overrun stops the plugin.
    pub fn charge_output(&mut self, n: usize) -> wasmtime::Result<()> {
        self.output_used += n;
        if self.output_used > self.sandbox.limits.output_bytes {
            return Err(wasmtime::Error::msg(format!(
                "plugin `{}` exceeded its output cap of {} bytes (output_kb)",
                self.sandbox.plugin, self.sandbox.limits.output_bytes
            )));
        }
        Ok(())
    }
}

/// Runs a host-side future within `budget` (see [`HostState::budget`]).
pub(crate) async fn bounded<T>(
    budget: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(budget, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("{what}: timed out after {} ms", budget.as_millis())),
    }
}

/// `true` when the name `value` (an environment variable, a connection or a
/// metrics provider) matches one of the name grants. Network grants are typed
/// and matched on parsed objects instead: see [`crate::grant`].
pub fn granted(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| crate::glob::matches(p, value))
}
