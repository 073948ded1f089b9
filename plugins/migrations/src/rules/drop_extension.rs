//! `drop-extension`: Extension dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-extension",
    "Extension dropped",
    Severity::High,
    true,
    "Dropping an extension drops its types, functions and operators (and with CASCADE, the columns and indexes that use them).",
    "Remove every use of the extension first, then drop it deliberately in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-extension"])
.class(Class::Contract)
.on(on);

/// DROP EXTENSION.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Extension)
    {
        drop_breaks(a, RuleId::DropExtension, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop extension"
sql = "DROP EXTENSION hstore;"
expect = [{ rule = "drop-extension", line = 1, status = "fail" }]

[[case]]
name = "drop extension if exists cascade"
sql = "-- cleanup\nDROP EXTENSION IF EXISTS hstore CASCADE;"
expect = [{ rule = "drop-extension", line = 2 }]

[[case]]
name = "create extension"
sql = "CREATE EXTENSION IF NOT EXISTS hstore;"
expect = []
"##;
