//! `reindex-not-concurrently`: REINDEX without CONCURRENTLY.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "reindex-not-concurrently",
    "REINDEX without CONCURRENTLY",
    Severity::Medium,
    true,
    "REINDEX without CONCURRENTLY locks out writes to the table (and reads that use the index) until the rebuild finishes.",
    "Use REINDEX INDEX CONCURRENTLY outside a transaction.",
)
.versions("REINDEX CONCURRENTLY exists from PostgreSQL 12; before that, build a new index CONCURRENTLY and drop the old one CONCURRENTLY.")
.squawk(&["require-concurrent-reindex"])
.on(on);

/// REINDEX without CONCURRENTLY (REINDEX SYSTEM has no concurrent form and
/// is not reported by the walk).
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Reindex {
        label,
        name,
        concurrently: false,
    } = fact
    {
        a.add(
            RuleId::ReindexNotConcurrently,
            format!("REINDEX {label} without CONCURRENTLY blocks writes while the index is rebuilt."),
            Some(name.to_string()),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "plain reindex"
sql = "REINDEX INDEX idx_users_email;"
expect = [{ rule = "reindex-not-concurrently", line = 1, status = "fail" }]

[[case]]
name = "reindex table with options"
sql = "REINDEX (VERBOSE) TABLE users;"
expect = [{ rule = "reindex-not-concurrently", line = 1 }]

[[case]]
name = "concurrently"
sql = "REINDEX INDEX CONCURRENTLY idx_users_email;"
in_transaction = false
expect = []

[[case]]
name = "PostgreSQL 11 still flags it"
sql = "REINDEX TABLE users;"
pg_version = 11
expect = [{ rule = "reindex-not-concurrently", line = 1 }]

[[case]]
name = "concurrently switched off in the options"
sql = "REINDEX (CONCURRENTLY false) TABLE users;"
in_transaction = false
expect = [{ rule = "reindex-not-concurrently", line = 1 }]

[[case]]
name = "concurrently off, with another option"
sql = "REINDEX (VERBOSE, CONCURRENTLY OFF) INDEX users_pkey;"
in_transaction = false
expect = [{ rule = "reindex-not-concurrently", line = 1 }]

[[case]]
name = "concurrently in the options"
sql = "REINDEX (CONCURRENTLY) TABLE users;\nREINDEX (CONCURRENTLY true, VERBOSE) INDEX users_pkey;"
in_transaction = false
expect = []

[[case]]
name = "reindex system cannot be concurrent"
sql = "REINDEX SYSTEM;\nREINDEX (VERBOSE) SYSTEM app;"
in_transaction = false
expect = []
"##;
