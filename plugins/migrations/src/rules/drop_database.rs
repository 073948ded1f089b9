//! `drop-database`: Database dropped.

use super::{Rule, rule, RuleId, drop_breaks};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "drop-database",
    "Database dropped",
    Severity::Critical,
    true,
    "Dropping a database from a migration destroys all of its data irrecoverably.",
    "Drop databases by hand, deliberately, never from an application migration.",
)
.plan(&[
    "confirm nothing connects to {object}",
    "take a final backup",
    "drop {object} manually, outside the migration tool",
])
.squawk(&["ban-drop-database"])
.class(Class::Contract)
.on(on);

/// DROP DATABASE.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Drop(d) = fact
        && matches!(d.kind, ObjectKind::Database)
    {
        drop_breaks(a, RuleId::DropDatabase, d);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop database"
sql = "DROP DATABASE legacy;"
expect = [{ rule = "drop-database", line = 1, status = "fail" }]

[[case]]
name = "drop database if exists cascade"
sql = "-- cleanup\nDROP DATABASE IF EXISTS legacy CASCADE;"
expect = [{ rule = "drop-database", line = 2 }]

[[case]]
name = "create database"
sql = "CREATE DATABASE legacy;"
expect = []
"##;
