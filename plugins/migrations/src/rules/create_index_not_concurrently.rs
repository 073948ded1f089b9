//! `create-index-not-concurrently`: Index created without CONCURRENTLY.

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "create-index-not-concurrently",
    "Index created without CONCURRENTLY",
    Severity::High,
    true,
    "CREATE INDEX without CONCURRENTLY takes a SHARE lock on the table and blocks every INSERT, UPDATE and DELETE until the whole index is built.",
    "Use CREATE INDEX CONCURRENTLY in a migration that does not run inside a transaction.",
)
.squawk(&["require-concurrent-index-creation"])
.on(on);

/// CREATE INDEX without CONCURRENTLY on a table that holds data.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if let Fact::CreateIndex {
        label,
        table,
        concurrently: false,
        new_table: false,
    } = fact
    {
        a.add(
            RuleId::CreateIndexNotConcurrently,
            format!("CREATE INDEX {label} without CONCURRENTLY blocks writes to {table} until the index is built."),
            Some(label.to_string()),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "plain index on an existing table"
sql = "CREATE INDEX idx_users_email ON users (email);"
expect = [{ rule = "create-index-not-concurrently", line = 1, status = "fail" }]

[[case]]
name = "unique index without a name"
sql = "-- index\nCREATE UNIQUE INDEX ON users (email);"
expect = [{ rule = "create-index-not-concurrently", line = 2 }]

[[case]]
name = "concurrently is fine"
sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON users (email);"
in_transaction = false
expect = []

[[case]]
name = "table created earlier in the run"
sql = "CREATE TABLE users (id bigint);\nCREATE INDEX idx ON users (id);"
expect = []

# Each file is a migration applied after the ones before it: by then the
# table exists and holds data.
[[case]]
name = "table created in an earlier file"
expect = [{ rule = "create-index-not-concurrently", line = 1, file = "002.sql" }]
[[case.files]]
path = "001.sql"
sql = "CREATE TABLE public.orders (id bigint);"
[[case.files]]
path = "002.sql"
sql = "CREATE INDEX orders_id ON public.orders (id);"

[[case]]
name = "table created earlier in the same pending run"
scope = "run"
expect = []
[[case.files]]
path = "001.sql"
sql = "CREATE TABLE public.orders (id bigint);"
[[case.files]]
path = "002.sql"
sql = "CREATE INDEX orders_id ON public.orders (id);"

[[case]]
name = "same name in another schema is not new"
sql = "CREATE TABLE new.t (a bigint);\nCREATE INDEX ON existing.t (a);"
expect = [{ rule = "create-index-not-concurrently", line = 2 }]

[[case]]
name = "same schema is new"
sql = "CREATE TABLE app.t (a bigint);\nCREATE INDEX t_a ON app.t (a);\nCREATE INDEX t_a2 ON t (a);"
expect = []

[[case]]
name = "unqualified create, qualified index"
sql = "CREATE TABLE t (a bigint);\nCREATE INDEX t_a ON public.t (a);"
expect = []

[[case]]
name = "created in a transaction that rolled back"
sql = "BEGIN;\nCREATE TABLE public.t (a bigint);\nROLLBACK;\nCREATE INDEX t_a ON public.t (a);"
in_transaction = false
expect = [{ rule = "create-index-not-concurrently", line = 4 }]

[[case]]
name = "created in a transaction that committed"
sql = "BEGIN;\nCREATE TABLE public.t (a bigint);\nCOMMIT;\nCREATE INDEX t_a ON public.t (a);"
in_transaction = false
expect = []

[[case]]
name = "select into creates the table"
sql = "SELECT id INTO public.copy FROM users;\nCREATE INDEX copy_id ON public.copy (id);"
expect = []
"##;
