//! The rollout controller: a persisted state machine. Each tick it handles
//! commands, reconciles with the router, asks the strategy plugin for the
//! next action and carries it out. Every change to the router is preceded by
//! a recorded intent and followed by a recorded result, so a run killed at any
//! point can be resumed by running `gate rollout` again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gate_strategy_protocol::{self as protocol, Action, Decision};
use serde_json::{Value, json};

use super::analysis::{self, Windows};
use super::approvals::{self, ApprovalAction, ApprovalRecord, Tally};
use super::driver::{RouterError, TrafficDriver};
use super::events::Events;
use super::failpoint;
use super::health;
use super::hooks;
use super::record::{self, Recorder};
use super::spec::Spec;
use super::state::{
    self, Approval, Command, CommandKind, HealthStatus, Intent, Phase, RolloutState, unix_ms,
};
use super::store::{self, Lease, Store, StoreError};
use super::strategy::{DecideError, StrategyPlugin};
use super::traffic::TrafficMode;

mod incident;
mod migration;
mod replace;
mod stages;
use gate_audit::entry::{RolloutEvent, os_user};
use gate_core::clock::Clock;
use gate_eval::hosted::HostedChecks;
use gate_sandbox::plugin::Runtime;

/// How a rollout ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The candidate serves all traffic. `problem`: the migration stage
    /// could not complete, or a `post_promote` hook failed.
    Promoted {
        problem: Option<String>,
    },
    RolledBack {
        reason: String,
    },
    /// Stopped before any traffic moved.
    Aborted {
        reason: String,
    },
}

/// Why a rollout could not run at all (exit 2), or stopped without an outcome.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    /// This runner lost its lease to another and stopped without touching
    /// the router (exit 2).
    #[error("{0}")]
    Stopped(String),
    /// The audit log could not record an action, so it did not happen
    /// (exit 2).
    #[error("the audit log {location} could not record this, so it did not happen: {reason}")]
    Unrecorded { location: String, reason: String },
}

/// The router failed: the rollout goes back to stable.
impl From<RouterError> for RolloutError {
    fn from(e: RouterError) -> Self {
        RolloutError::Failed(e.to_string())
    }
}

impl From<StoreError> for RolloutError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unusable(m) => RolloutError::Usage(m),
            lost @ StoreError::LeaseLost { .. } => RolloutError::Stopped(lost.to_string()),
            other => RolloutError::Failed(other.to_string()),
        }
    }
}

pub struct Options {
    pub clock: Clock,
    pub quiet: bool,
    /// Start afresh even if the last rollout of this spec has finished.
    pub restart: bool,
    /// The checks the host runs itself, for the pre-flight gate.
    pub hosted: HostedChecks,
}

pub struct Controller {
    spec: Spec,
    plugin_spec: protocol::Spec,
    mode: TrafficMode,
    driver: Box<dyn TrafficDriver>,
    strategy: StrategyPlugin,
    state: RolloutState,
    events: Events,
    windows: Windows,
    store: Box<dyn Store>,
    lease: Lease,
    recorder: Recorder,
    /// Why an entry of a rollback could not be recorded: the rollback went
    /// ahead (it must never wait on the log), and the run ends with exit 2.
    unrecorded: Option<String>,
    clock: Clock,
    runtime: Arc<Runtime>,
    awaiting_announced: Option<u32>,
    hosted: HostedChecks,
}

