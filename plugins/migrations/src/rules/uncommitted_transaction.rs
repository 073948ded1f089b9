//! `uncommitted-transaction`: BEGIN without COMMIT.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "uncommitted-transaction",
    "BEGIN without COMMIT",
    Severity::High,
    true,
    "A BEGIN that is never committed leaves the transaction open at the end of the file: its changes are rolled back or stay uncommitted, holding locks.",
    "End every explicit BEGIN with COMMIT in the same file.",
)
.squawk(&["ban-uncommitted-transaction"]);

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "begin without commit"
sql = "BEGIN;\nALTER TABLE users ADD COLUMN nick text;"
in_transaction = false
expect = [{ rule = "uncommitted-transaction", line = 1, status = "fail" }]

[[case]]
name = "committed"
sql = "START TRANSACTION;\nSELECT 1;\nCOMMIT;"
in_transaction = false
expect = []

[[case]]
name = "rolled back"
sql = "BEGIN;\nSELECT 1;\nROLLBACK;"
in_transaction = false
expect = []

[[case]]
name = "ignore above the BEGIN"
sql = "-- gate:ignore uncommitted-transaction committed by the next file\nBEGIN;\nSELECT 1;"
in_transaction = false
expect = [{ rule = "uncommitted-transaction", line = 2, status = "skip" }]
"##;
