//! `drop-column`: Column dropped.

use super::{DROP_PLAN, Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, ColumnOf, Fact};

pub(super) static RULE: Rule = rule(
    "drop-column",
    "Column dropped",
    Severity::High,
    true,
    "Dropping a column breaks every running instance that still selects or inserts it (including ORMs that list all columns).",
    "First deploy code that no longer uses the column (mark it ignored in the ORM), then drop it in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-column"])
.class(Class::Contract)
.on(on);

/// A column, or a composite type's attribute, that running code may use.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::DropColumn {
        of,
        object,
        at,
        new: false,
    } = fact
    else {
        return;
    };
    let message = match of {
        ColumnOf::Table(_) => format!(
            "Dropping column {object} breaks running code that still selects or inserts it."
        ),
        ColumnOf::Type(ty) => format!(
            "Dropping attribute {object} of type {ty} breaks running code that still reads or writes it."
        ),
    };
    a.add_at(RuleId::DropColumn, message, Some(object.to_string()), *at);
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop column"
sql = "ALTER TABLE users DROP COLUMN legacy_flag;"
expect = [{ rule = "drop-column", line = 1, status = "fail" }]

[[case]]
name = "drop without COLUMN keyword, two actions"
sql = "ALTER TABLE users DROP legacy_flag,\n  DROP COLUMN IF EXISTS other;"
expect = [{ rule = "drop-column", line = 1 }, { rule = "drop-column", line = 2 }]

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text, b text);\nALTER TABLE t DROP COLUMN b;"
expect = []

[[case]]
name = "drop constraint is another rule"
sql = "ALTER TABLE users DROP CONSTRAINT users_check;"
expect = []

[[case]]
name = "inline ignore turns the finding into skip"
sql = "-- gate:ignore drop-column removed from code in 1.4\nALTER TABLE users DROP COLUMN legacy;"
expect = [{ rule = "drop-column", line = 2, status = "skip" }]

[[case]]
name = "file-wide ignore"
sql = "-- gate:ignore-file drop-column,drop-table cleanup release\nALTER TABLE users DROP COLUMN legacy;\nDROP TABLE old;"
rules = ["drop-column", "drop-table"]
expect = [{ rule = "drop-column", line = 2, status = "skip" }, { rule = "drop-table", line = 3, status = "skip" }]

[[case]]
name = "ignore separated by a blank line does not apply"
sql = "-- gate:ignore drop-column reason\n\nALTER TABLE users DROP COLUMN legacy;"
rules = ["drop-column", "unused-ignore"]
expect = [{ rule = "drop-column", line = 3, status = "fail" }, { rule = "unused-ignore", line = 1 }]

[[case]]
name = "lines are offset by first_line"
expect = [{ rule = "drop-column", line = 12, file = "db.sql" }]
[[case.files]]
path = "db.sql"
sql = "-- migrate:up\nALTER TABLE users DROP COLUMN legacy;"
first_line = 11

[[case]]
name = "excluded rule"
sql = "ALTER TABLE users DROP COLUMN legacy;"
exclude = ["drop-column"]
expect = []

[[case]]
name = "a composite type's attribute is a column to its readers"
sql = "ALTER TYPE address DROP ATTRIBUTE zip;\nALTER TYPE address DROP ATTRIBUTE IF EXISTS street, ADD ATTRIBUTE line1 text;"
expect = [{ rule = "drop-column", line = 1 }, { rule = "drop-column", line = 2 }]

[[case]]
name = "attribute of a type created in the file"
sql = "CREATE TYPE address AS (zip text, city text);\nALTER TYPE address DROP ATTRIBUTE zip;"
expect = []

[[case]]
name = "foreign table column"
sql = "ALTER FOREIGN TABLE remote_users DROP COLUMN legacy;"
rules = ["drop-column", "require-table-schema"]
include = ["require-table-schema"]
expect = [{ rule = "drop-column", line = 1 }]

[[case]]
name = "squawk-ignore with squawk's rule name"
sql = "-- squawk-ignore ban-drop-column, renaming-column\nALTER TABLE users DROP COLUMN legacy;\nALTER TABLE users DROP COLUMN other;"
rules = ["drop-column", "unused-ignore"]
expect = [{ rule = "drop-column", line = 2, status = "skip" }, { rule = "drop-column", line = 3, status = "fail" }]

[[case]]
name = "squawk-ignore-file without rules ignores every rule"
sql = "-- squawk-ignore-file\nALTER TABLE users DROP COLUMN legacy;\nALTER TABLE users RENAME COLUMN a TO b;"
rules = ["drop-column", "rename-column"]
expect = [{ rule = "drop-column", line = 2, status = "skip" }, { rule = "rename-column", line = 3, status = "skip" }]

[[case]]
name = "squawk-ignore-file with a rule, anywhere in the file"
sql = "ALTER TABLE users DROP COLUMN legacy;\n-- squawk-ignore-file ban-drop-column\nALTER TABLE users RENAME COLUMN a TO b;"
rules = ["drop-column", "rename-column"]
expect = [{ rule = "drop-column", line = 1, status = "skip" }, { rule = "rename-column", line = 3, status = "fail" }]
"##;
