//! `gate audit`: verify the tamper-evident audit log, show its entries,
//! prove that an entry is in it, check such a proof, and print the
//! verifier key to publish ([docs/audit.md](../../docs/audit.md)).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gate_audit::entry::Entry;
use gate_audit::{AuditError, AuditLog, Earlier, InclusionProof, Kind, Snapshot, Verifier, key};

use super::shared::ListFormat;
use crate::exit;

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify every entry and signed checkpoint (exit 0 verified, 1 tampered with the first bad entry named, 2 error)
    Verify(VerifyArgs),
    /// Show the recorded entries
    Show(ShowArgs),
    /// Print a JSON inclusion proof of entry SEQ that others can check without the log
    Prove(ProveArgs),
    /// Check an inclusion proof written by `gate audit prove` with the published verifier key
    CheckProof(CheckProofArgs),
    /// Print the verifier key to publish (creating the signing key on first use)
    Key,
}

#[derive(clap::Args, Debug)]
pub struct DirArg {
    /// Audit directory, or the postgres:// URL of a rollout's shared state (password from PGPASSWORD)
    #[arg(long, value_name = "DIR|URL", default_value = ".gate/audit")]
    pub audit: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Verify with this published verifier key (NAME+KEYID+KEY) instead of the signing key
    #[arg(long, value_name = "KEY")]
    pub vkey: Option<String>,
    /// A checkpoint note kept from before: the log must still contain what it signed
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Only entries of this kind
    #[arg(long, value_parser = kinds())]
    pub kind: Option<Kind>,
    /// Only entries since this time (RFC 3339) or for this long (e.g. 24h, 30m, 7d)
    #[arg(long, value_name = "T", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(clap::Args, Debug)]
pub struct ProveArgs {
    /// The entry's sequence number
    pub seq: u64,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(clap::Args, Debug)]
pub struct CheckProofArgs {
    /// The proof (JSON, as `gate audit prove` prints it)
    pub file: PathBuf,
    /// The log's published verifier key (NAME+KEYID+KEY)
    #[arg(long, value_name = "KEY")]
    pub vkey: String,
}

/// The kinds of entry as `--kind` values.
fn kinds() -> impl clap::builder::TypedValueParser<Value = Kind> {
    use clap::builder::TypedValueParser as _;
    let names: Vec<&'static str> = <Kind as strum::IntoEnumIterator>::iter()
        .map(<&'static str>::from)
        .collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|s: String| s.parse::<Kind>())
}

/// An RFC 3339 time, or a duration back from now (`90s`, `30m`, `24h`, `7d`).
fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| since_help(s))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(since_help(s)),
    };
    chrono::TimeDelta::try_seconds(n.saturating_mul(seconds))
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .ok_or_else(|| since_help(s))
}

fn since_help(s: &str) -> String {
    format!("`{s}`: expected an RFC 3339 time (2026-12-01T00:00:00Z) or a duration such as 24h")
}

pub async fn run(cmd: AuditCommand) -> u8 {
    let result = match cmd {
        AuditCommand::Verify(args) => verify(args).await,
        AuditCommand::Show(args) => show(args).await,
        AuditCommand::Prove(args) => prove(args).await,
        AuditCommand::CheckProof(args) => check_proof(args),
        AuditCommand::Key => print_key(),
    };
    match result {
        Ok(code) | Err(code) => code,
    }
}

/// An audit error as an exit code: 1 when the log or proof is not what was
/// recorded, 2 when it could not be checked at all.
fn failed(e: AuditError) -> u8 {
    let tampered = e.is_tampering();
    exit::report(e);
    if tampered { exit::FAIL } else { exit::ERROR }
}

/// A log as read: its snapshot, and for a log in PostgreSQL the size its
/// head row records.
struct Loaded {
    snap: Snapshot,
    recorded_size: Option<u64>,
}

/// The log at `--audit`: a directory, or a `postgres://` URL.
async fn snapshot(at: &Path) -> Result<Loaded, u8> {
    let text = at.to_string_lossy();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return pg_snapshot(&text).await;
    }
    let snap = match AuditLog::open(at, false).map_err(failed)? {
        Some(log) => log.snapshot().map_err(failed)?,
        None => {
            return Err(exit::report(format_args!(
                "{}: no audit log here\nhelp: pass the audit directory with --audit DIR \
                 (a policy's [audit] dir, else .gate/audit beside the policy), or the \
                 postgres:// URL of a rollout's `state`",
                at.display()
            )));
        }
    };
    Ok(Loaded {
        snap,
        recorded_size: None,
    })
}

