//! `add-column-volatile-default`: Column added with a default that rewrites the table.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{AddedColumn, Analysis, Fact, is_null_default, volatile_call};

pub(super) static RULE: Rule = rule(
    "add-column-volatile-default",
    "Column added with a default that rewrites the table",
    Severity::High,
    true,
    "ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), …), a GENERATED … STORED expression, or any default before PostgreSQL 11 rewrites the whole table under an ACCESS EXCLUSIVE lock.",
    "Add the column without a default (or with a constant one), set the default in a separate statement, and backfill existing rows in batches.",
)
.versions("From PostgreSQL 11 a non-volatile default is stored in the catalogue and needs no rewrite; before 11 every default rewrites the table.")
.plan(&[
    "add {object} without a default",
    "ALTER COLUMN … SET DEFAULT (applies to new rows only, no rewrite)",
    "backfill existing rows in batches",
])
.squawk(&["adding-field-with-default"])
.on(on);

/// A default that makes PostgreSQL rewrite the table.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Some(c) = fact.plain_added_column() else {
        return;
    };
    let Some(why) = rewrite(c, a.cfg.pg) else {
        return;
    };
    let (object, table) = (&c.object, c.table);
    c.report(a, RuleId::AddColumnVolatileDefault, format!("Adding {object} with {why} rewrites {table} under an ACCESS EXCLUSIVE lock."));
}

/// What about the column rewrites the table on PostgreSQL `pg`, if anything.
fn rewrite(c: &AddedColumn<'_>, pg: u32) -> Option<String> {
    let col = &c.col;
    if col.stored {
        Some("a GENERATED … STORED expression".to_string())
    } else if c.generates() {
        Some(if c.serial {
            "a serial default (nextval)".to_string()
        } else {
            "an identity".to_string()
        })
    } else if let Some(d) = col
        .default
        .as_ref()
        .filter(|_| !is_null_default(&col.default))
    {
        match volatile_call(d) {
            Some(f) => Some(format!("the volatile default {f}()")),
            None if pg < 11 => Some(format!("a default on PostgreSQL {pg}")),
            None => None,
        }
    } else {
        None
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "volatile default"
sql = "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();"
expect = [{ rule = "add-column-volatile-default", line = 1, status = "fail" }]

[[case]]
name = "constant default on 11+"
sql = "ALTER TABLE users ADD COLUMN active boolean DEFAULT true;"
pg_version = 11
expect = []

[[case]]
name = "constant default before 11"
sql = "ALTER TABLE users ADD COLUMN active boolean DEFAULT true;"
pg_version = 10
expect = [{ rule = "add-column-volatile-default", line = 1 }]

[[case]]
name = "now() is stable"
sql = "ALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();"
expect = []

[[case]]
name = "cast to a type with a modifier is not a call"
sql = "ALTER TABLE users ADD COLUMN balance numeric DEFAULT '0'::numeric(10,2);"
expect = []

[[case]]
name = "generated stored"
sql = "ALTER TABLE users ADD COLUMN lower_email text GENERATED ALWAYS AS (lower(email)) STORED;"
expect = [{ rule = "add-column-volatile-default", line = 1 }]

[[case]]
name = "serial column"
sql = "ALTER TABLE users ADD COLUMN seq bigserial;"
expect = [{ rule = "add-column-volatile-default", line = 1 }]

[[case]]
name = "set default separately"
sql = "ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();"
expect = []
"##;
