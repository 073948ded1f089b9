//! `gate migrate start | validate | complete | rollback | status | set-rate`:
//! expand/contract migrations that gate runs on PostgreSQL
//! (gate_migrate::expand). `start`, `complete` and `rollback` record the
//! action in the audit log before they act. The database URL comes from an
//! environment variable and never reaches the output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gate_audit::Record as AuditRecord;
use gate_audit::entry::{Migrate, MigrateCommand as Decided, MigrationRef, Verdict};
use gate_eval::policy::Policy;
use gate_migrate::expand::run::Event;
use gate_migrate::expand::state::Record;
use gate_migrate::expand::{self, ExpandError, Options, Status, ops};
use gate_migrate::version_flag::VersionFlag;
use gate_sandbox::postgres::Session;

use super::parse_duration;
use crate::cmd::record::RecordArgs;
use crate::cmd::shared::{self, ListFormat};
use crate::exit;

/// Which database: a policy's `[connections.NAME]`, or an environment
/// variable holding the URL.
#[derive(clap::Args, Debug)]
pub struct Database {
    /// Policy file whose [connections.NAME] is the database (with --connection)
    #[arg(long, short, requires = "connection")]
    pub policy: Option<PathBuf>,
    /// The policy's [connections.NAME] to migrate (its url_env holds the URL)
    #[arg(long, short = 'c', requires = "policy")]
    pub connection: Option<String>,
    /// Environment variable holding the database URL, when no --connection is given
    #[arg(long, value_name = "VAR", default_value = "DATABASE_URL")]
    pub url_env: String,
}

#[derive(clap::Args, Debug)]
pub struct Tuning {
    /// lock_timeout of every schema change and of each backfill batch
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Attempts again after a lock timeout or a deadlock, per step
    #[arg(long, default_value_t = 10)]
    pub retries: u32,
}

/// The flagd flag that pins which version applications read.
#[derive(clap::Args, Debug)]
pub struct FlagArgs {
    /// flagd flag file whose flag (--flag) gives each application its version's search_path
    #[arg(long, value_name = "FILE", requires = "flag")]
    pub flagd: Option<PathBuf>,
    /// The flag's key in the --flagd file: variants `old` and `new`
    #[arg(long, value_name = "KEY", requires = "flagd")]
    pub flag: Option<String>,
}

