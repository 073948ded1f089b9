//! `prefer-text`: varchar(n) instead of text.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "prefer-text",
    "varchar(n) instead of text",
    Severity::Low,
    false,
    "Changing a varchar(n) limit later needs an ACCESS EXCLUSIVE lock (and a rewrite when it shrinks).",
    "Use text, with a CHECK (char_length(col) <= n) constraint if the limit matters.",
)
.squawk(&["prefer-text-field"]);

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "varchar(n) in create table"
sql = "CREATE TABLE t (\n  id bigint,\n  name varchar(100)\n);"
expect = [{ rule = "prefer-text", line = 3, status = "warn" }]

[[case]]
name = "character varying(n) in add column"
sql = "ALTER TABLE t ADD COLUMN name character varying(50);"
expect = [{ rule = "prefer-text", line = 1 }]

[[case]]
name = "text and unbounded varchar"
sql = "CREATE TABLE t (a text, b varchar);"
expect = []

[[case]]
name = "quoted varchar and a composite type's new attribute"
sql = "CREATE TABLE t (a \"varchar\"(10));\nALTER TYPE address ADD ATTRIBUTE city varchar(100);"
expect = [{ rule = "prefer-text", line = 1 }, { rule = "prefer-text", line = 2 }]
"##;
