//! `add-required-column`: Required column added without a default.

use super::{Rule, RuleId, rule};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, is_null_default};

pub(super) static RULE: Rule = rule(
    "add-required-column",
    "Required column added without a default",
    Severity::High,
    true,
    "ADD COLUMN … NOT NULL without a DEFAULT fails on a table that has rows, and running code that inserts without the column breaks.",
    "Add the column nullable (or with a non-volatile default), backfill it, then make it NOT NULL safely.",
)
.plan(&[
    "add {object} as a nullable column",
    "deploy code that writes {object}",
    "backfill existing rows in batches",
    "add a CHECK that {object} IS NOT NULL NOT VALID, VALIDATE it in a separate transaction, then SET NOT NULL",
])
.squawk(&["adding-required-field"])
.class(Class::Breaking)
.on(on);

/// NOT NULL (or PRIMARY KEY) without a default, filled by nothing.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Some(c) = fact.plain_added_column() else {
        return;
    };
    let col = &c.col;
    let required = (col.not_null || col.primary_key)
        && is_null_default(&col.default)
        && !c.generates()
        && !col.stored;
    if required {
        let object = &c.object;
        c.report(a, RuleId::AddRequiredColumn, format!("Adding {object} as NOT NULL without a default fails on a non-empty table and breaks inserts from running code."));
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "not null without default"
sql = "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;"
expect = [{ rule = "add-required-column", line = 1, status = "fail" }]

[[case]]
name = "not null with default null"
sql = "ALTER TABLE users ADD COLUMN tenant_id bigint DEFAULT NULL NOT NULL;"
expect = [{ rule = "add-required-column", line = 1 }]

[[case]]
name = "not null with a default"
sql = "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;"
expect = []

[[case]]
name = "nullable"
sql = "ALTER TABLE users ADD COLUMN nickname text;"
expect = []

[[case]]
name = "generated stored column"
sql = "ALTER TABLE users ADD COLUMN lower_email text NOT NULL GENERATED ALWAYS AS (lower(email)) STORED;"
expect = []

[[case]]
name = "new table"
sql = "CREATE TABLE t (a text);\nALTER TABLE t ADD COLUMN b text NOT NULL;"
expect = []
"##;
