//! `drop-view`: View dropped.

use super::{DROP_PLAN, Rule, rule};
use crate::{Class, Severity};

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
.class(Class::Contract);

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
