//! `detach-partition-not-concurrently`: DETACH PARTITION without CONCURRENTLY.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "detach-partition-not-concurrently",
    "DETACH PARTITION without CONCURRENTLY",
    Severity::Medium,
    false,
    "ALTER TABLE … DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the parent table, blocking all queries on every partition.",
    "Use DETACH PARTITION … CONCURRENTLY outside a transaction.",
)
.plan(&[
    "stop writing to partition {object}",
    "ALTER TABLE … DETACH PARTITION {object} CONCURRENTLY in its own non-transactional migration",
    "archive or drop {object} in a later migration",
])
.versions("DETACH PARTITION CONCURRENTLY exists from PostgreSQL 14; the rule is silent before that.")
.squawk(&["require-concurrent-partition-detach"])
.class(Class::Contract)
.on(on);

/// DETACH PARTITION without CONCURRENTLY, from PostgreSQL 14 (which has it).
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::DetachPartition {
        table,
        partition,
        concurrently: false,
        at,
        new: false,
    } = fact
        && a.cfg.pg >= 14
    {
        a.add_at(
            RuleId::DetachPartitionNotConcurrently,
            format!("Detaching partition {partition} from {table} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on {table}."),
            Some(partition.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "plain detach on 14"
sql = "ALTER TABLE measurements DETACH PARTITION m_2020;"
pg_version = 14
expect = [{ rule = "detach-partition-not-concurrently", line = 1, status = "warn" }]

[[case]]
name = "silent before 14"
sql = "ALTER TABLE measurements DETACH PARTITION m_2020;"
pg_version = 13
expect = []

[[case]]
name = "concurrently"
sql = "ALTER TABLE measurements DETACH PARTITION m_2020 CONCURRENTLY;"
in_transaction = false
expect = []
"##;
