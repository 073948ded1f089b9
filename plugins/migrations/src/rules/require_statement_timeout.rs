//! `require-statement-timeout`: No statement_timeout before a locking statement.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "require-statement-timeout",
    "No statement_timeout before a locking statement",
    Severity::Low,
    false,
    "Without a statement_timeout a slow DDL statement holds its locks for as long as it runs.",
    "SET statement_timeout for the migration (not for CREATE INDEX CONCURRENTLY, which must be allowed to run long).",
)
.opt_in()
.squawk(&["require-timeout-settings", "require-statement-timeout"])
.on(on);


/// The first statement of the file that holds a lock for long with no
/// statement_timeout set before it.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Locks { long: true, .. } = fact
        && !a.file.statement_timeout
        && !a.file.statement_timeout_reported
    {
        a.file.statement_timeout_reported = true;
        a.add(
            RuleId::RequireStatementTimeout,
            "This statement holds a lock with no statement_timeout set earlier in the file.".into(),
            None,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "opt-in: missing"
sql = "ALTER TABLE users ADD COLUMN nick text;"
include = ["require-statement-timeout"]
expect = [{ rule = "require-statement-timeout", line = 1, status = "warn" }]

[[case]]
name = "opt-in: set"
sql = "SET statement_timeout = '5min';\nALTER TABLE users ADD COLUMN nick text;"
include = ["require-statement-timeout"]
expect = []

[[case]]
name = "off by default"
sql = "ALTER TABLE users ADD COLUMN nick text;"
expect = []

[[case]]
name = "not for create index concurrently"
sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (nick);"
in_transaction = false
include = ["require-statement-timeout"]
expect = []
"##;
