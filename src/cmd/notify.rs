//! `gate notify`: deliver what an outbox still holds, list it, and render
//! a communication template (docs/incidents.md, "Notifications"). Also the
//! notifications of `gate evaluate`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gate_eval::policy::Policy;
use gate_eval::report::Report;
use gate_notify::outbox::Entry;
use gate_notify::{EventKind, FileOutbox, Notifier, Outbox, Rule};

use super::record::RecordArgs;
use super::shared::{self, ListFormat};
use crate::exit;

/// How long `gate evaluate` delivers after its report, at most; what is
/// left waits for the next run or `gate notify deliver`.
const EVALUATE_BUDGET: Duration = Duration::from_secs(5);

#[derive(clap::Subcommand, Debug)]
pub enum NotifyCommand {
    /// Deliver the notifications an outbox still holds (retrying with backoff), then exit
    Deliver(DeliverArgs),
    /// List an outbox's notifications: delivered, pending, attempts and last error
    List(ListArgs),
    /// Render an event kind's template with a sample event (the default, or a rule's override)
    Render(RenderArgs),
}

/// The file whose `[[notify]]` rules and outbox are meant.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// A rollout spec: its outbox is `<state_dir>/<name>.outbox`, or in the database with `state = "postgres://…"`
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// A policy: its outbox is `notify/` beside its audit directory
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DeliverArgs {
    #[command(flatten)]
    pub source: Source,
    /// Stop after this many seconds; what is left stays in the outbox
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: Source,
    #[arg(long, short, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// The event kind
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub event: EventKind,
    /// Use this rule's template overrides (with --spec or --policy)
    #[arg(long, value_name = "NAME", requires = "file")]
    pub rule: Option<String>,
    /// A rollout spec whose rule to use
    #[arg(long, value_name = "FILE", group = "file")]
    pub spec: Option<PathBuf>,
    /// A policy whose rule to use
    #[arg(long, value_name = "FILE", group = "file")]
    pub policy: Option<PathBuf>,
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    s.parse().map_err(|_| {
        let kinds: Vec<&str> = <EventKind as strum::VariantArray>::VARIANTS
            .iter()
            .map(|k| k.as_str())
            .collect();
        format!("expected one of {}", kinds.join(", "))
    })
}

pub async fn run(command: NotifyCommand) -> u8 {
    let result = match command {
        NotifyCommand::Deliver(a) => deliver(a).await,
        NotifyCommand::List(a) => list(a).await,
        NotifyCommand::Render(a) => render(a),
    };
    match result {
        Ok(code) | Err(code) => code,
    }
}

/// The rules and outbox of `--spec` or `--policy`.
async fn rules_of(
    spec: Option<&Path>,
    policy: Option<&Path>,
) -> Result<(Vec<Rule>, Arc<dyn Outbox>), u8> {
    if let Some(path) = spec {
        let spec = super::rollout::load_spec(path, None)?;
        let outbox = gate_rollout::notify::outbox(&spec)
            .await
            .map_err(exit::report)?;
        return Ok((spec.notify, outbox));
    }
    let (rules, dir) = policy_rules(policy)?;
    Ok((rules, Arc::new(FileOutbox::new(&dir))))
}

/// The rules and outbox directory of `--policy`.
fn policy_rules(policy: Option<&Path>) -> Result<(Vec<Rule>, PathBuf), u8> {
    let path = policy.ok_or_else(|| exit::report("name a --spec or a --policy"))?;
    let policy = shared::load_policy(path, shared::clock()?)?;
    let dir = policy_outbox(&RecordArgs::default(), &policy);
    Ok((policy.notify, dir))
}

/// A policy's outbox: `notify/` beside its audit directory (`.gate/notify`
/// beside the policy by default).
pub fn policy_outbox(record: &RecordArgs, policy: &Policy) -> PathBuf {
    let audit = record.dir(Some(policy));
    audit
        .parent()
        .map_or_else(|| PathBuf::from("notify"), |p| p.join("notify"))
}

