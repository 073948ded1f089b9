//! `drop-not-null`: NOT NULL dropped.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, ColumnChange, Fact};

pub(super) static RULE: Rule = rule(
    "drop-not-null",
    "NOT NULL dropped",
    Severity::Medium,
    false,
    "Dropping NOT NULL lets the new release write NULLs that running code (and a rollback) does not expect.",
    "Make sure every reader handles NULL before the column is relaxed.",
)
.plan(&[
    "deploy code that tolerates NULL in {object}",
    "DROP NOT NULL in a later migration",
])
.squawk(&["ban-drop-not-null"])
.on(on);

/// DROP NOT NULL on a column of an existing table.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Some(c) = fact.altered_column(ColumnChange::DropNotNull) {
        let object = c.object;
        c.report(a, RuleId::DropNotNull, format!("Dropping NOT NULL on {object} lets NULLs reach running code that does not expect them."));
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop not null"
sql = "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;"
expect = [{ rule = "drop-not-null", line = 1, status = "warn" }]

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text NOT NULL);\nALTER TABLE t ALTER COLUMN a DROP NOT NULL;"
expect = []
"##;
