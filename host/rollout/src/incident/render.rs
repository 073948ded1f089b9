//! An incident as people read it: a post-incident summary in Markdown,
//! ready to paste into a ticket or a status page (summary, impact, the
//! trigger with its values, the timeline, the actions, follow-ups to fill
//! in); the same as plain text; and one line per incident for lists.

use std::fmt::Write as _;

use gate_strategy_protocol::Verdict;

use super::timeline::{TimelineEntry, TimelineEvent};
use super::{Incident, IncidentOutcome, Trigger, number, time};

fn clock(unix_ms: u64) -> String {
    time(unix_ms).format("%H:%M:%S%.3f").to_string()
}

fn date_time(unix_ms: u64) -> String {
    time(unix_ms).format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        seconds(ms)
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Success => "success",
        Verdict::Failure => "failure",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Error => "error",
        Verdict::Pending => "pending",
    }
}

/// A table cell: one line, no pipe.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn outcome_words(i: &Incident) -> String {
    match i.outcome {
        IncidentOutcome::RolledBack => format!("rolled back to {}", i.stable),
        IncidentOutcome::RolledBackWithProblems => {
            format!("rolled back to {}, with problems", i.stable)
        }
        IncidentOutcome::Aborted => "aborted before any traffic moved".into(),
    }
}

fn title(i: &Incident) -> String {
    format!(
        "Incident {}: `{}` {} → {} {}",
        i.id,
        i.rollout,
        i.stable,
        i.candidate,
        outcome_words(i)
    )
}

fn who_decided(i: &Incident) -> String {
    match &i.trigger {
        Trigger::Manual { by, .. } => format!("{by} (by hand)"),
        Trigger::Abort { .. } => "gate (automatically)".into(),
        _ => "gate (automatically)".into(),
    }
}

fn summary(i: &Incident) -> String {
    let mut s = match &i.trigger {
        Trigger::Abort { .. } => format!(
            "The {} rollout of `{}` from {} to {} was aborted at {} before any traffic reached {}: {}.",
            i.strategy,
            i.rollout,
            i.stable,
            i.candidate,
            date_time(i.opened_unix_ms),
            i.candidate,
            i.trigger.describe()
        ),
        _ => format!(
            "The {} rollout of `{}` from {} to {} was rolled back by {} at {}, with {}% of traffic on {}. Trigger: {}.",
            i.strategy,
            i.rollout,
            i.stable,
            i.candidate,
            who_decided(i),
            date_time(
                i.rollback
                    .as_ref()
                    .map_or(i.opened_unix_ms, |r| r.decided_unix_ms)
            ),
            i.impact.candidate_percent_at_trigger,
            i.candidate,
            i.trigger.describe()
        ),
    };
    if let Some(r) = &i.rollback {
        let _ = write!(
            s,
            " All traffic was on {} {} after the decision",
            i.stable,
            duration(r.time_to_stable_ms)
        );
        match &i.health_after {
            Some(h) if h.healthy => {
                let _ = write!(s, "; {} was healthy afterwards.", i.stable);
            }
            Some(_) => {
                let _ = write!(s, "; {} was NOT healthy afterwards.", i.stable);
            }
            None => s.push('.'),
        }
    }
    s
}

fn impact(i: &Incident) -> Vec<String> {
    let mut lines = Vec::new();
    match (i.impact.first_traffic_unix_ms, &i.rollback) {
        (Some(first), Some(r)) => lines.push(format!(
            "{} served traffic for {} (from {} to {} UTC), at most {}% of it.",
            i.candidate,
            seconds(r.stable_unix_ms.saturating_sub(first)),
            clock(first),
            clock(r.stable_unix_ms),
            i.impact.max_candidate_percent
        )),
        _ if !i.impact.replaced_servers.is_empty() => lines.push(format!(
            "{} ran on {}.",
            i.candidate,
            i.impact.replaced_servers.join(", ")
        )),
        _ => lines.push(format!("No traffic reached {}.", i.candidate)),
    }
    if let Some(r) = &i.rollback {
        lines.push(format!(
            "Time to 100% stable: {} (decision at {}, all traffic on {} at {} UTC).",
            duration(r.time_to_stable_ms),
            clock(r.decided_unix_ms),
            i.stable,
            clock(r.stable_unix_ms)
        ));
    }
    if let Some(h) = &i.health_after {
        if h.healthy {
            lines.push(format!(
                "Health after the rollback: healthy ({}).",
                h.servers.join(", ")
            ));
        } else {
            lines.push(format!(
                "Health after the rollback: UNHEALTHY: {}.",
                h.problems.join("; ")
            ));
        }
    }
    lines
}

fn trigger_lines(i: &Incident) -> Vec<String> {
    let analysis = match &i.trigger {
        Trigger::Analysis(a) => Some(a),
        Trigger::Verify {
            analysis: Some(a), ..
        } => Some(a),
        _ => None,
    };
    let mut lines = vec![format!("Kind: {}", i.trigger.kind())];
    match analysis {
        Some(a) => {
            if let Trigger::Verify { stage, .. } = &i.trigger {
                lines.push(format!("Verify stage: `{stage}` (after promotion)"));
            }
            lines.push(format!("Analysis: `{}`", a.name));
            lines.push(format!(
                "Provider and query: `{}` `{}`",
                a.provider, a.query
            ));
            lines.push(format!("Threshold: {}", a.thresholds()));
            lines.push(format!(
                "Measured: {}{} over {} samples at {} UTC (result: {})",
                a.value.map_or("no value".to_string(), number),
                a.stable_value
                    .map_or(String::new(), |s| format!(" (stable {})", number(s))),
                a.samples,
                clock(a.measured_unix_ms),
                verdict(a.result)
            ));
            lines.push(format!(
                "Step {} with {}% on the candidate; failures in the step: {} (limit {}); errors in a row: {} (limit {})",
                a.step,
                a.candidate_percent,
                a.failures,
                a.failure_limit,
                a.consecutive_errors,
                a.consecutive_error_limit
            ));
            if let Some(m) = &a.message {
                lines.push(format!("Message: {m}"));
            }
        }
        None => lines.push(format!("What: {}", i.trigger.describe())),
    }
    lines
}

