//! `drop-generated-expression`: Generated expression dropped.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, ColumnChange, Fact};

pub(super) static RULE: Rule = rule(
    "drop-generated-expression",
    "Generated expression dropped",
    Severity::Medium,
    false,
    "ALTER COLUMN … DROP EXPRESSION turns a generated column into a plain one: nothing fills it any more, and running code that relies on it reads stale values.",
    "Deploy code that writes the column itself before dropping the expression.",
)
.plan(&[
    "deploy code that writes {object} itself",
    "DROP EXPRESSION in a later migration",
])
.squawk(&["ban-drop-generated-expression"])
.class(Class::Contract)
.on(on);

/// DROP EXPRESSION on a column of an existing table.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Some(c) = fact.altered_column(ColumnChange::DropExpression) {
        let object = c.object;
        c.report(a, RuleId::DropGeneratedExpression, format!("Dropping the generated expression of {object} leaves it unfilled for running code."));
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop expression"
sql = "ALTER TABLE users ALTER COLUMN lower_email DROP EXPRESSION;"
expect = [{ rule = "drop-generated-expression", line = 1, status = "warn" }]

[[case]]
name = "other alter column"
sql = "ALTER TABLE users ALTER COLUMN lower_email SET STATISTICS 100;"
expect = []
"##;
