//! `set-not-null`: SET NOT NULL on an existing column.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, ColumnChange, Fact};

pub(super) static RULE: Rule = rule(
    "set-not-null",
    "SET NOT NULL on an existing column",
    Severity::High,
    true,
    "ALTER COLUMN … SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, and breaks any running code that still writes NULL.",
    "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a separate transaction, then SET NOT NULL (which reuses the validated check) and drop the check.",
)
.versions("The validated-CHECK shortcut works from PostgreSQL 12; before that SET NOT NULL always scans the table.")
.plan(&[
    "deploy code that never writes NULL to {object}",
    "backfill NULLs in batches",
    "add a CHECK that {object} IS NOT NULL, marked NOT VALID",
    "VALIDATE CONSTRAINT in a separate transaction",
    "SET NOT NULL (no scan from PostgreSQL 12) and drop the CHECK",
])
.squawk(&["adding-not-nullable-field"])
.class(Class::Contract)
.on(on);

/// SET NOT NULL on a column of a table that holds data, unless a
/// validated `CHECK (col IS NOT NULL)` spares the scan (PostgreSQL 12+).
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::AlterColumn(c) = fact else {
        return;
    };
    if c.change != ColumnChange::SetNotNull || c.new || c.foreign {
        return;
    }
    let pg = a.cfg.pg;
    let validated = a
        .run
        .validated_not_null
        .contains(&(c.short.to_string(), c.column.to_string()));
    if pg >= 12 && validated {
        return;
    }
    let extra = if validated {
        format!(" (PostgreSQL {pg} cannot use the validated CHECK; 12 can)")
    } else {
        String::new()
    };
    let (object, table) = (c.object, c.table);
    a.add_at(
        RuleId::SetNotNull,
        format!("SET NOT NULL on {object} scans {table} under an ACCESS EXCLUSIVE lock{extra}."),
        Some(object.to_string()),
        c.at,
    );
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "set not null"
sql = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"
expect = [{ rule = "set-not-null", line = 1, status = "fail" }]

[[case]]
name = "validated check first on 12"
sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nCOMMIT;\nBEGIN;\nALTER TABLE users VALIDATE CONSTRAINT email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"
pg_version = 12
in_transaction = false
expect = []

[[case]]
name = "validated check does not help on 11"
sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"
pg_version = 11
in_transaction = false
expect = [{ rule = "set-not-null", line = 3 }]

[[case]]
name = "check across files"
pg_version = 15
expect = []
[[case.files]]
path = "001.sql"
sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;"
[[case.files]]
path = "002.sql"
sql = "ALTER TABLE users VALIDATE CONSTRAINT email_nn;"
[[case.files]]
path = "003.sql"
sql = "ALTER TABLE users ALTER email SET NOT NULL;"

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;"
expect = []
"##;