fn event_detail(e: &TimelineEntry) -> String {
    match &e.event {
        TimelineEvent::Step {
            candidate_percent: Some(p),
            weights,
            step,
            ..
        } => {
            let w: Vec<String> = weights.iter().map(|(s, n)| format!("{s} {n}")).collect();
            format!(
                "step {step}: {p}% on the candidate (weights {})",
                w.join(", ")
            )
        }
        TimelineEvent::Analysis {
            analysis,
            step,
            result,
            value,
            stable_value,
            samples,
        } => format!(
            "step {step}: `{analysis}` {}{}{} over {samples} samples",
            verdict(*result),
            value.map_or(String::new(), |v| format!(" {}", number(v))),
            stable_value.map_or(String::new(), |s| format!(" (stable {})", number(s)))
        ),
        _ => e.message.clone(),
    }
}

/// The post-incident summary in Markdown.
pub fn markdown(i: &Incident) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", title(i));
    let _ = writeln!(md, "| | |\n|---|---|");
    let rows = [
        ("Incident", format!("`{}`", i.id)),
        ("Opened", date_time(i.opened_unix_ms)),
        (
            "Rollout",
            format!(
                "`{}` ({}), {} → {}, run `{}`",
                i.rollout, i.strategy, i.stable, i.candidate, i.run_id
            ),
        ),
        ("Spec", format!("`{}` (sha256 `{}`)", i.spec, i.spec_sha256)),
        ("Trigger", i.trigger.describe()),
        ("Outcome", outcome_words(i)),
        (
            "Time to 100% stable",
            i.rollback
                .as_ref()
                .map_or("—".into(), |r| duration(r.time_to_stable_ms)),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(md, "| {k} | {} |", cell(&v));
    }
    let _ = writeln!(md, "\n## Summary\n\n{}\n", summary(i));
    let _ = writeln!(md, "## Impact\n");
    for line in impact(i) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(md, "\n## Trigger\n");
    for line in trigger_lines(i) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "\n## Timeline\n\nTimes in UTC; +s from the rollout's start at {}.\n",
        date_time(i.rollout_started_unix_ms)
    );
    let _ = writeln!(md, "| Time | +s | Event | Detail |\n|---|---|---|---|");
    for e in &i.timeline {
        let _ = writeln!(
            md,
            "| {} | {:.1} | {} | {} |",
            clock(e.at_unix_ms),
            e.at_unix_ms.saturating_sub(i.rollout_started_unix_ms) as f64 / 1000.0,
            e.kind(),
            cell(&event_detail(e))
        );
    }
    let _ = writeln!(md, "\n## Actions\n");
    for line in actions(i) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "\n## Follow-ups\n\n- [ ] Root cause:\n- [ ] Fix, and how it is tested:\n- [ ] Detection: would an earlier or stricter analysis have caught it sooner?\n- [ ] Owner and due date:"
    );
    md
}

fn actions(i: &Incident) -> Vec<String> {
    let a = &i.actors;
    let mut lines = vec![format!("Rollout started by {}.", a.started_by)];
    for ap in &a.approvers {
        lines.push(format!(
            "Step {} approved by {}{}.",
            ap.step,
            ap.by,
            if ap.verified {
                " (signed)"
            } else {
                " (by name)"
            }
        ));
    }
    match &i.trigger {
        Trigger::Manual { action, by, at } => {
            lines.push(format!("`gate {action}` requested by {by} at {at}."));
        }
        Trigger::Abort { .. } => {
            lines.push("gate aborted the rollout before any traffic moved.".into())
        }
        _ => lines.push("gate decided the rollback on its own.".into()),
    }
    if let Some(r) = &i.rollback {
        lines.push(format!(
            "Traffic moved back to {} by gate running as {}: all on stable at {} UTC.",
            i.stable,
            a.runner,
            clock(r.stable_unix_ms)
        ));
    }
    for p in &i.problems {
        lines.push(format!("Problem on the way back: {p}"));
    }
    lines
}

/// The same content as plain text.
pub fn text(i: &Incident) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{}", title(i));
    let _ = writeln!(
        t,
        "opened {}  run {}",
        date_time(i.opened_unix_ms),
        i.run_id
    );
    let _ = writeln!(t, "\n{}", summary(i));
    let _ = writeln!(t, "\nimpact:");
    for line in impact(i) {
        let _ = writeln!(t, "  {line}");
    }
    let _ = writeln!(t, "trigger:");
    for line in trigger_lines(i) {
        let _ = writeln!(t, "  {line}");
    }
    let _ = writeln!(t, "timeline:");
    for e in &i.timeline {
        let _ = writeln!(
            t,
            "  {}  {:<17} {}",
            clock(e.at_unix_ms),
            e.kind(),
            event_detail(e)
        );
    }
    let _ = writeln!(t, "actions:");
    for line in actions(i) {
        let _ = writeln!(t, "  {line}");
    }
    t
}

/// One line of `gate incident list`.
pub fn list_line(i: &Incident) -> String {
    format!(
        "{:<24} {}  {:<10} {:<26} {:>10}  {}",
        i.id,
        date_time(i.opened_unix_ms),
        i.trigger.kind(),
        i.outcome,
        i.rollback
            .as_ref()
            .map_or("—".into(), |r| duration(r.time_to_stable_ms)),
        i.trigger.describe()
    )
}
