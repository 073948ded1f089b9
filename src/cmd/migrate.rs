//! `gate migrate`: lint, plan, list rules and trace SQL migrations; the
//! commands that decide (lint, plan, trace) record their decision in the
//! audit log before they show it. Expand/contract migrations that gate runs
//! (start, validate, complete, rollback, status, set-rate) are in `expand`.

mod expand;
mod raw_sql;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gate_audit::entry::MigrateCommand as Decided;
use gate_core::clock::Clock;
use gate_eval::policy::{MigrationsConfig, Policy};
use gate_eval::report::{self, Format, RenderOptions, Report, Verdict};
use gate_migrate::layout::{Migration, Tool};
use gate_migrate::lint::{self, Context};
use gate_migrate::pending::{self, Boundary, Scope, Selection};
use gate_migrate::trace::{self, TraceOptions};

use super::record::{self, RecordArgs};
use super::shared::{self, ListFormat};
use crate::exit;

#[derive(clap::Subcommand, Debug)]
pub enum MigrateCommand {
    /// Validate SQL migrations: locking, compatibility, expand/contract (exit 1 on a blocking finding)
    Lint(LintArgs),
    /// Show each statement's phase (expand, data, contract, breaking) and the safe sequence for risky ones
    Plan(PlanArgs),
    /// List the validator's rules
    Rules {
        /// Output format
        #[arg(long, short, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
    /// Apply migrations to a scratch PostgreSQL and report locks, rewrites and unvalidated constraints
    Trace(TraceArgs),
    /// Expand an operations file: new columns, dual-write triggers, a schema of views per version; then backfill and validate
    Start(expand::StartArgs),
    /// Check the backfilled columns again (after fixing rows that failed validation)
    Validate(expand::ValidateArgs),
    /// Contract: drop the old version's schema, triggers and columns (after validation)
    Complete(expand::StepArgs),
    /// Undo the expand of the migration in progress; the old version's data is not touched
    Rollback(expand::StepArgs),
    /// Show the expand/contract state machine and the migration in progress
    Status(expand::StatusArgs),
    /// Change the backfill rate of the migration in progress while it runs
    SetRate(expand::SetRateArgs),
}

#[derive(clap::Args, Debug)]
pub struct Source {
    /// Policy file whose [migrations] table configures the validator
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    /// Migration layout instead of detecting it
    #[arg(long, value_parser = ["sqlx", "diesel", "dbmate", "flyway", "golang-migrate", "plain"])]
    pub layout: Option<String>,
    /// Migration directories or files (default: the policy's [migrations] paths)
    pub paths: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    #[command(flatten)]
    pub source: Source,
    /// Report format
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of stdout
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Migrations up to and including VERSION are applied; the rest are one pending set, deployed together
    #[arg(long, value_name = "VERSION", conflicts_with = "base")]
    pub applied_through: Option<String>,
    /// Migration files that do not exist at GIT_REF (e.g. origin/main) are the pending set, deployed together
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub source: Source,
    /// Also write the statements as an expand/contract operations file for `gate migrate start` (a new file)
    #[arg(long, value_name = "FILE")]
    pub operations: Option<PathBuf>,
    /// The migration's name in the operations file (default: the file's name)
    #[arg(long, requires = "operations")]
    pub name: Option<String>,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    #[command(flatten)]
    pub source: Source,
    /// The [connections.NAME] to trace on; it must be marked `scratch = true`
    #[arg(long, short = 'c')]
    pub connection: String,
    /// Commit the migrations instead of rolling them back
    #[arg(long)]
    pub commit: bool,
    /// Apply each up then its down, and report schema differences from before
    #[arg(long)]
    pub verify_down: bool,
    /// lock_timeout gate sets before each migration
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Report format
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of stdout
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub record: RecordArgs,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a duration such as 5s or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" | "min" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{s}`: use ms, s or m, e.g. 5s")),
    }
}

pub async fn run(cmd: MigrateCommand) -> u8 {
    let result = match cmd {
        MigrateCommand::Lint(args) => lint_cmd(args).await,
        MigrateCommand::Plan(args) => plan_cmd(args).await,
        MigrateCommand::Rules { format } => rules_cmd(format).await,
        MigrateCommand::Trace(args) => trace_cmd(args).await,
        MigrateCommand::Start(args) => expand::start(args).await,
        MigrateCommand::Validate(args) => expand::validate(args).await,
        MigrateCommand::Complete(args) => expand::complete(args).await,
        MigrateCommand::Rollback(args) => expand::rollback(args).await,
        MigrateCommand::Status(args) => expand::status(args).await,
        MigrateCommand::SetRate(args) => expand::set_rate(args).await,
    };
    match result {
        Ok(code) | Err(code) => code,
    }
}

