//! `uncommitted-transaction`: BEGIN without COMMIT.
//!
//! It judges the end of a file rather than a statement, so it has no `on`
//! hook: the file's run asks [`at_file_end`] after its last statement and
//! reports the finding at the open BEGIN, honouring the ignores above it.

use super::{Rule, rule};
use crate::Severity;
use crate::analyze::FileState;

pub(super) static RULE: Rule = rule(
    "uncommitted-transaction",
    "BEGIN without COMMIT",
    Severity::High,
    true,
    "A BEGIN that is never committed leaves the transaction open at the end of the file: its changes are rolled back or stay uncommitted, holding locks.",
    "End every explicit BEGIN with COMMIT in the same file.",
)
.squawk(&["ban-uncommitted-transaction"]);

/// The finding's message when the file's own BEGIN is still open at its end.
pub(crate) fn at_file_end(file: &FileState) -> Option<String> {
    file.explicit.as_ref().map(|_| {
        "BEGIN is never committed in this file; its changes are rolled back or left holding locks."
            .to_string()
    })
}

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
