//! `/metrics` in the Prometheus text exposition format (version 0.0.4):
//! rollouts by phase, router weights and the candidate's share, the last
//! analysis verdicts, evaluations by verdict, exemptions by days to expiry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::App;
use crate::blocking;
use crate::error::ApiError;
use crate::view::{exemptions, rollouts};

/// The phases a rollout can be in (and `not-started`).
const PHASES: &[&str] = &[
    "not-started",
    "starting",
    "progressing",
    "rolling-back",
    "verifying",
    "promoted",
    "rolled-back",
    "aborted",
];

/// A label value, escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// The text being written: one `# HELP`/`# TYPE` per family, then samples.
#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .collect();
        let _ = writeln!(self.0, "{name}{{{}}} {value}", labels.join(","));
    }
}

pub async fn metrics(State(app): State<Arc<App>>) -> Result<impl IntoResponse, ApiError> {
    let mut text = Text::default();
    rollout_metrics(&mut text, &rollouts::all(&app.specs).await?);
    let (evaluations, exemptions) = blocking(&app, |app| {
        Ok((evaluation_counts(app)?, exemptions::all(app)?))
    })
    .await?;
    text.family(
        "gate_evaluations",
        "gauge",
        "Evaluation entries in the audit log by policy and verdict.",
    );
    for ((policy, verdict), n) in &evaluations {
        text.sample(
            "gate_evaluations",
            &[("policy", policy), ("verdict", verdict)],
            n,
        );
    }
    text.family(
        "gate_exemption_days_to_expiry",
        "gauge",
        "Days until each exemption expires (negative once expired).",
    );
    for e in &exemptions {
        let subject = e.subject_match.as_deref().unwrap_or("*");
        text.sample(
            "gate_exemption_days_to_expiry",
            &[
                ("policy", &e.policy),
                ("check", &e.check),
                ("match", subject),
                ("signature", e.signature_name()),
            ],
            e.days_left,
        );
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text.0,
    ))
}

fn rollout_metrics(text: &mut Text, rollouts: &[rollouts::Summary]) {
    text.family("gate_rollouts", "gauge", "Served rollouts by phase.");
    for phase in PHASES {
        let n = rollouts
            .iter()
            .filter(|r| r.status["phase"].as_str().unwrap_or("not-started") == *phase)
            .count();
        text.sample("gate_rollouts", &[("phase", phase)], n);
    }
    text.family(
        "gate_rollout_candidate_percent",
        "gauge",
        "The candidate's share of traffic as recorded in the rollout state.",
    );
    for r in rollouts {
        if let Some(p) = r.status["candidate_percent"].as_u64() {
            text.sample("gate_rollout_candidate_percent", &[("rollout", &r.name)], p);
        }
    }
    text.family(
        "gate_rollout_server_weight",
        "gauge",
        "Each router server's weight now, read through the spec's driver.",
    );
    for r in rollouts {
        for s in &r.servers {
            text.sample(
                "gate_rollout_server_weight",
                &[("rollout", &r.name), ("server", &s.name), ("side", s.side)],
                s.weight,
            );
        }
    }
    text.family(
        "gate_rollout_analysis_verdict",
        "gauge",
        "1 for the last verdict of each analysis of each rollout.",
    );
    for r in rollouts {
        for (analysis, verdict) in &r.verdicts {
            text.sample(
                "gate_rollout_analysis_verdict",
                &[
                    ("rollout", &r.name),
                    ("analysis", analysis),
                    ("verdict", verdict),
                ],
                1,
            );
        }
    }
}

/// Evaluation entries per (policy name, verdict) over every served policy's log.
fn evaluation_counts(app: &App) -> Result<BTreeMap<(String, String), u64>, ApiError> {
    let mut counts = BTreeMap::new();
    for index in &app.audits {
        let looked = index.look()?;
        for (key, n) in looked.evaluations() {
            *counts.entry(key.clone()).or_insert(0) += n;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut t = Text::default();
        t.sample("m", &[("k", "v\"")], 3);
        assert_eq!(t.0, "m{k=\"v\\\"\"} 3\n");
    }
}
