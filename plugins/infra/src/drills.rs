//! `infra.drills`: the last successful drill of each required kind
//! (`gate drill rollback`, `gate drill restore`) is younger than
//! `max_age_days`, read from gate's drill record store (`drills.jsonl`,
//! one JSON record per line; docs/drills.md).
//!
//! The file is read through the `fs` grant like every other file a check
//! reads. A record that cannot be read or parsed is `error`, never `pass`:
//! a drill that cannot be seen is not a recent drill.

use gate_plugin_sdk::host::clock;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

pub const ID: &str = "infra.drills";

pub struct Drills;

/// The record store grows by one short line per drill.
const MAX_BYTES: u64 = 16 << 20;

/// The kinds `gate drill` records.
pub const KINDS: [&str; 2] = ["rollback", "restore"];

fn all_kinds() -> Vec<String> {
    KINDS.iter().map(|k| k.to_string()).collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub records: String,
    pub max_age_days: f64,
    #[serde(default = "all_kinds")]
    pub kinds: Vec<String>,
    /// Only drills of this rollout or connection count.
    #[serde(default)]
    pub subject: Option<String>,
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.records.trim().is_empty() {
            problems.push("`records` is empty".to_string());
        }
        if !(self.max_age_days.is_finite() && self.max_age_days > 0.0) {
            problems.push(format!(
                "`max_age_days` must be more than 0, not {}",
                self.max_age_days
            ));
        }
        if self.kinds.is_empty() {
            problems.push("`kinds` is empty: name the drills that must be recent".to_string());
        }
        for k in &self.kinds {
            if !KINDS.contains(&k.as_str()) {
                problems.push(format!(
                    "unknown drill kind `{k}` in `kinds` (known: {})",
                    KINDS.join(", ")
                ));
            }
        }
        problems
    }
}

/// What the check needs of one record; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct Record {
    pub kind: String,
    pub subject: String,
    pub finished: String,
    pub result: String,
}

/// One record, read: its line and finish time (Unix seconds).
#[derive(Debug)]
pub struct Read {
    pub line: usize,
    pub record: Record,
    pub finished: i64,
}

/// Parses the store; on the first bad line, its number and why.
pub fn parse(text: &str) -> Result<Vec<Read>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line).map_err(|e| (i + 1, e.to_string()))?;
        let finished = gate_plugin_sdk::date::parse_timestamp(&record.finished)
            .map_err(|e| (i + 1, format!("`finished`: {e}")))?;
        out.push(Read {
            line: i + 1,
            record,
            finished,
        });
    }
    Ok(out)
}

impl Check for Drills {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Recent rollback and restore drills".to_string(),
            description: "The last successful drill of each required kind (gate drill rollback, gate drill restore) is younger than max_age_days, per gate's drill records"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("records", "string", true, "The drill record file gate drill writes, e.g. \".gate/drills/drills.jsonl\""),
                param("max_age_days", "number", true, "Largest age of the last successful drill of each kind, in days"),
                param_default("kinds", "list of strings", "Drill kinds that must be recent: rollback, restore", "[\"rollback\", \"restore\"]"),
                param("subject", "string", false, "Only drills of this rollout (rollback) or connection (restore) count"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let problems = p.problems();
        if !problems.is_empty() {
            return params::invalid(ctx, problems.join("; "));
        }
        let text = gate_plugin_sdk::paths::read_to_string(&p.records, MAX_BYTES).map(|(_, t)| t);
        let (now, _) = clock::now();
        evaluate(ctx, &p, text, now)
    }
}

/// Judges the record store's text (or why it could not be read) at `now`.
pub fn evaluate(ctx: &Context, p: &Params, text: Result<String, String>, now: i64) -> Vec<Finding> {
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            return vec![
                ctx.finding(&p.records, Status::Error)
                    .message(format!("cannot read the drill records {}: {e}", p.records))
                    .remediation("run `gate drill rollback` / `gate drill restore` (they create the file), and check `records` and that the `infra` plugin's `fs` grant covers its directory")
                    .build(),
            ];
        }
    };
    let records = match parse(&text) {
        Ok(r) => r,
        Err((line, e)) => {
            return vec![
                ctx.finding(format!("{}:{line}", p.records), Status::Error)
                    .message(format!(
                        "{}:{line} is not a drill record ({e}), so no drill can be trusted",
                        p.records
                    ))
                    .remediation(
                        "repair or remove the line; gate drill appends one JSON record per line",
                    )
                    .build(),
            ];
        }
    };
    p.kinds
        .iter()
        .map(|kind| judge_kind(ctx, p, kind, &records, now))
        .collect()
}

