//! The rollout controller: a persisted state machine. Each tick it handles
//! commands, reconciles with the router, asks the strategy plugin for the
//! next action and carries it out. Every change to the router is preceded by
//! a recorded intent and followed by a recorded result, so a run killed at any
//! point can be resumed by running `gate rollout` again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::analysis::{self, Windows};
use super::driver::{self, AdminState, TrafficDriver};
use super::events::Events;
use super::failpoint;
use super::haproxy::HaproxyDriver;
use super::health;
use super::hooks;
use super::spec::Spec;
use super::state::{
    self, Approval, CommandKind, Intent, Lock, Phase, RolloutState, pending_commands, unix_ms,
};
use super::strategy::StrategyPlugin;
use gate_core::clock::Clock;
use gate_eval::hosted::HostedChecks;
use gate_sandbox::plugin::Runtime;

/// How a rollout ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The candidate serves all traffic. `hook_error` is a failed `post_promote` hook.
    Promoted {
        hook_error: Option<String>,
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
}

pub struct Options {
    pub clock: Clock,
    pub quiet: bool,
    /// Start afresh even if the last rollout of this spec has finished.
    pub restart: bool,
    /// The checks the host runs itself, for the pre-flight gate.
    pub hosted: HostedChecks,
}

pub fn driver_for(spec: &Spec) -> Box<dyn TrafficDriver> {
    Box::new(HaproxyDriver {
        socket: spec.router.admin_socket.clone(),
        backend: spec.router.backend.clone(),
        timeout: spec.router.timeout,
    })
}

pub struct Controller {
    spec: Spec,
    spec_json: Value,
    driver: Box<dyn TrafficDriver>,
    strategy: StrategyPlugin,
    state: RolloutState,
    events: Events,
    windows: Windows,
    state_path: PathBuf,
    clock: Clock,
    runtime: Arc<Runtime>,
    awaiting_announced: Option<u32>,
    _lock: Lock,
    hosted: HostedChecks,
}

