//! `drop-default`: Column default dropped.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, ColumnChange, Fact};

pub(super) static RULE: Rule = rule(
    "drop-default",
    "Column default dropped",
    Severity::Medium,
    false,
    "Dropping a default breaks running code that inserts rows without the column and relies on the default.",
    "Deploy code that always writes the column before dropping the default.",
)
.plan(&[
    "deploy code that always writes {object}",
    "wait until the old release is gone",
    "DROP DEFAULT in a later migration",
])
.squawk(&["ban-drop-default"])
.class(Class::Contract)
.on(on);

/// DROP DEFAULT on a column of an existing table.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Some(c) = fact.altered_column(ColumnChange::DropDefault) {
        let object = c.object;
        c.report(a, RuleId::DropDefault, format!("Dropping the default of {object} breaks inserts from running code that omit the column."));
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop default"
sql = "ALTER TABLE users ALTER COLUMN active DROP DEFAULT;"
expect = [{ rule = "drop-default", line = 1, status = "warn" }]

[[case]]
name = "set default"
sql = "ALTER TABLE users ALTER COLUMN active SET DEFAULT false;"
expect = []
"##;
