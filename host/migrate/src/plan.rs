//! `gate migrate plan`: the expand/contract phase of every statement, and
//! for each breaking or contract finding the validator's safe sequence.
//!
//! A statement's phase is the validator's classification of it (the
//! `phases` evidence of its file's `file-summary`); failing that, the
//! classification of its findings, or `data` for DML (INSERT, UPDATE,
//! DELETE, COPY, MERGE, DO) and `expand` for anything else.

use std::fmt::Write;

use super::layout::Migration;
use gate_core::model::Status;
use gate_eval::report::FindingReport;

/// Phases in the order a zero-downtime deploy runs them.
const PHASES: [&str; 4] = ["expand", "data", "contract", "breaking"];

fn rank(phase: &str) -> usize {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0)
}

/// One statement and its phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedStatement {
    /// Absolute line in the file.
    pub line: u32,
    pub phase: String,
    pub sql: String,
}

/// The statements of one up script with their phases.
pub fn statements(m: &Migration, findings: &[FindingReport]) -> Vec<PlannedStatement> {
    let script = gate_sqlkit::split(&m.up.contents);
    let offset = m.up.first_line.max(1) - 1;
    // The validator's own per-statement phases, from the file's summary.
    let phases: std::collections::BTreeMap<u64, String> = findings
        .iter()
        .filter(|f| f.rule.as_deref() == Some("file-summary") && f.subject == m.up.path)
        .filter_map(|f| f.evidence.get("phases"))
        .filter_map(|p| serde_json::from_str::<Vec<serde_json::Value>>(p).ok())
        .flatten()
        .filter_map(|v| {
            Some((
                v["line"].as_u64()?,
                v["classification"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut out = Vec::new();
    for (i, stmt) in script.statements.iter().enumerate() {
        let line = stmt.line + offset;
        let end = script
            .statements
            .get(i + 1)
            .map_or(u32::MAX, |next| next.line + offset);
        let class = findings
            .iter()
            .filter(|f| f.location.as_ref().is_some_and(|l| l.file == m.up.path))
            .filter(|f| {
                f.location
                    .as_ref()
                    .and_then(|l| l.line)
                    .is_some_and(|l| l >= line && l < end.max(line + 1))
            })
            .filter_map(|f| f.evidence.get("classification"))
            .max_by_key(|c| rank(c))
            .cloned();
        let phase = phases
            .get(&u64::from(line))
            .cloned()
            .or(class)
            .unwrap_or_else(|| {
                let tokens = stmt.tokens();
                let first = tokens.first().map(|t| t.text.as_str()).unwrap_or("");
                let dml = matches!(
                    first,
                    "INSERT" | "UPDATE" | "DELETE" | "COPY" | "MERGE" | "DO"
                ) || (first == "WITH"
                    && tokens
                        .iter()
                        .any(|t| t.is("INSERT") || t.is("UPDATE") || t.is("DELETE")));
                if dml { "data" } else { "expand" }.to_string()
            });
        out.push(PlannedStatement {
            line,
            phase,
            sql: one_line(&stmt.collapsed(100)),
        });
    }
    out
}

/// The plan of every migration, as text.
pub fn render(migrations: &[Migration], findings: &[FindingReport]) -> String {
    let mut out = String::new();
    for m in migrations {
        let stmts = statements(m, findings);
        let mode = if m.up.in_transaction {
            "in a transaction"
        } else {
            "outside a transaction"
        };
        let _ = writeln!(out, "{} ({}, {})", m.up.path, m.tool, mode);
        if stmts.is_empty() {
            let _ = writeln!(out, "  (no statements)");
        }
        for s in &stmts {
            let _ = writeln!(
                out,
                "  {:>5}  {:<8}  {}",
                format!("L{}", s.line),
                s.phase,
                s.sql
            );
        }
        let mut counts: Vec<String> = Vec::new();
        for phase in PHASES {
            let n = stmts.iter().filter(|s| s.phase == phase).count();
            if n > 0 {
                counts.push(format!("{n} {phase}"));
            }
        }
        if !counts.is_empty() {
            let _ = writeln!(out, "  phases: {}", counts.join(", "));
        }
        let risky = findings.iter().filter(|f| {
            f.status != Status::Pass
                && f.location.as_ref().is_some_and(|l| l.file == m.up.path)
                && f.evidence
                    .get("classification")
                    .is_some_and(|c| c == "breaking" || c == "contract")
                && f.evidence.contains_key("plan")
        });
        let mut shown_plans: Vec<(u32, String)> = Vec::new();
        for f in risky {
            let line = f.location.as_ref().and_then(|l| l.line).unwrap_or(0);
            let _ = writeln!(
                out,
                "  L{line} {} [{}]{}: {}",
                f.rule.as_deref().unwrap_or("-"),
                f.evidence.get("classification").map_or("", String::as_str),
                if f.status == Status::Skip {
                    " (ignored)"
                } else {
                    ""
                },
                f.message
            );
            let plan = f.evidence.get("plan").cloned().unwrap_or_default();
            if shown_plans.contains(&(line, plan.clone())) {
                continue;
            }
            let steps: Vec<String> = serde_json::from_str(&plan).unwrap_or_default();
            shown_plans.push((line, plan));
            for (i, step) in steps.iter().enumerate() {
                let _ = writeln!(out, "      {}. {step}", i + 1);
            }
        }
        out.push('\n');
    }
    out
}

/// `sql` on one line: every run of whitespace (dollar-quoted bodies keep
/// theirs after collapsing) becomes one space.
pub fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
