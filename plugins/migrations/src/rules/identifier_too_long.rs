//! `identifier-too-long`: Identifier longer than 63 bytes.

use std::collections::HashSet;

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "identifier-too-long",
    "Identifier longer than 63 bytes",
    Severity::Low,
    false,
    "PostgreSQL silently truncates identifiers to 63 bytes, so the created name differs from the one in the migration and two names can collide.",
    "Use names of at most 63 bytes.",
)
.squawk(&["identifier-too-long"])
.on(on);

/// Every distinct name longer than 63 bytes in a CREATE or ALTER, before
/// its walk.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if !matches!(fact, Fact::Statement) || !a.starts_with(&["CREATE", "ALTER"]) {
        return;
    }
    let mut seen = HashSet::new();
    for tok in a.t {
        if tok.is_name() && tok.ident().len() > 63 && seen.insert(tok.ident()) {
            let name = tok.ident();
            a.add_at(
                RuleId::IdentifierTooLong,
                format!(
                    "Identifier {name} is {} bytes; PostgreSQL truncates it to 63.",
                    name.len()
                ),
                Some(name),
                tok.span.start,
            );
        }
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "64-byte index name"
sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ON users (nick);"
in_transaction = false
expect = [{ rule = "identifier-too-long", line = 1, status = "warn" }]

[[case]]
name = "63 bytes is fine"
sql = "CREATE TABLE public.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb (id bigint);"
expect = []

[[case]]
name = "quoted 64-byte column in add column"
sql = "ALTER TABLE users ADD COLUMN \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\" text;"
expect = [{ rule = "identifier-too-long", line = 1 }]
"##;
