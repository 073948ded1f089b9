//! `enum-value-ordering`: Enum value added without BEFORE/AFTER.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "enum-value-ordering",
    "Enum value added without BEFORE/AFTER",
    Severity::Low,
    false,
    "ALTER TYPE … ADD VALUE without BEFORE or AFTER appends the value to the end, which changes ORDER BY and comparisons on the enum if the order matters.",
    "Say where the value goes with BEFORE or AFTER.",
)
.squawk(&["require-enum-value-ordering"]);

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
