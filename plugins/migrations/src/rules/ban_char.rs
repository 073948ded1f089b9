//! `ban-char`: char(n) column.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, TypeName, type_text};

pub(super) static RULE: Rule = rule(
    "ban-char",
    "char(n) column",
    Severity::Low,
    false,
    "char(n) pads values with spaces, wastes storage and compares surprisingly; changing it later rewrites the table.",
    "Use text (or varchar), with a CHECK constraint for a fixed length.",
)
.squawk(&["ban-char-field"])
.on(on);

/// char(n), character (not character varying), bpchar and nchar.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::ColumnType { object, ty, at } = fact else {
        return;
    };
    if TypeName::of(ty).is_some_and(|t| t.is(&["char", "character", "bpchar", "nchar"]) && !(t.name == "character" && t.varying)) {
        let text = type_text(ty);
        a.add_at(
            RuleId::BanChar,
            format!("{object} is {text}; char(n) pads with spaces, prefer text."),
            Some(object.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "char(n)"
sql = "CREATE TABLE t (code char(3));"
expect = [{ rule = "ban-char", line = 1, status = "warn" }]

[[case]]
name = "character"
sql = "ALTER TABLE t ADD COLUMN flag character;"
expect = [{ rule = "ban-char", line = 1 }]

[[case]]
name = "character varying is not char"
sql = "CREATE TABLE t (a character varying);"
expect = []

[[case]]
name = "quoted type names are the same types"
sql = "CREATE TABLE t (a \"bpchar\"(50), b \"char\"(2));"
expect = [{ rule = "ban-char", line = 1 }, { rule = "ban-char", line = 1 }]

[[case]]
name = "a quoted upper-case name is another type"
sql = "CREATE TABLE t (a \"BPCHAR\");"
expect = []
"##;
