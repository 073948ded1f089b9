//! `add-primary-key`: PRIMARY KEY built under an exclusive lock.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{AddedColumn, Analysis};

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
.squawk(&["constraint-missing-not-valid"]);

/// A column added as PRIMARY KEY.
pub(crate) fn on_add_column(a: &mut Analysis<'_>, c: &AddedColumn<'_>) {
    if c.col.primary_key {
        let (object, table) = (&c.object, c.table);
        c.report(a, RuleId::AddPrimaryKey, format!("Adding {object} as PRIMARY KEY builds the key index on {table} under an ACCESS EXCLUSIVE lock."));
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