/// The policy (if any), its [migrations] config and the command's context.
fn setup(source: &Source) -> Result<(Option<Policy>, MigrationsConfig, Context), u8> {
    let clock = shared::clock()?;
    let policy = match &source.policy {
        Some(p) => Some(shared::load_policy(p, clock)?),
        None => None,
    };
    let config = policy
        .as_ref()
        .map(|p| p.migrations.clone())
        .unwrap_or_else(|| MigrationsConfig {
            assume_in_transaction: true,
            ..MigrationsConfig::default()
        });
    let ctx = Context {
        cwd: shared::cwd()?,
        clock,
        policy_name: policy
            .as_ref()
            .map_or_else(|| "migrations".to_string(), |p| p.name.clone()),
        policy_file: source
            .policy
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in defaults".to_string()),
        started: crate::process_started(),
        tool: source.layout.as_deref().and_then(Tool::parse),
    };
    Ok((policy, config, ctx))
}

async fn load(
    source: &Source,
) -> Result<
    (
        Option<Policy>,
        MigrationsConfig,
        Context,
        Vec<Migration>,
        std::sync::Arc<gate_sandbox::plugin::Runtime>,
        gate_sandbox::plugin::LoadedValidator,
    ),
    u8,
> {
    let (policy, config, ctx) = setup(source)?;
    let migrations = lint::discover(&source.paths, &config, &ctx).map_err(exit::report)?;
    let runtime = shared::runtime()?;
    let validator = lint::load_validator(&runtime, policy.as_ref(), &ctx.cwd, ctx.clock)
        .await
        .map_err(exit::report)?;
    lint::check_rule_ids(&config, &validator).map_err(exit::report)?;
    Ok((policy, config, ctx, migrations, runtime, validator))
}

fn emit(
    report: &Report,
    selection: Option<&Selection>,
    format: Format,
    output: Option<&Path>,
) -> Result<(), u8> {
    let to_terminal = output.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none();
    let text = match format {
        Format::Json => lint::render_json(report, selection),
        Format::Human => {
            let body = report::render(report, Format::Human, RenderOptions { color });
            match selection {
                Some(s) => format!("{}\n{body}", s.describe()),
                None => body,
            }
        }
        f => report::render(report, f, RenderOptions { color }),
    };
    match output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| exit::report(format_args!("writing {}: {e}", path.display())))?,
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
    // Under GitHub Actions, annotate too, as `gate evaluate` does, unless
    // stdout carries a machine format.
    let stdout_free = output.is_some() || format == Format::Human;
    if std::env::var_os("GITHUB_ACTIONS").is_some() && format != Format::Github && stdout_free {
        print!(
            "{}",
            report::render(report, Format::Github, RenderOptions::default())
        );
    }
    Ok(())
}

/// The policy file given with `--policy`, as recorded.
fn policy_ref(source: &Source) -> Result<Option<gate_audit::entry::PolicyRef>, u8> {
    source.policy.as_deref().map(record::policy_ref).transpose()
}

fn verdict(report: &Report) -> u8 {
    match report.verdict {
        Verdict::Pass => exit::PASS,
        Verdict::Fail => exit::FAIL,
    }
}

async fn lint_cmd(args: LintArgs) -> Result<u8, u8> {
    let (policy, config, ctx, migrations, runtime, validator) = load(&args.source).await?;
    let boundary = match (args.applied_through, args.base) {
        (Some(version), _) => Boundary::AppliedThrough(version),
        (None, Some(git_ref)) => Boundary::Base(git_ref),
        (None, None) => Boundary::None,
    };
    let selection = pending::select(migrations, boundary, &ctx.cwd)
        .await
        .map_err(exit::report)?;
    let report = lint::lint(
        &runtime,
        &validator,
        &selection,
        &config,
        policy.as_ref(),
        &ctx,
    )
    .await
    .map_err(exit::report)?;
    let entry = record::migrate_report(
        Decided::Lint,
        &report,
        policy_ref(&args.source)?,
        &selection.pending,
    );
    args.record.append(policy.as_ref(), entry)?;
    emit(
        &report,
        Some(&selection),
        args.format,
        args.output.as_deref(),
    )?;
    Ok(verdict(&report))
}

