//! `concurrently-in-transaction`: CONCURRENTLY inside a transaction.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact, ObjectKind};

pub(super) static RULE: Rule = rule(
    "concurrently-in-transaction",
    "CONCURRENTLY inside a transaction",
    Severity::High,
    true,
    "CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY cannot run inside a transaction block; the migration fails with an error.",
    "Put the statement in its own migration that runs outside a transaction (`-- no-transaction` for sqlx, a non-transactional migration for Flyway/dbmate/diesel).",
)
.squawk(&["ban-concurrent-index-creation-in-transaction"])
.on(on);

/// A CONCURRENTLY statement while a transaction is open.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if !a.file.in_tx() {
        return;
    }
    let (statement, object, at) = match fact {
        Fact::CreateIndex {
            label,
            concurrently: true,
            ..
        } => (format!("CREATE INDEX CONCURRENTLY {label}"), *label, None),
        Fact::Drop(d) if d.kind == ObjectKind::Index && d.concurrently => {
            (format!("DROP INDEX CONCURRENTLY {}", d.name), d.name, None)
        }
        Fact::Reindex {
            label,
            name,
            concurrently: true,
        } => (format!("REINDEX {label} CONCURRENTLY"), *name, None),
        Fact::DetachPartition {
            partition,
            concurrently: true,
            at,
            ..
        } => (format!("DETACH PARTITION {partition} CONCURRENTLY"), *partition, Some(*at)),
        _ => return,
    };
    a.report(
        RuleId::ConcurrentlyInTransaction,
        format!("{statement} cannot run inside a transaction block; the migration will fail."),
        Some(object.to_string()),
        at,
    );
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "create index concurrently in a transactional file"
sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON users (email);"
expect = [{ rule = "concurrently-in-transaction", line = 1, status = "fail" }]

[[case]]
name = "drop index concurrently inside explicit BEGIN"
sql = "BEGIN;\nDROP INDEX CONCURRENTLY IF EXISTS idx;\nCOMMIT;"
in_transaction = false
expect = [{ rule = "concurrently-in-transaction", line = 2 }]

[[case]]
name = "reindex concurrently (unparsed by sqlparser) in a transaction"
sql = "REINDEX INDEX CONCURRENTLY idx;"
expect = [{ rule = "concurrently-in-transaction", line = 1 }]

[[case]]
name = "detach partition concurrently in a transaction"
sql = "ALTER TABLE measurements DETACH PARTITION m_2020 CONCURRENTLY;"
expect = [{ rule = "concurrently-in-transaction", line = 1 }]

[[case]]
name = "no-transaction directive"
sql = "-- no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON users (email);"
expect = []

[[case]]
name = "non-transactional file"
sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON users (email);"
in_transaction = false
expect = []

[[case]]
name = "after COMMIT of an explicit transaction"
sql = "BEGIN;\nSELECT 1;\nCOMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON users (email);"
in_transaction = false
expect = []

[[case]]
name = "after the file committed the tool's transaction"
sql = "COMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_nick ON users (nick);\nDROP INDEX CONCURRENTLY IF EXISTS users_old;\nBEGIN;"
expect = []

[[case]]
name = "assumed transaction"
sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_nick ON users (nick);"
in_transaction = false
assume_in_transaction = true
expect = [{ rule = "concurrently-in-transaction", line = 1 }]

[[case]]
name = "squawk's comment says the assumed transaction is not there"
sql = "-- squawk-disable-assume-in-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_nick ON users (nick);"
in_transaction = false
assume_in_transaction = true
expect = []
"##;
