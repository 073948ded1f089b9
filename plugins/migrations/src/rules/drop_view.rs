//! `drop-view`: View dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-view",
    "View dropped",
    Severity::Medium,
    true,
    "Dropping a (materialized) view breaks running code and reports that query it.",
    "Stop using the view in code first, then drop it in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-view"])
.class(Class::Contract)
.on(on);

/// DROP VIEW or DROP MATERIALIZED VIEW.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::View | ObjectKind::MaterializedView)
    {
        drop_breaks(a, RuleId::DropView, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop view"
sql = "DROP VIEW active_users;"
expect = [{ rule = "drop-view", line = 1, status = "fail" }]

[[case]]
name = "drop view if exists cascade"
sql = "-- cleanup\nDROP VIEW IF EXISTS active_users CASCADE;"
expect = [{ rule = "drop-view", line = 2 }]

[[case]]
name = "materialized view"
sql = "DROP MATERIALIZED VIEW totals;"
expect = [{ rule = "drop-view", line = 1 }]

[[case]]
name = "create or replace view"
sql = "CREATE OR REPLACE VIEW v AS SELECT 1;"
expect = []
"##;
