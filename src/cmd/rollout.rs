//! `gate rollout`, `status`, `abort`, `rollback` (`approve` and `promote`: `approve.rs`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gate_rollout::controller::{self, Controller, Options, Outcome, RolloutError};
use gate_rollout::driver;
use gate_rollout::incident::ManualAction;
use gate_rollout::state::{CommandKind, Phase, RolloutState};
use gate_rollout::status::RolloutStatus;
use gate_rollout::strategy::{self, StrategyPlugin};
use gate_rollout::{Spec, failpoint};

use super::shared;
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct RolloutArgs {
    /// The rollout spec (TOML; see docs/rollouts.md)
    #[arg(long, short)]
    pub spec: PathBuf,
    /// Start again even if this spec already finished (promoted or rolled back)
    #[arg(long)]
    pub restart: bool,
    /// Only validate: parse the spec and let the strategy plugin check it
    /// against the starting state; touches neither the router nor the state
    #[arg(long)]
    pub check: bool,
    /// No progress lines on stderr (the JSON-lines event log is still written)
    #[arg(long, short)]
    pub quiet: bool,
    /// Audit directory to record the rollout's decisions in (default: the spec's [audit] dir, else .gate/audit beside the spec)
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Test hook: kill this process at a named point (see docs/rollouts.md)
    #[arg(long, hide = true)]
    pub failpoint: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The rollout spec
    #[arg(long, short)]
    pub spec: PathBuf,
    /// Output format
    #[arg(long, short, default_value = "human", value_parser = ["human", "json"])]
    pub format: String,
}

#[derive(clap::Args, Debug)]
pub struct CommandArgs {
    /// The rollout spec
    #[arg(long, short)]
    pub spec: PathBuf,
    /// Who is acting (recorded with the time); defaults to $GATE_USER or $USER
    #[arg(long)]
    pub by: Option<String>,
    /// How long to wait for a running rollout to finish rolling back
    #[arg(long, default_value = "120")]
    pub wait_secs: u64,
    /// Audit directory to record the rollout's decisions in (default: the spec's [audit] dir, else .gate/audit beside the spec)
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
}

/// The spec at `path`; `audit` (`--audit DIR`) replaces its `[audit] dir`.
pub(super) fn load_spec(
    path: &std::path::Path,
    audit: Option<&std::path::Path>,
) -> Result<Spec, u8> {
    let mut spec = Spec::load(path).map_err(|e| {
        eprintln!("{e}");
        exit::ERROR
    })?;
    if let Some(dir) = audit {
        spec.audit_dir = dir.to_path_buf();
    }
    Ok(spec)
}

fn options(quiet: bool, restart: bool) -> Result<Options, u8> {
    Ok(Options {
        clock: shared::clock()?,
        quiet,
        restart,
        hosted: shared::hosted_checks(),
    })
}

fn outcome_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Promoted { problem: None } => {
            eprintln!("rollout promoted");
            exit::PASS
        }
        Outcome::Promoted { problem: Some(e) } => {
            eprintln!("rollout promoted, but {e}");
            exit::FAIL
        }
        Outcome::RolledBack { reason } => {
            eprintln!("rollout rolled back: {reason}");
            exit::FAIL
        }
        Outcome::Aborted { reason } => {
            eprintln!("rollout aborted before any traffic moved: {reason}");
            exit::FAIL
        }
    }
}

fn error_code(e: RolloutError) -> u8 {
    eprintln!("error: {e}");
    match e {
        RolloutError::Usage(_) | RolloutError::Unrecorded { .. } | RolloutError::Stopped(_) => {
            exit::ERROR
        }
        RolloutError::Failed(_) => exit::FAIL,
    }
}

