//! Opening the incident of a rollback or abort (crate::incident): the
//! trigger is noted in the state when the rollback is decided (so a resumed
//! rollback opens the same one), and the incident is opened once traffic is
//! back on stable and stable's health was checked, before the rolled-back
//! phase is saved. The store keeps one per run and trigger; the audit
//! entry is written once, its sequence number kept in the incident. None of
//! this ever holds the rollback back: a failure is an `error` event and
//! exit 2, as for an unrecorded rollback entry.

use gate_audit::entry::os_user;
use gate_strategy_protocol::Verdict;
use serde_json::json;

use super::Controller;
use crate::incident::timeline::{self, TimelineEntry, TimelineEvent};
use crate::incident::{
    Actors, AnalysisTrigger, Approver, Condition, ConditionKind, FORMAT, HealthAfter, Impact,
    Incident, ManualAction, Opening, RollbackFacts, Trigger,
};
use crate::state::{Command, CommandKind, HealthStatus, Phase, unix_ms};

/// The most events read back for a timeline.
const MAX_TIMELINE_EVENTS: usize = 100_000;

/// How the way back to stable ended.
pub(super) struct RollbackEnd {
    pub stable_unix_ms: u64,
    /// Stable's health problems after the rollback (none: healthy).
    pub health: Vec<String>,
    /// Every problem of the rollback, health included.
    pub problems: Vec<String>,
}

impl Controller {
    /// Notes what triggered the rollback or abort being decided now, unless
    /// a trigger is noted already (a resumed rollback, a manual one).
    pub(super) fn note_trigger(&mut self, reason: &str) {
        if self.state.incident.is_none() {
            let trigger = self.infer_trigger(reason);
            self.state.incident = Some(self.opening(trigger, unix_ms()));
        }
    }

    /// A `gate rollback` or `gate abort` command: the person who asked.
    pub(super) fn note_manual_trigger(&mut self, cmd: &Command) {
        let action = if cmd.kind == CommandKind::Abort {
            ManualAction::Abort
        } else {
            ManualAction::Rollback
        };
        self.note_request(action, &cmd.by, &cmd.at);
    }

    /// A manual rollback or abort requested by `by` at `at` (RFC 3339).
    pub fn note_request(&mut self, action: ManualAction, by: &str, at: &str) {
        if self.state.incident.is_none() {
            let decided = chrono::DateTime::parse_from_rfc3339(at)
                .ok()
                .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
                .unwrap_or_else(unix_ms);
            let trigger = Trigger::Manual {
                action,
                by: by.to_string(),
                at: at.to_string(),
            };
            self.state.incident = Some(self.opening(trigger, decided));
        }
    }

    fn opening(&self, trigger: Trigger, decided_unix_ms: u64) -> Opening {
        Opening {
            trigger,
            decided_unix_ms,
            candidate_percent: self.state.candidate_percent,
            replaced: self.state.replaced.clone(),
        }
    }

    /// What caused a rollback decided with `reason`, from the state.
    fn infer_trigger(&self, reason: &str) -> Trigger {
        match self.state.phase {
            Phase::Starting => Trigger::Abort {
                reason: reason.to_string(),
            },
            Phase::Verifying => Trigger::Verify {
                stage: self
                    .stage_of("verify")
                    .map(|i| self.spec.stages[i].name.clone())
                    .unwrap_or_default(),
                reason: reason.to_string(),
                analysis: self.deciding_analysis(),
            },
            _ => match self.deciding_analysis() {
                Some(a) => Trigger::Analysis(a),
                None if self.state.health.candidate == HealthStatus::Unhealthy => Trigger::Health {
                    step: self.state.step,
                    candidate_percent: self.state.candidate_percent,
                    failing: self.state.health.failing.clone(),
                },
                None => Trigger::Error {
                    reason: reason.to_string(),
                },
            },
        }
    }

