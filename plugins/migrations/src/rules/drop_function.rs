//! `drop-function`: Function or procedure dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-function",
    "Function or procedure dropped",
    Severity::Medium,
    true,
    "Dropping a function or procedure breaks running code, triggers and defaults that call it.",
    "Remove every caller (code, triggers, defaults) first, then drop it in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-function"])
.class(Class::Contract)
.on(on);

/// DROP FUNCTION, PROCEDURE, ROUTINE or AGGREGATE.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Function | ObjectKind::Procedure | ObjectKind::Routine | ObjectKind::Aggregate)
    {
        drop_breaks(a, RuleId::DropFunction, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop function"
sql = "DROP FUNCTION calc_total(int);"
expect = [{ rule = "drop-function", line = 1, status = "fail" }]

[[case]]
name = "drop function if exists cascade"
sql = "-- cleanup\nDROP FUNCTION IF EXISTS calc_total(int) CASCADE;"
expect = [{ rule = "drop-function", line = 2 }]

[[case]]
name = "procedure"
sql = "DROP PROCEDURE archive_orders();"
expect = [{ rule = "drop-function", line = 1 }]

[[case]]
name = "create function"
sql = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;"
expect = []
"##;
