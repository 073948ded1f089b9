//! `prefer-bigint-over-smallint`: smallint column.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "prefer-bigint-over-smallint",
    "smallint column",
    Severity::Low,
    false,
    "smallint columns overflow at 32767; widening them later rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Use bigint unless the range is certain to stay small.",
)
.squawk(&["prefer-bigint-over-smallint"]);

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "smallint"
sql = "CREATE TABLE t (n smallint);"
expect = [{ rule = "prefer-bigint-over-smallint", line = 1, status = "warn" }]

[[case]]
name = "int2"
sql = "ALTER TABLE t ADD COLUMN n int2;"
expect = [{ rule = "prefer-bigint-over-smallint", line = 1 }]

[[case]]
name = "bigint"
sql = "CREATE TABLE t (n bigint);"
expect = []
"##;