impl FlagArgs {
    fn flag(&self) -> Option<VersionFlag> {
        Some(VersionFlag {
            file: self.flagd.clone()?,
            key: self.flag.clone()?,
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// The operations file (TOML, [[operation]] tables)
    pub file: PathBuf,
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub tuning: Tuning,
    /// Rows per backfill batch (each batch is its own transaction)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
    /// Least pause between backfill batches
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub batch_pause: Duration,
    /// Backfill rows per second (0: unlimited); change it while it runs with `gate migrate set-rate`
    #[arg(long, value_name = "ROWS_PER_SEC")]
    pub rate: Option<u64>,
    #[command(flatten)]
    pub flag: FlagArgs,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(clap::Args, Debug)]
pub struct StepArgs {
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub tuning: Tuning,
    #[command(flatten)]
    pub flag: FlagArgs,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub tuning: Tuning,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub database: Database,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug)]
pub struct SetRateArgs {
    /// Backfill rows per second; 0 removes the limit
    #[arg(value_name = "ROWS_PER_SEC")]
    pub rate: u64,
    #[command(flatten)]
    pub database: Database,
}

/// The session, named for messages by the connection or the variable, and
/// the policy when the database is one of its connections.
async fn connect(db: &Database) -> Result<(Session, Option<Policy>), u8> {
    let (name, url, policy) = match (&db.policy, &db.connection) {
        (Some(policy), Some(name)) => {
            let policy = shared::load_policy(policy, shared::clock()?)?;
            let url =
                gate_sandbox::postgres::url(&policy.connections, name).map_err(exit::report)?;
            (name.clone(), url, Some(policy))
        }
        _ => match std::env::var(&db.url_env) {
            Ok(url) if !url.is_empty() => (db.url_env.clone(), url, None),
            _ => {
                return Err(exit::report(format_args!(
                    "environment variable {} (--url-env) is not set: it holds the URL of the database to migrate; \
                     or give --policy FILE --connection NAME",
                    db.url_env
                )));
            }
        },
    };
    let session = gate_sandbox::postgres::connect(&name, &url)
        .await
        .map_err(exit::report)?;
    Ok((session, policy))
}

fn options(tuning: &Tuning) -> Options {
    Options {
        lock_timeout: tuning.lock_timeout,
        retries: tuning.retries,
        batch_size: 1000,
        pause: Duration::ZERO,
        rate: None,
    }
}

/// Exit 1 for rows that fail validation, 2 for anything else.
fn failed(e: ExpandError) -> u8 {
    match e {
        ExpandError::Validation(f) => {
            eprint!("{f}");
            exit::FAIL
        }
        e => exit::report(e),
    }
}

fn audit(command: Decided, path: String, sha256: String) -> AuditRecord {
    AuditRecord::Migrate(Migrate {
        command,
        policy: None,
        migrations: vec![MigrationRef { path, sha256 }],
        verdict: Verdict::Pass,
        checks: Vec::new(),
        findings: 0,
    })
}

/// Progress of the backfill on stderr: one line rewritten in place on a
/// terminal, a plain line every few seconds otherwise.
struct Progress {
    tty: bool,
    last: Option<Instant>,
}

impl Progress {
    fn show(&mut self, b: &expand::backfill::Batch) {
        let percent = if b.total == 0 {
            100.0
        } else {
            b.done as f64 * 100.0 / b.total as f64
        };
        let rate = b
            .rate
            .map_or_else(|| "unlimited".to_string(), |r| format!("{r} rows/s"));
        let line = format!(
            "backfill {}: {}/{} rows ({percent:.0}%), {:.0} rows/s, rate {rate}",
            b.table, b.done, b.total, b.rows_per_sec
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if b.finished {
                let _ = writeln!(err);
            }
        } else if b.finished
            || self
                .last
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(2))
        {
            let _ = writeln!(err, "{line}");
            self.last = Some(Instant::now());
        }
        let _ = err.flush();
    }
}

pub async fn start(args: StartArgs) -> Result<u8, u8> {
    let file = ops::read(&args.file).map_err(exit::report)?;
    let (mut session, policy) = connect(&args.database).await?;
    super::raw_sql::lint(&file, policy.as_ref(), args.tuning.lock_timeout).await?;
    args.record.append(
        policy.as_ref(),
        audit(
            Decided::Start,
            file.path.display().to_string(),
            file.sha256.clone(),
        ),
    )?;
    let options = Options {
        batch_size: args.batch_size,
        pause: args.batch_pause,
        rate: args.rate.map(|r| r as i64),
        ..options(&args.tuning)
    };
    let mut progress = Progress {
        tty: std::io::stderr().is_terminal(),
        last: None,
    };
    let mut events = |e: Event| match e {
        Event::Expanded {
            old_version,
            new_version,
            resumed,
        } => {
            println!(
                "migration {}: {} (both versions served)\n  old version: search_path = {old_version}\n  new version: search_path = {new_version}",
                file.name,
                if resumed { "resumed" } else { "expanded" }
            );
        }
        Event::Batch(b) => progress.show(&b),
        Event::Backfilled => println!("migration {}: backfilled", file.name),
        Event::Validated => println!(
            "migration {}: validated; run `gate migrate complete` once no application uses the old version",
            file.name
        ),
    };
    let record = expand::start(&mut session.client, &file, &options, &mut events)
        .await
        .map_err(failed)?;
    if let Some(flag) = args.flag.flag() {
        flag.expanded(&record.old_version, &record.new_version)
            .map_err(exit::report)?;
        println!(
            "flag {} in {}: variants old = {}, new = {}",
            flag.key,
            flag.file.display(),
            record.old_version,
            record.new_version
        );
    }
    Ok(exit::PASS)
}

pub async fn validate(args: ValidateArgs) -> Result<u8, u8> {
    let (mut session, _) = connect(&args.database).await?;
    let record = expand::validate_cmd(&mut session.client, &options(&args.tuning))
        .await
        .map_err(failed)?;
    println!("migration {}: validated", record.name);
    Ok(exit::PASS)
}

/// The migration in progress, for the audit record written before acting.
async fn active(session: &Session) -> Result<Record, u8> {
    match expand::status(&session.client).await.map_err(failed)? {
        Status {
            migration: Some(m), ..
        } if m.phase.active() => Ok(m),
        _ => Err(exit::report(
            "no migration in progress (phase old-only); start one with `gate migrate start FILE`",
        )),
    }
}

pub async fn complete(args: StepArgs) -> Result<u8, u8> {
    let (mut session, policy) = connect(&args.database).await?;
    let m = active(&session).await?;
    let flag = args.flag.flag();
    if let Some(flag) = &flag {
        flag.ready_to_complete().map_err(|e| {
            eprintln!("error: {e}");
            exit::FAIL
        })?;
    }
    args.record.append(
        policy.as_ref(),
        audit(Decided::Complete, m.file, m.file_sha256),
    )?;
    let record = expand::complete(&mut session.client, &options(&args.tuning))
        .await
        .map_err(failed)?;
    println!(
        "migration {}: contracted; the only version is search_path = {}",
        record.name, record.new_version
    );
    if let Some(flag) = flag {
        flag.settled(&record.new_version, "new")
            .map_err(exit::report)?;
    }
    Ok(exit::PASS)
}

pub async fn rollback(args: StepArgs) -> Result<u8, u8> {
    let (mut session, policy) = connect(&args.database).await?;
    let m = active(&session).await?;
    args.record.append(
        policy.as_ref(),
        audit(Decided::Rollback, m.file, m.file_sha256),
    )?;
    let record = expand::rollback(&mut session.client, &options(&args.tuning))
        .await
        .map_err(failed)?;
    println!(
        "migration {}: rolled back; the only version is search_path = {}",
        record.name, record.old_version
    );
    if let Some(flag) = args.flag.flag() {
        flag.settled(&record.old_version, "old")
            .map_err(exit::report)?;
    }
    Ok(exit::PASS)
}

pub async fn set_rate(args: SetRateArgs) -> Result<u8, u8> {
    let (session, _) = connect(&args.database).await?;
    let name = expand::set_rate(&session.client, args.rate)
        .await
        .map_err(failed)?;
    match args.rate {
        0 => println!("migration {name}: backfill rate unlimited"),
        r => println!("migration {name}: backfill rate {r} rows/s"),
    }
    Ok(exit::PASS)
}

pub async fn status(args: StatusArgs) -> Result<u8, u8> {
    let (session, _) = connect(&args.database).await?;
    let status = expand::status(&session.client).await.map_err(failed)?;
    if args.format == ListFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("serialisable")
        );
        return Ok(exit::PASS);
    }
    print!("{}", render(&status));
    Ok(exit::PASS)
}

