//! `transaction-nesting`: Transaction control inside a transaction.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, TxEvent};

pub(super) static RULE: Rule = rule(
    "transaction-nesting",
    "Transaction control inside a transaction",
    Severity::Medium,
    true,
    "BEGIN inside a transaction only warns and does nothing, and COMMIT/ROLLBACK ends the migration tool's own transaction early, so later statements run without the atomicity the tool promises.",
    "Remove BEGIN/COMMIT from migrations the tool already wraps in a transaction, or mark the file non-transactional.",
)
.squawk(&["transaction-nesting"])
.on(on);

/// BEGIN inside a transaction, COMMIT/ROLLBACK of the migration tool's
/// transaction, and COMMIT/ROLLBACK with none open.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::Transaction(event) = fact else {
        return;
    };
    let message = match event {
        TxEvent::NestedBegin { explicit } => {
            let why = if *explicit {
                "another BEGIN is still open"
            } else {
                "the migration tool already runs this file in a transaction"
            };
            format!("BEGIN inside a transaction does nothing: {why}.")
        }
        TxEvent::EndsToolTransaction { keyword } => format!(
            "{keyword} ends the migration tool's own transaction early; later statements lose its atomicity."
        ),
        TxEvent::EndsNothing { keyword } => format!(
            "{keyword} with no transaction in progress does nothing (PostgreSQL only warns): a BEGIN is missing or the {keyword} is doubled."
        ),
        TxEvent::Plain => return,
    };
    a.add(RuleId::TransactionNesting, message, None);
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "begin in a transactional file"
sql = "BEGIN;\nALTER TABLE users ADD COLUMN nick text;\nCOMMIT;"
expect = [{ rule = "transaction-nesting", line = 1, status = "fail" }, { rule = "transaction-nesting", line = 3 }]

[[case]]
name = "begin twice"
sql = "BEGIN;\nSELECT 1;\nBEGIN;\nCOMMIT;"
in_transaction = false
expect = [{ rule = "transaction-nesting", line = 3 }]

[[case]]
name = "explicit transaction in a non-transactional file"
sql = "BEGIN;\nALTER TABLE users ADD COLUMN nick text;\nCOMMIT;"
in_transaction = false
expect = []

[[case]]
name = "begin atomic is a function body"
sql = "CREATE FUNCTION one() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND;"
expect = []

[[case]]
name = "a second commit has no transaction to end"
sql = "BEGIN;\nALTER TABLE users ADD COLUMN nick text;\nCOMMIT;\nCOMMIT;"
in_transaction = false
expect = [{ rule = "transaction-nesting", line = 4 }]

[[case]]
name = "rollback with nothing open"
sql = "ROLLBACK;\nSELECT 1;"
in_transaction = false
expect = [{ rule = "transaction-nesting", line = 1 }]

# A known pattern: end the tool's transaction, build the index outside it,
# open a transaction again for the tool to commit.
[[case]]
name = "commit, concurrent index, begin in a transactional file"
sql = "COMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_nick ON users (nick);\nBEGIN;"
rules = ["transaction-nesting", "concurrently-in-transaction", "uncommitted-transaction"]
expect = [{ rule = "transaction-nesting", line = 1 }]
"##;
