//! `rename-object`: Object renamed.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, Renamed};

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
.class(Class::Breaking)
.on(on);

/// A rename of anything but a table or column that existed before the
/// migrations: constraints, enum values, attributes, types, indexes, ….
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::Rename {
        renamed,
        at,
        new: false,
    } = fact
    else {
        return;
    };
    let (message, object) = match renamed {
        Renamed::Table { .. } | Renamed::Column { .. } => return,
        Renamed::Constraint {
            table,
            name,
            object,
        } => (
            format!("Renaming constraint {name} on {table} breaks code and scripts that use the old name."),
            object,
        ),
        Renamed::EnumValue { ty } => (
            format!("Renaming a value of enum {ty} breaks running code that uses the old name."),
            ty,
        ),
        Renamed::Attribute { ty } => (
            format!("Renaming an attribute of type {ty} breaks running code that uses the old name."),
            ty,
        ),
        Renamed::Object { kind, name } => (
            format!("Renaming {kind} {name} breaks running code that uses the old name."),
            name,
        ),
    };
    a.report(RuleId::RenameObject, message, Some(object.to_string()), *at);
}

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
