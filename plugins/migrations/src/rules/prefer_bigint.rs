//! `prefer-bigint`: 32-bit integer column.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, TypeName, type_text};

pub(super) static RULE: Rule = rule(
    "prefer-bigint",
    "32-bit integer column",
    Severity::Low,
    false,
    "int/integer/serial columns overflow at 2^31; widening them later rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Use bigint (or bigserial / bigint identity) for ids and counters.",
)
.squawk(&["prefer-bigint-over-int"])
.on(on);

/// 32-bit integers and serials.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::ColumnType { object, ty, at } = fact else {
        return;
    };
    if TypeName::of(ty).is_some_and(|t| t.is(&["int", "integer", "int4", "serial", "serial4"])) {
        let text = type_text(ty);
        a.add_at(
            RuleId::PreferBigint,
            format!("{object} is a 32-bit {text}; prefer bigint."),
            Some(object.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "integer"
sql = "CREATE TABLE t (n integer);"
expect = [{ rule = "prefer-bigint", line = 1, status = "warn" }]

[[case]]
name = "serial"
sql = "CREATE TABLE t (id serial PRIMARY KEY);"
expect = [{ rule = "prefer-bigint", line = 1 }]

[[case]]
name = "type change to int"
sql = "ALTER TABLE t ALTER COLUMN n TYPE int4;"
expect = [{ rule = "prefer-bigint", line = 1 }]

[[case]]
name = "bigint"
sql = "CREATE TABLE t (n bigint, m int8);"
expect = []
"##;
