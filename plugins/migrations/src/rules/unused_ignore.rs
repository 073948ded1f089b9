//! `unused-ignore`: Unused gate:ignore.
//!
//! A pseudo-rule: it judges the file's ignore comments once every
//! statement's findings are known, so it has no `on` hook; the file's run
//! (`analyze/run.rs`) reports it at the end of the file.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "unused-ignore",
    "Unused gate:ignore",
    Severity::Low,
    false,
    "A `-- gate:ignore` or `-- gate:ignore-file` directive matched no finding (or names an unknown rule), so it silences nothing and may hide a future finding.",
    "Remove the directive or fix the rule id.",
)
.pseudo();

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "ignore that matched nothing"
sql = "-- gate:ignore drop-table not needed\nSELECT 1;"
expect = [{ rule = "unused-ignore", line = 1, status = "warn" }]

[[case]]
name = "unknown rule"
sql = "-- gate:ignore-file no-such-rule\nSELECT 1;"
expect = [{ rule = "unused-ignore", line = 1 }]

[[case]]
name = "used ignore"
sql = "-- gate:ignore drop-column rolled out in 1.4\nALTER TABLE users DROP COLUMN legacy;"
expect = []

[[case]]
name = "ignore of an excluded rule is not reported"
sql = "-- gate:ignore drop-column x\nSELECT 1;"
exclude = ["drop-column"]
expect = []

[[case]]
name = "squawk-ignore naming an unknown rule"
sql = "-- squawk-ignore no-such-squawk-rule\nALTER TABLE users ADD COLUMN a text;"
expect = [{ rule = "unused-ignore", line = 1 }]
"##;
