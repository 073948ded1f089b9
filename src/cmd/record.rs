//! Recording decisions in the audit log: the `--audit` and `--run-id`
//! options the deciding commands share, the records built from a report
//! or a migration plan, and the append that must succeed before a command
//! shows its verdict (if it fails, the command exits 2 and shows none).

use std::path::{Path, PathBuf};

use gate_audit::entry::{Migrate, MigrateCommand, MigrationRef, PolicyRef, Verdict};
use gate_audit::{AuditLog, Draft, Record, key};
use gate_core::finding::FindingReport;
use gate_eval::audit_record::{self, outcomes};
use gate_eval::policy::Policy;
use gate_eval::report::Report;
use gate_migrate::layout::Migration;
use sha2::{Digest, Sha256};

use crate::exit;

/// Where and under which run a decision is recorded.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RecordArgs {
    /// Audit directory to record the decision in (default: the policy's [audit] dir, else .gate/audit beside the policy)
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// The CI run or change this decision belongs to, recorded with it
    #[arg(long, value_name = "ID", env = "GATE_RUN_ID", hide_env_values = true)]
    pub run_id: Option<String>,
}

impl RecordArgs {
    /// `--audit`, else the policy's `[audit] dir`, else `.gate/audit`.
    pub fn dir(&self, policy: Option<&Policy>) -> PathBuf {
        self.audit.clone().unwrap_or_else(|| {
            policy.map_or_else(|| PathBuf::from(".gate/audit"), |p| p.audit.dir.clone())
        })
    }

    /// Appends `record` to the audit log; on failure prints why and
    /// returns exit code 2, so the caller shows no verdict.
    pub fn append(&self, policy: Option<&Policy>, record: Record) -> Result<(), u8> {
        let dir = self.dir(policy);
        let failed = |e: &dyn std::fmt::Display| {
            exit::report(format_args!(
                "the decision could not be recorded in the audit log {}, so it is not \
                 reported:\n{e}",
                dir.display()
            ))
        };
        let signer = key::path()
            .and_then(|p| key::load_or_create(&p))
            .map_err(|e| failed(&e))?;
        let log = AuditLog::open(&dir, true)
            .map_err(|e| failed(&e))?
            .ok_or_else(|| failed(&"the directory could not be created"))?;
        let draft = Draft {
            run_id: self.run_id.clone(),
            ..Draft::new(record)
        };
        let appended = log.append(&signer, draft).map_err(|e| failed(&e))?;
        if let Some(r) = appended.recovered {
            tracing::warn!(
                "audit log {}: an interrupted append was cut off ({} bytes, {} entries); \
                 recorded as entry {}",
                dir.display(),
                r.discarded_bytes,
                r.discarded_entries,
                appended.entry.seq - 1
            );
        }
        Ok(())
    }
}

/// The policy file as it is now: its path and digest.
pub fn policy_ref(path: &Path) -> Result<PolicyRef, u8> {
    audit_record::policy_ref(path)
        .map_err(|e| exit::report(format_args!("reading {}: {e}", path.display())))
}

fn migration_refs(migrations: &[Migration]) -> Vec<MigrationRef> {
    migrations
        .iter()
        .map(|m| MigrationRef {
            path: m.up.path.clone(),
            sha256: hex::encode(Sha256::digest(m.up.contents.as_bytes())),
        })
        .collect()
}

/// The `migrate` record of a `lint` or `trace` report.
pub fn migrate_report(
    command: MigrateCommand,
    report: &Report,
    policy: Option<PolicyRef>,
    migrations: &[Migration],
) -> Record {
    let checks = outcomes(report);
    Record::Migrate(Migrate {
        command,
        policy,
        migrations: migration_refs(migrations),
        verdict: report.verdict,
        findings: checks.iter().map(|c| c.findings).sum(),
        checks,
    })
}

/// The `migrate` record of a plan: its findings over every statement.
pub fn migrate_plan(
    policy: Option<PolicyRef>,
    migrations: &[Migration],
    findings: &[FindingReport],
) -> Record {
    Record::Migrate(Migrate {
        command: MigrateCommand::Plan,
        policy,
        migrations: migration_refs(migrations),
        verdict: Verdict::Pass,
        checks: Vec::new(),
        findings: findings
            .iter()
            .filter(|f| f.status != gate_core::model::Status::Pass)
            .count() as u64,
    })
}
