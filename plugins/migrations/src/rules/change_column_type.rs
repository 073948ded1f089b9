//! `change-column-type`: Column type changed.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, ColumnOf, Fact, type_text};

pub(super) static RULE: Rule = rule(
    "change-column-type",
    "Column type changed",
    Severity::High,
    true,
    "ALTER COLUMN … TYPE usually rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, and running code that reads or writes the old type can break.",
    "Add a new column with the new type, dual-write and backfill it, switch reads, then drop the old column later.",
)
.versions("Some changes need no rewrite (varchar(n) to a longer varchar or to text, numeric precision increases); the rule cannot see the old type, so ignore it with a reason for those.")
.plan(&[
    "add a new column with the new type next to {object}",
    "dual-write both columns with a trigger or in code",
    "backfill the new column in batches",
    "switch reads to the new column",
    "drop {object} in a later release",
])
.squawk(&["changing-column-type"])
.class(Class::Breaking)
.on(on);

/// A type change of a column or attribute that running code reads.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::ChangeType(c) = fact else {
        return;
    };
    if c.new {
        return;
    }
    let (object, ty) = (c.object, type_text(c.ty));
    let message = match c.of {
        ColumnOf::Type(_) => format!(
            "Changing the type of attribute {object} to {ty} can break running code that reads it."
        ),
        ColumnOf::Table(_) if c.foreign => {
            format!("Changing the type of {object} to {ty} can break running code that reads it.")
        }
        ColumnOf::Table(table) => format!(
            "Changing the type of {object} to {ty} rewrites {table} under an ACCESS EXCLUSIVE lock and can break running code."
        ),
    };
    a.add_at(RuleId::ChangeColumnType, message, Some(object.to_string()), c.at);
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "type change"
sql = "ALTER TABLE users ALTER COLUMN id TYPE bigint;"
expect = [{ rule = "change-column-type", line = 1, status = "fail" }]

[[case]]
name = "set data type with using"
sql = "ALTER TABLE users\n  ALTER COLUMN score SET DATA TYPE numeric(12, 2) USING score::numeric;"
expect = [{ rule = "change-column-type", line = 2 }]

[[case]]
name = "new table"
sql = "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;"
expect = []

[[case]]
name = "same on an old version"
sql = "ALTER TABLE users ALTER COLUMN id TYPE bigint;"
pg_version = 9
expect = [{ rule = "change-column-type", line = 1 }]

[[case]]
name = "attribute type of a composite type"
sql = "ALTER TYPE address ALTER ATTRIBUTE zip TYPE bigint;\nALTER TYPE address ALTER ATTRIBUTE city SET DATA TYPE text CASCADE;"
expect = [{ rule = "change-column-type", line = 1 }, { rule = "change-column-type", line = 2 }]

[[case]]
name = "foreign table column type"
sql = "ALTER FOREIGN TABLE remote_users ALTER COLUMN age TYPE bigint;"
rules = ["change-column-type", "require-statement-timeout", "set-not-null"]
expect = [{ rule = "change-column-type", line = 1 }]
"##;