/// The user running a command, for approvals and rollbacks.
pub fn whoami() -> String {
    std::env::var("GATE_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn acquire(spec: &Spec) -> Result<Option<Lock>, RolloutError> {
    // Created 0700; refused when it is a symlink, another user's, or
    // writable by others.
    gate_core::private_dir::PrivateDir::open(&spec.state_dir, true)
        .map_err(|e| RolloutError::Usage(format!("cannot use the state directory: {e}")))?;
    Lock::try_acquire(&spec.lock_file()).map_err(RolloutError::Failed)
}

impl Controller {
    /// Takes the lock and loads (or creates) the state.
    pub fn open(
        spec: Spec,
        runtime: Arc<Runtime>,
        opts: &Options,
    ) -> Result<Controller, RolloutError> {
        let lock = acquire(&spec)?.ok_or_else(|| {
            RolloutError::Usage(format!(
                "rollout `{}` is already running (pid {}); use `gate status`, `gate promote`, `gate abort` or `gate rollback` against it",
                spec.name,
                Lock::holder(&spec.lock_file()).map_or("?".into(), |p| p.to_string())
            ))
        })?;
        let state_path = spec.state_file();
        let existing = RolloutState::load(&state_path).map_err(RolloutError::Failed)?;
        let state = match existing {
            Some(s) if s.spec_digest == spec.digest && !(s.phase.terminal() && opts.restart) => s,
            Some(s) if !s.phase.terminal() => {
                return Err(RolloutError::Usage(format!(
                    "a rollout of another revision of spec `{}` is still in progress ({:?}, state {}); finish it by running that spec again, or `gate rollback`",
                    spec.name,
                    s.phase,
                    state_path.display()
                )));
            }
            other => {
                if let Some(old) = other {
                    let archived = spec
                        .state_dir
                        .join(format!("{}.state.{}.json", spec.name, old.started_unix_ms));
                    let _ = std::fs::rename(&state_path, archived);
                }
                // Commands sent before this rollout existed do not apply to it.
                let _ = std::fs::remove_dir_all(spec.commands_dir());
                RolloutState::new(&spec.name, &spec.digest, spec.strategy.kind(), unix_ms())
            }
        };
        let strategy = StrategyPlugin::load(runtime.clone(), &spec, opts.clock)
            .map_err(RolloutError::Usage)?;
        let events = Events::new(&spec.events_file(), &spec.name, state.started_unix_ms)
            .map_err(RolloutError::Failed)?
            .quiet(opts.quiet);
        Ok(Controller {
            spec_json: spec.to_plugin_json(),
            driver: driver_for(&spec),
            strategy,
            state,
            events,
            windows: Windows::default(),
            state_path,
            clock: opts.clock,
            hosted: opts.hosted.clone(),
            runtime,
            awaiting_announced: None,
            spec,
            _lock: lock,
        })
    }

    pub fn state(&self) -> &RolloutState {
        &self.state
    }

    fn now_ms(&self) -> u64 {
        unix_ms().saturating_sub(self.state.started_unix_ms)
    }

    fn save(&mut self) -> Result<(), RolloutError> {
        self.state
            .save(&self.state_path)
            .map_err(RolloutError::Failed)
    }

    fn rolling(&self) -> bool {
        self.spec.strategy.kind() == "rolling"
    }

    /// The servers currently counted as "candidate" for analysis.
    fn candidate_servers(&self) -> Vec<String> {
        if self.rolling() {
            self.state.replaced.clone()
        } else {
            self.spec.candidate.servers.clone()
        }
    }

    /// Runs the rollout to an outcome.
    pub async fn run(&mut self) -> Result<Outcome, RolloutError> {
        match self.state.phase {
            Phase::Promoted => {
                self.events.emit(
                    "done",
                    "this spec was already promoted; pass --restart to run it again",
                    json!({}),
                );
                return Ok(Outcome::Promoted { hook_error: None });
            }
            Phase::RolledBack => {
                let reason = self.state.outcome.clone().unwrap_or_default();
                self.events.emit(
                    "done",
                    &format!(
                        "this spec was already rolled back ({reason}); pass --restart to try again"
                    ),
                    json!({}),
                );
                return Ok(Outcome::RolledBack { reason });
            }
            Phase::Aborted => {
                let reason = self.state.outcome.clone().unwrap_or_default();
                return Ok(Outcome::Aborted { reason });
            }
            Phase::Starting => {
                if let Some(outcome) = self.start().await? {
                    return Ok(outcome);
                }
            }
            Phase::RollingBack => {
                self.events
                    .emit("resume", "resuming an interrupted rollback", json!({}));
                let reason = self
                    .state
                    .outcome
                    .clone()
                    .unwrap_or_else(|| "interrupted rollback".into());
                return self.rollback(&reason).await;
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
                    return Ok(outcome);
                }
                self.windows.reset(&*self.driver).await;
            }
        }
        loop {
            if let Some(outcome) = self.process_commands().await? {
                return Ok(outcome);
            }
            if let Err(e) = self.reconcile().await {
                self.events.emit("error", &e, json!({}));
            }
            let observed = self.observed();
            let action = match self.strategy.decide(&self.spec_json, &observed).await {
                Ok(a) => a,
                Err(e) => {
                    self.events.emit("error", &e, json!({}));
                    if self.state.candidate_percent == 0 && self.state.replaced.is_empty() {
                        self.state.phase = Phase::Aborted;
                        self.state.outcome = Some(e.clone());
                        self.save()?;
                        return Err(RolloutError::Usage(e));
                    }
                    return self.rollback(&format!("strategy error: {e}")).await;
                }
            };
            self.state.memory = action
                .get("memory")
                .cloned()
                .unwrap_or_else(|| self.state.memory.clone());
            self.state.last_action = Some(action.clone());
            let reason = action["reason"].as_str().unwrap_or("").to_string();
            let kind = action["action"].as_str().unwrap_or("").to_string();
            let step = action["step"].as_u64().unwrap_or(0) as u32;
            let result = match kind.as_str() {
                "set-weights" => {
                    let Some(p) = action["candidate_percent"].as_u64().filter(|p| *p <= 100) else {
                        return self
                            .rollback(
                                "strategy returned set-weights without a valid candidate_percent",
                            )
                            .await;
                    };
                    self.set_weights(p as u8, step, &reason).await
                }
                "wait" => {
                    let ms = action["ms"].as_u64().unwrap_or(1000).clamp(1, 60_000);
                    self.wait(Duration::from_millis(ms)).await;
                    Ok(())
                }
                "analyse" | "analyze" => {
                    let names: Vec<String> = action["names"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_else(|| {
                            self.spec.analysis.iter().map(|a| a.name.clone()).collect()
                        });
                    self.analyse(&names).await
                }
                "await-approval" => {
                    self.await_approval(&reason).await;
                    Ok(())
                }
                "replace" => {
                    let server = action["server"].as_str().unwrap_or("").to_string();
                    self.replace(&server, step, &reason).await
                }
                "promote" | "done" => return self.promote(&reason).await,
                "rollback" => {
                    let reason = if reason.is_empty() {
                        "the strategy decided to roll back".to_string()
                    } else {
                        reason
                    };
                    return self.rollback(&reason).await;
                }
                other => {
                    return self
                        .rollback(&format!("strategy returned an unknown action `{other}`"))
                        .await;
                }
            };
            if let Err(e) = result {
                self.events.emit("error", &e, json!({}));
                return self.rollback(&e).await;
            }
        }
    }

    /// Pre-flight gate and `pre_rollout` hooks, then `progressing`.
    async fn start(&mut self) -> Result<Option<Outcome>, RolloutError> {
        self.save()?;
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
        let servers = self.driver.servers().await.map_err(RolloutError::Failed)?;
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
        if let Some(pf) = self.spec.preflight.clone() {
            match super::preflight::run(
                &self.runtime,
                &pf,
                &self.spec.dir,
                self.clock,
                &self.hosted,
            )
            .await
            {
                Ok(summary) => self.events.emit(
                    "preflight",
                    &format!("pre-flight passed: {summary}"),
                    json!({}),
                ),
                Err(reason) => {
                    return self.abort_before_traffic(&format!("pre-flight failed: {reason}"));
                }
            }
        }
        for cmd in self.spec.hooks.pre_rollout.clone() {
            let out = self.hook("pre_rollout", &cmd).await;
            if !out.ok {
                return self
                    .abort_before_traffic(&format!("pre_rollout hook failed: {}", out.summary));
            }
        }
        self.state.candidate_percent = if self.rolling() {
            0
        } else {
            driver::candidate_percent(
                &servers,
                &self.spec.stable.servers,
                &self.spec.candidate.servers,
            )
        };
        self.state.phase = Phase::Progressing;
        // Step 0 (before any traffic moves) starts now, not when pre-flight began.
        self.state.step_started_ms = self.now_ms();
        self.save()?;
        failpoint::hit("after-state-write");
        self.windows.reset(&*self.driver).await;
        Ok(None)
    }

    fn abort_before_traffic(&mut self, reason: &str) -> Result<Option<Outcome>, RolloutError> {
        self.state.phase = Phase::Aborted;
        self.state.outcome = Some(reason.to_string());
        self.save()?;
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
            } => {
                if let Err(e) = self.apply_weights(candidate_percent, step, "resumed").await {
                    self.events.emit("error", &e, json!({}));
                    return self.rollback(&e).await.map(Some);
                }
                Ok(None)
            }
            Intent::Replace { server, step, .. } => {
                if let Err(e) = self.replace(&server, step, "resumed").await {
                    self.events.emit("error", &e, json!({}));
                    return self.rollback(&e).await.map(Some);
                }
                Ok(None)
            }
            Intent::Rollback => {
                let reason = self
                    .state
                    .outcome
                    .clone()
                    .unwrap_or_else(|| "interrupted rollback".into());
                self.rollback(&reason).await.map(Some)
            }
            Intent::Promote => self.promote("resumed").await.map(Some),
        }
    }

    /// Approvals are recorded; a rollback or abort wins over everything.
    async fn process_commands(&mut self) -> Result<Option<Outcome>, RolloutError> {
        for cmd in pending_commands(&self.spec.commands_dir()) {
            match cmd.kind {
                CommandKind::Approve | CommandKind::Promote => {
                    let approval = Approval {
                        by: cmd.by.clone(),
                        at: cmd.at.clone(),
                    };
                    self.state.approval = Some(approval.clone());
                    self.state.approvals.push((self.state.step, approval));
                    self.save()?;
                    let _ = std::fs::remove_file(&cmd.file);
                    self.events.emit(
                        "approved",
                        &format!(
                            "step {} approved by {} at {}",
                            self.state.step, cmd.by, cmd.at
                        ),
                        json!({ "by": cmd.by, "at": cmd.at, "step": self.state.step }),
                    );
                }
                CommandKind::Abort | CommandKind::Rollback => {
                    let verb = if cmd.kind == CommandKind::Abort {
                        "aborted"
                    } else {
                        "rollback requested"
                    };
                    let reason = format!("{verb} by {} at {}", cmd.by, cmd.at);
                    let outcome = self.rollback(&reason).await;
                    let _ = std::fs::remove_file(&cmd.file);
                    return outcome.map(Some);
                }
            }
        }
        Ok(None)
    }

    fn rollback_pending(&self) -> bool {
        pending_commands(&self.spec.commands_dir())
            .iter()
            .any(|c| matches!(c.kind, CommandKind::Abort | CommandKind::Rollback))
    }

    /// Puts the router back to the recorded split if someone changed it.
    async fn reconcile(&mut self) -> Result<(), String> {
        if self.rolling() || self.state.intent.is_some() {
            return Ok(());
        }
        let servers = self.driver.servers().await?;
        let actual = driver::candidate_percent(
            &servers,
            &self.spec.stable.servers,
            &self.spec.candidate.servers,
        );
        if actual != self.state.candidate_percent {
            self.events.emit(
                "reconcile",
                &format!(
                    "the router gives the candidate {actual}% but the rollout recorded {}%: restoring",
                    self.state.candidate_percent
                ),
                json!({ "router": actual, "recorded": self.state.candidate_percent }),
            );
            driver::apply_split(
                &*self.driver,
                &self.spec.stable.servers,
                &self.spec.candidate.servers,
                self.state.candidate_percent,
            )
            .await?;
        }
        Ok(())
    }

    fn observed(&self) -> Value {
        let analysis: serde_json::Map<String, Value> = self
            .spec
            .analysis
            .iter()
            .map(|a| {
                let ms = self
                    .state
                    .analysis
                    .get(&a.name)
                    .cloned()
                    .unwrap_or_default();
                (a.name.clone(), json!({ "measurements": ms }))
            })
            .collect();
        json!({
            "now_ms": self.now_ms(),
            "step": self.state.step,
            "step_started_ms": self.state.step_started_ms,
            "memory": self.state.memory,
            "candidate_percent": self.state.candidate_percent,
            "health": self.state.health,
            "analysis": analysis,
            "approval": self.state.approval,
            "replaced": self.state.replaced,
        })
    }

    async fn set_weights(&mut self, percent: u8, step: u32, reason: &str) -> Result<(), String> {
        if percent > 0 {
            let servers = self.driver.servers().await?;
            let failing =
                health::check_all(&servers, &self.spec.candidate.servers, &self.spec.health).await;
            if !failing.is_empty() {
                self.state.health.candidate = "unhealthy".into();
                self.state.health.failing = failing.iter().map(|f| f.0.clone()).collect();
                self.save().map_err(|e| e.to_string())?;
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
            self.state.health.candidate = "healthy".into();
            self.state.health.failing.clear();
        }
        if self.rollback_pending() {
            return Ok(());
        }
        self.state.intent = Some(Intent::Weights {
            candidate_percent: percent,
            step,
        });
        self.save().map_err(|e| e.to_string())?;
        failpoint::hit("after-intent");
        self.apply_weights(percent, step, reason).await
    }

    /// Router write, read-back and the recorded result of a `set-weights`.
    async fn apply_weights(&mut self, percent: u8, step: u32, reason: &str) -> Result<(), String> {
        let decided = unix_ms();
        driver::apply_split(
            &*self.driver,
            &self.spec.stable.servers,
            &self.spec.candidate.servers,
            percent,
        )
        .await?;
        let applied = unix_ms();
        failpoint::hit("after-router-write");
        let servers = self.driver.servers().await?;
        let actual = driver::candidate_percent(
            &servers,
            &self.spec.stable.servers,
            &self.spec.candidate.servers,
        );
        if actual.abs_diff(percent) > 1 {
            return Err(format!(
                "the router reports {actual}% on the candidate after setting {percent}%"
            ));
        }
        self.state.candidate_percent = percent;
        self.begin_step(step);
        self.state.intent = None;
        self.save().map_err(|e| e.to_string())?;
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
        self.awaiting_announced = None;
    }

    /// Sleeps, waking early for commands.
    async fn wait(&mut self, total: Duration) {
        let until = Instant::now() + total;
        while Instant::now() < until {
            if !pending_commands(&self.spec.commands_dir()).is_empty() {
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
                    "step {} waits for `gate promote` or `gate approve --by NAME`{}",
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

    async fn analyse(&mut self, names: &[String]) -> Result<(), String> {
        let candidate = self.candidate_servers();
        for name in names {
            let Some(a) = self.spec.analysis(name).cloned() else {
                return Err(format!("the strategy asked for unknown analysis `{name}`"));
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
            self.events.emit(
                "analysis",
                &text,
                json!({ "analysis": name, "step": self.state.step, "measurement": m }),
            );
            self.state.analysis.entry(name.clone()).or_default().push(m);
        }
        self.save().map_err(|e| e.to_string())?;
        failpoint::hit("after-analysis");
        Ok(())
    }

    /// Rolling: replaces one server with the candidate version.
    async fn replace(&mut self, server: &str, step: u32, reason: &str) -> Result<(), String> {
        let Some(rolling) = self.spec.rolling.clone() else {
            return Err(
                "the strategy asked to replace a server, but the spec has no [rolling] table"
                    .into(),
            );
        };
        if !rolling.servers.iter().any(|s| s == server) {
            return Err(format!(
                "the strategy asked to replace unknown server `{server}`"
            ));
        }
        let version = self.spec.candidate.version.clone();
        self.state.intent = Some(Intent::Replace {
            server: server.to_string(),
            step,
            version: version.clone(),
        });
        self.save().map_err(|e| e.to_string())?;
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
        let result = self.replace_server(server, &version).await;
        if !self.state.replaced.iter().any(|s| s == server) {
            self.state.replaced.push(server.to_string());
        }
        self.state.intent = None;
        match result {
            Ok(()) => {
                self.state.health.candidate = "healthy".into();
                self.state.health.failing.clear();
                self.begin_step(step);
                self.save().map_err(|e| e.to_string())?;
                failpoint::hit("after-state-write");
                self.windows.reset(&*self.driver).await;
                self.events.emit(
                    "step",
                    &format!("step {step}: `{server}` runs {version} and is back in service"),
                    json!({ "step": step, "server": server, "version": version }),
                );
            }
            Err(e) => {
                self.state.health.candidate = "unhealthy".into();
                self.state.health.failing = vec![server.to_string()];
                self.save().map_err(|e| e.to_string())?;
                self.events.emit(
                    "health-failed",
                    &format!("`{server}` with {version}: {e}"),
                    json!({ "server": server, "failing": [server] }),
                );
            }
        }
        Ok(())
    }

    /// Drain, wait for connections to end, stop, start `version`, health-check,
    /// ready. Each part is safe to repeat after a crash.
    async fn replace_server(&mut self, server: &str, version: &str) -> Result<(), String> {
        let rolling = self.spec.rolling.clone().ok_or("no [rolling] table")?;
        self.driver.set_admin(server, AdminState::Drain).await?;
        let deadline = Instant::now() + rolling.drain_timeout;
        loop {
            let sessions = self
                .driver
                .counters()
                .await?
                .get(server)
                .map_or(0, |c| c.current_sessions);
            if sessions == 0 {
                break;
            }
            if Instant::now() >= deadline {
                self.events.emit(
                    "drain-timeout",
                    &format!(
                        "`{server}` still has {sessions} sessions after {} s; stopping it anyway",
                        rolling.drain_timeout.as_secs()
                    ),
                    json!({ "server": server, "sessions": sessions }),
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let env = [
            ("GATE_ROLLOUT", self.spec.name.as_str()),
            ("GATE_SERVER", server),
            ("GATE_VERSION", version),
        ];
        let stop = hooks::substitute(&rolling.stop, server, version);
        let out = hooks::run(&stop, &self.spec.dir, &env, self.spec.hooks.timeout).await;
        if !out.ok {
            return Err(format!("stop command failed: {}", out.summary));
        }
        failpoint::hit("in-replace");
        let start = hooks::substitute(&rolling.start, server, version);
        let out = hooks::run(&start, &self.spec.dir, &env, self.spec.hooks.timeout).await;
        if !out.ok {
            return Err(format!("start command failed: {}", out.summary));
        }
        let servers = self.driver.servers().await?;
        let me = servers
            .iter()
            .find(|s| s.name == server)
            .ok_or_else(|| format!("server `{server}` vanished from the router"))?
            .clone();
        // Give a starting instance a few seconds before calling it unhealthy.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match health::check(&me, &self.spec.health).await {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => return Err(format!("health check: {e}")),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        self.driver.set_admin(server, AdminState::Ready).await?;
        // Wait for the router's own checks to see it up, so the next server
        // is not drained while this one cannot take traffic yet.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = self
                .driver
                .servers()
                .await?
                .iter()
                .any(|s| s.name == server && s.up);
            if up {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the router did not mark `{server}` up within 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn promote(&mut self, reason: &str) -> Result<Outcome, RolloutError> {
        self.state.intent = Some(Intent::Promote);
        self.save()?;
        if !self.rolling() && self.state.candidate_percent != 100 {
            if let Err(e) = driver::apply_split(
                &*self.driver,
                &self.spec.stable.servers,
                &self.spec.candidate.servers,
                100,
            )
            .await
            {
                self.events.emit("error", &e, json!({}));
                return self.rollback(&format!("promotion failed: {e}")).await;
            }
            self.state.candidate_percent = 100;
        }
        self.state.phase = Phase::Promoted;
        self.state.intent = None;
        self.state.outcome = Some(if reason.is_empty() {
            "promoted".into()
        } else {
            reason.to_string()
        });
        self.save()?;
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
        let mut hook_error = None;
        for cmd in self.spec.hooks.post_promote.clone() {
            let out = self.hook("post_promote", &cmd).await;
            if !out.ok {
                hook_error = Some(out.summary);
                break;
            }
        }
        Ok(Outcome::Promoted { hook_error })
    }

    /// Returns all traffic to stable, make-before-break, verifies its health
    /// and runs `post_rollback` hooks.
    pub async fn rollback(&mut self, reason: &str) -> Result<Outcome, RolloutError> {
        let started = unix_ms();
        self.state.phase = Phase::RollingBack;
        self.state.intent = Some(Intent::Rollback);
        self.state.outcome = Some(reason.to_string());
        self.save()?;
        self.events.emit(
            "rollback",
            &format!("rolling back to {}: {reason}", self.spec.stable.version),
            json!({ "reason": reason }),
        );
        let mut problems = Vec::new();
        if self.rolling() {
            let stable_version = self.spec.stable.version.clone();
            for server in self.state.replaced.clone().into_iter().rev() {
                match self.replace_server(&server, &stable_version).await {
                    Ok(()) => {
                        self.state.replaced.retain(|s| s != &server);
                        self.save()?;
                        self.events.emit(
                            "step",
                            &format!("`{server}` runs {stable_version} again"),
                            json!({ "server": server, "version": stable_version }),
                        );
                    }
                    Err(e) => problems.push(format!("{server}: {e}")),
                }
            }
        } else {
            // Retry the router a few times: a rollback must not give up on a blip.
            let mut attempt = 0;
            loop {
                match driver::apply_split(
                    &*self.driver,
                    &self.spec.stable.servers,
                    &self.spec.candidate.servers,
                    0,
                )
                .await
                {
                    Ok(()) => break,
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
        }
        let switched = unix_ms();
        // Health again after the rollback: stable must be serving.
        let stable: Vec<String> = if self.rolling() {
            self.spec
                .rolling
                .as_ref()
                .map(|r| r.servers.clone())
                .unwrap_or_default()
        } else {
            self.spec.stable.servers.clone()
        };
        match self.driver.servers().await {
            Ok(servers) => {
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
                } else {
                    for (s, e) in failing {
                        problems.push(format!("stable server {s} unhealthy after rollback: {e}"));
                    }
                }
            }
            Err(e) => problems.push(e),
        }
        for cmd in self.spec.hooks.post_rollback.clone() {
            let out = self.hook("post_rollback", &cmd).await;
            if !out.ok {
                problems.push(out.summary);
            }
        }
        self.state.phase = Phase::RolledBack;
        self.state.intent = None;
        self.save()?;
        let mut message = format!(
            "all traffic is on {} ({} ms to switch)",
            self.spec.stable.version,
            switched.saturating_sub(started)
        );
        if !problems.is_empty() {
            message.push_str(&format!("; problems: {}", problems.join("; ")));
        }
        self.events.emit(
            "rolled-back",
            &message,
            json!({ "reason": reason, "switch_ms": switched.saturating_sub(started), "problems": problems }),
        );
        Ok(Outcome::RolledBack {
            reason: reason.to_string(),
        })
    }
}

/// `gate rollback` / `gate abort` with no rollout running: take the lock and
/// finish the job in this process.
pub async fn rollback_now(
    spec: Spec,
    runtime: Arc<Runtime>,
    opts: &Options,
    reason: &str,
) -> Result<Outcome, RolloutError> {
    let mut c = Controller::open(spec, runtime, opts)?;
    if c.state.phase == Phase::Starting {
        return Ok(c.abort_before_traffic(reason)?.unwrap_or(Outcome::Aborted {
            reason: reason.to_string(),
        }));
    }
    if c.state.phase == Phase::RolledBack {
        return Ok(Outcome::RolledBack {
            reason: c.state.outcome.clone().unwrap_or_default(),
        });
    }
    c.rollback(reason).await
}

/// Drops a command for a running rollout.
pub fn send(spec: &Spec, kind: CommandKind, by: &str) -> Result<PathBuf, String> {
    state::send_command(&spec.commands_dir(), kind, by)
}
