//! `drop-type`: Type or domain dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-type",
    "Type or domain dropped",
    Severity::Medium,
    true,
    "Dropping a type or domain fails while columns use it, or with CASCADE drops those columns, breaking running code.",
    "Move columns off the type first, then drop it in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-domain", "ban-drop-type"])
.class(Class::Contract)
.on(on);

/// DROP TYPE or DROP DOMAIN of a type the migrations did not create.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Type | ObjectKind::Domain)
    {
        drop_breaks(a, RuleId::DropType, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop type"
sql = "DROP TYPE mood;"
expect = [{ rule = "drop-type", line = 1, status = "fail" }]

[[case]]
name = "drop type if exists cascade"
sql = "-- cleanup\nDROP TYPE IF EXISTS mood CASCADE;"
expect = [{ rule = "drop-type", line = 2 }]

[[case]]
name = "domain"
sql = "DROP DOMAIN email;"
expect = [{ rule = "drop-type", line = 1 }]

[[case]]
name = "type created in the run"
sql = "CREATE TYPE mood AS ENUM ('a');\nDROP TYPE mood;"
expect = []
"##;
