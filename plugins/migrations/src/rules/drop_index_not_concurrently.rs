//! `drop-index-not-concurrently`: Index dropped without CONCURRENTLY.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-index-not-concurrently",
    "Index dropped without CONCURRENTLY",
    Severity::Medium,
    true,
    "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table and blocks reads and writes while it waits for running queries.",
    "Use DROP INDEX CONCURRENTLY IF EXISTS in a migration that does not run inside a transaction.",
)
.plan(&[
    "check that no query plan still needs {object} (pg_stat_user_indexes.idx_scan)",
    "DROP INDEX CONCURRENTLY IF EXISTS {object} in its own non-transactional migration",
])
.squawk(&["require-concurrent-index-deletion"])
.class(Class::Contract)
.on(on);

/// DROP INDEX without CONCURRENTLY of an index the migrations did not create.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && d.kind == ObjectKind::Index
        && !d.concurrently
        && !d.new
    {
        let name = d.name;
        a.add(
            RuleId::DropIndexNotConcurrently,
            format!("DROP INDEX {name} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table."),
            Some(name.to_string()),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "plain drop"
sql = "DROP INDEX idx_users_email;"
expect = [{ rule = "drop-index-not-concurrently", line = 1, status = "fail" }]

[[case]]
name = "concurrently outside a transaction"
sql = "DROP INDEX CONCURRENTLY IF EXISTS idx_users_email;"
in_transaction = false
expect = []

[[case]]
name = "index created in the run"
sql = "CREATE INDEX CONCURRENTLY i ON t (a);\nDROP INDEX i;"
in_transaction = false
expect = []
"##;
