//! `prefer-text`: varchar(n) instead of text.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, TypeName, type_text};

pub(super) static RULE: Rule = rule(
    "prefer-text",
    "varchar(n) instead of text",
    Severity::Low,
    false,
    "Changing a varchar(n) limit later needs an ACCESS EXCLUSIVE lock (and a rewrite when it shrinks).",
    "Use text, with a CHECK (char_length(col) <= n) constraint if the limit matters.",
)
.squawk(&["prefer-text-field"])
.on(on);

/// varchar(n) and character varying(n).
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::ColumnType { object, ty, at } = fact else {
        return;
    };
    if TypeName::of(ty).is_some_and(|t| (t.name == "varchar" || (t.name == "character" && t.varying)) && t.has_len) {
        let text = type_text(ty);
        a.add_at(
            RuleId::PreferText,
            format!("{object} is {text}; prefer text with a CHECK on its length."),
            Some(object.to_string()),
            *at,
        );
    }
}

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
