//! One line of text per audit entry, saying what it records: `gate audit
//! show` prints it and the dashboard lists it.

use crate::entry::{CheckStatus, Record, RolloutEvent};

impl Record {
    /// One line saying what the entry records (`gate audit show`, the dashboard).
    pub fn summary(&self) -> String {
        match self {
            Record::Evaluation(e) => {
                let problems = e
                    .checks
                    .iter()
                    .filter(|c| {
                        matches!(
                            c.status,
                            CheckStatus::Warn | CheckStatus::Fail | CheckStatus::Error
                        )
                    })
                    .count();
                format!(
                    "{} {} ({}): {} checks, {problems} warn/fail/error, {} exemptions used",
                    e.policy_name,
                    e.verdict,
                    e.policy.file,
                    e.checks.len(),
                    e.exemptions_used.len()
                )
            }
            Record::Migrate(m) => format!(
                "{} {}: {} migrations, {} findings",
                m.command,
                m.verdict,
                m.migrations.len(),
                m.findings
            ),
            Record::Rollout(r) => format!("{} {}", r.service, rollout_event(&r.event)),
            Record::Approval(a) => format!("{} approved by {}", a.subject, a.principal),
            Record::Stage(s) => format!("{} {}", s.name, s.state),
            Record::Recovery(r) => format!(
                "cut off an interrupted append: {} bytes ({} entries, sha256 {}), {} checkpoint bytes",
                r.discarded_bytes,
                r.discarded_entries,
                r.discarded_sha256,
                r.discarded_checkpoint_bytes
            ),
            Record::Incident(i) => format!(
                "{} opened for {}: {} ({}): {}",
                i.id, i.service, i.outcome, i.trigger, i.detail
            ),
            Record::Drill(d) => drill(d),
        }
    }
}

fn drill(d: &crate::entry::Drill) -> String {
    use crate::entry::DrillMeasures;
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| format!("{v} ms"));
    let figures = match &d.measures {
        DrillMeasures::Rollback(m) => format!(
            "{}% to the candidate, stable after {}, healthy after {}",
            m.percent,
            ms(m.to_stable_ms),
            ms(m.to_healthy_ms)
        ),
        DrillMeasures::Restore(m) => format!(
            "restored in {}, data loss window {}, {}/{} queries as expected",
            ms(m.restore_ms),
            ms(m.data_loss_ms),
            m.queries.iter().filter(|q| q.ok).count(),
            m.queries.len()
        ),
    };
    format!("{} drill of {} {}: {figures}", d.kind, d.subject, d.result)
}

fn rollout_event(event: &RolloutEvent) -> String {
    match event {
        RolloutEvent::Start {
            strategy,
            stable,
            candidate,
        } => format!("start {strategy}: {stable} → {candidate}"),
        RolloutEvent::Step { step, of } => format!("step {step}/{of}"),
        RolloutEvent::Weights { weights } => {
            let w: Vec<String> = weights
                .iter()
                .map(|w| format!("{} {}%", w.backend, w.percent))
                .collect();
            format!("weights {}", w.join(", "))
        }
        RolloutEvent::Analysis {
            name,
            step,
            result,
            detail,
        } => format!("step {step} analysis {name} {result}: {detail}"),
        RolloutEvent::Approval { step, by } => format!("step {step} approved by {by} (unverified)"),
        RolloutEvent::ApprovalRefused {
            step,
            reason,
            submitted_by,
        } => format!("step {step} approval by {submitted_by} refused: {reason}"),
        RolloutEvent::Promote => "promote".into(),
        RolloutEvent::Rollback { reason } => format!("rollback: {reason}"),
        RolloutEvent::RolledBack { problems } if problems.is_empty() => {
            "rolled back: all traffic on stable, healthy".into()
        }
        RolloutEvent::RolledBack { problems } => {
            format!("rolled back with problems: {}", problems.join("; "))
        }
        RolloutEvent::Abort { reason } => format!("abort: {reason}"),
    }
}