async fn plan_cmd(args: PlanArgs) -> Result<u8, u8> {
    let (policy, config, _, migrations, runtime, validator) = load(&args.source).await?;
    let findings = lint::validate(&runtime, &validator, &migrations, &config, Scope::Migration)
        .await
        .map_err(exit::report)?
        .findings;
    let entry = record::migrate_plan(policy_ref(&args.source)?, &migrations, &findings);
    args.record.append(policy.as_ref(), entry)?;
    print!("{}", gate_migrate::plan::render(&migrations, &findings));
    if let Some(path) = &args.operations {
        write_operations(path, args.name.as_deref(), &migrations)?;
    }
    Ok(exit::PASS)
}

/// `plan --operations FILE`: a new file (never one that exists, nor a
/// symlink), and what it holds.
fn write_operations(path: &Path, name: Option<&str>, migrations: &[Migration]) -> Result<(), u8> {
    use gate_migrate::to_operations::{self, Outcome};
    let name = name.map_or_else(|| migration_name(path), str::to_string);
    let planned = to_operations::plan(migrations);
    let text = to_operations::render(&name, &planned);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            exit::report(format_args!(
                "{}: {e} (plan writes a new file only)",
                path.display()
            ))
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| exit::report(format_args!("{}: {e}", path.display())))?;
    let count = |f: &dyn Fn(&Outcome) -> bool| planned.iter().filter(|p| f(&p.outcome)).count();
    let ops = count(&|o| matches!(o, Outcome::Operation { .. }));
    let decide = count(&|o| {
        matches!(
            o,
            Outcome::Operation {
                decide: Some(_),
                ..
            }
        )
    });
    let raw = count(&|o| matches!(o, Outcome::Raw));
    let left = count(&|o| matches!(o, Outcome::Left(_)));
    println!(
        "wrote {}: migration `{name}`, {ops} operation(s), {raw} raw_sql, {left} statement(s) left out",
        path.display()
    );
    if decide > 0 {
        println!(
            "  {decide} operation(s) need a decision (`# decide:` in the file); `gate migrate start` refuses the file until then"
        );
    }
    Ok(())
}

/// A migration name from a file name: `[a-z0-9_]`, at most 40 characters.
fn migration_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    if name.is_empty() {
        "migration".into()
    } else {
        name
    }
}

async fn rules_cmd(format: ListFormat) -> Result<u8, u8> {
    let clock: Clock = shared::clock()?;
    let runtime = shared::runtime()?;
    let validator = lint::load_validator(&runtime, None, &shared::cwd()?, clock)
        .await
        .map_err(exit::report)?;
    if format == ListFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&validator.meta.checks).expect("serialisable")
        );
        return Ok(exit::PASS);
    }
    let width = validator
        .meta
        .checks
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(0);
    println!(
        "{} {} — {}",
        validator.meta.id, validator.meta.version, validator.meta.description
    );
    for c in &validator.meta.checks {
        println!(
            "  {:<width$}  {:<8}  {}",
            c.id,
            c.default_severity.as_str(),
            c.title
        );
    }
    Ok(exit::PASS)
}

async fn trace_cmd(args: TraceArgs) -> Result<u8, u8> {
    let (policy, config, ctx) = setup(&args.source)?;
    let Some(policy) = policy else {
        return Err(exit::report(format_args!(
            "`gate migrate trace` needs --policy: the connection comes from its [connections.{}]",
            args.connection
        )));
    };
    let migrations = lint::discover(&args.source.paths, &config, &ctx).map_err(exit::report)?;
    let options = TraceOptions {
        connection: args.connection.clone(),
        commit: args.commit,
        verify_down: args.verify_down,
        lock_timeout: args.lock_timeout,
    };
    let report = trace::trace(&policy, &migrations, &options, &ctx)
        .await
        .map_err(exit::report)?;
    let entry = record::migrate_report(
        Decided::Trace,
        &report,
        policy_ref(&args.source)?,
        &migrations,
    );
    args.record.append(Some(&policy), entry)?;
    emit(&report, None, args.format, args.output.as_deref())?;
    Ok(verdict(&report))
}
