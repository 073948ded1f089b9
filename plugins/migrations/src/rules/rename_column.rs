//! `rename-column`: Column renamed.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, Renamed};

pub(super) static RULE: Rule = rule(
    "rename-column",
    "Column renamed",
    Severity::High,
    true,
    "Renaming a column breaks every running instance that still uses the old name, immediately.",
    "Add the new column, dual-write, backfill, switch reads, and drop the old column in a later release (or expose the new name through a view).",
)
.plan(&[
    "add the new column next to {object}",
    "dual-write both columns with a trigger",
    "backfill the new column in batches",
    "switch reads to the new column",
    "drop {object} in a later release",
])
.squawk(&["renaming-column"])
.class(Class::Breaking)
.on(on);

/// ALTER TABLE … RENAME [COLUMN] on an existing table.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Rename {
        renamed: Renamed::Column { object, to },
        at,
        new: false,
    } = fact
    {
        a.report(
            RuleId::RenameColumn,
            format!("Renaming column {object} to {to} breaks running code that uses the old name."),
            Some(object.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "rename column"
sql = "ALTER TABLE users RENAME COLUMN email TO email_address;"
expect = [{ rule = "rename-column", line = 1, status = "fail" }]

[[case]]
name = "rename without COLUMN keyword"
sql = "ALTER TABLE users RENAME email TO email_address;"
expect = [{ rule = "rename-column", line = 1 }]

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text);\nALTER TABLE t RENAME COLUMN a TO b;"
expect = []

[[case]]
name = "foreign table column"
sql = "ALTER FOREIGN TABLE IF EXISTS remote_users RENAME COLUMN name TO full_name;"
expect = [{ rule = "rename-column", line = 1 }]
"##;
