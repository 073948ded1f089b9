//! `add-unique-constraint`: UNIQUE constraint built under an exclusive lock.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, ConstraintKind, Fact};

pub(super) static RULE: Rule = rule(
    "add-unique-constraint",
    "UNIQUE constraint built under an exclusive lock",
    Severity::High,
    true,
    "ALTER TABLE … ADD UNIQUE builds the index while holding an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole build.",
    "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX.",
)
.plan(&[
    "remove duplicates in batches",
    "CREATE UNIQUE INDEX CONCURRENTLY on the columns, outside a transaction",
    "ADD CONSTRAINT … UNIQUE USING INDEX (instant)",
])
.squawk(&["disallowed-unique-constraint"])
.on(on);


/// A UNIQUE or exclusion constraint that builds its index under the
/// table's lock, as a constraint or on a new column.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    match fact {
        Fact::AddConstraint(c)
            if matches!(c.kind, ConstraintKind::Unique | ConstraintKind::Exclude)
                && !c.using_index
                && !c.new =>
        {
            let what = if c.kind == ConstraintKind::Unique {
                "UNIQUE"
            } else {
                "Exclusion"
            };
            let (label, table) = (c.label, c.table);
            a.add_at(
                RuleId::AddUniqueConstraint,
                format!("{what} constraint {label} builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                Some(c.object.to_string()),
                c.at,
            );
        }
        Fact::ColumnConstraints(c) if c.to_existing_table() && c.col.unique => {
            let (object, table) = (&c.object, c.table);
            c.report(a, RuleId::AddUniqueConstraint, format!("Adding {object} as UNIQUE builds its index on {table} under an ACCESS EXCLUSIVE lock."));
        }
        _ => {}
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "unique constraint"
sql = "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);"
expect = [{ rule = "add-unique-constraint", line = 1, status = "fail" }]

[[case]]
name = "unique column"
sql = "ALTER TABLE users ADD COLUMN handle text UNIQUE;"
expect = [{ rule = "add-unique-constraint", line = 1 }]

[[case]]
name = "exclusion constraint"
sql = "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);"
expect = [{ rule = "add-unique-constraint", line = 1 }]

[[case]]
name = "using an index built concurrently"
sql = "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;"
expect = []
"##;
