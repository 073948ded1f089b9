//! `detach-partition-not-concurrently`: DETACH PARTITION without CONCURRENTLY.

use super::{Rule, rule};
use crate::{Class, Severity};

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
.class(Class::Contract);

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
