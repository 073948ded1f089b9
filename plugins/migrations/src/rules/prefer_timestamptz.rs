//! `prefer-timestamptz`: timestamp without time zone.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, TypeName};

pub(super) static RULE: Rule = rule(
    "prefer-timestamptz",
    "timestamp without time zone",
    Severity::Low,
    false,
    "timestamp without time zone drops the offset, so values depend on each writer's time zone; converting later rewrites the table.",
    "Use timestamptz (timestamp with time zone).",
)
.squawk(&["prefer-timestamp-tz", "prefer-timestamptz"])
.on(on);

/// timestamp without time zone.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::ColumnType { object, ty, at } = fact else {
        return;
    };
    if TypeName::of(ty).is_some_and(|t| t.name == "timestamp" && !t.with_time_zone) {
        a.add_at(
            RuleId::PreferTimestamptz,
            format!("{object} is timestamp without time zone; prefer timestamptz."),
            Some(object.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "timestamp"
sql = "CREATE TABLE t (at timestamp);"
expect = [{ rule = "prefer-timestamptz", line = 1, status = "warn" }]

[[case]]
name = "timestamp without time zone"
sql = "ALTER TABLE t ADD COLUMN at timestamp(3) without time zone;"
expect = [{ rule = "prefer-timestamptz", line = 1 }]

[[case]]
name = "timestamptz forms"
sql = "CREATE TABLE t (a timestamptz, b timestamp with time zone);"
expect = []
"##;
