//! `identifier-too-long`: Identifier longer than 63 bytes.

use super::{Rule, rule};
use crate::Severity;

pub(super) static RULE: Rule = rule(
    "identifier-too-long",
    "Identifier longer than 63 bytes",
    Severity::Low,
    false,
    "PostgreSQL silently truncates identifiers to 63 bytes, so the created name differs from the one in the migration and two names can collide.",
    "Use names of at most 63 bytes.",
)
.squawk(&["identifier-too-long"]);

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
