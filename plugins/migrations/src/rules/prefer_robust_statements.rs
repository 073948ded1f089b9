//! `prefer-robust-statements`: Statement cannot be safely retried.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "prefer-robust-statements",
    "Statement cannot be safely retried",
    Severity::Low,
    false,
    "Outside a transaction a migration that fails half-way leaves some statements applied; re-running it then fails on CREATE/ADD/DROP without IF [NOT] EXISTS.",
    "Use IF NOT EXISTS on CREATE/ADD and IF EXISTS on DROP so the migration can be re-run.",
)
.squawk(&["prefer-robust-stmts"])
.on(on);

/// A statement that fails when re-run needs its guard unless the whole
/// file is one transaction: outside a transaction, or in one of several
/// transactions, a failure part-way leaves it applied.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::Guardable {
        what,
        object,
        guarded,
    } = fact
    else {
        return;
    };
    if *guarded || (a.file.in_tx() && !a.file.several_units) {
        return;
    }
    let guard = if what.starts_with("DROP") {
        "IF EXISTS"
    } else {
        "IF NOT EXISTS"
    };
    let where_ = if a.file.in_tx() {
        "in one of several transactions of the file"
    } else {
        "outside a transaction"
    };
    a.add(
        RuleId::PreferRobustStatements,
        format!("{what} {object} runs {where_} without {guard}, so re-running the migration after a partial failure fails."),
        Some(object.to_string()),
    );
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "create table outside a transaction"
sql = "CREATE TABLE public.t (id bigint);"
in_transaction = false
expect = [{ rule = "prefer-robust-statements", line = 1, status = "warn" }]

[[case]]
name = "guarded statements"
sql = "CREATE TABLE IF NOT EXISTS public.t (id bigint);\nALTER TABLE users ADD COLUMN IF NOT EXISTS nick text;\nDROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS j ON users (nick);"
in_transaction = false
expect = []

[[case]]
name = "unguarded in a transaction is fine"
sql = "CREATE TABLE public.t (id bigint);\nALTER TABLE users ADD COLUMN nick text;"
expect = []

[[case]]
name = "add column and drop outside a transaction"
sql = "ALTER TABLE users ADD COLUMN nick text;\nDROP TABLE old_users;"
in_transaction = false
expect = [{ rule = "prefer-robust-statements", line = 1 }, { rule = "prefer-robust-statements", line = 2 }]

[[case]]
name = "index concurrently without if not exists"
sql = "CREATE INDEX CONCURRENTLY j ON users (nick);"
in_transaction = false
expect = [{ rule = "prefer-robust-statements", line = 1 }]

[[case]]
name = "drop owned is not an object drop"
sql = "DROP OWNED BY app_user;"
in_transaction = false
expect = []

# A failure in the second transaction leaves the first committed, so
# re-running the file fails on it.
[[case]]
name = "several explicit transactions"
sql = "BEGIN;\nALTER TABLE users ADD COLUMN a bigint;\nCOMMIT;\nBEGIN;\nALTER TABLE users ADD COLUMN b bigint;\nCOMMIT;"
in_transaction = false
expect = [{ rule = "prefer-robust-statements", line = 2 }, { rule = "prefer-robust-statements", line = 5 }]

[[case]]
name = "one explicit transaction and a statement outside it"
sql = "BEGIN;\nCREATE TABLE public.t (id bigint);\nCOMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON public.t (id);"
in_transaction = false
expect = [{ rule = "prefer-robust-statements", line = 2 }]

[[case]]
name = "one explicit transaction around everything"
sql = "BEGIN;\nALTER TABLE users ADD COLUMN a bigint;\nDROP TABLE old_users;\nCOMMIT;"
in_transaction = false
expect = []
"##;
