//! `vacuum-full-or-cluster`: VACUUM FULL or CLUSTER.

use super::{Rule, RuleId, rule};
use crate::Severity;
use crate::analyze::{Analysis, Fact, group, is, name_at, option_on};


pub(super) static RULE: Rule = rule(
    "vacuum-full-or-cluster",
    "VACUUM FULL or CLUSTER",
    Severity::High,
    true,
    "VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite.",
    "Use pg_repack or pg_squeeze, which rebuild the table online.",
)
.squawk(&["prefer-repack"])
.on(on);

/// VACUUM FULL and CLUSTER, which also make the statement a long lock
/// (set on `Fact::Walked`, before the timeout rules see `Fact::Locks`).
fn check(a: &mut Analysis<'_>) {
    let t = a.t;
    let (message, object) = if a.starts_with(&["VACUUM"])
        && (is(t, 1, "FULL") || group(t, 1).is_some_and(|(o, _)| option_on(o, "FULL") == Some(true)))
    {
        ("VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock.".to_string(), None)
    } else if a.starts_with(&["CLUSTER"]) {
        let object = name_at(t, 1).map(|(n, _)| n);
        let message = format!(
            "CLUSTER {} rewrites the table under an ACCESS EXCLUSIVE lock.",
            object.as_deref().unwrap_or("")
        )
        .replace("CLUSTER  ", "CLUSTER ");
        (message, object)
    } else {
        return;
    };
    a.locks = true;
    a.long_lock = true;
    a.add(RuleId::VacuumFullOrCluster, message, object);
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
name = "vacuum full"
sql = "VACUUM FULL users;"
in_transaction = false
expect = [{ rule = "vacuum-full-or-cluster", line = 1, status = "fail" }]

[[case]]
name = "vacuum (full)"
sql = "VACUUM (FULL, ANALYZE) users;"
in_transaction = false
expect = [{ rule = "vacuum-full-or-cluster", line = 1 }]

[[case]]
name = "cluster"
sql = "CLUSTER users USING users_pkey;"
expect = [{ rule = "vacuum-full-or-cluster", line = 1 }]

[[case]]
name = "plain vacuum"
sql = "VACUUM ANALYZE users;"
in_transaction = false
expect = []

[[case]]
name = "full switched off"
sql = "VACUUM (FULL FALSE) users;\nVACUUM (FULL off, ANALYZE) users;\nVACUUM (FULL 0) users;"
in_transaction = false
expect = []

[[case]]
name = "full switched on explicitly"
sql = "VACUUM (VERBOSE, FULL true) users;"
in_transaction = false
expect = [{ rule = "vacuum-full-or-cluster", line = 1 }]

[[case]]
name = "a column named full is not the option"
sql = "VACUUM (ANALYZE) users (full);"
in_transaction = false
expect = []
"##;
