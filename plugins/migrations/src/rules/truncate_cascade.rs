//! `truncate-cascade`: TRUNCATE … CASCADE.

use super::{Rule, RuleId, rule};
use crate::{Class, Severity};
use crate::analyze::{Analysis, Fact, has_anywhere, is, name_at};


pub(super) static RULE: Rule = rule(
    "truncate-cascade",
    "TRUNCATE … CASCADE",
    Severity::Critical,
    true,
    "TRUNCATE … CASCADE also empties every table with a foreign key to the target, often far more data than intended, under ACCESS EXCLUSIVE locks.",
    "Truncate or delete from the tables explicitly, by name, without CASCADE.",
)
.squawk(&["ban-truncate-cascade"])
.class(Class::Data)
.on(on);

/// TRUNCATE … CASCADE (the walk records the statement's locks).
fn check(a: &mut Analysis<'_>) {
    let t = a.t;
    if !a.starts_with(&["TRUNCATE"]) || !has_anywhere(t, "CASCADE") {
        return;
    }
    let mut i = 1;
    if is(t, i, "TABLE") {
        i += 1;
    }
    if is(t, i, "ONLY") {
        i += 1;
    }
    let name = name_at(t, i).map(|(n, _)| n);
    let label = name.clone().unwrap_or_default();
    a.add(
        RuleId::TruncateCascade,
        format!("TRUNCATE {label} CASCADE also empties every table that references it."),
        name,
    );
}

/// Judges the statement once its walk is done.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if matches!(fact, Fact::Walked) {
        check(a);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "truncate cascade"
sql = "TRUNCATE TABLE users CASCADE;"
expect = [{ rule = "truncate-cascade", line = 1, status = "fail" }]

[[case]]
name = "plain truncate"
sql = "TRUNCATE users;"
expect = []
"##;
