//! Set-up shared by subcommands: loading a policy, building the runtime.

use std::path::Path;
use std::sync::Arc;

use gate_host::cache::Cache;
use gate_host::clock::Clock;
use gate_host::plugin::Runtime;
use gate_host::policy::{self, LoadOptions, Policy};

use crate::exit;

pub fn clock() -> Result<Clock, u8> {
    Clock::from_env().map_err(|e| {
        eprintln!("error: {e}");
        exit::ERROR
    })
}

/// Loads a policy, printing every error (with file:line:col) on failure.
pub fn load_policy(path: &Path, clock: Clock) -> Result<Policy, u8> {
    policy::load(
        path,
        &LoadOptions {
            today: clock.today(),
        },
    )
    .map_err(|errors| {
        eprintln!("{errors}");
        exit::ERROR
    })
}

pub fn runtime() -> Result<Arc<Runtime>, u8> {
    Runtime::new(Cache::default_dir())
        .map(Arc::new)
        .map_err(|e| {
            eprintln!("error: {e:#}");
            exit::ERROR
        })
}

pub fn cwd() -> Result<std::path::PathBuf, u8> {
    std::env::current_dir().map_err(|e| {
        eprintln!("error: cannot read the working directory: {e}");
        exit::ERROR
    })
}