/// The log in the `gate` schema of the database at `url`.
async fn pg_snapshot(url: &str) -> Result<Loaded, u8> {
    use gate_rollout::store::postgres::{self, DbUrl, schema::SCHEMA};
    let url = DbUrl::parse(url)
        .map_err(|e| exit::report(format_args!("--audit: {e}\nhelp: {}", e.help())))?;
    let mut session = postgres::session(&url).await.map_err(exit::report)?;
    match gate_audit::pg::read(&mut session.client, SCHEMA, url.shown()).await {
        Ok(Some(read)) => Ok(Loaded {
            snap: read.snapshot,
            recorded_size: Some(read.recorded_size),
        }),
        Ok(None) => Err(exit::report(format_args!(
            "{}: no audit log here (no {SCHEMA}.audit_head table)\nhelp: pass the `state` URL \
             of a rollout that has run",
            url.shown()
        ))),
        Err(e) => Err(failed(e)),
    }
}

/// `--vkey`, else the verifier of the signing key (which must exist).
fn verifier(vkey: Option<&str>) -> Result<Verifier, u8> {
    match vkey {
        Some(text) => Verifier::parse(text).map_err(|e| exit::report(format_args!("--vkey: {e}"))),
        None => {
            let path = key::path().map_err(failed)?;
            Ok(key::load(&path).map_err(failed)?.verifier().clone())
        }
    }
}

async fn verify(args: VerifyArgs) -> Result<u8, u8> {
    let verifier = verifier(args.vkey.as_deref())?;
    let loaded = snapshot(&args.dir.audit).await?;
    let snap = &loaded.snap;
    let note = match &args.checkpoint {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| exit::report(format_args!("reading {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let earlier = args
        .checkpoint
        .as_deref()
        .zip(note.as_deref())
        .map(|(path, note)| Earlier { path, note });
    let verified = gate_audit::verify(snap, &verifier, earlier).map_err(failed)?;
    if let Some(recorded) = loaded.recorded_size {
        gate_audit::pg::check_size(snap, recorded, &verified).map_err(failed)?;
    }
    println!(
        "verified: {} entries, {} checkpoints, tree head {} ({})",
        verified.entries,
        verified.checkpoints,
        hex::encode(verified.root),
        args.dir.audit.display()
    );
    if let Some(path) = &args.checkpoint {
        println!("consistent with {}", path.display());
    }
    Ok(exit::PASS)
}

async fn show(args: ShowArgs) -> Result<u8, u8> {
    let snap = snapshot(&args.dir.audit).await?.snap;
    let entries: Vec<Entry> = snap
        .entries()
        .map_err(failed)?
        .into_iter()
        .filter(|e| args.kind.is_none_or(|k| e.record.kind() == k))
        .filter(|e| args.since.is_none_or(|t| e.time >= t))
        .collect();
    match args.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("entries serialise")
        ),
        ListFormat::Human => {
            for e in &entries {
                let run = e
                    .run_id
                    .as_deref()
                    .map(|r| format!(" run {r}"))
                    .unwrap_or_default();
                println!(
                    "{:>6}  {}  {:<10}  {}{run}  {}",
                    e.seq,
                    e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    e.record.kind().to_string(),
                    e.actor,
                    e.record.summary()
                );
            }
        }
    }
    Ok(exit::PASS)
}

async fn prove(args: ProveArgs) -> Result<u8, u8> {
    let snap = snapshot(&args.dir.audit).await?.snap;
    let proof = InclusionProof::build(&snap, args.seq).map_err(failed)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&proof).expect("proofs serialise")
    );
    Ok(exit::PASS)
}

fn check_proof(args: CheckProofArgs) -> Result<u8, u8> {
    let verifier = verifier(Some(&args.vkey))?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| exit::report(format_args!("reading {}: {e}", args.file.display())))?;
    let proof: InclusionProof = serde_json::from_str(&text).map_err(|e| {
        exit::report(format_args!(
            "{}:{}:{}: not an inclusion proof: {e}\nhelp: pass the JSON `gate audit prove SEQ` printed",
            args.file.display(),
            e.line(),
            e.column()
        ))
    })?;
    let entry = proof.check(&args.file, &verifier).map_err(failed)?;
    println!(
        "verified: entry {} ({}, {}, {}) is in the log of {} entries signed by {}",
        entry.seq,
        entry.record.kind(),
        entry
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        entry.actor,
        proof.tree_size,
        args.vkey.split('+').take(2).collect::<Vec<_>>().join("+")
    );
    Ok(exit::PASS)
}

fn print_key() -> Result<u8, u8> {
    let path = key::path().map_err(failed)?;
    let signer = key::load_or_create(&path).map_err(failed)?;
    println!("{}", signer.verifier());
    Ok(exit::PASS)
}
