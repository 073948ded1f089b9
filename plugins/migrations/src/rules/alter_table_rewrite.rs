//! `alter-table-rewrite`: ALTER TABLE form that rewrites the table.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "alter-table-rewrite",
    "ALTER TABLE form that rewrites the table",
    Severity::High,
    true,
    "ALTER TABLE … SET TABLESPACE, SET LOGGED, SET UNLOGGED and SET ACCESS METHOD copy the whole table (and, for a tablespace, its files) under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole copy.",
    "Do it in a maintenance window, or build a new table and switch over with pg_repack-style tooling.",
)
.on(on);

/// SET TABLESPACE/LOGGED/UNLOGGED/ACCESS METHOD on a table that holds data here.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::RewriteTable {
        table,
        what,
        at,
        new: false,
        foreign: false,
    } = fact
    {
        a.add_at(
            RuleId::AlterTableRewrite,
            format!("ALTER TABLE {table} {what} rewrites the whole table under an ACCESS EXCLUSIVE lock."),
            Some(table.to_string()),
            *at,
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "set tablespace"
sql = "ALTER TABLE events SET TABLESPACE fast_ssd;"
expect = [{ rule = "alter-table-rewrite", line = 1, status = "fail" }]

[[case]]
name = "set logged"
sql = "ALTER TABLE events SET LOGGED;"
expect = [{ rule = "alter-table-rewrite", line = 1 }]

[[case]]
name = "storage parameters do not rewrite"
sql = "ALTER TABLE events SET (fillfactor = 90);"
expect = []

[[case]]
name = "new table"
sql = "CREATE UNLOGGED TABLE staging (a text);\nALTER TABLE staging SET LOGGED;"
expect = []
"##;
