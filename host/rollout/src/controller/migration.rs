//! The `migration` stage in the run ([`crate::migration`]): started before
//! any traffic moves, completed before the promotion is saved, rolled back
//! once all traffic is back on stable. Each action is a `migrate` entry in
//! the audit log, under the run id, written before it acts.

use gate_audit::entry::MigrateCommand;
use serde_json::json;

use super::{Controller, RolloutError};
use crate::migration::{Migration, Undone};
use crate::pipeline::{Progress, StageKind};

impl Controller {
    fn migration(&self) -> Option<(usize, Migration)> {
        let i = self.stage_of("migration")?;
        match &self.spec.stages[i].kind {
            StageKind::Migration(m) => Some((i, m.clone())),
            _ => None,
        }
    }

    async fn record_migrate(
        &mut self,
        m: &Migration,
        command: MigrateCommand,
    ) -> Result<(), RolloutError> {
        let record = m.audit(command).map_err(RolloutError::Failed)?;
        let draft = gate_audit::Draft {
            run_id: Some(self.state.run_id.clone()),
            ..gate_audit::Draft::new(record)
        };
        self.record_draft(draft).await
    }

    /// Expands, backfills and validates; the reason when it fails, after
    /// undoing what this file's migration had expanded. A stage left
    /// running by a killed runner is started again, which resumes.
    pub(super) async fn migration_start(&mut self) -> Result<Option<String>, RolloutError> {
        let Some((i, m)) = self.migration() else {
            return Ok(None);
        };
        if self.progress(i).finished() {
            return Ok(None);
        }
        if self.progress(i) == Progress::Pending {
            self.set_stage(i, Progress::Running, None).await?;
            self.save().await?;
        }
        self.record_migrate(&m, MigrateCommand::Start).await?;
        match m.start(self.clock).await {
            Ok(detail) => {
                self.events.emit(
                    "migration",
                    &detail,
                    json!({ "stage": self.spec.stages[i].name, "expanded": true }),
                );
                if let Some(s) = self.state.stages.get_mut(i) {
                    s.detail = Some(detail);
                }
                self.save().await?;
                Ok(None)
            }
            Err(reason) => {
                let name = self.spec.stages[i].name.clone();
                if let Some(problem) = self.undo_migration(&m).await {
                    self.events.emit("error", &problem, json!({}));
                }
                self.set_stage(i, Progress::Failed, Some(reason.clone()))
                    .await?;
                Ok(Some(format!("{name} failed: {reason}")))
            }
        }
    }

    /// At promotion: validates and contracts. `Some(problem)` when it could
    /// not: the candidate keeps all traffic and both versions stay served
    /// until `gate migrate complete` succeeds.
    pub(super) async fn migration_complete(&mut self) -> Result<Option<String>, RolloutError> {
        let Some((i, m)) = self.migration() else {
            return Ok(None);
        };
        if self.progress(i) == Progress::Passed {
            return Ok(None);
        }
        self.record_migrate(&m, MigrateCommand::Complete).await?;
        match m.complete(self.clock).await {
            Ok(detail) => {
                self.events.emit(
                    "migration",
                    &detail,
                    json!({ "stage": self.spec.stages[i].name, "contracted": true }),
                );
                self.set_stage(i, Progress::Passed, Some(detail)).await?;
                Ok(None)
            }
            Err(reason) => {
                let name = self.spec.stages[i].name.clone();
                self.set_stage(i, Progress::Failed, Some(reason.clone()))
                    .await?;
                Ok(Some(format!(
                    "migration stage `{name}` could not complete ({reason}); both versions are still served: fix it and run `gate migrate complete`"
                )))
            }
        }
    }

    /// On rollback or abort: rolls back this file's migration if it is in
    /// progress. Never blocks the rollback; `Some(problem)` when it failed.
    pub(super) async fn migration_rollback(&mut self) -> Option<String> {
        let (i, m) = self.migration()?;
        // Passed: contracted; pending or skipped: never started.
        if !matches!(self.progress(i), Progress::Running | Progress::Failed) {
            return None;
        }
        self.undo_migration(&m).await
    }

    async fn undo_migration(&mut self, m: &Migration) -> Option<String> {
        match m.in_progress(self.clock).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(format!("migration rollback failed: {e}")),
        }
        if let Err(e) = self.record_migrate(m, MigrateCommand::Rollback).await {
            self.events.emit("error", &e.to_string(), json!({}));
            self.unrecorded.get_or_insert(e.to_string());
        }
        match m.rollback(self.clock).await {
            Ok(Undone::RolledBack(detail)) => {
                self.events
                    .emit("migration", &detail, json!({ "rolled_back": true }));
                None
            }
            // Completed or rolled back by someone else since.
            Ok(Undone::NothingToUndo(_)) => None,
            Err(e) => Some(format!("migration rollback failed: {e}")),
        }
    }
}
