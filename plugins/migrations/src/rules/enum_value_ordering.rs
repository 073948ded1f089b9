//! `enum-value-ordering`: Enum value added without BEFORE/AFTER.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "enum-value-ordering",
    "Enum value added without BEFORE/AFTER",
    Severity::Low,
    false,
    "ALTER TYPE … ADD VALUE without BEFORE or AFTER appends the value to the end, which changes ORDER BY and comparisons on the enum if the order matters.",
    "Say where the value goes with BEFORE or AFTER.",
)
.squawk(&["require-enum-value-ordering"])
.on(on);

/// ALTER TYPE … ADD VALUE without BEFORE or AFTER.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::AddEnumValue {
        ty,
        value,
        positioned: false,
        ..
    } = fact
    {
        a.add(
            RuleId::EnumValueOrdering,
            format!("Value '{value}' is appended to the end of enum {ty}; say BEFORE or AFTER if order matters."),
            Some(ty.to_string()),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "no before/after"
sql = "ALTER TYPE mood ADD VALUE 'meh';"
expect = [{ rule = "enum-value-ordering", line = 1, status = "warn" }]

[[case]]
name = "with before"
sql = "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'happy';"
expect = []
"##;