pub async fn rollout(args: RolloutArgs) -> u8 {
    failpoint::configure(args.failpoint.as_deref());
    let spec = match load_spec(&args.spec, args.audit.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (opts, runtime) = match (options(args.quiet, args.restart), shared::pooled_runtime()) {
        (Ok(o), Ok(r)) => (o, r),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    if args.check {
        return check(&spec, runtime, &opts).await;
    }
    let mut controller = match Controller::open(spec, runtime, &opts).await {
        Ok(c) => c,
        Err(e) => return error_code(e),
    };
    let code = match controller.run().await {
        Ok(outcome) => outcome_code(outcome),
        Err(e) => error_code(e),
    };
    unrecorded_code(controller.unrecorded(), code)
}

/// A rollback that could not be recorded went ahead, and exits 2.
fn unrecorded_code(unrecorded: Option<&str>, code: u8) -> u8 {
    match unrecorded {
        Some(e) => {
            eprintln!("error: the rollback went ahead, but {e}");
            exit::ERROR
        }
        None => code,
    }
}

/// `gate rollout --check`: the spec parses and the strategy accepts it.
async fn check(
    spec: &Spec,
    runtime: std::sync::Arc<gate_sandbox::plugin::Runtime>,
    opts: &Options,
) -> u8 {
    let plugin = match StrategyPlugin::load(runtime, spec, opts.clock) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let start = strategy::starting_state(spec);
    match plugin.decide(&spec.to_plugin_spec(), &start).await {
        Ok(decision) => {
            println!(
                "{}: ok ({} rollout of `{}`, strategy plugin `{}`; first action: {})",
                spec.file.display(),
                spec.strategy.kind(),
                spec.name,
                plugin.name,
                decision.action.name()
            );
            exit::PASS
        }
        Err(e) => {
            eprintln!("error: {}: {e}", spec.file.display());
            exit::ERROR
        }
    }
}

pub async fn status(args: StatusArgs) -> u8 {
    let spec = match load_spec(&args.spec, None) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match controller::open_store(&spec).await {
        Ok(s) => s,
        Err(e) => return error_code(e),
    };
    let status = match RolloutStatus::read(&spec, &*store).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    if args.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&status.to_json(&spec)).unwrap()
        );
        return exit::PASS;
    }
    let Some(s) = &status.state else {
        println!(
            "rollout `{}`: never started (no state in {})",
            spec.name, status.describe
        );
        if let Some(p) = status.router_percent {
            println!("router: {p}% on the candidate servers");
        }
        return exit::PASS;
    };
    print_status(
        &spec,
        s,
        status.running(),
        &status.live,
        status.router_percent,
        &status.last_analysis(),
    );
    if let Some(t) = &status.tally {
        println!("approvals: {}", t.summary());
    }
    exit::PASS
}

/// No rollout runs: this process takes the lease and rolls back itself.
async fn rollback_here(spec: Spec, opts: &Options, abort: bool, verb: &str, by: &str) -> u8 {
    let runtime = match shared::pooled_runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let reason = format!("{verb} by {by} at {at}");
    let action = if abort {
        ManualAction::Abort
    } else {
        ManualAction::Rollback
    };
    let name = spec.name.clone();
    let request = (action, by, at.as_str());
    let (result, unrecorded) =
        match controller::rollback_now(spec, runtime, opts, &reason, request).await {
            Ok((outcome, unrecorded)) => (Ok(outcome), unrecorded),
            Err(e) => (Err(e), None),
        };
    let code = match result {
        Ok(Outcome::Promoted { .. }) => {
            eprintln!("error: rollout `{name}` was already promoted; roll forward with a new spec");
            exit::FAIL
        }
        Ok(Outcome::RolledBack { reason } | Outcome::Aborted { reason }) => {
            eprintln!("rollout `{name}` rolled back: {reason}");
            exit::PASS
        }
        Err(e) => error_code(e),
    };
    unrecorded_code(unrecorded.as_deref(), code)
}

