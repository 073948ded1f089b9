//! `alter-domain-add-constraint`: Constraint added to a domain.

use super::{Rule, rule, RuleId};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact};

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
.class(Class::Contract)
.on(on);

/// ALTER DOMAIN … SET NOT NULL or ADD a constraint without NOT VALID, on a
/// domain the migrations did not create.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    let Fact::DomainConstraint {
        domain,
        not_null,
        not_valid: false,
        new: false,
    } = fact
    else {
        return;
    };
    let message = if *not_null {
        format!("SET NOT NULL on domain {domain} checks every column that uses it, under locks.")
    } else {
        format!("Adding a constraint to domain {domain} checks every column that uses it, under locks.")
    };
    a.add(RuleId::AlterDomainAddConstraint, message, Some(domain.to_string()));
}

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
