//! `drop-sequence`: Sequence dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-sequence",
    "Sequence dropped",
    Severity::Medium,
    true,
    "Dropping a sequence breaks defaults and code that call nextval() on it.",
    "Remove the defaults and code that use the sequence first, then drop it in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-sequence"])
.class(Class::Contract)
.on(on);

/// DROP SEQUENCE.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Sequence)
    {
        drop_breaks(a, RuleId::DropSequence, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop sequence"
sql = "DROP SEQUENCE order_seq;"
expect = [{ rule = "drop-sequence", line = 1, status = "fail" }]

[[case]]
name = "drop sequence if exists cascade"
sql = "-- cleanup\nDROP SEQUENCE IF EXISTS order_seq CASCADE;"
expect = [{ rule = "drop-sequence", line = 2 }]

[[case]]
name = "create sequence"
sql = "CREATE SEQUENCE IF NOT EXISTS order_seq;"
expect = []
"##;