fn render(status: &Status) -> String {
    let mut out = String::new();
    let path: Vec<String> = status
        .phases
        .iter()
        .map(|p| {
            if *p == status.phase {
                format!("[{p}]")
            } else {
                p.to_string()
            }
        })
        .collect();
    let mut line = path.join(" -> ");
    if status.phase == expand::Phase::RolledBack {
        line.push_str("   [rolled-back]");
    }
    out.push_str(&format!("phase: {line}\n"));
    let Some(m) = &status.migration else {
        out.push_str("no expand/contract migration has run on this database\n");
        return out;
    };
    out.push_str(&format!(
        "migration: {} ({}, sha256 {})\nstarted: {}  updated: {}\n",
        m.name, m.file, m.file_sha256, m.started_at, m.updated_at
    ));
    out.push_str(&format!(
        "old version: search_path = {}\nnew version: search_path = {}\n",
        m.old_version, m.new_version
    ));
    out.push_str("operations:\n");
    for op in &m.operations {
        out.push_str(&format!("  {}\n", op.describe()));
    }
    if !m.backfill.is_empty() {
        out.push_str("backfill:\n");
        for (table, p) in &m.backfill {
            out.push_str(&format!(
                "  {table}: {}/{} rows{}\n",
                p.done,
                p.total,
                if p.finished { ", finished" } else { "" }
            ));
        }
    }
    out.push_str(&format!(
        "rate: {}\n",
        m.rate
            .map_or_else(|| "unlimited".to_string(), |r| format!("{r} rows/s"))
    ));
    if let Some(v) = &m.validation {
        out.push_str(&format!("validation failures: {v}\n"));
    }
    out
}
