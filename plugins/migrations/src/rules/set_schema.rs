//! `set-schema`: Object moved to another schema.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "set-schema",
    "Object moved to another schema",
    Severity::Medium,
    true,
    "ALTER … SET SCHEMA changes the object's qualified name; running code and search_path lookups that use the old schema break.",
    "Create the object in the new schema (or a view there), move code, then drop the old one later.",
)
.plan(&[
    "create {object} in the new schema (or a view over it)",
    "deploy code that uses the new schema",
    "drop the old object in a later release",
])
.squawk(&["ban-set-schema"])
.class(Class::Breaking)
.on(on);

/// ALTER … SET SCHEMA of an object that existed before the migrations.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::SetSchema {
        kind,
        name,
        at,
        new: false,
    } = fact
    {
        a.report(
            RuleId::SetSchema,
            format!("Moving {kind} {name} to another schema breaks running code that uses its old qualified name."),
            Some(name.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "table set schema"
sql = "ALTER TABLE users SET SCHEMA archive;"
expect = [{ rule = "set-schema", line = 1, status = "fail" }]

[[case]]
name = "function set schema"
sql = "ALTER FUNCTION f(int) SET SCHEMA util;"
expect = [{ rule = "set-schema", line = 1 }]

[[case]]
name = "set search_path is not"
sql = "SET search_path TO archive;"
expect = []
"##;