/// The human form of `gate status` for a rollout that has a state.
fn print_status(
    spec: &Spec,
    s: &RolloutState,
    running: bool,
    live: &Result<Vec<driver::ServerState>, driver::RouterError>,
    router_percent: Option<u8>,
    last_analysis: &serde_json::Map<String, serde_json::Value>,
) {
    println!(
        "rollout `{}` ({}): {}{}",
        spec.name,
        spec.strategy.kind(),
        serde_json::to_value(s.phase)
            .unwrap()
            .as_str()
            .unwrap_or("?"),
        if running { ", running" } else { "" }
    );
    println!(
        "step {}: {}% on {} (recorded){}",
        s.step,
        s.candidate_percent,
        spec.candidate.version,
        router_percent.map_or(String::new(), |p| format!(", {p}% per the router"))
    );
    if let Ok(servers) = live {
        for srv in servers {
            println!(
                "  {:<16} weight {:>3}  {:<5} {}",
                srv.name,
                srv.weight,
                srv.admin.as_str(),
                if srv.up { "up" } else { "DOWN" }
            );
        }
    } else if let Err(e) = live {
        println!("router: {e}");
    }
    for (name, m) in last_analysis {
        println!("analysis {name}: {m}");
    }
    if !s.stages.is_empty() {
        let stages: Vec<String> = s
            .stages
            .iter()
            .map(|st| format!("{} {}", st.name, st.progress))
            .collect();
        println!("stages: {}", stages.join(" → "));
        for st in s.stages.iter().filter(|st| st.detail.is_some()) {
            println!(
                "  {}: {}",
                st.name,
                st.detail.as_deref().unwrap_or_default()
            );
        }
    }
    println!("run {}", s.run_id);
    if let Some(a) = &s.approval {
        println!("approved by {} at {}", a.by, a.at);
    }
    if let Some(o) = &s.outcome {
        println!("outcome: {o}");
    }
}

/// `gate abort` / `gate rollback`: a running rollout is told to roll back (and,
/// for rollback, traffic is moved to stable at once from this process too); with
/// no rollout running, this process takes the lock and rolls back itself.
pub async fn rollback(args: CommandArgs, abort: bool) -> u8 {
    let started = Instant::now();
    let spec = match load_spec(&args.spec, args.audit.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let by = args.by.unwrap_or_else(controller::whoami);
    let verb = if abort {
        "aborted"
    } else {
        "rollback requested"
    };
    let kind = if abort {
        CommandKind::Abort
    } else {
        CommandKind::Rollback
    };
    let store = match controller::open_store(&spec).await {
        Ok(s) => s,
        Err(e) => return error_code(e),
    };
    if let Err(e) = store
        .send(&gate_rollout::state::Command::new(kind, &by, None))
        .await
    {
        eprintln!("error: {e}");
        return exit::ERROR;
    }
    // `gate rollback` moves traffic at once, whatever the controller is doing;
    // the controller sees the command before its next router write.
    if !abort && spec.rolling.is_none() {
        let driver = driver::for_router(&spec.router);
        match driver::apply_split(&*driver, &spec.stable.servers, &spec.candidate.servers, 0).await
        {
            Ok(()) => eprintln!(
                "all traffic on {} after {} ms",
                spec.stable.version,
                started.elapsed().as_millis()
            ),
            Err(e) => eprintln!("warning: could not move traffic directly: {e}"),
        }
    }
    let opts = match options(false, false) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let lock_free = match store.holder().await {
        Ok(holder) => holder.is_none(),
        Err(e) => return error_code(e.into()),
    };
    if lock_free {
        return rollback_here(spec, &opts, abort, verb, &by).await;
    }
    // A rollout is running: wait for it to record the rollback.
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        if let Ok(Some(s)) = store.load().await
            && matches!(s.phase, Phase::RolledBack | Phase::Aborted)
        {
            eprintln!(
                "rollout `{}` rolled back: {}",
                spec.name,
                s.outcome.unwrap_or_default()
            );
            return exit::PASS;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "error: the running rollout did not confirm the rollback within {} s",
                args.wait_secs
            );
            return exit::FAIL;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
