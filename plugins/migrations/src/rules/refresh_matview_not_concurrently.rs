//! `refresh-matview-not-concurrently`: REFRESH MATERIALIZED VIEW without CONCURRENTLY.

use super::{Rule, RuleId, rule};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, has_anywhere, is, name_at};


pub(super) static RULE: Rule = rule(
    "refresh-matview-not-concurrently",
    "REFRESH MATERIALIZED VIEW without CONCURRENTLY",
    Severity::Medium,
    false,
    "REFRESH MATERIALIZED VIEW without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the view and blocks every read of it until the refresh finishes.",
    "Use REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view).",
)
.class(Class::Data)
.on(on);

/// REFRESH MATERIALIZED VIEW without CONCURRENTLY.
fn check(a: &mut Analysis<'_>) {
    let t = a.t;
    if !a.starts_with(&["REFRESH"]) || has_anywhere(t, "CONCURRENTLY") {
        return;
    }
    let view = (1..t.len())
        .find(|&k| is(t, k, "VIEW"))
        .and_then(|k| name_at(t, k + 1))
        .map(|(n, _)| n)
        .unwrap_or_default();
    a.add(
        RuleId::RefreshMatviewNotConcurrently,
        format!("REFRESH MATERIALIZED VIEW {view} without CONCURRENTLY blocks every read of {view} until it finishes."),
        Some(view),
    );
}

/// Judges the statement once its walk is done.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if matches!(fact, Fact::Walked) {
        check(a);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "plain refresh"
sql = "REFRESH MATERIALIZED VIEW totals;"
expect = [{ rule = "refresh-matview-not-concurrently", line = 1, status = "warn" }]

[[case]]
name = "concurrently"
sql = "REFRESH MATERIALIZED VIEW CONCURRENTLY totals;"
expect = []
"##;
