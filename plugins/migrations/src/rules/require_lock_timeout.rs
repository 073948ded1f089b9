//! `require-lock-timeout`: No lock_timeout before a locking statement.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "require-lock-timeout",
    "No lock_timeout before a locking statement",
    Severity::Medium,
    false,
    "A DDL statement waiting for its lock queues every later query on the table behind it, so a long-running query can turn the migration into an outage.",
    "Start the migration with SET lock_timeout = '2s' (and retry on timeout).",
)
.squawk(&["require-timeout-settings", "require-lock-timeout"])
.on(on);


/// The first statement of the file that waits for a lock with no
/// lock_timeout set before it.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::Locks { waits: true, .. } = fact
        && !a.file.lock_timeout
        && !a.file.lock_timeout_reported
    {
        a.file.lock_timeout_reported = true;
        a.add(
            RuleId::RequireLockTimeout,
            "This statement waits for a lock with no lock_timeout set earlier in the file, queueing every query on the table behind it.".into(),
            None,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "no timeout before alter table"
sql = "ALTER TABLE users ADD COLUMN nick text;\nALTER TABLE users ADD COLUMN bio text;"
expect = [{ rule = "require-lock-timeout", line = 1, status = "warn" }]

[[case]]
name = "timeout set first"
sql = "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN nick text;"
expect = []

[[case]]
name = "set_config"
sql = "SELECT set_config('lock_timeout', '2s', false);\nALTER TABLE users ADD COLUMN nick text;"
expect = []

[[case]]
name = "timeout disabled"
sql = "SET lock_timeout TO 0;\nALTER TABLE users ADD COLUMN nick text;"
expect = [{ rule = "require-lock-timeout", line = 2 }]

[[case]]
name = "only new tables"
sql = "CREATE TABLE t (id bigint);\nALTER TABLE t ADD COLUMN nick text;"
expect = []

[[case]]
name = "timeout in another file does not count"
expect = [{ rule = "require-lock-timeout", line = 1, file = "002.sql" }]
[[case.files]]
path = "001.sql"
sql = "SET lock_timeout = '1s';"
[[case.files]]
path = "002.sql"
sql = "DROP TABLE users;"
"##;
