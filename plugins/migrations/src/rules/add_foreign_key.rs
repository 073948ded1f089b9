//! `add-foreign-key`: Foreign key added without NOT VALID.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, ConstraintKind, Fact};

pub(super) static RULE: Rule = rule(
    "add-foreign-key",
    "Foreign key added without NOT VALID",
    Severity::High,
    true,
    "Adding a foreign key to an existing table takes a SHARE ROW EXCLUSIVE lock on both tables and scans the whole referencing table, blocking writes to both.",
    "Add the foreign key with NOT VALID, then VALIDATE CONSTRAINT in a separate transaction.",
)
.plan(&[
    "add the foreign key NOT VALID (new rows are checked immediately)",
    "delete or fix orphaned rows in batches",
    "VALIDATE CONSTRAINT in a separate migration or transaction",
])
.squawk(&["adding-foreign-key-constraint"])
.on(on);


/// A foreign key added to a table that holds data without NOT VALID, as a
/// constraint or by a new column's REFERENCES.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    match fact {
        Fact::AddConstraint(c)
            if c.kind == ConstraintKind::ForeignKey && !c.not_valid && !c.new =>
        {
            let (label, table) = (c.label, c.table);
            a.add_at(
                RuleId::AddForeignKey,
                format!("Foreign key {label} on {table} is validated immediately, locking {table} and the referenced table during the scan."),
                Some(c.object.to_string()),
                c.at,
            );
        }
        Fact::ColumnConstraints(c) if c.to_existing_table() && c.col.references => {
            let (object, table) = (&c.object, c.table);
            c.report(a, RuleId::AddForeignKey, format!("Adding {object} with REFERENCES adds a validated foreign key, locking {table} and the referenced table."));
        }
        _ => {}
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "foreign key without not valid"
sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);"
expect = [{ rule = "add-foreign-key", line = 1, status = "fail" }]

[[case]]
name = "column with references"
sql = "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);"
expect = [{ rule = "add-foreign-key", line = 1 }]

[[case]]
name = "not valid"
sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"
expect = []

[[case]]
name = "new table"
sql = "CREATE TABLE orders (id bigint, user_id bigint);\nALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);"
expect = []
"##;
