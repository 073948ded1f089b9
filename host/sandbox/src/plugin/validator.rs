//! Migration validators: components of the `migration-validator-in-parts`
//! world (`gate:plugin@0.1.2`), built in: `load_validator` loads only
//! gate's own.
//!
//! They load exactly like check plugins (same engine, precompiled cache,
//! pooling allocator, limits and async calls under a timeout) but through
//! their own linker, since their world exports `validate` instead of `run`.
//! Each call gets fresh stores, and a large run is split into parts that
//! validate at once, as a check of the `check-in-parts` world is
//! (`plugin::parts`): up to the validator's `parallel` limit, with the store
//! slots free at the time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Linker;

use super::call::{finding_size, with_deadline, within_output_cap};
use super::catalog::PluginMeta;
use super::parts::ValidateCall;
use super::runner::{FileCalls, RawFinding, Runtime, StoreSpec, host_time};
use super::source::PluginError;
use crate::bindings::validator_parts::{MigrationValidatorInParts, MigrationValidatorInPartsPre};
use crate::cache::CacheOutcome;
use crate::capabilities::{HostState, Sandbox};

pub use crate::bindings::validator_parts::MigrationFile;

pub(super) fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    MigrationValidatorInParts::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
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
    pre: MigrationValidatorInPartsPre<HostState>,
}

/// What one `validate` call produced.
#[derive(Debug)]
pub struct ValidatorRun {
    pub outcome: Result<Vec<RawFinding>, String>,
    pub duration: Duration,
    /// The longest host time of the instances that ran it.
    pub host_time: Duration,
    /// How many instances validated at once (1: the run was not split).
    pub parts: u32,
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
        let pre = MigrationValidatorInPartsPre::new(pre).map_err(|e| {
            invalid(format!(
                "not a migration-validator-in-parts component: {e:#}"
            ))
        })?;
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
    /// JSON), in parts at once when the validator splits the run. Never
    /// panics: traps, timeouts and limits become the error.
    pub async fn validate(
        &self,
        validator: &LoadedValidator,
        files: Vec<MigrationFile>,
        config: &str,
    ) -> ValidatorRun {
        let started = Instant::now();
        let _slot = self.stores.clone().acquire_owned().await;
        let sandbox = &validator.sandbox;
        let spec = StoreSpec {
            engine: self.engine.engine.clone(),
            sandbox: sandbox.clone(),
            check: "validate".to_string(),
            timeout: sandbox.limits.timeout,
            calls: FileCalls::OnPool,
        };
        let mut store = match spec.store() {
            Ok(store) => store,
            Err(e) => {
                return ValidatorRun {
                    outcome: Err(e.to_string()),
                    duration: started.elapsed(),
                    host_time: Duration::ZERO,
                    parts: 1,
                };
            }
        };
        let call = ValidateCall {
            pre: validator.pre.clone(),
            files: files.into(),
            config: config.into(),
        };
        let spare = self.spare_slots(sandbox.limits.parallel);
        let mut others_host_time = Duration::ZERO;
        let mut parts = 1;
        let outcome = async {
            let findings = with_deadline(&mut store, sandbox, "", async |store| {
                let ran = super::parts::run(store, &call, &spec, spare).await?;
                others_host_time = ran.others_host_time;
                parts = ran.count;
                Ok(ran.findings)
            })
            .await?;
            let cap = sandbox.output_cap_for_files(call.files.len());
            within_output_cap(
                &store,
                sandbox,
                findings.iter().map(finding_size).sum(),
                cap,
            )?;
            Ok(findings.into_iter().map(RawFinding::from).collect())
        }
        .await;
        ValidatorRun {
            outcome,
            duration: started.elapsed(),
            host_time: host_time(&store).max(others_host_time),
            parts,
        }
    }
}
