//! `validate-in-same-transaction`: VALIDATE CONSTRAINT in the transaction that added it.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "validate-in-same-transaction",
    "VALIDATE CONSTRAINT in the transaction that added it",
    Severity::Medium,
    false,
    "Validating a NOT VALID constraint in the same transaction that added it keeps the ACCESS EXCLUSIVE lock of the ADD for the whole validation scan, which is what NOT VALID was meant to avoid.",
    "Run VALIDATE CONSTRAINT in a separate migration or after a COMMIT.",
)
.on(on);

/// VALIDATE CONSTRAINT of a constraint added NOT VALID in the open transaction.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Validate {
        table,
        name,
        object,
        at,
    } = fact
        && a.file.in_tx()
        && a.file.not_valid_in_tx.contains(*name)
    {
        a.add_at(
            RuleId::ValidateInSameTransaction,
            format!("Constraint {name} on {table} is validated in the transaction that added it, keeping the ACCESS EXCLUSIVE lock during the scan."),
            Some(object.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "add and validate in one transactional file"
sql = "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT positive;"
expect = [{ rule = "validate-in-same-transaction", line = 2, status = "warn" }]

[[case]]
name = "committed in between"
sql = "BEGIN;\nALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;\nCOMMIT;\nALTER TABLE orders VALIDATE CONSTRAINT positive;"
in_transaction = false
expect = []

[[case]]
name = "separate files"
expect = []
[[case.files]]
path = "001.sql"
sql = "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;"
[[case.files]]
path = "002.sql"
sql = "ALTER TABLE orders VALIDATE CONSTRAINT positive;"
"##;
