//! `gate migrate lint`: runs the validator component over discovered
//! migrations and builds the same [`Report`] as `gate evaluate`: one gate
//! (`migrations`), one check per validator, findings per statement.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::layout::{self, LayoutError, Migration, Tool};
use super::pending::{Scope, Selection};
use gate_core::clock::Clock;
use gate_core::model::{Enforcement, Severity, Status};
use gate_eval::policy::{MigrationsConfig, Policy, RuleRef};
use gate_eval::report::{
    CheckReport, CheckStatus, FindingReport, GateReport, GateVerdict, Report, Timings, ToolInfo,
    Verdict,
};
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::plugin::{LoadedValidator, MigrationFile, PluginError, RawFinding, Runtime};

/// The built-in validator.
pub const VALIDATOR: &str = "migrations";

/// Problems that stop a `gate migrate` command before it reports (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The connection to trace on cannot be had (its URL stays hidden).
    #[error(transparent)]
    Connect(#[from] gate_sandbox::postgres::ConnectError),
    /// A configuration problem, already formatted with its location.
    #[error("{0}")]
    Config(String),
    /// The validator trapped, timed out or hit a limit.
    #[error("validator `{name}` failed: {reason}")]
    Validator { name: String, reason: String },
}

/// Where a command runs and what its report is labelled with.
#[derive(Clone, Debug)]
pub struct Context {
    pub cwd: PathBuf,
    pub clock: Clock,
    /// `[policy] name`, or `migrations` without a policy.
    pub policy_name: String,
    /// The policy path as given, or empty.
    pub policy_file: String,
    pub started: Instant,
    /// Forces a layout (`--layout`).
    pub tool: Option<Tool>,
}

/// The migrations under `paths` (or the policy's `[migrations] paths`).
pub fn discover(
    paths: &[PathBuf],
    config: &MigrationsConfig,
    ctx: &Context,
) -> Result<Vec<Migration>, MigrateError> {
    let paths: Vec<PathBuf> = if paths.is_empty() {
        config.paths.clone()
    } else {
        paths.to_vec()
    };
    if paths.is_empty() {
        return Err(MigrateError::Config(
            "no migration paths: give them on the command line or as `paths` in the policy's [migrations]"
                .into(),
        ));
    }
    let options = layout::Options {
        cwd: ctx.cwd.clone(),
        assume_in_transaction: config.assume_in_transaction,
        tool: ctx.tool,
        // Only what the command names may be read, beneath it.
        files: std::sync::Arc::new(gate_sandbox::fs_grants::FsGrants::of_paths(
            &paths, &ctx.cwd,
        )),
    };
    let found = layout::discover(&paths, &options)?;
    if found.is_empty() {
        return Err(MigrateError::Config(no_migrations(&paths)));
    }
    Ok(found)
}

