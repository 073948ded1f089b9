//! `drop-table`: Table dropped.

use super::{DROP_PLAN, Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-table",
    "Table dropped",
    Severity::Critical,
    true,
    "Dropping a table loses its data and breaks every running instance that still uses it.",
    "Stop using the table in code first, keep a backup, and drop it in a later release.",
)
.plan(DROP_PLAN)
.squawk(&["ban-drop-table"])
.class(Class::Contract)
.on(on);

/// DROP TABLE or DROP FOREIGN TABLE of a table the migrations did not create.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Table | ObjectKind::ForeignTable)
    {
        drop_breaks(a, RuleId::DropTable, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop table"
sql = "DROP TABLE users;"
expect = [{ rule = "drop-table", line = 1, status = "fail" }]

[[case]]
name = "drop table if exists cascade"
sql = "-- cleanup\nDROP TABLE IF EXISTS users CASCADE;"
expect = [{ rule = "drop-table", line = 2 }]

[[case]]
name = "table created in the run"
sql = "CREATE TABLE tmp (a text);\nDROP TABLE tmp;"
expect = []

[[case]]
name = "drop index is another rule"
sql = "DROP INDEX idx;"
expect = []
"##;