/// The user running a command, for approvals and rollbacks.
pub fn whoami() -> String {
    std::env::var("GATE_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The runner's name in a lease: host and pid.
pub fn runner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// The store of `spec`, opened.
pub async fn open_store(spec: &Spec) -> Result<Box<dyn Store>, RolloutError> {
    Ok(store::open(spec).await?)
}

impl Controller {
    /// Takes the lease and loads (or creates) the state.
    pub async fn open(
        spec: Spec,
        runtime: Arc<Runtime>,
        opts: &Options,
    ) -> Result<Controller, RolloutError> {
        let store = open_store(&spec).await?;
        let lease = store.acquire(&runner()).await?.map_err(|holder| {
            RolloutError::Usage(format!(
                "rollout `{}` is already running ({holder}); use `gate status`, `gate promote`, `gate abort` or `gate rollback` against it",
                spec.name,
            ))
        })?;
        let state = Self::initial_state(&spec, &*store, &lease, opts).await?;
        let strategy = StrategyPlugin::load(runtime.clone(), &spec, opts.clock)
            .map_err(RolloutError::Usage)?;
        let notify = super::notify::notifier(&spec)
            .await
            .map_err(RolloutError::Usage)?
            .map(|n| super::notify::RolloutNotify::new(&spec, n, &state.run_id, &state.started_by));
        let events = Events::new(store.events()?, &spec.name, state.started_unix_ms)
            .quiet(opts.quiet)
            .notify(notify);
        Ok(Controller {
            plugin_spec: spec.to_plugin_spec(),
            mode: TrafficMode::of(&spec),
            driver: super::driver::for_router(&spec.router),
            strategy,
            state,
            events,
            windows: Windows::default(),
            recorder: Recorder::new(&spec),
            store,
            lease,
            unrecorded: None,
            clock: opts.clock,
            hosted: opts.hosted.clone(),
            runtime,
            awaiting_announced: None,
            spec,
        })
    }

    /// The stored state to resume, or a fresh one (setting a finished
    /// rollout aside).
    async fn initial_state(
        spec: &Spec,
        store: &dyn Store,
        lease: &Lease,
        opts: &Options,
    ) -> Result<RolloutState, RolloutError> {
        let mut state = match store.load().await? {
            Some(s) if s.spec_digest == spec.digest && !(s.phase.terminal() && opts.restart) => s,
            Some(s) if !s.phase.terminal() => {
                return Err(RolloutError::Usage(format!(
                    "a rollout of another revision of spec `{}` is still in progress ({:?}, state in {}); finish it by running that spec again, or `gate rollback`",
                    spec.name,
                    s.phase,
                    store.describe()
                )));
            }
            other => {
                if let Some(old) = other {
                    store.archive(lease, &old).await?;
                }
                let mut fresh =
                    RolloutState::new(&spec.name, &spec.digest, spec.strategy.kind(), unix_ms());
                fresh.started_by = os_user();
                fresh
            }
        };
        // A state written before run ids existed gets one now (approvals bind it).
        if state.run_id.is_empty() {
            state.run_id = state::new_run_id();
        }
        Ok(state)
    }

    pub fn state(&self) -> &RolloutState {
        &self.state
    }

    fn now_ms(&self) -> u64 {
        unix_ms().saturating_sub(self.state.started_unix_ms)
    }

    /// Why an entry could not be recorded, then run ended with exit 2.
    pub fn unrecorded(&self) -> Option<&str> {
        self.unrecorded.as_deref()
    }

    async fn save(&mut self) -> Result<(), RolloutError> {
        Ok(self.store.save(&self.lease, &mut self.state).await?)
    }

    /// Records `draft` before the action it describes; if it cannot be
    /// written, the action must not happen.
    async fn record_draft(&mut self, draft: gate_audit::Draft) -> Result<(), RolloutError> {
        self.store
            .record(draft)
            .await
            .map(drop)
            .map_err(|e| RolloutError::Unrecorded {
                location: self.store.audit_location(),
                reason: e.to_string(),
            })
    }

    /// Records a rollout event (see [`Self::record_draft`]).
    async fn record(&mut self, event: RolloutEvent) -> Result<(), RolloutError> {
        let draft = self.recorder.rollout(&self.state.run_id, event);
        self.record_draft(draft).await
    }

    /// Records a step of a rollback, which goes ahead even when the log
    /// cannot take it: the failure is kept for the exit code.
    async fn record_rollback(&mut self, event: RolloutEvent) {
        if let Err(e) = self.record(event).await {
            self.events.emit("error", &e.to_string(), json!({}));
            self.unrecorded.get_or_insert(e.to_string());
        }
    }

    /// The lease is still this runner's (extended); checked before every
    /// router write.
    async fn fence(&mut self) -> Result<(), RolloutError> {
        Ok(self.store.fence(&self.lease).await?)
    }

    async fn pending_commands(&self) -> Vec<Command> {
        match self.store.pending().await {
            Ok(c) => c,
            Err(e) => {
                self.events
                    .emit("error", &format!("reading commands: {e}"), json!({}));
                Vec::new()
            }
        }
    }

    /// Runs the rollout to an outcome, delivering its notifications beside
    /// it; at the end, what is left gets at most `FLUSH_GRACE`.
    pub async fn run(&mut self) -> Result<Outcome, RolloutError> {
        let delivery = self.events.notifier().map(|n| n.spawn());
        let outcome = self.run_to_outcome().await;
        if let Some(delivery) = delivery {
            let round = delivery.finish(super::notify::FLUSH_GRACE).await;
            if round.pending > 0 {
                self.events.emit(
                    "notify",
                    &format!(
                        "{} notification(s) not delivered yet; the next run or `gate notify deliver` sends them",
                        round.pending
                    ),
                    json!({ "pending": round.pending, "delivered": round.delivered }),
                );
            }
        }
        outcome
    }

    async fn run_to_outcome(&mut self) -> Result<Outcome, RolloutError> {
        if let Some(outcome) = self.resume().await? {
            return Ok(outcome);
        }
        loop {
            if let Some(outcome) = self.tick().await? {
                return Ok(outcome);
            }
        }
    }

    /// Picks up where the persisted phase left off: a finished rollout reports
    /// its outcome, an interrupted one repeats what was in flight.
    async fn resume(&mut self) -> Result<Option<Outcome>, RolloutError> {
        let reason = self.state.outcome.clone();
        match self.state.phase {
            Phase::Promoted => {
                self.events.emit(
                    "done",
                    "this spec was already promoted; pass --restart to run it again",
                    json!({}),
                );
                Ok(Some(Outcome::Promoted { problem: None }))
            }
            Phase::RolledBack => {
                let reason = reason.unwrap_or_default();
                self.events.emit(
                    "done",
                    &format!(
                        "this spec was already rolled back ({reason}); pass --restart to try again"
                    ),
                    json!({}),
                );
                Ok(Some(Outcome::RolledBack { reason }))
            }
            Phase::Aborted => Ok(Some(Outcome::Aborted {
                reason: reason.unwrap_or_default(),
            })),
            Phase::Starting => self.start().await,
            Phase::Verifying => {
                self.events.emit(
                    "resume",
                    "resuming the verify stage after promotion",
                    json!({}),
                );
                self.windows.reset(&*self.driver).await;
                Ok(None)
            }
            Phase::RollingBack => {
                self.events
                    .emit("resume", "resuming an interrupted rollback", json!({}));
                let reason = reason.unwrap_or_else(|| "interrupted rollback".into());
                self.rollback(&reason).await.map(Some)
            }
            Phase::Progressing => {
                self.events.emit(
                    "resume",
                    &format!(
                        "resuming at step {} with {}% on the candidate",
                        self.state.step, self.state.candidate_percent
                    ),
                    json!({ "step": self.state.step, "intent": self.state.intent }),
                );
                if let Some(outcome) = self.resume_intent().await? {
                    return Ok(Some(outcome));
                }
                self.windows.reset(&*self.driver).await;
                Ok(None)
            }
        }
    }

    /// One round: commands, reconciliation with the router, then one decision
    /// of the strategy plugin, carried out. `Some` once the rollout has ended.
    async fn tick(&mut self) -> Result<Option<Outcome>, RolloutError> {
        self.fence().await?;
        if let Some(outcome) = self.process_commands().await? {
            return Ok(Some(outcome));
        }
        if self.state.phase == Phase::Verifying {
            return self.verify_tick().await;
        }
        if self.approval_stage().await? {
            return Ok(None);
        }
        self.rollout_stage_running().await?;
        if let Err(e) = self.reconcile().await {
            self.events.emit("error", &e.to_string(), json!({}));
        }
        let observed = self.observed();
        let decision = match self.strategy.decide(&self.plugin_spec, &observed).await {
            Ok(d) => d,
            Err(DecideError::Invalid(e)) => {
                self.events.emit("error", &e, json!({}));
                return self.rollback(&e).await.map(Some);
            }
            Err(DecideError::Plugin(e)) => return self.strategy_failed(e).await.map(Some),
        };
        if let Some(memory) = &decision.memory {
            self.state.memory = memory.clone();
        }
        self.state.last_action = Some(decision.clone());
        self.act(decision).await
    }

    /// The plugin refused or failed: stop before traffic moves, else roll back.
    async fn strategy_failed(&mut self, e: String) -> Result<Outcome, RolloutError> {
        self.events.emit("error", &e, json!({}));
        if self.state.candidate_percent == 0 && self.state.replaced.is_empty() {
            self.state.phase = Phase::Aborted;
            self.state.outcome = Some(e.clone());
            self.save().await?;
            return Err(RolloutError::Usage(e));
        }
        self.rollback(&format!("strategy error: {e}")).await
    }

    /// Carries out one decision. `Some` once the rollout has ended.
    async fn act(&mut self, decision: Decision) -> Result<Option<Outcome>, RolloutError> {
        let Decision { action, reason, .. } = decision;
        let result = match action {
            Action::SetWeights {
                candidate_percent,
                step,
            } => match u8::try_from(candidate_percent).ok().filter(|p| *p <= 100) {
                Some(p) => self.set_weights(p, step, &reason).await,
                None => Err(RolloutError::Failed(
                    "strategy returned set-weights without a valid candidate_percent".to_string(),
                )),
            },
            Action::Wait { ms } => {
                self.wait(Duration::from_millis(ms.clamp(1, 60_000))).await;
                Ok(())
            }
            Action::Analyse { names } if names.is_empty() => {
                let all: Vec<String> = self.spec.analysis.iter().map(|a| a.name.clone()).collect();
                self.analyse(&all).await
            }
            Action::Analyse { names } => self.analyse(&names).await,
            Action::AwaitApproval => {
                self.await_approval(&reason).await;
                Ok(())
            }
            Action::Replace { server, step } => self.replace(&server, step, &reason).await,
            Action::Promote | Action::Done => return self.promote(&reason).await,
            Action::Rollback if reason.is_empty() => {
                return self
                    .rollback("the strategy decided to roll back")
                    .await
                    .map(Some);
            }
            Action::Rollback => return self.rollback(&reason).await.map(Some),
        };
        match result {
            Ok(()) => Ok(None),
            // The router or a health check failed: back to stable.
            Err(RolloutError::Failed(e)) => {
                self.events.emit("error", &e, json!({}));
                self.rollback(&e).await.map(Some)
            }
            // Not recorded, or no longer this runner's: stop, touching nothing.
            Err(e) => Err(e),
        }
    }

    /// Pre-flight gate and `pre_rollout` hooks, then `progressing`.
    async fn start(&mut self) -> Result<Option<Outcome>, RolloutError> {
        self.record(RolloutEvent::Start {
            strategy: self.spec.strategy.kind().to_string(),
            stable: self.spec.stable.version.clone(),
            candidate: self.spec.candidate.version.clone(),
        })
        .await?;
        self.save().await?;
        self.events.emit(
            "start",
            &format!(
                "{} rollout of `{}`: {} → {} via {}",
                self.spec.strategy.kind(),
                self.spec.name,
                self.spec.stable.version,
                self.spec.candidate.version,
                self.driver.describe()
            ),
            json!({ "strategy": self.spec.strategy.kind(), "plugin": self.strategy.name,
                    "stable": self.spec.stable.version, "candidate": self.spec.candidate.version }),
        );
        // The router must be reachable and every named server present before anything runs.
        let servers = self.driver.servers().await?;
        let mut named: Vec<&String> = self
            .spec
            .stable
            .servers
            .iter()
            .chain(&self.spec.candidate.servers)
            .collect();
        if let Some(r) = &self.spec.rolling {
            named.extend(&r.servers);
        }
        for n in named {
            if !servers.iter().any(|s| &s.name == n) {
                return Err(RolloutError::Usage(format!(
                    "server `{n}` is not in {}",
                    self.driver.describe()
                )));
            }
        }
        self.init_stages();
        if let Some(reason) = self.gate_stages().await? {
            return self.abort_before_traffic(&reason).await;
        }
        if let Some(reason) = self.migration_start().await? {
            return self.abort_before_traffic(&reason).await;
        }
        for cmd in self.spec.hooks.pre_rollout.clone() {
            let out = self.hook("pre_rollout", &cmd).await;
            if !out.ok {
                return self
                    .abort_before_traffic(&format!("pre_rollout hook failed: {}", out.summary))
                    .await;
            }
        }
        self.state.candidate_percent = self.mode.percent_of(&servers).unwrap_or(0);
        self.state.phase = Phase::Progressing;
        // Step 0 (before any traffic moves) starts now, not when pre-flight began.
        self.state.step_started_ms = self.now_ms();
        self.state.begin_approval_window();
        self.save().await?;
        failpoint::hit("after-state-write");
        self.windows.reset(&*self.driver).await;
        Ok(None)
    }

    async fn abort_before_traffic(
        &mut self,
        reason: &str,
    ) -> Result<Option<Outcome>, RolloutError> {
        self.record(RolloutEvent::Abort {
            reason: reason.to_string(),
        })
        .await?;
        self.stop_stages(reason).await;
        if let Some(problem) = self.migration_rollback().await {
            self.events.emit("error", &problem, json!({}));
        }
        self.note_trigger(reason);
        let _ = self.open_incident(None).await;
        self.state.phase = Phase::Aborted;
        self.state.outcome = Some(reason.to_string());
        self.save().await?;
        self.events.emit("aborted", reason, json!({}));
        Ok(Some(Outcome::Aborted {
            reason: reason.to_string(),
        }))
    }

    async fn hook(&self, which: &str, cmd: &str) -> hooks::CommandOutput {
        let out = hooks::run(
            cmd,
            &self.spec.dir,
            &[
                ("GATE_ROLLOUT", &self.spec.name),
                ("GATE_HOOK", which),
                ("GATE_STABLE_VERSION", &self.spec.stable.version),
                ("GATE_CANDIDATE_VERSION", &self.spec.candidate.version),
            ],
            self.spec.hooks.timeout,
        )
        .await;
        self.events.emit(
            if out.ok { "hook" } else { "error" },
            &format!(
                "{which}: `{cmd}`: {}",
                if out.ok { "ok" } else { &out.summary }
            ),
            json!({ "hook": which, "command": cmd, "ok": out.ok, "output": out.summary }),
        );
        out
    }

    /// Repeats an interrupted router change, then records it.
    async fn resume_intent(&mut self) -> Result<Option<Outcome>, RolloutError> {
        let Some(intent) = self.state.intent.clone() else {
            return Ok(None);
        };
        self.events.emit(
            "reconcile",
            "repeating the router change that was in flight when the last run stopped",
            json!({ "intent": intent }),
        );
        match intent {
            Intent::Weights {
                candidate_percent,
                step,
            } => match self.apply_weights(candidate_percent, step, "resumed").await {
                Err(RolloutError::Failed(e)) => {
                    self.events.emit("error", &e, json!({}));
                    self.rollback(&e).await.map(Some)
                }
                other => other.map(|()| None),
            },
            Intent::Replace { server, step, .. } => {
                match self.replace(&server, step, "resumed").await {
                    Err(RolloutError::Failed(e)) => {
                        self.events.emit("error", &e, json!({}));
                        self.rollback(&e).await.map(Some)
                    }
                    other => other.map(|()| None),
                }
            }
            Intent::Rollback => {
                let reason = self
                    .state
                    .outcome
                    .clone()
                    .unwrap_or_else(|| "interrupted rollback".into());
                self.rollback(&reason).await.map(Some)
            }
            Intent::Promote => self.promote("resumed").await,
        }
    }

    /// Approvals are recorded; a rollback or abort wins over everything.
    async fn process_commands(&mut self) -> Result<Option<Outcome>, RolloutError> {
        for cmd in self.pending_commands().await {
            match cmd.kind {
                CommandKind::Approve | CommandKind::Promote => {
                    self.record_approval(&cmd).await?;
                    self.store.done(&cmd).await?;
                }
                CommandKind::Abort | CommandKind::Rollback => {
                    let verb = if cmd.kind == CommandKind::Abort {
                        "aborted"
                    } else {
                        "rollback requested"
                    };
                    let reason = format!("{verb} by {} at {}", cmd.by, cmd.at);
                    self.note_manual_trigger(&cmd);
                    let outcome = self.rollback(&reason).await;
                    self.store.done(&cmd).await?;
                    return outcome.map(Some);
                }
            }
        }
        Ok(None)
    }

    /// An approval command: counted when it is unverified on a spec without
    /// `[approvals]`, or when its signature checks out for the current step
    /// and its principal has not approved this step yet. A refusal is an
    /// `approval-refused` event; the step is approved once `required`
    /// distinct principals have signed.
    async fn record_approval(&mut self, cmd: &Command) -> Result<(), RolloutError> {
        let action = match cmd.kind {
            CommandKind::Promote => ApprovalAction::Promote,
            _ => ApprovalAction::Approve,
        };
        let step = self.state.step;
        let mut record = ApprovalRecord {
            step,
            action,
            by: cmd.by.clone(),
            at: cmd.at.clone(),
            verified: false,
            revision: self.state.step_revision,
            statement: None,
        };
        let Some(rules) = self.spec.approvals.clone() else {
            self.record(RolloutEvent::Approval {
                step,
                by: cmd.by.clone(),
            })
            .await?;
            self.state.approvals.push(record);
            return self
                .approved(&cmd.by, &cmd.at, json!({ "verified": false }))
                .await;
        };
        let now = self.clock.now();
        let statement =
            match approvals::check(&rules, &self.state, action, cmd.signed.as_ref(), now) {
                Ok(statement) => statement,
                Err(refusal) => {
                    // A refusal changes nothing, so failing to record it stops nothing.
                    if let Err(e) = self
                        .record(RolloutEvent::ApprovalRefused {
                            step,
                            reason: refusal.to_string(),
                            submitted_by: cmd.by.clone(),
                        })
                        .await
                    {
                        self.events.emit("error", &e.to_string(), json!({}));
                    }
                    self.events.emit(
                        "approval-refused",
                        &format!("step {step}: approval refused: {refusal}"),
                        json!({ "step": step, "reason": refusal.kind(), "submitted_by": cmd.by }),
                    );
                    return Ok(());
                }
            };
        let principal = statement.principal.clone();
        if Tally::of(&self.state, rules.required).has(&principal) {
            self.events.emit(
                "approval-duplicate",
                &format!("step {step}: {principal} has already approved; counted once"),
                json!({ "step": step, "principal": principal }),
            );
            return Ok(());
        }
        let draft = self
            .recorder
            .approval(&self.state.run_id, step, &statement)
            .map_err(RolloutError::Failed)?;
        self.record_draft(draft).await?;
        record.by = principal.clone();
        record.verified = true;
        record.statement = Some(statement.clone());
        self.state.approvals.push(record);
        let tally = Tally::of(&self.state, rules.required);
        self.events.emit(
            "approval-signed",
            &format!(
                "step {step}: signed by {principal} ({}): {}",
                statement.fingerprint,
                tally.summary()
            ),
            json!({ "step": step, "action": action, "statement": statement, "tally": tally }),
        );
        if tally.missing > 0 {
            return self.save().await;
        }
        let by = tally.approved_by.join(", ");
        self.approved(&by, &cmd.at, json!({ "verified": true }))
            .await
    }

    /// The current step is approved: the strategy sees it on the next tick.
    async fn approved(&mut self, by: &str, at: &str, extra: Value) -> Result<(), RolloutError> {
        self.state.approval = Some(Approval {
            by: by.to_string(),
            at: at.to_string(),
        });
        self.save().await?;
        let mut fields = json!({ "by": by, "at": at, "step": self.state.step });
        if let (Value::Object(f), Value::Object(e)) = (&mut fields, extra) {
            f.extend(e);
        }
        self.events.emit(
            "approved",
            &format!("step {} approved by {by} at {at}", self.state.step),
            fields,
        );
        Ok(())
    }

    async fn rollback_pending(&self) -> bool {
        store::stops(&self.pending_commands().await)
    }

    /// Puts the router back to the recorded split if someone changed it.
    async fn reconcile(&mut self) -> Result<(), RouterError> {
        if self.state.intent.is_some() {
            return Ok(());
        }
        let recorded = self.state.candidate_percent;
        let Some(actual) = self.mode.router_percent(&*self.driver).await? else {
            return Ok(());
        };
        if actual != recorded {
            self.events.emit(
                "reconcile",
                &format!(
                    "the router gives the candidate {actual}% but the rollout recorded {recorded}%: restoring"
                ),
                json!({ "router": actual, "recorded": recorded }),
            );
            self.mode.split(&*self.driver, recorded).await?;
        }
        Ok(())
    }

    /// What the strategy plugin is shown: the persisted state, with every
    /// analysis of the spec present (possibly without measurements).
    fn observed(&self) -> protocol::State {
        let analysis = self
            .spec
            .analysis
            .iter()
            .map(|a| {
                let measurements = self.state.analysis.get(&a.name).cloned();
                let measurements = measurements.unwrap_or_default();
                (a.name.clone(), protocol::AnalysisState { measurements })
            })
            .collect();
        protocol::State {
            now_ms: self.now_ms(),
            step: self.state.step,
            step_started_ms: self.state.step_started_ms,
            memory: self.state.memory.clone(),
            candidate_percent: self.state.candidate_percent.into(),
            health: self.state.health.clone(),
            analysis,
            approval: self.state.approval.clone(),
            replaced: self.state.replaced.clone(),
        }
    }

    async fn set_weights(
        &mut self,
        percent: u8,
        step: u32,
        reason: &str,
    ) -> Result<(), RolloutError> {
        if percent > 0 {
            let servers = self.driver.servers().await?;
            let failing =
                health::check_all(&servers, &self.spec.candidate.servers, &self.spec.health).await;
            if !failing.is_empty() {
                self.state.health.candidate = HealthStatus::Unhealthy;
                self.state.health.failing = failing.iter().map(|f| f.0.clone()).collect();
                self.save().await?;
                self.events.emit(
                    "health-failed",
                    &format!(
                        "candidate not given traffic: {}",
                        failing
                            .iter()
                            .map(|(s, e)| format!("{s}: {e}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    json!({ "failing": self.state.health.failing }),
                );
                return Ok(());
            }
            self.state.health.candidate = HealthStatus::Healthy;
            self.state.health.failing.clear();
        }
        if self.rollback_pending().await {
            return Ok(());
        }
        self.record(self.recorder.weights(percent)).await?;
        self.state.intent = Some(Intent::Weights {
            candidate_percent: percent,
            step,
        });
        self.save().await?;
        failpoint::hit("after-intent");
        self.apply_weights(percent, step, reason).await
    }

    /// Router write, read-back and the recorded result of a `set-weights`.
    async fn apply_weights(
        &mut self,
        percent: u8,
        step: u32,
        reason: &str,
    ) -> Result<(), RolloutError> {
        let decided = unix_ms();
        self.fence().await?;
        let split = self.mode.split(&*self.driver, percent).await;
        if split?.is_none() {
            return Err(RolloutError::Failed(
                "the strategy returned set-weights, but this rollout replaces servers rather than splitting traffic"
                    .into(),
            ));
        }
        let applied = unix_ms();
        failpoint::hit("after-router-write");
        let servers = self.driver.servers().await?;
        let actual = self.mode.percent_of(&servers).unwrap_or(0);
        if actual.abs_diff(percent) > 1 {
            return Err(RolloutError::Failed(format!(
                "the router reports {actual}% on the candidate after setting {percent}%"
            )));
        }
        self.state.candidate_percent = percent;
        self.begin_step(step);
        self.state.intent = None;
        self.save().await?;
        failpoint::hit("after-state-write");
        self.windows.reset(&*self.driver).await;
        let weights: serde_json::Map<String, Value> = servers
            .iter()
            .map(|s| (s.name.clone(), json!(s.weight)))
            .collect();
        self.events.emit(
            "step",
            &format!(
                "step {step}: {percent}% to the candidate{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            ),
            json!({ "step": step, "candidate_percent": percent, "weights": weights,
                    "decided_ts_ms": decided, "applied_ts_ms": applied }),
        );
        Ok(())
    }

    fn begin_step(&mut self, step: u32) {
        self.state.step = step;
        self.state.step_started_ms = self.now_ms();
        self.state.analysis.clear();
        self.state.approval = None;
        self.state.begin_approval_window();
        self.awaiting_announced = None;
    }

    /// Sleeps, waking early for commands.
    async fn wait(&mut self, total: Duration) {
        let until = Instant::now() + total;
        while Instant::now() < until {
            if !self.pending_commands().await.is_empty() {
                return;
            }
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
        }
    }

    async fn await_approval(&mut self, reason: &str) {
        if self.awaiting_announced != Some(self.state.step) {
            self.awaiting_announced = Some(self.state.step);
            self.events.emit(
                "awaiting-approval",
                &format!(
                    "step {} waits for `gate promote` or `gate approve`{}",
                    self.state.step,
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    }
                ),
                json!({ "step": self.state.step }),
            );
        }
        self.wait(Duration::from_secs(1)).await;
    }

    async fn analyse(&mut self, names: &[String]) -> Result<(), RolloutError> {
        let candidate = self.mode.candidate_servers(&self.state.replaced);
        for name in names {
            let Some(a) = self.spec.analysis(name).cloned() else {
                return Err(RolloutError::Failed(format!(
                    "the strategy asked for unknown analysis `{name}`"
                )));
            };
            let now = self.now_ms();
            let m = analysis::measure(
                &self.spec,
                &a,
                &*self.driver,
                &mut self.windows,
                &candidate,
                now,
            )
            .await;
            let mut text = format!("{name}: {}", m.result.as_str());
            if let Some(v) = m.value {
                text.push_str(&format!(" {v:.4} over {} samples", m.samples));
            }
            if let Some(msg) = &m.message {
                text.push_str(&format!(" ({msg})"));
            }
            if let Some(event) = record::analysis(name, self.state.step, &m, text.clone()) {
                self.record(event).await?;
            }
            self.events.emit(
                "analysis",
                &text,
                json!({ "analysis": name, "step": self.state.step, "measurement": m }),
            );
            self.state.analysis.entry(name.clone()).or_default().push(m);
        }
        self.save().await?;
        failpoint::hit("after-analysis");
        Ok(())
    }

    /// Rolling: replaces one server with the candidate version.
    async fn replace(&mut self, server: &str, step: u32, reason: &str) -> Result<(), RolloutError> {
        let Some(rolling) = self.spec.rolling.clone() else {
            return Err(RolloutError::Failed(
                "the strategy asked to replace a server, but the spec has no [rolling] table"
                    .into(),
            ));
        };
        if !rolling.servers.iter().any(|s| s == server) {
            return Err(RolloutError::Failed(format!(
                "the strategy asked to replace unknown server `{server}`"
            )));
        }
        let of = u32::try_from(rolling.servers.len()).unwrap_or(u32::MAX);
        self.record(RolloutEvent::Step { step, of }).await?;
        let version = self.spec.candidate.version.clone();
        self.state.intent = Some(Intent::Replace {
            server: server.to_string(),
            step,
            version: version.clone(),
        });
        self.save().await?;
        failpoint::hit("after-intent");
        self.events.emit(
            "replace",
            &format!(
                "step {step}: replacing `{server}` with {version}{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            ),
            json!({ "step": step, "server": server, "version": version }),
        );
        self.fence().await?;
        let result = self.replace_server(server, &version).await;
        if !self.state.replaced.iter().any(|s| s == server) {
            self.state.replaced.push(server.to_string());
        }
        self.state.intent = None;
        match result {
            Ok(()) => {
                self.state.health.candidate = HealthStatus::Healthy;
                self.state.health.failing.clear();
                self.begin_step(step);
                self.save().await?;
                failpoint::hit("after-state-write");
                self.windows.reset(&*self.driver).await;
                self.events.emit(
                    "step",
                    &format!("step {step}: `{server}` runs {version} and is back in service"),
                    json!({ "step": step, "server": server, "version": version }),
                );
            }
            Err(e) => {
                self.state.health.candidate = HealthStatus::Unhealthy;
                self.state.health.failing = vec![server.to_string()];
                self.save().await?;
                self.events.emit(
                    "health-failed",
                    &format!("`{server}` with {version}: {e}"),
                    json!({ "server": server, "failing": [server] }),
                );
            }
        }
        Ok(())
    }

    /// All traffic to the candidate; then the `verify` stage, if the
    /// pipeline has one, else the end of the rollout.
    async fn promote(&mut self, reason: &str) -> Result<Option<Outcome>, RolloutError> {
        self.record(RolloutEvent::Promote).await?;
        self.state.intent = Some(Intent::Promote);
        self.save().await?;
        self.fence().await?;
        if self.state.candidate_percent != 100 {
            match self.mode.split(&*self.driver, 100).await {
                Ok(Some(percent)) => self.state.candidate_percent = percent,
                Ok(None) => {}
                Err(e) => {
                    self.events.emit("error", &e.to_string(), json!({}));
                    return self
                        .rollback(&format!("promotion failed: {e}"))
                        .await
                        .map(Some);
                }
            }
        }
        self.state.intent = None;
        if self.begin_verify().await? {
            self.events.emit(
                "verify",
                &format!(
                    "{} serves all traffic; the verify stage measures before the rollout ends",
                    self.spec.candidate.version
                ),
                json!({ "version": self.spec.candidate.version }),
            );
            return Ok(None);
        }
        self.finish_promotion(reason).await.map(Some)
    }

    /// The rollout ends promoted: recorded, then `post_promote` hooks.
    async fn finish_promotion(&mut self, reason: &str) -> Result<Outcome, RolloutError> {
        // Before the promotion is saved, so a killed runner completes it on resume.
        let mut problem = self.migration_complete().await?;
        self.state.phase = Phase::Promoted;
        self.state.intent = None;
        self.state.outcome = Some(if reason.is_empty() {
            "promoted".into()
        } else {
            reason.to_string()
        });
        self.save().await?;
        self.events.emit(
            "promote",
            &format!(
                "{} is promoted: it serves all traffic{}",
                self.spec.candidate.version,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            ),
            json!({ "version": self.spec.candidate.version }),
        );
        for cmd in self.spec.hooks.post_promote.clone() {
            let out = self.hook("post_promote", &cmd).await;
            if !out.ok {
                problem.get_or_insert(format!("a post_promote hook failed: {}", out.summary));
                break;
            }
        }
        Ok(Outcome::Promoted { problem })
    }

    /// Returns all traffic to stable, make-before-break, verifies its health
    /// and runs `post_rollback` hooks.
    pub async fn rollback(&mut self, reason: &str) -> Result<Outcome, RolloutError> {
        let started = unix_ms();
        // Before the phase changes: the phase says what was going on.
        self.note_trigger(reason);
        self.state.phase = Phase::RollingBack;
        self.state.intent = Some(Intent::Rollback);
        self.state.outcome = Some(reason.to_string());
        self.record_rollback(RolloutEvent::Rollback {
            reason: reason.to_string(),
        })
        .await;
        self.stop_stages(reason).await;
        self.save().await?;
        failpoint::hit("rollback-saved");
        self.fence().await?;
        self.events.emit(
            "rollback",
            &format!("rolling back to {}: {reason}", self.spec.stable.version),
            json!({ "reason": reason }),
        );
        let mut problems = match self.mode {
            TrafficMode::Split { .. } => self.split_back_to_stable().await?,
            TrafficMode::Replace { .. } => self.replace_back_to_stable().await?,
        };
        let switched = unix_ms();
        let health = self.stable_health_after_rollback().await;
        problems.extend(health.clone());
        // Only now that no request reaches the candidate: it used the new version.
        problems.extend(self.migration_rollback().await);
        for cmd in self.spec.hooks.post_rollback.clone() {
            let out = self.hook("post_rollback", &cmd).await;
            if !out.ok {
                problems.push(out.summary);
            }
        }
        self.record_rollback(RolloutEvent::RolledBack {
            problems: problems.clone(),
        })
        .await;
        let incident = self
            .open_incident(Some(incident::RollbackEnd {
                stable_unix_ms: switched,
                health,
                problems: problems.clone(),
            }))
            .await;
        failpoint::hit("after-incident");
        self.state.phase = Phase::RolledBack;
        self.state.intent = None;
        self.save().await?;
        let switch_ms = switched.saturating_sub(started);
        let mut message = format!(
            "all traffic is on {} ({switch_ms} ms to switch)",
            self.spec.stable.version,
        );
        if !problems.is_empty() {
            message.push_str(&format!("; problems: {}", problems.join("; ")));
        }
        self.events.emit(
            "rolled-back",
            &message,
            json!({ "reason": reason, "switch_ms": switch_ms, "problems": problems,
                    "incident": incident }),
        );
        Ok(Outcome::RolledBack {
            reason: reason.to_string(),
        })
    }

    /// Split mode: all weight back on stable. The router is retried a few
    /// times: a rollback must not give up on a blip.
    async fn split_back_to_stable(&mut self) -> Result<Vec<String>, RolloutError> {
        let mut attempt = 0;
        loop {
            match self.mode.split(&*self.driver, 0).await {
                Ok(_) => break,
                Err(e) if attempt >= 4 => {
                    self.events.emit(
                        "error",
                        &format!("rollback could not reach the router: {e}"),
                        json!({}),
                    );
                    return Err(RolloutError::Failed(format!(
                        "rollback could not reach the router ({e}); the state says rolling-back, so running `gate rollout` or `gate rollback` again finishes it"
                    )));
                }
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
        self.state.candidate_percent = 0;
        Ok(Vec::new())
    }

    /// Replace mode: the stable version back on every replaced server, newest
    /// first. A server that fails is reported and the others still go back.
    async fn replace_back_to_stable(&mut self) -> Result<Vec<String>, RolloutError> {
        let mut problems = Vec::new();
        let stable_version = self.spec.stable.version.clone();
        for server in self.state.replaced.clone().into_iter().rev() {
            match self.replace_server(&server, &stable_version).await {
                Ok(()) => {
                    self.state.replaced.retain(|s| s != &server);
                    self.save().await?;
                    self.events.emit(
                        "step",
                        &format!("`{server}` runs {stable_version} again"),
                        json!({ "server": server, "version": stable_version }),
                    );
                }
                Err(e) => problems.push(format!("{server}: {e}")),
            }
        }
        Ok(problems)
    }

    /// Health after the rollback: stable must be serving. Returns the problems.
    async fn stable_health_after_rollback(&mut self) -> Vec<String> {
        let stable = self.mode.stable_servers().to_vec();
        let servers = match self.driver.servers().await {
            Ok(servers) => servers,
            Err(e) => return vec![e.to_string()],
        };
        let failing = health::check_all(&servers, &stable, &self.spec.health).await;
        if failing.is_empty() {
            self.events.emit(
                "health",
                &format!(
                    "stable ({}) is healthy after the rollback",
                    stable.join(", ")
                ),
                json!({ "servers": stable }),
            );
        }
        failing
            .into_iter()
            .map(|(s, e)| format!("stable server {s} unhealthy after rollback: {e}"))
            .collect()
    }
}

/// `gate rollback` / `gate abort` with no rollout running: take the lease and
/// finish the job in this process. `request`: what was asked, by whom, when
/// (RFC 3339), for the incident.
pub async fn rollback_now(
    spec: Spec,
    runtime: Arc<Runtime>,
    opts: &Options,
    reason: &str,
    request: (crate::incident::ManualAction, &str, &str),
) -> Result<(Outcome, Option<String>), RolloutError> {
    let mut c = Controller::open(spec, runtime, opts).await?;
    let (action, by, at) = request;
    c.note_request(action, by, at);
    let outcome = match c.state.phase {
        Phase::Starting => c
            .abort_before_traffic(reason)
            .await?
            .unwrap_or(Outcome::Aborted {
                reason: reason.to_string(),
            }),
        Phase::RolledBack => Outcome::RolledBack {
            reason: c.state.outcome.clone().unwrap_or_default(),
        },
        _ => c.rollback(reason).await?,
    };
    Ok((outcome, c.unrecorded))
}

/// Sends a command to a running rollout through its store.
pub async fn send(
    spec: &Spec,
    kind: CommandKind,
    by: &str,
    signed: Option<approvals::Submission>,
) -> Result<String, RolloutError> {
    let store = open_store(spec).await?;
    Ok(store.send(&Command::new(kind, by, signed)).await?)
}
