//! `rename-table`: Table renamed.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, Renamed};

pub(super) static RULE: Rule = rule(
    "rename-table",
    "Table renamed",
    Severity::High,
    true,
    "Renaming a table breaks every running instance that still uses the old name, immediately.",
    "Rename the table and create an updatable view with the old name in the same transaction, move code to the new name, then drop the view later.",
)
.plan(&[
    "rename {object} and create a view with the old name in the same transaction",
    "deploy code that uses the new name",
    "drop the compatibility view in a later release",
])
.squawk(&["renaming-table"])
.class(Class::Breaking)
.on(on);

/// ALTER TABLE … RENAME TO on an existing table.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Rename {
        renamed: Renamed::Table { table, to },
        at,
        new: false,
    } = fact
    {
        a.report(
            RuleId::RenameTable,
            format!("Renaming table {table} to {to} breaks running code that uses the old name."),
            Some(table.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "rename table"
sql = "ALTER TABLE users RENAME TO accounts;"
expect = [{ rule = "rename-table", line = 1, status = "fail" }]

[[case]]
name = "new table then rename then use"
sql = "CREATE TABLE t (a text);\nALTER TABLE t RENAME TO u;\nALTER TABLE u RENAME COLUMN a TO b;"
rules = ["rename-table", "rename-column"]
expect = []
"##;
