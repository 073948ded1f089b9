//! `parse-error`: Statement not parsed.
//!
//! A pseudo-rule: a note about sqlparser, not a check of the statement's
//! meaning, so it has no `on` hook; the file's run (`analyze/run.rs`) adds
//! it after the statement's hits when sqlparser cannot parse the statement.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "parse-error",
    "Statement not parsed",
    Severity::Info,
    false,
    "sqlparser could not parse the statement, so only the token-level rules checked it.",
    "Nothing to fix in the migration; review the statement by hand.",
)
.pseudo();

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "do block"
sql = "DO $$ BEGIN PERFORM 1; END $$;"
expect = [{ rule = "parse-error", line = 1, status = "warn" }]

[[case]]
name = "plain statement parses"
sql = "ALTER TABLE users ADD COLUMN nick text;"
expect = []

[[case]]
name = "ignored parse error"
sql = "-- gate:ignore parse-error vendor syntax\nSELECT FROM WHERE;"
expect = [{ rule = "parse-error", line = 2, status = "skip" }]
"##;