async fn deliver(args: DeliverArgs) -> Result<u8, u8> {
    let (rules, outbox) =
        rules_of(args.source.spec.as_deref(), args.source.policy.as_deref()).await?;
    let place = outbox.describe();
    let Some(n) = Notifier::with_outbox(&rules, outbox).map_err(exit::report)? else {
        eprintln!("no [[notify]] rules: nothing to deliver");
        return Ok(exit::PASS);
    };
    let round = n
        .deliver(Duration::from_secs(args.timeout))
        .await
        .map_err(exit::report)?;
    for f in &round.failures {
        eprintln!("attempt failed: {f}");
    }
    if round.busy {
        eprintln!("another gate is delivering from {place} now");
    }
    println!(
        "delivered {}, pending {} ({} failed attempt(s)), outbox {place}",
        round.delivered, round.pending, round.failed_attempts,
    );
    Ok(if round.pending == 0 && !round.busy {
        exit::PASS
    } else {
        exit::FAIL
    })
}

async fn list(args: ListArgs) -> Result<u8, u8> {
    let (_, outbox) = rules_of(args.source.spec.as_deref(), args.source.policy.as_deref()).await?;
    let entries = outbox.entries().await.map_err(exit::report)?;
    match args.format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = entries.iter().map(row).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        ListFormat::Human => {
            for e in &entries {
                let state = match e.delivered_ms {
                    Some(_) => "delivered".to_string(),
                    None => format!("pending ({} attempt(s))", e.attempts),
                };
                println!(
                    "{}  {:<18} {:<12} {}  {}{}",
                    e.event.time,
                    e.event.kind.as_str(),
                    e.target,
                    e.event.id,
                    state,
                    e.last_error
                        .as_ref()
                        .map_or(String::new(), |l| format!(": {l}"))
                );
            }
        }
    }
    Ok(exit::PASS)
}

fn row(e: &Entry) -> serde_json::Value {
    serde_json::json!({
        "id": e.event.id, "event": e.event.kind, "subject": e.event.subject,
        "target": e.target, "time": e.event.time, "attempts": e.attempts,
        "delivered_ms": e.delivered_ms, "next_attempt_ms": e.next_attempt_ms,
        "last_error": e.last_error,
    })
}

fn render(args: RenderArgs) -> Result<u8, u8> {
    let overrides = match &args.rule {
        None => Default::default(),
        Some(name) => {
            let rules = match &args.spec {
                Some(path) => super::rollout::load_spec(path, None)?.notify,
                None => policy_rules(args.policy.as_deref())?.0,
            };
            let rule = rules.into_iter().find(|r| &r.name == name).ok_or_else(|| {
                exit::report(format_args!("no [[notify]] rule is named `{name}`"))
            })?;
            rule.templates
        }
    };
    let templates = gate_notify::template::Templates::load(&overrides).map_err(exit::report)?;
    let text = templates
        .render(&gate_notify::sample::event(args.event))
        .map_err(exit::report)?;
    print!("{text}");
    Ok(exit::PASS)
}

/// After `gate evaluate` recorded and showed its report: its notifications,
/// enqueued and delivered for at most [`EVALUATE_BUDGET`]. Nothing here
/// changes the exit code; problems are printed.
pub async fn after_evaluation(
    record: &RecordArgs,
    policy: &Policy,
    report: &Report,
    clock: gate_core::clock::Clock,
) {
    if policy.notify.is_empty() {
        return;
    }
    let dir = policy_outbox(record, policy);
    let n = match Notifier::new(&policy.notify, &dir) {
        Ok(Some(n)) => n,
        Ok(None) => return,
        Err(e) => {
            eprintln!("notify: {e}");
            return;
        }
    };
    let events = gate_eval::notify_events::evaluation_events(
        report,
        policy,
        &policy.notify,
        clock.today(),
        record.run_id.as_deref(),
        // The wall clock (never GATE_TEST_NOW): each evaluation is its own event.
        &std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .to_string(),
    );
    for event in &events {
        for e in n.notify(event).1 {
            eprintln!("notify: {e}");
        }
    }
    match n.deliver(EVALUATE_BUDGET).await {
        Ok(r) if r.pending > 0 => eprintln!(
            "notify: {} notification(s) not delivered yet ({}); `gate notify deliver --policy {}` sends them",
            r.pending,
            r.failures.last().map_or("waiting", String::as_str),
            policy.source.display()
        ),
        Ok(_) => {}
        Err(e) => eprintln!("notify: {e}"),
    }
}
