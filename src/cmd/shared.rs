//! Set-up shared by subcommands: loading a policy, building the runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gate_core::clock::Clock;
use gate_eval::hosted::HostedChecks;
use gate_eval::policy::{self, LoadOptions, Policy};
use gate_sandbox::cache::Cache;
use gate_sandbox::plugin::Runtime;

use crate::exit;

pub fn clock() -> Result<Clock, u8> {
    Clock::from_env().map_err(exit::report)
}

/// Loads a policy, printing every error (with file:line:col) on failure.
pub fn load_policy(path: &Path, clock: Clock) -> Result<Policy, u8> {
    policy::load(path, &LoadOptions::at(clock.now())).map_err(exit::report_lines)
}

/// The runtime of a command that runs its plugins once and exits
/// (`evaluate`, `migrate`, `checks`, `plugin`, …): instances are allocated
/// on demand. Reserving the pooling allocator's slots and stacks costs a
/// one-shot run more than it saves: 3.5 ms and 8 MB of a run of the example
/// policy (docs/benchmarks.md). Limits are the same either way.
///
/// The runtime is never dropped: it lives until `main` leaves the process
/// with `process::exit`. Dropping it gave back each plugin's code pages and
/// closed each memory image one by one, about 1.2 ms of a run of the
/// example policy, for memory the kernel reclaims at exit anyway.
pub fn runtime() -> Result<Arc<Runtime>, u8> {
    static UNTIL_EXIT: Mutex<Vec<Arc<Runtime>>> = Mutex::new(Vec::new());
    let runtime = build_runtime(false)?;
    if let Ok(mut kept) = UNTIL_EXIT.lock() {
        kept.push(runtime.clone());
    }
    Ok(runtime)
}

/// The runtime of `gate rollout`, which instantiates its strategy and
/// analyses on every tick for as long as the rollout runs: pooled.
pub fn pooled_runtime() -> Result<Arc<Runtime>, u8> {
    build_runtime(true)
}

fn build_runtime(pooling: bool) -> Result<Arc<Runtime>, u8> {
    Runtime::with_pooling(Cache::default_dir(), pooling)
        .map(Arc::new)
        .map_err(|e| exit::report(format_args!("{e:#}")))
}

pub fn cwd() -> Result<std::path::PathBuf, u8> {
    std::env::current_dir()
        .map_err(|e| exit::report(format_args!("cannot read the working directory: {e}")))
}

/// The checks the host runs itself, from every layer that provides one.
/// This is the one place they are registered.
pub fn hosted_checks() -> HostedChecks {
    HostedChecks::none().with(gate_migrate::check::MigrationsTested)
}

/// `--format` of the commands that list things (`gate checks list`, `gate
/// migrate rules`, `gate status`); report commands take
/// [`Format`](gate_eval::report::Format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Human,
    Json,
}
