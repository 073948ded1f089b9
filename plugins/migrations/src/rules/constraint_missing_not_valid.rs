//! `constraint-missing-not-valid`: CHECK constraint added without NOT VALID.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, ConstraintKind, Fact};

pub(super) static RULE: Rule = rule(
    "constraint-missing-not-valid",
    "CHECK constraint added without NOT VALID",
    Severity::High,
    true,
    "Adding a CHECK constraint to an existing table scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes.",
    "Add the constraint with NOT VALID, then run ALTER TABLE … VALIDATE CONSTRAINT in a separate transaction; validation only takes a SHARE UPDATE EXCLUSIVE lock.",
)
.plan(&[
    "add the constraint NOT VALID (new rows are checked immediately)",
    "fix existing rows that violate it, in batches",
    "VALIDATE CONSTRAINT in a separate migration or transaction",
])
.squawk(&["constraint-missing-not-valid"])
.on(on);


/// A CHECK added to a table that holds data without NOT VALID, as a
/// constraint or on a new column.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    match fact {
        Fact::AddConstraint(c) if c.kind == ConstraintKind::Check && !c.not_valid && !c.new => {
            let (label, table) = (c.label, c.table);
            a.add_at(
                RuleId::ConstraintMissingNotValid,
                format!("CHECK constraint {label} on {table} is validated immediately, scanning {table} under an ACCESS EXCLUSIVE lock."),
                Some(c.object.to_string()),
                c.at,
            );
        }
        Fact::ColumnConstraints(c) if c.to_existing_table() && c.col.check => {
            let (object, table) = (&c.object, c.table);
            c.report(a, RuleId::ConstraintMissingNotValid, format!("Adding {object} with a CHECK validates it immediately under an ACCESS EXCLUSIVE lock on {table}."));
        }
        _ => {}
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "check without not valid"
sql = "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0);"
expect = [{ rule = "constraint-missing-not-valid", line = 1, status = "fail" }]

[[case]]
name = "check with not valid"
sql = "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;"
expect = []

[[case]]
name = "new column with an inline check"
sql = "ALTER TABLE orders\n  ADD COLUMN qty bigint CHECK (qty > 0);"
expect = [{ rule = "constraint-missing-not-valid", line = 2 }]

[[case]]
name = "table created in the run"
sql = "CREATE TABLE orders (amount bigint);\nALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0);"
expect = []

[[case]]
name = "select into creates the table"
sql = "SELECT * INTO public.users_copy FROM users;\nALTER TABLE public.users_copy ADD CONSTRAINT positive CHECK (id > 0);"
expect = []

[[case]]
name = "select into temp table"
sql = "SELECT * INTO TEMP TABLE scratch FROM users;\nALTER TABLE scratch ADD CONSTRAINT positive CHECK (id > 0);"
expect = []

[[case]]
name = "a subquery's into is not the statement's"
sql = "ALTER TABLE users ADD CONSTRAINT positive CHECK (id > 0);"
expect = [{ rule = "constraint-missing-not-valid", line = 1 }]
"##;