/// One finding per required kind.
fn judge_kind(ctx: &Context, p: &Params, kind: &str, records: &[Read], now: i64) -> Finding {
    let of_kind: Vec<&Read> = records
        .iter()
        .filter(|r| r.record.kind == kind)
        .filter(|r| p.subject.as_ref().is_none_or(|s| *s == r.record.subject))
        .collect();
    let scope = p
        .subject
        .as_ref()
        .map_or(String::new(), |s| format!(" of `{s}`"));
    let subject = format!("{kind} drill{scope}");
    let last_passed = of_kind
        .iter()
        .filter(|r| r.record.result == "pass")
        .max_by_key(|r| r.finished);
    let Some(last) = last_passed else {
        let failed = of_kind.len();
        return ctx
            .finding(&subject, Status::Fail)
            .message(if failed == 0 {
                format!("no {kind} drill{scope} is recorded in {}", p.records)
            } else {
                format!("none of the {failed} {kind} drill(s){scope} recorded passed")
            })
            .remediation(format!("run `gate drill {kind}` and fix what it reports"))
            .evidence("recorded", failed.to_string())
            .build();
    };
    let age_days = (now - last.finished) as f64 / 86_400.0;
    let status = if age_days > p.max_age_days {
        Status::Fail
    } else {
        Status::Pass
    };
    let message = if status == Status::Pass {
        format!(
            "the last successful {kind} drill{scope} finished {} ({age_days:.1} days ago)",
            last.record.finished
        )
    } else {
        format!(
            "the last successful {kind} drill{scope} finished {} ({age_days:.1} days ago), older than max_age_days {}",
            last.record.finished, p.max_age_days
        )
    };
    let mut f = ctx
        .finding(&subject, status)
        .message(message)
        .evidence("finished", last.record.finished.clone())
        .evidence("age_days", format!("{:.1}", age_days.max(0.0)))
        .evidence("drilled", last.record.subject.clone())
        .evidence("line", last.line.to_string());
    if status == Status::Fail {
        f = f.remediation(format!("run `gate drill {kind}`"));
    }
    f.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(kinds: &[&str], max_age_days: f64) -> Params {
        Params {
            records: ".gate/drills/drills.jsonl".into(),
            max_age_days,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            subject: None,
        }
    }

    const NOW: i64 = 1_796_342_400; // 2026-12-03T00:00:00Z

    fn line(kind: &str, subject: &str, finished: &str, result: &str) -> String {
        format!(
            r#"{{"kind":"{kind}","subject":"{subject}","started":"{finished}","finished":"{finished}","result":"{result}","measures":{{}},"problems":[],"previous":null}}"#
        )
    }

    #[test]
    fn recent_successful_drills_of_each_kind_pass() {
        let text = [
            line("rollback", "web", "2026-11-30T10:00:00.000Z", "pass"),
            line("restore", "primary", "2026-12-01T10:00:00.000Z", "pass"),
            line("rollback", "web", "2026-12-02T10:00:00.000Z", "fail"),
        ]
        .join("\n");
        let out = evaluate(
            &ctx(),
            &params(&["rollback", "restore"], 30.0),
            Ok(text),
            NOW,
        );
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|f| f.status == Status::Pass), "{out:?}");
        assert!(
            out[0].message.contains("2026-11-30T10:00:00.000Z"),
            "{out:?}"
        );
    }

    #[test]
    fn an_old_or_missing_kind_fails() {
        let text = line("rollback", "web", "2026-10-01T00:00:00Z", "pass");
        let out = evaluate(
            &ctx(),
            &params(&["rollback", "restore"], 30.0),
            Ok(text),
            NOW,
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("older than max_age_days 30"),
            "{out:?}"
        );
        assert_eq!(out[1].status, Status::Fail);
        assert!(out[1].message.contains("no restore drill"), "{out:?}");
        let failed_only = line("restore", "primary", "2026-12-02T00:00:00Z", "fail");
        let out = evaluate(&ctx(), &params(&["restore"], 30.0), Ok(failed_only), NOW);
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].message.contains("none of the 1 restore"), "{out:?}");
    }

    #[test]
    fn an_unreadable_or_corrupt_record_is_an_error() {
        let out = evaluate(
            &ctx(),
            &params(&["rollback"], 30.0),
            Err("no such file".into()),
            NOW,
        );
        assert_eq!(out[0].status, Status::Error);
        let text = format!(
            "{}\n{{\"kind\":\"rollback\"",
            line("rollback", "web", "2026-12-02T00:00:00Z", "pass")
        );
        let out = evaluate(&ctx(), &params(&["rollback"], 30.0), Ok(text), NOW);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].subject.ends_with("drills.jsonl:2"), "{out:?}");
    }

    #[test]
    fn a_subject_narrows_the_drills_that_count() {
        let text = line("rollback", "api", "2026-12-02T00:00:00Z", "pass");
        let mut p = params(&["rollback"], 30.0);
        p.subject = Some("web".into());
        let out = evaluate(&ctx(), &p, Ok(text), NOW);
        assert_eq!(out[0].status, Status::Fail);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(!params(&["nap"], 30.0).problems().is_empty());
        assert!(!params(&["rollback"], 0.0).problems().is_empty());
        assert!(params(&["rollback"], 7.0).problems().is_empty());
    }
}
