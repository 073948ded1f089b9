//! `enum-add-value-in-transaction`: ALTER TYPE … ADD VALUE inside a transaction.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "enum-add-value-in-transaction",
    "ALTER TYPE … ADD VALUE inside a transaction",
    Severity::High,
    true,
    "Before PostgreSQL 12, ALTER TYPE … ADD VALUE cannot run inside a transaction block; from 12 it can, but the new value cannot be used until the transaction commits.",
    "Add the enum value in its own migration outside a transaction (or at least do not use it in the same transaction).",
)
.versions("Fails before PostgreSQL 12 whenever the file runs in a transaction; from 12 only when a later statement in the same transaction uses the new value.");

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "before 12 in a transaction"
sql = "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';"
pg_version = 11
expect = [{ rule = "enum-add-value-in-transaction", line = 1, status = "fail" }]

[[case]]
name = "12+: value used in the same transaction"
sql = "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';\nUPDATE people SET mood = 'meh' WHERE mood = 'sad';"
pg_version = 12
expect = [{ rule = "enum-add-value-in-transaction", line = 2 }]

[[case]]
name = "12+: not used"
sql = "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';"
pg_version = 12
expect = []

[[case]]
name = "outside a transaction before 12"
sql = "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'sad';"
pg_version = 10
in_transaction = false
expect = []

[[case]]
name = "used after the commit"
sql = "BEGIN;\nALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';\nCOMMIT;\nUPDATE people SET mood = 'meh';"
in_transaction = false
expect = []
"##;
