//! `gate drill rollback`, `gate drill restore`, `gate drill list`
//! (docs/drills.md). A drill's record goes to the audit log, then to the
//! drill record store, before its result is shown.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gate_audit::{Draft, Record};
use gate_drill::records::{self, RecordStore};
use gate_drill::{Drill, DrillKind, DrillMeasures, DrillResult, restore, rollback};
use gate_notify::Notifier;
use gate_rollout::spec::parse_duration;
use serde_json::json;

use super::record::RecordArgs;
use super::shared::{self, ListFormat};
use crate::exit;

/// How long a drill delivers its result notification, at most.
const NOTIFY_BUDGET: Duration = Duration::from_secs(5);

#[derive(clap::Subcommand, Debug)]
pub enum DrillCommand {
    /// Move a share of real traffic to a rollout's candidate, force a rollback, and time it
    Rollback(RollbackArgs),
    /// Restore a PostgreSQL primary's latest base backup and WAL to a point in time in a scratch instance, and verify it
    Restore(RestoreArgs),
    /// Show the recorded drills, newest last
    List(ListArgs),
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The rollout spec whose router, servers and health checks the drill uses
    #[arg(long, short)]
    pub spec: PathBuf,
    /// The candidate's share of traffic before the rollback, in percent (1-50)
    #[arg(long, default_value_t = 10)]
    pub percent: u8,
    /// How long the candidate keeps that share before the forced rollback
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub hold: Duration,
    /// How long the router may take to confirm the weights, and stable to pass its health checks
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Drill record directory (default: .gate/drills beside the spec)
    #[arg(long, value_name = "DIR")]
    pub records: Option<PathBuf>,
    /// Audit directory (default: the spec's [audit] dir, else .gate/audit beside the spec)
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Output format
    #[arg(long, short, value_enum, default_value = "human")]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The policy's [connections.NAME] whose [drills.restore.NAME] says where its backups are
    #[arg(long, short = 'c')]
    pub connection: String,
    /// The policy file
    #[arg(long, short, env = "GATE_POLICY", hide_env_values = true)]
    pub policy: PathBuf,
    /// Recover up to this time (RFC 3339, e.g. 2026-12-03T13:20:00Z); default: all archived WAL
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub target_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Drill record directory (default: .gate/drills beside the policy)
    #[arg(long, value_name = "DIR")]
    pub records: Option<PathBuf>,
    #[command(flatten)]
    pub record: RecordArgs,
    /// Output format
    #[arg(long, short, value_enum, default_value = "human")]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Drill record directory (default: .gate/drills beside --policy or --spec, else in the working directory)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["policy", "spec"])]
    pub records: Option<PathBuf>,
    /// The records beside this policy
    #[arg(long, short, conflicts_with = "spec")]
    pub policy: Option<PathBuf>,
    /// The records beside this rollout spec
    #[arg(long, short)]
    pub spec: Option<PathBuf>,
    /// Only drills of this kind
    #[arg(long, value_parser = ["rollback", "restore"])]
    pub kind: Option<String>,
    /// Output format
    #[arg(long, short, value_enum, default_value = "human")]
    pub format: ListFormat,
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time (e.g. 2026-12-03T13:20:00Z): {e}"))
}

pub async fn run(command: DrillCommand) -> u8 {
    let result = match command {
        DrillCommand::Rollback(a) => drill_rollback(a).await,
        DrillCommand::Restore(a) => drill_restore(a).await,
        DrillCommand::List(a) => list(a),
    };
    result.unwrap_or_else(|code| code)
}

/// `.gate/drills` beside `file`.
fn beside(file: &Path) -> PathBuf {
    file.parent()
        .unwrap_or(Path::new(""))
        .join(".gate")
        .join("drills")
}

/// The record store, created: a drill that could not be recorded must not
/// run, so this is opened first.
fn open_records(dir: &Path) -> Result<RecordStore, u8> {
    RecordStore::open(dir, true)
        .map_err(exit::report)?
        .ok_or_else(|| exit::report(format_args!("{}: could not be created", dir.display())))
}

async fn drill_rollback(args: RollbackArgs) -> Result<u8, u8> {
    let spec = super::rollout::load_spec(&args.spec, args.audit.as_deref())?;
    let records = open_records(&args.records.unwrap_or_else(|| beside(&spec.file)))?;
    let store = gate_rollout::controller::open_store(&spec)
        .await
        .map_err(exit::report)?;
    let opts = rollback::Options {
        percent: args.percent,
        hold: args.hold,
        settle: args.settle,
    };
    eprintln!(
        "rollback drill of `{}`: {}% to {} for {} ms, then a forced rollback to {}",
        spec.name,
        args.percent,
        spec.candidate.version,
        args.hold.as_millis(),
        spec.stable.version
    );
    let drill = rollback::run(&spec, &*store, &opts)
        .await
        .map_err(exit::report)?;
    let location = store.audit_location();
    let notifier = gate_rollout::notify::notifier(&spec).await;
    finish(drill, &records, args.format, notifier, |record| {
        let store = &store;
        async move {
            store.record(Draft::new(record)).await.map(drop).map_err(|e| {
                exit::report(format_args!(
                    "the drill could not be recorded in the audit log {location}, so it is not reported:\n{e}"
                ))
            })
        }
    })
    .await
}