    /// The analysis of the current step whose limit is exceeded: more
    /// failures than `failure_limit`, or more errors in a row than
    /// `consecutive_error_limit` (as the strategies and the verify stage
    /// judge), with its deciding measurement.
    fn deciding_analysis(&self) -> Option<AnalysisTrigger> {
        self.state
            .analysis
            .iter()
            .filter_map(|(name, measurements)| {
                let a = self.spec.analysis(name)?;
                let failures = measurements
                    .iter()
                    .filter(|m| m.result == Verdict::Failure)
                    .count();
                let errors = measurements
                    .iter()
                    .rev()
                    .take_while(|m| m.result == Verdict::Error)
                    .count();
                let verifying = self.state.phase == Phase::Verifying;
                let failed = if verifying {
                    measurements.last()?.result == Verdict::Failure
                } else {
                    failures > a.failure_limit as usize
                };
                let deciding = if failed {
                    measurements
                        .iter()
                        .rev()
                        .find(|m| m.result == Verdict::Failure)?
                } else if errors > a.consecutive_error_limit as usize {
                    measurements.last()?
                } else {
                    return None;
                };
                let conditions = [
                    (ConditionKind::Max, a.max),
                    (ConditionKind::Min, a.min),
                    (ConditionKind::MaxIncrease, a.max_increase),
                    (ConditionKind::MaxRatio, a.max_ratio),
                ]
                .into_iter()
                .filter_map(|(kind, t)| {
                    Some(Condition {
                        kind,
                        threshold: t?,
                    })
                })
                .collect();
                Some(AnalysisTrigger {
                    name: name.clone(),
                    provider: a.provider.clone(),
                    query: a.query.clone(),
                    conditions,
                    step: self.state.step,
                    candidate_percent: self.state.candidate_percent,
                    result: deciding.result,
                    value: deciding.value,
                    stable_value: deciding.stable_value,
                    samples: deciding.samples,
                    message: deciding.message.clone(),
                    failures: u32::try_from(failures).unwrap_or(u32::MAX),
                    failure_limit: a.failure_limit,
                    consecutive_errors: u32::try_from(errors).unwrap_or(u32::MAX),
                    consecutive_error_limit: a.consecutive_error_limit,
                    measured_unix_ms: self.state.started_unix_ms + deciding.at_ms,
                })
            })
            // The latest deciding measurement, if several analyses failed.
            .max_by_key(|a| a.measured_unix_ms)
    }

    /// Opens the incident noted in the state (once per run and trigger) and
    /// records it in the audit log (once). `end`: how the rollback ended;
    /// `None` for an abort before any traffic moved.
    /// Opens (or finds, on a resumed run) the incident of the decided
    /// rollback or abort; its id, when it is stored.
    pub(super) async fn open_incident(&mut self, end: Option<RollbackEnd>) -> Option<String> {
        let opening = self.state.incident.clone()?;
        let built = match self.build_incident(opening, end).await.scrubbed() {
            Ok(i) => i,
            Err(e) => {
                self.incident_failed(format!("the incident: {e}"));
                return None;
            }
        };
        let (mut incident, new) = match self.store.open_incident(built).await {
            Ok(opened) => opened,
            Err(e) => {
                self.incident_failed(format!("storing the incident: {e}"));
                return None;
            }
        };
        let id = incident.id.clone();
        if new {
            self.events.emit(
                "incident",
                &format!(
                    "incident {} opened: {}",
                    incident.id,
                    incident.trigger.describe()
                ),
                json!({ "incident": incident.id, "trigger": incident.trigger.kind(),
                        "outcome": incident.outcome }),
            );
        }
        if incident.audit_seq.is_some() {
            return Some(id);
        }
        // Opened by a run killed before it recorded the audit entry, or
        // after it recorded it but before it kept its number.
        let recorded = if new {
            None
        } else {
            self.audit_seq_of(&incident.id).await
        };
        let seq = match recorded {
            Some(seq) => seq,
            None => {
                let draft = self
                    .recorder
                    .incident(&self.state.run_id, incident.audit_record());
                match self.store.record(draft).await {
                    Ok(appended) => appended.entry.seq,
                    Err(e) => {
                        self.incident_failed(format!(
                            "the audit log {} could not record incident {}: {e}",
                            self.store.audit_location(),
                            incident.id
                        ));
                        return Some(id);
                    }
                }
            }
        };
        super::failpoint::hit("after-incident-entry");
        incident.audit_seq = Some(seq);
        if let Err(e) = self.store.update_incident(&incident).await {
            self.incident_failed(format!("updating incident {}: {e}", incident.id));
        }
        Some(id)
    }

    fn incident_failed(&mut self, e: String) {
        self.events.emit("error", &e, json!({}));
        self.unrecorded.get_or_insert(e);
    }

