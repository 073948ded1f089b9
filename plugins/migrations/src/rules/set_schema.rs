//! `set-schema`: Object moved to another schema.

use super::{Rule, rule};
use crate::{Class, Severity};

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
.class(Class::Breaking);

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
