//! `rename-object`: Object renamed.

use super::{Rule, rule};
use crate::{Class, Severity};

pub(super) static RULE: Rule = rule(
    "rename-object",
    "Object renamed",
    Severity::Medium,
    true,
    "Renaming an index, view, type, function, sequence, schema or constraint breaks running code and scripts that reference the old name.",
    "Create the object under the new name alongside the old one (or a wrapper), move code to it, then drop the old one later.",
)
.plan(&[
    "create {object} under the new name next to the old one",
    "deploy code that uses the new name",
    "drop the old name in a later release",
])
.squawk(&["renaming-object"])
.class(Class::Breaking);

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "rename index"
sql = "ALTER INDEX idx_a RENAME TO idx_b;"
expect = [{ rule = "rename-object", line = 1, status = "fail" }]

[[case]]
name = "rename enum value"
sql = "ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy';"
expect = [{ rule = "rename-object", line = 1 }]

[[case]]
name = "rename constraint"
sql = "ALTER TABLE users RENAME CONSTRAINT a_check TO b_check;"
expect = [{ rule = "rename-object", line = 1 }]

[[case]]
name = "rename view"
sql = "ALTER VIEW active_users RENAME TO current_users;"
expect = [{ rule = "rename-object", line = 1 }]

[[case]]
name = "index created in the run"
sql = "CREATE INDEX CONCURRENTLY i ON t (a);\nALTER INDEX i RENAME TO j;"
in_transaction = false
expect = []
"##;
