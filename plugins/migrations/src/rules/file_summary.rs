//! `file-summary`: Per-file summary.
//!
//! A pseudo-rule: a summary of the file's classifications, so it has no
//! `on` hook; the file's run (`analyze/run.rs`) writes it after the file's
//! last statement.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "file-summary",
    "Per-file summary",
    Severity::Info,
    false,
    "One per file: how many statements it has and their classification (expand, contract, breaking, data).",
    "Nothing to fix; used by `gate migrate plan`.",
)
.pseudo();

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "one per file, even empty"
expect = [{ rule = "file-summary", status = "pass", file = "001.sql" }, { rule = "file-summary", status = "pass", file = "002.sql" }]
[[case.files]]
path = "001.sql"
sql = "CREATE TABLE t (id bigint);"
[[case.files]]
path = "002.sql"
sql = "-- nothing here\n"
"##;