/// The message for paths that hold no migration: most likely a wrong path.
pub fn no_migrations(paths: &[PathBuf]) -> String {
    format!(
        "no SQL migrations found under {}: expected *.sql files (sqlx, dbmate, Flyway, \
         golang-migrate or plain) or diesel's <dir>/up.sql",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Loads the built-in validator; `[[plugin]] name = "migrations"` grants set
/// its limits (timeout_ms, memory_mb, output_kb).
pub async fn load_validator(
    runtime: &Runtime,
    policy: Option<&Policy>,
    cwd: &Path,
    clock: Clock,
) -> Result<LoadedValidator, PluginError> {
    let grants = policy
        .and_then(|p| p.plugin(VALIDATOR))
        .map(|p| p.grants.clone())
        .unwrap_or_default();
    let sandbox = Arc::new(Sandbox::new(VALIDATOR, grants, cwd, clock));
    runtime.load_validator(VALIDATOR, sandbox).await
}

/// Every rule id in `exclude`/`include` must be one the validator describes.
pub fn check_rule_ids(
    config: &MigrationsConfig,
    validator: &LoadedValidator,
) -> Result<(), MigrateError> {
    let known: Vec<&str> = validator
        .meta
        .checks
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let mut errors = Vec::new();
    let mut unknown = |r: &RuleRef, key: &str| {
        if known.contains(&r.id.as_str()) {
            return;
        }
        let help = match gate_eval::policy::did_you_mean(&r.id, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "`gate migrate rules` lists the rule ids".to_string(),
        };
        errors.push(format!(
            "{}: unknown rule `{}` in [migrations] `{key}`\n  help: {help}",
            r.origin, r.id
        ));
    };
    for r in &config.exclude {
        unknown(r, "exclude");
    }
    for r in &config.include {
        unknown(r, "include");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::Config(errors.join("\n")))
    }
}

/// The validator's view of the up scripts.
pub fn files(migrations: &[Migration]) -> Vec<MigrationFile> {
    migrations
        .iter()
        .map(|m| MigrationFile {
            path: m.up.path.clone(),
            contents: m.up.contents.clone(),
            first_line: m.up.first_line,
            in_transaction: m.up.in_transaction,
        })
        .collect()
}

/// The validator's `config` argument. The host has already resolved each
/// file's transaction mode (golang-migrate never, the plain layout by
/// `assume_in_transaction`), so the assumption itself is not passed on.
/// `scope` says whether the files are one pending set or a history.
pub fn config_json(config: &MigrationsConfig, scope: Scope) -> String {
    let mut value = config.to_json();
    value["assume_in_transaction"] = Value::Bool(false);
    value["scope"] = Value::String(scope.as_str().into());
    value.to_string()
}

/// What the validator made of the up scripts.
pub struct Validated {
    pub findings: Vec<FindingReport>,
    /// How long the validation took, and the part of it spent in host calls.
    pub time: CheckTime,
}

/// A check's wall time, the part of it spent in host calls, and how many
/// plugin instances ran it at once.
#[derive(Clone, Copy, Debug)]
pub struct CheckTime {
    pub duration: std::time::Duration,
    pub host_time: std::time::Duration,
    pub instances: u32,
}

/// Runs the validator over the up scripts of `migrations`.
pub async fn validate(
    runtime: &Runtime,
    validator: &LoadedValidator,
    migrations: &[Migration],
    config: &MigrationsConfig,
    scope: Scope,
) -> Result<Validated, MigrateError> {
    let run = runtime
        .validate(validator, files(migrations), &config_json(config, scope))
        .await;
    let findings = run.outcome.map_err(|reason| MigrateError::Validator {
        name: validator.name.clone(),
        reason,
    })?;
    let findings = findings
        .into_iter()
        .map(|f| finding_report(f, validator))
        .collect();
    Ok(Validated {
        findings,
        time: CheckTime {
            duration: run.duration,
            host_time: run.host_time,
            instances: run.parts,
        },
    })
}

fn finding_report(f: RawFinding, validator: &LoadedValidator) -> FindingReport {
    let default = f
        .rule
        .as_deref()
        .and_then(|r| validator.meta.checks.iter().find(|c| c.id == r))
        .map_or(Severity::Medium, |c| c.default_severity);
    f.into_report(default)
}

/// `gate migrate lint`: validate the selected migrations, report.
///
/// The check is `<validator>.lint` (`migrations.lint`); the policy's active
/// `[[exemption]]`s whose `check` matches it (`migrations.lint`, `migrations.*`)
/// apply to findings as in `gate evaluate` (`match` is a glob over the
/// finding's subject, the file path).
pub async fn lint(
    runtime: &Runtime,
    validator: &LoadedValidator,
    selection: &Selection,
    config: &MigrationsConfig,
    policy: Option<&Policy>,
    ctx: &Context,
) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let Validated { mut findings, time } = validate(
        runtime,
        validator,
        &selection.pending,
        config,
        selection.scope(),
    )
    .await?;
    let check_id = format!("{}.lint", validator.meta.id);
    if let Some(policy) = policy {
        let today = ctx.clock.today();
        for f in findings.iter_mut().filter(|f| f.status >= Status::Warn) {
            if let Some(e) = policy
                .exemptions
                .iter()
                .find(|e| e.is_active(today) && e.matches(&check_id, &f.subject))
            {
                f.exemption = Some(gate_eval::evaluate::exemption_ref(e));
            }
        }
    }
    let check = check_report(
        &check_id,
        &validator.meta.description,
        &validator.name,
        findings,
        time,
    );
    Ok(report(ctx, "migrations", vec![check], started))
}

