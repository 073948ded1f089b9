//! `add-serial-primary-key`: Serial or identity primary key added to an existing table.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "add-serial-primary-key",
    "Serial or identity primary key added to an existing table",
    Severity::High,
    true,
    "Adding a serial or identity column as PRIMARY KEY rewrites the table to fill the sequence and builds the primary key index, all under an ACCESS EXCLUSIVE lock.",
    "Add a nullable bigint column, backfill it in batches from a sequence, build a unique index CONCURRENTLY and attach it with ADD PRIMARY KEY USING INDEX.",
)
.plan(&[
    "add {object} as a nullable bigint and attach a sequence default",
    "backfill existing rows in batches",
    "CREATE UNIQUE INDEX CONCURRENTLY on {object}",
    "ADD CONSTRAINT … PRIMARY KEY USING INDEX",
])
.squawk(&["adding-serial-primary-key-field"])
.on(on);

/// A serial or identity column added as PRIMARY KEY to a table that holds
/// data (the other column rules about defaults and keys then stay silent).
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::AddColumn(c) = fact else {
        return;
    };
    if !c.to_existing_table() || !c.serial_primary_key() {
        return;
    }
    let (object, table) = (&c.object, c.table);
    let kind = if c.serial { "serial" } else { "identity" };
    c.report(a, RuleId::AddSerialPrimaryKey, format!("Adding {object} as a {kind} primary key rewrites {table} and builds its index under an ACCESS EXCLUSIVE lock."));
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "serial primary key"
sql = "ALTER TABLE events ADD COLUMN id bigserial PRIMARY KEY;"
expect = [{ rule = "add-serial-primary-key", line = 1, status = "fail" }]

[[case]]
name = "identity primary key"
sql = "ALTER TABLE events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
expect = [{ rule = "add-serial-primary-key", line = 1 }]

[[case]]
name = "new table"
sql = "CREATE TABLE events (name text);\nALTER TABLE events ADD COLUMN id bigserial PRIMARY KEY;"
expect = []

[[case]]
name = "plain column"
sql = "ALTER TABLE events ADD COLUMN ref bigint;"
expect = []
"##;
