//! `gate`: the deployment-safety engine's command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod allocator;
mod cmd;

/// Exit codes: the contract CI relies on.
pub mod exit {
    /// Every blocking gate passed (warnings allowed).
    pub const PASS: u8 = 0;
    /// A blocking gate failed.
    pub const FAIL: u8 = 1;
    /// Usage, policy or plugin-loading error (nothing was evaluated), or the
    /// decision could not be recorded in the audit log (nothing was shown).
    pub const ERROR: u8 = 2;

    /// The one place a library error becomes an exit code: prints it on
    /// stderr as `error: …` and returns [`ERROR`]. Commands pass their
    /// errors here (`.map_err(exit::report)`) instead of printing them.
    pub fn report(err: impl std::fmt::Display) -> u8 {
        eprintln!("error: {err}");
        ERROR
    }

    /// Like [`report`], for errors that print their own `error:` lines (a
    /// policy's load errors, each with its location and help).
    pub fn report_lines(err: impl std::fmt::Display) -> u8 {
        eprintln!("{err}");
        ERROR
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "gate",
    version,
    about = "Deployment-safety engine: sandboxed checks, policies with exemptions, safe rollouts and migrations",
    long_about = None,
    after_help = "Exit codes: 0 every blocking gate passed, 1 a blocking gate failed, 2 usage, policy or plugin error.\n\
                  Logs go to stderr (set GATE_LOG=debug for more); reports go to stdout or --output."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a policy's gates and report the verdict
    Evaluate(cmd::evaluate::Args),
    /// Work with policy files
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Sign and verify policy exemptions with SSH keys
    #[command(subcommand)]
    Exemption(cmd::exemption::ExemptionCommand),
    /// List the checks that built-in (and a policy's external) plugins provide
    #[command(subcommand)]
    Checks(cmd::checks::ChecksCommand),
    /// Write, build, test and inspect plugins: from an empty directory to a pinned component
    #[command(subcommand)]
    Plugin(cmd::plugin::PluginCommand),
    /// Lint, plan and trace SQL migrations; run expand/contract migrations side by side
    #[command(subcommand)]
    Migrate(cmd::migrate::MigrateCommand),
    /// Verify, show and prove entries of the tamper-evident audit log
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Run a rollout spec to promotion or rollback (blue-green, canary, rolling)
    Rollout(cmd::rollout::RolloutArgs),
    /// Show a rollout's phase, step, router weights and last analysis
    Status(cmd::rollout::StatusArgs),
    /// Approve the paused step of a running rollout (recorded as a promotion)
    Promote(cmd::approve::ApproveArgs),
    /// Approve the paused step of a running rollout: signed with an SSH key, or by name
    Approve(cmd::approve::ApproveArgs),
    /// Stop a rollout and roll it back
    Abort(cmd::rollout::CommandArgs),
    /// Move all traffic back to the stable version now
    Rollback(cmd::rollout::CommandArgs),
    /// List and show the incidents rollbacks, aborts and failed verify stages opened
    #[command(subcommand)]
    Incident(cmd::incident::IncidentCommand),
    /// Deliver, list and preview notifications ([[notify]] rules, their outbox and templates)
    #[command(subcommand)]
    Notify(cmd::notify::NotifyCommand),
    /// Accept the secrets a tree holds today (a baseline for security.no-secrets)
    #[command(subcommand)]
    Secrets(cmd::secrets::SecretsCommand),
    /// Practise incident response: forced rollback and point-in-time restore drills
    #[command(subcommand)]
    Drill(cmd::drill::DrillCommand),
    /// Serve the deployment dashboard: rollouts, checklist, exemptions, audit log (read-only but for signed approvals)
    Serve(cmd::serve::ServeArgs),
}

/// When `main` started: the reference for the report's start-up timing.
pub fn process_started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

fn main() -> ExitCode {
    process_started();
    allocator::tune();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::PASS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Evaluate(args) => cmd::evaluate::run(args).await,
            Command::Secrets(c) => cmd::secrets::run(c).await,
            Command::Policy(c) => cmd::policy::run(c).await,
            Command::Exemption(c) => cmd::exemption::run(c).await,
            Command::Checks(c) => cmd::checks::run(c).await,
            Command::Plugin(c) => cmd::plugin::run(c).await,
            Command::Migrate(c) => cmd::migrate::run(c).await,
            Command::Audit(c) => cmd::audit::run(c).await,
            Command::Rollout(a) => cmd::rollout::rollout(a).await,
            Command::Status(a) => cmd::rollout::status(a).await,
            Command::Promote(a) => cmd::approve::run(a, true).await,
            Command::Approve(a) => cmd::approve::run(a, false).await,
            Command::Abort(a) => cmd::rollout::rollback(a, true).await,
            Command::Rollback(a) => cmd::rollout::rollback(a, false).await,
            Command::Incident(c) => cmd::incident::run(c).await,
            Command::Drill(c) => cmd::drill::run(c).await,
            Command::Serve(a) => cmd::serve::run(a).await,
            Command::Notify(c) => cmd::notify::run(c).await,
        }
    });
    // Skip tearing down the engine, its memory pool and the runtime: the
    // report is written and flushed, and the OS reclaims all of it faster.
    std::process::exit(code.into())
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GATE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
