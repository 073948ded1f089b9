//! `drop-constraint`: Constraint dropped.

use super::{Rule, rule};
use crate::{Class, Severity};

pub(super) static RULE: Rule = rule(
    "drop-constraint",
    "Constraint dropped",
    Severity::Medium,
    false,
    "Dropping a constraint removes a guarantee running code may rely on, and a rollback to the previous release may no longer find its data valid.",
    "Drop constraints only after the code that relied on them is gone; replace them first if the rule is moving.",
)
.plan(&[
    "deploy code that no longer relies on {object}",
    "drop {object} in a later migration",
])
.squawk(&["ban-drop-constraint"])
.class(Class::Contract);

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop constraint"
sql = "ALTER TABLE users DROP CONSTRAINT users_email_key;"
expect = [{ rule = "drop-constraint", line = 1, status = "warn" }]

[[case]]
name = "domain constraint"
sql = "ALTER DOMAIN email DROP CONSTRAINT email_check;"
expect = [{ rule = "drop-constraint", line = 1 }]

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text CHECK (a <> ''));\nALTER TABLE t DROP CONSTRAINT t_a_check;"
expect = []
"##;