async fn drill_restore(args: RestoreArgs) -> Result<u8, u8> {
    let policy = shared::load_policy(&args.policy, shared::clock()?)?;
    let Some(drill) = policy.restore_drills.get(&args.connection) else {
        return Err(exit::report(format_args!(
            "{} has no [drills.restore.{}]: say where the base backups and the WAL archive of connection `{}` are (docs/drills.md)",
            args.policy.display(),
            args.connection,
            args.connection
        )));
    };
    let url =
        gate_sandbox::postgres::url(&policy.connections, &args.connection).map_err(exit::report)?;
    let login = restore::Login::from_url(&args.connection, &url).map_err(exit::report)?;
    let records = open_records(
        &args
            .records
            .clone()
            .unwrap_or_else(|| beside(&policy.source)),
    )?;
    eprintln!(
        "restore drill of `{}`: latest base backup in {} plus WAL from {}, to {}",
        args.connection,
        drill.base_backups.display(),
        drill.wal_archive.display(),
        args.target_time.map_or_else(
            || "the end of the archive".to_string(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    );
    let progress = |line: &str| eprintln!("  {line}");
    let result = restore::run(restore::Request {
        drill,
        login,
        target_time: args.target_time,
        progress: &progress,
    })
    .await
    .map_err(exit::report)?;
    let notifier = Notifier::new(
        &policy.notify,
        &super::notify::policy_outbox(&args.record, &policy),
    )
    .map_err(|e| e.to_string());
    let policy = &policy;
    let record_args = &args.record;
    finish(
        result,
        &records,
        args.format,
        notifier,
        |record| async move { record_args.append(Some(policy), record) },
    )
    .await
}

/// Compares with the earlier drills, records (audit log first, then the
/// record store), shows the result, then notifies the rules that want
/// `drill-result` (`notifier`: the spec's or the policy's). 0 pass, 1 fail,
/// 2 not recorded; a notification problem is shown and changes nothing.
async fn finish<F, Fut>(
    mut drill: Drill,
    records: &RecordStore,
    format: ListFormat,
    notifier: Result<Option<Arc<Notifier>>, String>,
    audit: F,
) -> Result<u8, u8>
where
    F: FnOnce(Record) -> Fut,
    Fut: std::future::Future<Output = Result<(), u8>>,
{
    match records.read() {
        Ok(earlier) => drill.previous = records::compare(&earlier, drill.kind, &drill.subject),
        Err(e) => eprintln!("warning: no comparison with earlier drills: {e}"),
    }
    audit(Record::Drill(drill.clone())).await?;
    records.append(&drill).map_err(|e| {
        exit::report(format_args!(
            "the drill is in the audit log, but not in the drill records: {e}"
        ))
    })?;
    match format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&drill).map_err(exit::report)?
        ),
        ListFormat::Human => print!("{}", render(&drill)),
    }
    match notifier {
        Ok(Some(n)) => notify(&n, &drill).await,
        Ok(None) => {}
        Err(e) => eprintln!("notify: {e}"),
    }
    Ok(match drill.result {
        DrillResult::Pass => exit::PASS,
        DrillResult::Fail => exit::FAIL,
    })
}

/// Sends the drill's result, delivering for at most [`NOTIFY_BUDGET`];
/// what is left waits in the outbox for `gate notify deliver`.
async fn notify(n: &Notifier, d: &Drill) {
    let (event, errors) = gate_notify::drill::notify(n, &notified(d));
    for e in errors {
        eprintln!("notify: {e}");
    }
    match n.deliver(NOTIFY_BUDGET).await {
        Ok(r) if r.pending > 0 => eprintln!(
            "notify: the drill result ({}) is not delivered yet ({}); `gate notify deliver` sends it",
            event.id,
            r.failures.last().map_or("waiting", String::as_str),
        ),
        Ok(_) => {}
        Err(e) => eprintln!("notify: {e}"),
    }
}

