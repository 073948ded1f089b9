//! `create-domain-with-constraint`: Domain created with a constraint.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "create-domain-with-constraint",
    "Domain created with a constraint",
    Severity::Low,
    false,
    "Constraints on domains are hard to change later: ALTER DOMAIN ADD CONSTRAINT checks every column of the domain in every table under locks.",
    "Put the CHECK on the table columns instead, where it can be added NOT VALID and validated online.",
)
.squawk(&["ban-create-domain-with-constraint"])
.on(on);

/// CREATE DOMAIN with a CHECK.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::CreateDomain { name, check: true } = fact {
        a.add(
            RuleId::CreateDomainWithConstraint,
            format!("Domain {name} is created with a CHECK constraint, which is hard to change later."),
            Some(name.to_string()),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "domain with check"
sql = "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');"
expect = [{ rule = "create-domain-with-constraint", line = 1, status = "warn" }]

[[case]]
name = "domain without check"
sql = "CREATE DOMAIN email AS text;"
expect = []
"##;
