//! Running the pipeline's stages ([`crate::pipeline`]): gates before any
//! traffic, the approval that opens the rollout, the rollout's own stage,
//! and the verify period after promotion. Each change of a stage is a
//! `stage` entry in the audit log, written before the stage acts; moving a
//! stage forward fails closed, while marking stages failed or skipped on the
//! way to a rollback never blocks it.

use std::time::Duration;

use gate_audit::entry::StageState as Recorded;
use serde_json::json;

use super::{Controller, RolloutError};
use crate::pipeline::{Progress, StageKind, StageState};
use crate::state::Phase;
use gate_strategy_protocol::Verdict;

impl Controller {
    /// The stages of this run, pending, unless a resumed run has them.
    pub(super) fn init_stages(&mut self) {
        if self.state.stages.is_empty() {
            self.state.stages = self.spec.stages.iter().map(StageState::pending).collect();
        }
    }

    pub(super) fn stage_of(&self, kind: &str) -> Option<usize> {
        self.spec.stages.iter().position(|s| s.kind.name() == kind)
    }

    pub(super) fn progress(&self, i: usize) -> Progress {
        self.state
            .stages
            .get(i)
            .map_or(Progress::Pending, |s| s.progress)
    }

    /// Moves stage `i` to `progress`, recording it first.
    pub(super) async fn set_stage(
        &mut self,
        i: usize,
        progress: Progress,
        detail: Option<String>,
    ) -> Result<(), RolloutError> {
        let recorded = match progress {
            Progress::Pending => None,
            Progress::Running => Some(Recorded::Started),
            Progress::Passed => Some(Recorded::Passed),
            Progress::Failed => Some(Recorded::Failed),
            Progress::Skipped => Some(Recorded::Skipped),
        };
        let name = self.spec.stages[i].name.clone();
        if let Some(state) = recorded {
            let draft = self
                .recorder
                .stage(&self.state.run_id, &name, state, detail.clone());
            self.record_draft(draft).await?;
        }
        let now = self.now_ms();
        if let Some(s) = self.state.stages.get_mut(i) {
            if progress == Progress::Running {
                s.started_unix_ms = Some(self.state.started_unix_ms + now);
            } else if progress.finished() {
                s.ended_unix_ms = Some(self.state.started_unix_ms + now);
            }
            s.progress = progress;
            s.detail = detail.clone();
        }
        self.events.emit(
            "stage",
            &format!(
                "stage {name}: {progress}{}",
                detail.map_or(String::new(), |d| format!(" ({d})"))
            ),
            json!({ "stage": name, "progress": progress }),
        );
        Ok(())
    }

    /// Runs every `gate` stage in order, recording each evaluation; the
    /// reason of the first that fails.
    pub(super) async fn gate_stages(&mut self) -> Result<Option<String>, RolloutError> {
        for i in 0..self.spec.stages.len() {
            let StageKind::Gate(gate) = self.spec.stages[i].kind.clone() else {
                continue;
            };
            if self.progress(i) == Progress::Passed {
                continue;
            }
            self.set_stage(i, Progress::Running, None).await?;
            let run = super::super::preflight::run(
                &self.runtime,
                &gate,
                &self.spec.dir,
                self.clock,
                &self.hosted,
            )
            .await;
            if let Some(record) = run.record {
                let draft = gate_audit::Draft {
                    run_id: Some(self.state.run_id.clone()),
                    ..gate_audit::Draft::new(record)
                };
                self.record_draft(draft).await?;
            }
            match run.outcome {
                Ok(summary) => {
                    self.set_stage(i, Progress::Passed, Some(summary)).await?;
                    self.save().await?;
                }
                Err(reason) => {
                    let name = self.spec.stages[i].name.clone();
                    self.set_stage(i, Progress::Failed, Some(reason.clone()))
                        .await?;
                    return Ok(Some(format!("{name} failed: {reason}")));
                }
            }
        }
        Ok(None)
    }

    /// The `approval` stage: `true` while it waits. Approvals arrive as
    /// commands for step 0 (signed under `[approvals]`); once the step is
    /// approved the stage passes and a new approval window opens, so the
    /// same signatures approve nothing else.
    pub(super) async fn approval_stage(&mut self) -> Result<bool, RolloutError> {
        let Some(i) = self.stage_of("approval") else {
            return Ok(false);
        };
        match self.progress(i) {
            Progress::Passed => return Ok(false),
            Progress::Pending => {
                self.set_stage(i, Progress::Running, None).await?;
                self.save().await?;
            }
            _ => {}
        }
        if let Some(approval) = self.state.approval.take() {
            let detail = format!("approved by {} at {}", approval.by, approval.at);
            self.set_stage(i, Progress::Passed, Some(detail)).await?;
            self.state.begin_approval_window();
            self.save().await?;
            return Ok(false);
        }
        self.await_approval("approval stage: no traffic moves before it")
            .await;
        Ok(true)
    }