/// One check of the report: its status is the worst finding's.
pub fn check_report(
    id: &str,
    title: &str,
    plugin: &str,
    findings: Vec<FindingReport>,
    time: CheckTime,
) -> CheckReport {
    let worst_all = findings
        .iter()
        .map(|f| f.status)
        .max()
        .unwrap_or(Status::Pass);
    // Exempt findings do not count, as in `gate evaluate`.
    let worst = findings
        .iter()
        .filter(|f| f.exemption.is_none())
        .map(|f| f.status)
        .max()
        .unwrap_or(Status::Pass);
    let severity = findings
        .iter()
        .filter(|f| f.status >= Status::Warn)
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    let exempt = worst_all >= Status::Warn && worst < Status::Warn;
    CheckReport {
        id: id.to_string(),
        title: title.to_string(),
        plugin: plugin.to_string(),
        status: if exempt {
            CheckStatus::Exempt
        } else {
            CheckStatus::from(worst)
        },
        severity,
        enforcement: Enforcement::Block,
        blocking: worst >= Status::Fail,
        duration_ms: time.duration.as_millis() as u64,
        host_ms: time.host_time.as_millis() as u64,
        instances: time.instances,
        exemption: if exempt {
            findings.iter().find_map(|f| f.exemption.clone())
        } else {
            None
        },
        findings,
        error: None,
        description: title.to_string(),
    }
}

/// A report with one gate holding `checks`.
pub fn report(ctx: &Context, gate: &str, checks: Vec<CheckReport>, started: Instant) -> Report {
    let verdict = if checks.iter().any(|c| c.blocking) {
        GateVerdict::Fail
    } else if checks
        .iter()
        .any(|c| matches!(c.status, CheckStatus::Warn | CheckStatus::Error))
    {
        GateVerdict::Warn
    } else {
        GateVerdict::Pass
    };
    let checks_ms = started.elapsed().as_millis() as u64;
    let plugin_ms = checks
        .iter()
        .map(|c| c.duration_ms.saturating_sub(c.host_ms))
        .sum();
    let host_ms = checks.iter().map(|c| c.host_ms).sum();
    Report {
        verdict: if verdict == GateVerdict::Fail {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        policy: ctx.policy_name.clone(),
        policy_file: ctx.policy_file.clone(),
        started_at: ctx.clock.now(),
        duration_ms: ctx.started.elapsed().as_millis() as u64,
        gates: vec![GateReport {
            name: gate.to_string(),
            enforcement: Enforcement::Block,
            verdict,
            checks,
        }],
        exemption_notices: Vec::new(),
        tool: ToolInfo {
            name: "gate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        timings: Timings {
            startup_ms: started.saturating_duration_since(ctx.started).as_millis() as u64,
            checks_ms,
            plugin_ms,
            host_ms,
        },
    }
}

/// The JSON report of `gate evaluate`, plus flat per-finding fields that
/// migration tooling expects: `file`, `line`, `column` (from `location`) and
/// `classification` (from the evidence), each `null` when absent, and, for
/// a lint, `lint_scope`: the mode, the boundary and the pending set.
pub fn render_json(report: &Report, selection: Option<&Selection>) -> String {
    let lint_scope = selection.map(Selection::to_json);
    gate_eval::report::json::render_with(
        report,
        &gate_eval::report::json::Extensions {
            lint_scope: lint_scope.as_ref(),
            flat_findings: true,
        },
    )
}
