//! `prefer-bigint-over-smallint`: smallint column.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, TypeName, type_text};

pub(super) static RULE: Rule = rule(
    "prefer-bigint-over-smallint",
    "smallint column",
    Severity::Low,
    false,
    "smallint columns overflow at 32767; widening them later rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Use bigint unless the range is certain to stay small.",
)
.squawk(&["prefer-bigint-over-smallint"])
.on(on);

/// 16-bit integers and serials.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::ColumnType { object, ty, at } = fact else {
        return;
    };
    if TypeName::of(ty).is_some_and(|t| t.is(&["smallint", "int2", "smallserial", "serial2"])) {
        let text = type_text(ty);
        a.add_at(
            RuleId::PreferBigintOverSmallint,
            format!("{object} is a 16-bit {text}; prefer bigint."),
            Some(object.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "smallint"
sql = "CREATE TABLE t (n smallint);"
expect = [{ rule = "prefer-bigint-over-smallint", line = 1, status = "warn" }]

[[case]]
name = "int2"
sql = "ALTER TABLE t ADD COLUMN n int2;"
expect = [{ rule = "prefer-bigint-over-smallint", line = 1 }]

[[case]]
name = "bigint"
sql = "CREATE TABLE t (n bigint);"
expect = []
"##;
