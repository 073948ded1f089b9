//! The latest `migrate` entries (lint, plan, trace) in the audit log of each
//! served policy that has `[migrations]`: their verdict, the migration files
//! they covered and the findings of each rule.

use gate_audit::Record;
use gate_audit::entry::Migrate;
use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;

/// How many of the latest decisions are shown per policy.
pub const SHOWN: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct PolicyMigrations {
    pub policy: String,
    pub decisions: Vec<Decision>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    pub seq: u64,
    pub time: String,
    pub actor: String,
    #[serde(flatten)]
    pub migrate: Migrate,
}

impl Decision {
    pub fn verdict_name(&self) -> String {
        self.migrate.verdict.to_string()
    }

    pub fn command_name(&self) -> String {
        self.migrate.command.to_string()
    }
}

/// Every served policy with `[migrations]`, newest decision first.
pub fn all(app: &App) -> Result<Vec<PolicyMigrations>, ApiError> {
    let mut out = Vec::new();
    for policy in app
        .policies
        .iter()
        .filter(|p| p.migrations.origin.is_some())
    {
        let looked = app.audit(&policy.audit.dir)?.look()?;
        let newest: Vec<_> = looked
            .slots()
            .iter()
            .rev()
            .filter(|s| s.kind == gate_audit::Kind::Migrate)
            .take(SHOWN)
            .copied()
            .collect();
        let decisions = looked
            .read(&newest)?
            .into_iter()
            .filter_map(|e| match e.record {
                Record::Migrate(m) => Some(Decision {
                    seq: e.seq,
                    time: e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    actor: e.actor,
                    migrate: m,
                }),
                _ => None,
            })
            .collect();
        out.push(PolicyMigrations {
            policy: policy.name.clone(),
            decisions,
        });
    }
    Ok(out)
}
