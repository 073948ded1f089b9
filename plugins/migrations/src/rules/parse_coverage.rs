//! `parse-coverage`: Parse coverage.
//!
//! A pseudo-rule: a note about the whole run, so it has no `on` hook; the
//! run (`analyze/mod.rs`) writes it from its counts after the last file.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "parse-coverage",
    "Parse coverage",
    Severity::Info,
    false,
    "How many statements sqlparser parsed, and how many statements of each classification the run contains.",
    "Nothing to fix; unparsed statements are listed as parse-error.",
)
.pseudo();

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "full coverage"
sql = "SELECT 1;"
expect = [{ rule = "parse-coverage", status = "pass" }]

[[case]]
name = "partial coverage"
sql = "SELECT 1;\nDO $$ BEGIN PERFORM 1; END $$;"
expect = [{ rule = "parse-coverage", status = "warn" }]
"##;
