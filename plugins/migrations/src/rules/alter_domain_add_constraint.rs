//! `alter-domain-add-constraint`: Constraint added to a domain.

use super::{Rule, rule};
use crate::{Class, Severity};

pub(super) static RULE: Rule = rule(
    "alter-domain-add-constraint",
    "Constraint added to a domain",
    Severity::Medium,
    true,
    "ALTER DOMAIN … ADD CONSTRAINT scans every column that uses the domain, in every table, while holding locks on them.",
    "Add the constraint NOT VALID and VALIDATE it separately, or move the check to table columns.",
)
.plan(&[
    "deploy code that only writes values the new constraint on {object} accepts",
    "fix existing values in batches",
    "ALTER DOMAIN … ADD CONSTRAINT … NOT VALID",
    "ALTER DOMAIN … VALIDATE CONSTRAINT in a separate transaction",
])
.squawk(&["ban-alter-domain-with-add-constraint"])
.class(Class::Contract);

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "add constraint"
sql = "ALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%');"
expect = [{ rule = "alter-domain-add-constraint", line = 1, status = "fail" }]

[[case]]
name = "not valid"
sql = "ALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%') NOT VALID;"
expect = []

[[case]]
name = "domain created in the run"
sql = "CREATE DOMAIN email AS text;\nALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%');"
expect = []

[[case]]
name = "domain set not null"
sql = "ALTER DOMAIN email SET NOT NULL;"
expect = [{ rule = "alter-domain-add-constraint", line = 1 }]
"##;
