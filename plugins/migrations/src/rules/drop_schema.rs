//! `drop-schema`: Schema dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-schema",
    "Schema dropped",
    Severity::Critical,
    true,
    "Dropping a schema (especially with CASCADE) drops every object in it and breaks running code that uses them.",
    "Move or drop the objects one by one in later releases once no code uses them.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-schema"])
.class(Class::Contract)
.on(on);

/// DROP SCHEMA.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Schema)
    {
        drop_breaks(a, RuleId::DropSchema, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop schema"
sql = "DROP SCHEMA reporting;"
expect = [{ rule = "drop-schema", line = 1, status = "fail" }]

[[case]]
name = "drop schema if exists cascade"
sql = "-- cleanup\nDROP SCHEMA IF EXISTS reporting CASCADE;"
expect = [{ rule = "drop-schema", line = 2 }]

[[case]]
name = "create schema"
sql = "CREATE SCHEMA IF NOT EXISTS reporting;"
expect = []
"##;