    /// The rollout's own stage begins with the strategy's first decision.
    pub(super) async fn rollout_stage_running(&mut self) -> Result<(), RolloutError> {
        if let Some(i) = self.stage_of("rollout")
            && self.progress(i) == Progress::Pending
        {
            self.set_stage(i, Progress::Running, None).await?;
            self.save().await?;
        }
        Ok(())
    }

    /// At promotion: the rollout stage passed; with a `verify` stage, the
    /// run enters `verifying` (`true`) instead of ending.
    pub(super) async fn begin_verify(&mut self) -> Result<bool, RolloutError> {
        if let Some(i) = self.stage_of("rollout")
            && self.progress(i) != Progress::Passed
        {
            self.set_stage(i, Progress::Passed, None).await?;
        }
        let Some(i) = self.stage_of("verify") else {
            return Ok(false);
        };
        if self.progress(i) == Progress::Pending {
            self.set_stage(i, Progress::Running, None).await?;
            self.state.verify_started_ms = Some(self.now_ms());
        }
        self.state.phase = Phase::Verifying;
        self.state.analysis.clear();
        self.save().await?;
        self.windows.reset(&*self.driver).await;
        Ok(true)
    }

    /// One round of the `verify` stage: measure, roll back on a failure,
    /// finish the promotion once the period is over.
    pub(super) async fn verify_tick(&mut self) -> Result<Option<super::Outcome>, RolloutError> {
        let Some(i) = self.stage_of("verify") else {
            return self.finish_promotion("promoted").await.map(Some);
        };
        let StageKind::Verify { duration, analysis } = self.spec.stages[i].kind.clone() else {
            unreachable!("stage_of(\"verify\") is a verify stage");
        };
        let started = self.state.verify_started_ms.unwrap_or(0);
        let elapsed = Duration::from_millis(self.now_ms().saturating_sub(started));
        if elapsed >= duration {
            let detail = format!("{} s without a failed analysis", duration.as_secs());
            self.set_stage(i, Progress::Passed, Some(detail.clone()))
                .await?;
            return self.finish_promotion(&detail).await.map(Some);
        }
        if let Err(e) = self.analyse(&analysis).await {
            return match e {
                RolloutError::Failed(e) => self.rollback(&e).await.map(Some),
                other => Err(other),
            };
        }
        if let Some(reason) = self.verify_failure(&analysis) {
            return self.rollback(&reason).await.map(Some);
        }
        let pause = analysis
            .iter()
            .filter_map(|n| self.spec.analysis(n).map(|a| a.interval))
            .min()
            .unwrap_or(Duration::from_secs(1));
        self.wait(pause.min(duration - elapsed)).await;
        Ok(None)
    }

    /// Why the verify period failed, if it did: a failed measurement, or
    /// more errors in a row than the analysis allows.
    fn verify_failure(&self, names: &[String]) -> Option<String> {
        names.iter().find_map(|name| {
            let measurements = self.state.analysis.get(name)?;
            let last = measurements.last()?;
            if last.result == Verdict::Failure {
                return Some(format!("verify: analysis {name} failed after promotion"));
            }
            let limit = self.spec.analysis(name)?.consecutive_error_limit as usize;
            let errors = measurements
                .iter()
                .rev()
                .take_while(|m| m.result == Verdict::Error)
                .count();
            (errors > limit).then(|| {
                format!("verify: analysis {name} could not be measured {errors} times in a row")
            })
        })
    }

    /// On the way to a rollback or abort: the running stage failed, the
    /// stages not reached are skipped. Never blocks the rollback.
    pub(super) async fn stop_stages(&mut self, reason: &str) {
        for i in 0..self.state.stages.len() {
            let (progress, detail) = match self.progress(i) {
                Progress::Running => (Progress::Failed, Some(reason.to_string())),
                Progress::Pending => (Progress::Skipped, None),
                _ => continue,
            };
            if let Err(e) = self.set_stage(i, progress, detail).await {
                self.events.emit("error", &e.to_string(), json!({}));
                self.unrecorded.get_or_insert(e.to_string());
                if let Some(s) = self.state.stages.get_mut(i) {
                    s.progress = progress;
                }
            }
        }
    }
}
