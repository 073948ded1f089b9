//! The lint of an operations file's `raw_sql` operations before
//! `gate migrate start` runs them: each `up` goes through the migration
//! validator with the rules and settings `gate migrate lint` uses (the
//! policy's `[migrations]` table, or the built-in defaults), as a script run
//! inside a transaction after the `SET LOCAL lock_timeout` gate runs first,
//! since gate runs it so, inside the expand's transaction. A finding
//! that would fail `gate migrate lint` refuses the file, unless the
//! operation says `lint = "warn"`; findings that only warn are shown.

use std::time::Duration;

use gate_core::finding::FindingReport;
use gate_core::model::Status;
use gate_eval::policy::{MigrationsConfig, Policy};
use gate_migrate::expand::ops::{LintMode, Located, MigrationFile, Operation};
use gate_migrate::layout::{Migration, Script, Tool};
use gate_migrate::lint;
use gate_migrate::pending::Scope;

use crate::cmd::shared;
use crate::exit;

/// One finding as a line: `rule (status): message (line N of up)`.
fn line_of(f: &FindingReport) -> String {
    let at = f
        .location
        .as_ref()
        .and_then(|l| l.line)
        .map(|n| format!(" (line {n} of `up`)"))
        .unwrap_or_default();
    format!(
        "  {} ({}): {}{at}",
        f.rule.as_deref().unwrap_or("-"),
        f.status.as_str(),
        f.message
    )
}

/// The validator's view of one raw_sql's `up`, after the lock_timeout gate
/// sets (on the same line, so the lines of `up` keep their numbers).
fn migration_of(file: &MigrationFile, at: &Located, up: &str, lock_timeout: Duration) -> Migration {
    Migration {
        version: file.name.clone(),
        name: file.name.clone(),
        tool: Tool::Plain,
        up: Script {
            path: format!("{}:{}:{}", file.path.display(), at.line, at.column),
            file: file.path.clone(),
            contents: format!(
                "SET LOCAL lock_timeout = '{}ms'; {up}",
                lock_timeout.as_millis()
            ),
            first_line: 1,
            in_transaction: true,
        },
        down: None,
    }
}

/// Lints every raw_sql of `file`; `Err` (exit 2, reported) when one is
/// refused.
pub async fn lint(
    file: &MigrationFile,
    policy: Option<&Policy>,
    lock_timeout: Duration,
) -> Result<(), u8> {
    let raw: Vec<(&Located, &str, LintMode)> = file
        .operations
        .iter()
        .filter_map(|at| match &at.op {
            Operation::RawSql { up, lint, .. } => Some((at, up.as_str(), *lint)),
            _ => None,
        })
        .collect();
    if raw.is_empty() {
        return Ok(());
    }
    let runtime = shared::runtime()?;
    let validator = lint::load_validator(&runtime, policy, &shared::cwd()?, shared::clock()?)
        .await
        .map_err(exit::report)?;
    let config = policy
        .map(|p| p.migrations.clone())
        .unwrap_or_else(|| MigrationsConfig {
            assume_in_transaction: true,
            ..MigrationsConfig::default()
        });
    for (at, up, mode) in raw {
        let migration = migration_of(file, at, up, lock_timeout);
        let findings = lint::validate(
            &runtime,
            &validator,
            &[migration],
            &config,
            Scope::Migration,
        )
        .await
        .map_err(exit::report)?
        .findings;
        let shown: Vec<&FindingReport> = findings
            .iter()
            .filter(|f| f.status >= Status::Warn && f.exemption.is_none())
            .collect();
        let refused = mode == LintMode::Error && shown.iter().any(|f| f.status >= Status::Fail);
        if shown.is_empty() {
            continue;
        }
        let lines: Vec<String> = shown.iter().map(|f| line_of(f)).collect();
        let head = format!(
            "{}:{}:{}: raw_sql: the migration validator (`gate migrate lint`'s rules) finds in `up`:\n{}",
            file.path.display(),
            at.line,
            at.column,
            lines.join("\n")
        );
        if refused {
            return Err(exit::report(format_args!(
                "{head}\nhelp: raw_sql runs as it is, in both versions at once; make it pass, \
                 or give the operation `lint = \"warn\"` to run it anyway"
            )));
        }
        eprintln!("warning: {head}");
    }
    Ok(())
}
