//! `require-table-schema`: Table named without a schema.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "require-table-schema",
    "Table named without a schema",
    Severity::Info,
    false,
    "An unqualified table name in CREATE, ALTER or DROP TABLE resolves through whatever search_path is at run time, so the migration can create or change a table in the wrong schema.",
    "Qualify the table with its schema, e.g. public.users.",
)
.opt_in()
.squawk(&["require-table-schema"])
.on(on);

/// A table named without a schema by CREATE, ALTER or DROP TABLE.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::TableNamed { verb, table } = fact
        && !table.contains('.')
    {
        a.add(
            RuleId::RequireTableSchema,
            format!("{verb} {table} names the table without a schema; it resolves through whatever search_path is at run time."),
            Some(table.to_string()),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "opt-in: unqualified"
sql = "CREATE TABLE users (id bigint);"
include = ["require-table-schema"]
expect = [{ rule = "require-table-schema", line = 1, status = "warn" }]

[[case]]
name = "opt-in: qualified"
sql = "CREATE TABLE public.users (id bigint);"
include = ["require-table-schema"]
expect = []

[[case]]
name = "off by default"
sql = "CREATE TABLE users (id bigint);"
expect = []

[[case]]
name = "alter and drop name the table too"
sql = "ALTER TABLE users ADD COLUMN a text;\nDROP TABLE IF EXISTS old_users;\nALTER TABLE public.users ADD COLUMN b text;\nDROP TABLE public.gone;"
include = ["require-table-schema"]
expect = [{ rule = "require-table-schema", line = 1 }, { rule = "require-table-schema", line = 2 }]
"##;