    /// The sequence number of the audit entry opening incident `id`, if the
    /// log has one.
    async fn audit_seq_of(&self, id: &str) -> Option<u64> {
        let snapshot = self.store.audit_snapshot().await.ok()??;
        snapshot
            .lines()
            .complete
            .iter()
            .filter_map(|(_, line)| gate_audit::Entry::decode(line).ok())
            .find(|e| matches!(&e.record, gate_audit::Record::Incident(i) if i.id == id))
            .map(|e| e.seq)
    }

    async fn build_incident(&self, opening: Opening, end: Option<RollbackEnd>) -> Incident {
        let started = self.state.started_unix_ms;
        let timeline = self.incident_timeline(started, end.as_ref()).await;
        let problems = end.as_ref().map(|e| e.problems.clone()).unwrap_or_default();
        let rollback = end.as_ref().map(|e| RollbackFacts {
            decided_unix_ms: opening.decided_unix_ms,
            stable_unix_ms: e.stable_unix_ms,
            time_to_stable_ms: e.stable_unix_ms.saturating_sub(opening.decided_unix_ms),
        });
        let health_after = end.as_ref().map(|e| HealthAfter {
            servers: self.mode.stable_servers().to_vec(),
            healthy: e.health.is_empty(),
            problems: e.health.clone(),
        });
        Incident {
            format: FORMAT,
            id: String::new(),
            rollout: self.spec.name.clone(),
            run_id: self.state.run_id.clone(),
            spec: self.spec.file.display().to_string(),
            spec_sha256: self.spec.digest.clone(),
            strategy: self.spec.strategy.kind().to_string(),
            stable: self.spec.stable.version.clone(),
            candidate: self.spec.candidate.version.clone(),
            opened_unix_ms: unix_ms(),
            rollout_started_unix_ms: started,
            outcome: Incident::outcome_of(&opening.trigger, &problems),
            impact: impact_of(&timeline, &opening),
            actors: self.actors(&opening.trigger),
            trigger: opening.trigger,
            rollback,
            health_after,
            problems,
            timeline,
            audit_seq: None,
        }
    }

    /// The run's events as a timeline, ending with the rollback `end`
    /// will record.
    async fn incident_timeline(
        &self,
        started: u64,
        end: Option<&RollbackEnd>,
    ) -> Vec<TimelineEntry> {
        let events = match self.store.read_events(None, MAX_TIMELINE_EVENTS).await {
            Ok(events) => events.into_iter().map(|(_, e)| e).collect(),
            Err(e) => {
                self.events
                    .emit("error", &format!("reading the events: {e}"), json!({}));
                Vec::new()
            }
        };
        let mut timeline = timeline::of_events(&events, started);
        if let Some(e) = end {
            // The `rolled-back` event is written after the phase is saved,
            // so it is not in the log yet: what it will say is.
            timeline.push(TimelineEntry {
                at_unix_ms: e.stable_unix_ms,
                event: TimelineEvent::RolledBack {
                    switch_ms: None,
                    problems: e.problems.clone(),
                },
                message: format!("all traffic is on {}", self.spec.stable.version),
            });
            timeline.sort_by_key(|e| e.at_unix_ms);
        }
        timeline
    }

    /// Who started the run, who asked for the rollback, who approved.
    fn actors(&self, trigger: &Trigger) -> Actors {
        Actors {
            runner: os_user(),
            started_by: self.state.started_by.clone(),
            requested_by: match trigger {
                Trigger::Manual { by, .. } => Some(by.clone()),
                _ => None,
            },
            approvers: self
                .state
                .approvals
                .iter()
                .map(|a| Approver {
                    by: a.by.clone(),
                    step: a.step,
                    verified: a.verified,
                })
                .collect(),
        }
    }
}

/// How much traffic the candidate had, read from the timeline's steps.
fn impact_of(timeline: &[TimelineEntry], opening: &Opening) -> Impact {
    let first_traffic = timeline.iter().find_map(|e| match &e.event {
        TimelineEvent::Step {
            candidate_percent: Some(p),
            ..
        } if *p > 0 => Some(e.at_unix_ms),
        TimelineEvent::Step {
            server: Some(_), ..
        } => Some(e.at_unix_ms),
        _ => None,
    });
    let max_percent = timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::Step {
                candidate_percent, ..
            } => *candidate_percent,
            _ => None,
        })
        .chain([opening.candidate_percent])
        .max()
        .unwrap_or(0);
    Impact {
        max_candidate_percent: max_percent,
        candidate_percent_at_trigger: opening.candidate_percent,
        first_traffic_unix_ms: first_traffic,
        replaced_servers: opening.replaced.clone(),
    }
}
