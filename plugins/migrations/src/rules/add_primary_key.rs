//! `add-primary-key`: PRIMARY KEY built under an exclusive lock.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, ConstraintKind, Fact};

pub(super) static RULE: Rule = rule(
    "add-primary-key",
    "PRIMARY KEY built under an exclusive lock",
    Severity::High,
    true,
    "ALTER TABLE … ADD PRIMARY KEY builds a unique index and may set columns NOT NULL while holding an ACCESS EXCLUSIVE lock, blocking reads and writes.",
    "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY USING INDEX.",
)
.plan(&[
    "make the key columns NOT NULL safely (CHECK … NOT VALID, VALIDATE, SET NOT NULL)",
    "CREATE UNIQUE INDEX CONCURRENTLY on the key columns, outside a transaction",
    "ADD CONSTRAINT … PRIMARY KEY USING INDEX (instant)",
])
// squawk 2.70 reports ADD PRIMARY KEY as a constraint without NOT VALID.
.squawk(&["constraint-missing-not-valid"])
.on(on);


/// A PRIMARY KEY that builds its index under the table's lock, as a
/// constraint or on a new column (a serial or identity one is
/// `add-serial-primary-key`'s).
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    match fact {
        Fact::AddConstraint(c)
            if c.kind == ConstraintKind::PrimaryKey && !c.using_index && !c.new =>
        {
            let (label, table) = (c.label, c.table);
            a.add_at(
                RuleId::AddPrimaryKey,
                format!("PRIMARY KEY {label} builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                Some(c.object.to_string()),
                c.at,
            );
        }
        Fact::ColumnConstraints(c)
            if c.to_existing_table() && c.col.primary_key && !c.serial_primary_key() =>
        {
            let (object, table) = (&c.object, c.table);
            c.report(a, RuleId::AddPrimaryKey, format!("Adding {object} as PRIMARY KEY builds the key index on {table} under an ACCESS EXCLUSIVE lock."));
        }
        _ => {}
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "primary key"
sql = "ALTER TABLE users ADD PRIMARY KEY (id);"
expect = [{ rule = "add-primary-key", line = 1, status = "fail" }]

[[case]]
name = "named primary key"
sql = "ALTER TABLE users\n  ADD CONSTRAINT users_pkey PRIMARY KEY (id);"
expect = [{ rule = "add-primary-key", line = 2 }]

[[case]]
name = "using index"
sql = "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_idx;"
expect = []
"##;