/// What a notification says of a drill: its result, one line, its figures.
fn notified(d: &Drill) -> gate_notify::drill::DrillResult {
    let started = d
        .started
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (headline, metrics, target) = match &d.measures {
        DrillMeasures::Rollback(m) => (
            format!(
                "{}% to the candidate, back on stable in {}, healthy again in {}",
                m.percent,
                ms(m.to_stable_ms),
                ms(m.to_healthy_ms)
            ),
            vec![
                ("percent".to_string(), json!(m.percent)),
                (
                    "candidate_responses".to_string(),
                    json!(m.candidate_responses),
                ),
                ("to_stable_ms".to_string(), json!(m.to_stable_ms)),
                ("to_healthy_ms".to_string(), json!(m.to_healthy_ms)),
            ],
            Some(format!("healthy again within {} ms", m.target_ms)),
        ),
        DrillMeasures::Restore(m) => (
            format!(
                "restored in {}, data loss window {}, {} of {} verification queries passed",
                ms(m.restore_ms),
                ms(m.data_loss_ms),
                m.queries.iter().filter(|q| q.ok).count(),
                m.queries.len()
            ),
            vec![
                ("backup".to_string(), json!(m.backup)),
                ("target_time".to_string(), json!(m.target_time)),
                ("last_transaction".to_string(), json!(m.last_transaction)),
                ("restore_ms".to_string(), json!(m.restore_ms)),
                ("data_loss_ms".to_string(), json!(m.data_loss_ms)),
            ],
            None,
        ),
    };
    let mut summary = format!("{} drill of {}: {headline}", d.kind, d.subject);
    if !d.problems.is_empty() {
        summary.push_str(&format!("; {}", d.problems.join("; ")));
    }
    gate_notify::drill::DrillResult {
        drill: d.kind.to_string(),
        subject: d.subject.clone(),
        drill_id: started,
        passed: d.result == DrillResult::Pass,
        summary,
        metrics,
        target,
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v} ms"))
}

/// The human form of one drill.
pub fn render(d: &Drill) -> String {
    let mut out = format!(
        "{} drill of `{}`: {} ({} → {})\n",
        d.kind,
        d.subject,
        d.result,
        d.started
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        d.finished
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    match &d.measures {
        DrillMeasures::Rollback(m) => {
            out.push_str(&format!(
                "  candidate share:   {}%{}\n  to 100% stable:    {}\n  healthy again:     {} (target {} ms)\n",
                m.percent,
                m.candidate_responses
                    .map_or(String::new(), |n| format!(", {n} responses from the candidate")),
                ms(m.to_stable_ms),
                ms(m.to_healthy_ms),
                m.target_ms
            ));
        }
        DrillMeasures::Restore(m) => {
            out.push_str(&format!(
                "  base backup:       {}\n  target time:       {}\n  last transaction:  {}\n  data loss window:  {}\n  restore time:      {}\n",
                m.backup,
                m.target_time.as_deref().unwrap_or("end of the archive"),
                m.last_transaction.as_deref().unwrap_or("-"),
                ms(m.data_loss_ms),
                ms(m.restore_ms)
            ));
            for q in &m.queries {
                out.push_str(&format!(
                    "  {} {}  → {:?}\n",
                    if q.ok { "ok  " } else { "FAIL" },
                    q.sql,
                    q.got
                ));
            }
        }
    }
    for p in &d.problems {
        out.push_str(&format!("  problem: {p}\n"));
    }
    if let Some(p) = &d.previous {
        out.push_str(&format!(
            "  previous: {} drill(s); last {} on {} ({}); median of passed {}\n",
            p.drills,
            p.last_result,
            p.last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ms(p.last_ms),
            ms(p.median_ms)
        ));
    }
    out
}

fn list(args: ListArgs) -> Result<u8, u8> {
    let dir = match (&args.records, &args.policy, &args.spec) {
        (Some(d), _, _) => d.clone(),
        (None, Some(p), _) => beside(p),
        (None, None, Some(s)) => beside(s),
        (None, None, None) => PathBuf::from(".gate/drills"),
    };
    let drills = match RecordStore::open(&dir, false).map_err(exit::report)? {
        Some(store) => store.read().map_err(exit::report)?,
        None => Vec::new(),
    };
    let kind: Option<DrillKind> = args.kind.as_deref().and_then(|k| k.parse().ok());
    let drills: Vec<&Drill> = drills
        .iter()
        .filter(|d| kind.is_none_or(|k| d.kind == k))
        .collect();
    match args.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&drills).map_err(exit::report)?
        ),
        ListFormat::Human if drills.is_empty() => {
            println!("no drills recorded in {}", dir.display())
        }
        ListFormat::Human => {
            for d in drills {
                let figures = match &d.measures {
                    DrillMeasures::Rollback(m) => format!(
                        "{}% to the candidate; 100% stable {}, healthy {}",
                        m.percent,
                        ms(m.to_stable_ms),
                        ms(m.to_healthy_ms)
                    ),
                    DrillMeasures::Restore(m) => format!(
                        "restored {}, data loss window {}, {}/{} queries ok",
                        ms(m.restore_ms),
                        ms(m.data_loss_ms),
                        m.queries.iter().filter(|q| q.ok).count(),
                        m.queries.len()
                    ),
                };
                println!(
                    "{}  {:<8} {:<16} {:<4}  {figures}",
                    d.finished
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    d.kind.to_string(),
                    d.subject,
                    d.result.to_string()
                );
            }
        }
    }
    Ok(exit::PASS)
}
