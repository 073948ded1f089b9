//! Migration validators: components of the `migration-validator` world.
//!
//! They load exactly like check plugins (same engine, precompiled cache,
//! pooling allocator, limits and async calls under a timeout) but through
//! their own linker, since their world exports `validate` instead of `run`.
//! Each call gets a fresh store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Linker;

use super::call::{finding_size, with_deadline, within_output_cap};
use super::catalog::PluginMeta;
use super::runner::{FileCalls, RawFinding, Runtime};
use super::source::PluginError;
use crate::bindings::validator::{MigrationValidator, MigrationValidatorPre};
use crate::cache::CacheOutcome;
use crate::capabilities::{HostState, Sandbox};

pub use crate::bindings::validator::MigrationFile;

pub(super) fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    MigrationValidator::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )?;
    Ok(linker)
}

/// A compiled and described validator, ready for any number of `validate` calls.
pub struct LoadedValidator {
    pub name: String,
    pub sha256: String,
    /// `checks` are the validator's rules.
    pub meta: PluginMeta,
    pub sandbox: Arc<Sandbox>,
    pub cache: CacheOutcome,
    pre: MigrationValidatorPre<HostState>,
}

/// What one `validate` call produced.
#[derive(Debug)]
pub struct ValidatorRun {
    pub outcome: Result<Vec<RawFinding>, String>,
    pub duration: Duration,
    pub host_time: Duration,
}

impl Runtime {
    /// Loads the built-in validator `name` and
    /// asks it to describe its rules.
    pub async fn load_validator(
        &self,
        name: &str,
        sandbox: Arc<Sandbox>,
    ) -> Result<LoadedValidator, PluginError> {
        let builtin = super::builtin::validator(name).ok_or_else(|| PluginError::Unknown {
            name: name.to_string(),
            builtins: super::builtin::VALIDATORS.join(", "),
        })?;
        let invalid = |error: String| PluginError::Invalid {
            name: name.to_string(),
            error,
        };
        let (component, cache) = self
            .component(&super::PluginSource::from_builtin(builtin))
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = self
            .validator_linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = MigrationValidatorPre::new(pre)
            .map_err(|e| invalid(format!("not a migration-validator component: {e:#}")))?;
        let mut store = self.new_store(&sandbox, "describe")?;
        let info = with_deadline(&mut store, &sandbox, "describe()", async |store| {
            let instance = pre.instantiate_async(&mut *store).await?;
            instance.call_describe(store).await
        })
        .await
        .map_err(invalid)?;
        Ok(LoadedValidator {
            name: name.to_string(),
            sha256: builtin.sha256.to_string(),
            meta: info.into(),
            sandbox,
            cache,
            pre,
        })
    }

    /// Validates `files` (in order) with `config` (the `[migrations]` table as
    /// JSON). Never panics: traps, timeouts and limits become the error.
    pub async fn validate(
        &self,
        validator: &LoadedValidator,
        files: &[MigrationFile],
        config: &str,
    ) -> ValidatorRun {
        let started = Instant::now();
        let _slot = self.stores.acquire().await;
        let sandbox = &validator.sandbox;
        let timeout = sandbox.limits.timeout;
        let mut store = match self.store(sandbox, "validate", timeout, FileCalls::OnPool) {
            Ok(store) => store,
            Err(e) => {
                return ValidatorRun {
                    outcome: Err(e.to_string()),
                    duration: started.elapsed(),
                    host_time: Duration::ZERO,
                };
            }
        };
        let outcome = async {
            let findings = with_deadline(&mut store, sandbox, "", async |store| {
                let instance = validator.pre.instantiate_async(&mut *store).await?;
                instance.call_validate(store, files, config).await
            })
            .await?;
            let cap = sandbox.output_cap_for_files(files.len());
            within_output_cap(
                &store,
                sandbox,
                findings.iter().map(finding_size).sum(),
                cap,
            )?;
            Ok(findings.into_iter().map(RawFinding::from).collect())
        }
        .await;
        let state = store.data();
        let host_time =
            state.host_time + state.host_entered.map_or(Duration::ZERO, |t| t.elapsed());
        ValidatorRun {
            outcome,
            duration: started.elapsed(),
            host_time,
        }
    }
}
