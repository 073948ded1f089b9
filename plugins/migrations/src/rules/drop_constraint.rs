//! `drop-constraint`: Constraint dropped.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, ConstraintOn, Fact};

pub(super) static RULE: Rule = rule(
    "drop-constraint",
    "Constraint dropped",
    Severity::Medium,
    false,
    "Dropping a constraint removes a guarantee running code may rely on, and a rollback to the previous release may no longer find its data valid.",
    "Drop constraints only after the code that relied on them is gone; replace them first if the rule is moving.",
)
.plan(&[
    "deploy code that no longer relies on {object}",
    "drop {object} in a later migration",
])
.squawk(&["ban-drop-constraint"])
.class(Class::Contract)
.on(on);

/// DROP CONSTRAINT on a table or domain that existed before the migrations.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::DropConstraint { on, at, new: false } = fact else {
        return;
    };
    let (message, object) = match on {
        ConstraintOn::Table {
            table,
            name,
            object,
        } => (
            format!("Dropping constraint {name} on {table} removes a guarantee running code may rely on."),
            object,
        ),
        ConstraintOn::Domain(name) => (
            format!("Dropping a constraint of domain {name} removes a guarantee running code may rely on."),
            name,
        ),
    };
    a.report(RuleId::DropConstraint, message, Some(object.to_string()), *at);
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "drop constraint"
sql = "ALTER TABLE users DROP CONSTRAINT users_email_key;"
expect = [{ rule = "drop-constraint", line = 1, status = "warn" }]

[[case]]
name = "domain constraint"
sql = "ALTER DOMAIN email DROP CONSTRAINT email_check;"
expect = [{ rule = "drop-constraint", line = 1 }]

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text CHECK (a <> ''));\nALTER TABLE t DROP CONSTRAINT t_a_check;"
expect = []
"##;
