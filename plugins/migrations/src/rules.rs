//! The rule catalogue: ids, titles, severities, explanations and the safe
//! alternative of every rule. `describe()` and docs/migrations/rules.md are
//! both written from it, so the three never drift apart.

use crate::{Class, Severity};

/// One rule.
pub struct Rule {
    /// Stable kebab-case id.
    pub id: &'static str,
    pub title: &'static str,
    /// What goes wrong: the lock taken or the client that breaks.
    pub problem: &'static str,
    /// The safe alternative, in one or two sentences (the finding's remediation).
    pub fix: &'static str,
    /// PostgreSQL-version notes, empty when the version does not matter.
    pub versions: &'static str,
    pub severity: Severity,
    /// A hit fails the check (`fail`); otherwise it only warns.
    pub blocking: bool,
    /// Runs only when the policy lists it in `include`.
    pub opt_in: bool,
    /// The expand/contract steps for breaking and contract changes;
    /// `{object}` is replaced by the object the finding names.
    pub plan: &'static [&'static str],
    /// The squawk rules this one covers.
    pub squawk: &'static [&'static str],
}

impl Rule {
    /// The `describe()` description: the problem, then the safe alternative.
    pub fn description(&self) -> String {
        let mut d = String::new();
        if self.opt_in {
            d.push_str("Opt-in. ");
        }
        d.push_str(self.problem);
        d.push(' ');
        d.push_str(self.fix);
        if !self.versions.is_empty() {
            d.push(' ');
            d.push_str(self.versions);
        }
        d
    }
}

const fn rule(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    blocking: bool,
    problem: &'static str,
    fix: &'static str,
) -> Rule {
    Rule {
        id,
        title,
        problem,
        fix,
        versions: "",
        severity,
        blocking,
        opt_in: false,
        plan: &[],
        squawk: &[],
    }
}

impl Rule {
    const fn versions(mut self, v: &'static str) -> Self {
        self.versions = v;
        self
    }
    const fn plan(mut self, p: &'static [&'static str]) -> Self {
        self.plan = p;
        self
    }
    const fn squawk(mut self, s: &'static [&'static str]) -> Self {
        self.squawk = s;
        self
    }
    const fn opt_in(mut self) -> Self {
        self.opt_in = true;
        self
    }
}

use Severity::*;

const DROP_PLAN: &[&str] = &[
    "deploy code that no longer reads or writes {object}",
    "wait until every instance of the old release is gone",
    "drop {object} in a later migration, after a backup or snapshot",
];

/// Every rule, in documentation order.
pub static RULES: &[Rule] = &[
    // Locking: indexes.
    rule(
        "create-index-not-concurrently",
        "Index created without CONCURRENTLY",
        High,
        true,
        "CREATE INDEX without CONCURRENTLY takes a SHARE lock on the table and blocks every INSERT, UPDATE and DELETE until the whole index is built.",
        "Use CREATE INDEX CONCURRENTLY in a migration that does not run inside a transaction.",
    )
    .squawk(&["require-concurrent-index-creation"]),
    rule(
        "drop-index-not-concurrently",
        "Index dropped without CONCURRENTLY",
        Medium,
        true,
        "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table and blocks reads and writes while it waits for running queries.",
        "Use DROP INDEX CONCURRENTLY IF EXISTS in a migration that does not run inside a transaction.",
    )
    .plan(&[
        "check that no query plan still needs {object} (pg_stat_user_indexes.idx_scan)",
        "DROP INDEX CONCURRENTLY IF EXISTS {object} in its own non-transactional migration",
    ])
    .squawk(&["require-concurrent-index-deletion"]),
    rule(
        "concurrently-in-transaction",
        "CONCURRENTLY inside a transaction",
        High,
        true,
        "CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY cannot run inside a transaction block; the migration fails with an error.",
        "Put the statement in its own migration that runs outside a transaction (`-- no-transaction` for sqlx, a non-transactional migration for Flyway/dbmate/diesel).",
    )
    .squawk(&["ban-concurrent-index-creation-in-transaction"]),
    rule(
        "reindex-not-concurrently",
        "REINDEX without CONCURRENTLY",
        Medium,
        true,
        "REINDEX without CONCURRENTLY locks out writes to the table (and reads that use the index) until the rebuild finishes.",
        "Use REINDEX INDEX CONCURRENTLY outside a transaction.",
    )
    .versions("REINDEX CONCURRENTLY exists from PostgreSQL 12; before that, build a new index CONCURRENTLY and drop the old one CONCURRENTLY.")
    .squawk(&["require-concurrent-reindex"]),
    rule(
        "detach-partition-not-concurrently",
        "DETACH PARTITION without CONCURRENTLY",
        Medium,
        false,
        "ALTER TABLE … DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the parent table, blocking all queries on every partition.",
        "Use DETACH PARTITION … CONCURRENTLY outside a transaction.",
    )
    .plan(&[
        "stop writing to partition {object}",
        "ALTER TABLE … DETACH PARTITION {object} CONCURRENTLY in its own non-transactional migration",
        "archive or drop {object} in a later migration",
    ])
    .versions("DETACH PARTITION CONCURRENTLY exists from PostgreSQL 14; the rule is silent before that.")
    .squawk(&["require-concurrent-partition-detach"]),
    // Locking: constraints.
    rule(
        "constraint-missing-not-valid",
        "CHECK constraint added without NOT VALID",
        High,
        true,
        "Adding a CHECK constraint to an existing table scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes.",
        "Add the constraint with NOT VALID, then run ALTER TABLE … VALIDATE CONSTRAINT in a separate transaction; validation only takes a SHARE UPDATE EXCLUSIVE lock.",
    )
    .plan(&[
        "add the constraint NOT VALID (new rows are checked immediately)",
        "fix existing rows that violate it, in batches",
        "VALIDATE CONSTRAINT in a separate migration or transaction",
    ])
    .squawk(&["constraint-missing-not-valid"]),
    rule(
        "add-foreign-key",
        "Foreign key added without NOT VALID",
        High,
        true,
        "Adding a foreign key to an existing table takes a SHARE ROW EXCLUSIVE lock on both tables and scans the whole referencing table, blocking writes to both.",
        "Add the foreign key with NOT VALID, then VALIDATE CONSTRAINT in a separate transaction.",
    )
    .plan(&[
        "add the foreign key NOT VALID (new rows are checked immediately)",
        "delete or fix orphaned rows in batches",
        "VALIDATE CONSTRAINT in a separate migration or transaction",
    ])
    .squawk(&["adding-foreign-key-constraint"]),
    rule(
        "add-unique-constraint",
        "UNIQUE constraint built under an exclusive lock",
        High,
        true,
        "ALTER TABLE … ADD UNIQUE builds the index while holding an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole build.",
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX.",
    )
    .plan(&[
        "remove duplicates in batches",
        "CREATE UNIQUE INDEX CONCURRENTLY on the columns, outside a transaction",
        "ADD CONSTRAINT … UNIQUE USING INDEX (instant)",
    ])
    .squawk(&["disallowed-unique-constraint"]),
    rule(
        "add-primary-key",
        "PRIMARY KEY built under an exclusive lock",
        High,
        true,
        "ALTER TABLE … ADD PRIMARY KEY builds a unique index and may set columns NOT NULL while holding an ACCESS EXCLUSIVE lock, blocking reads and writes.",
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY USING INDEX.",
    )
    .plan(&[
        "make the key columns NOT NULL safely (CHECK … NOT VALID, VALIDATE, SET NOT NULL)",
        "CREATE UNIQUE INDEX CONCURRENTLY on the key columns, outside a transaction",
        "ADD CONSTRAINT … PRIMARY KEY USING INDEX (instant)",
    ])
    // squawk 2.70 reports ADD PRIMARY KEY as a constraint without NOT VALID.
    .squawk(&["constraint-missing-not-valid"]),
    rule(
        "set-not-null",
        "SET NOT NULL on an existing column",
        High,
        true,
        "ALTER COLUMN … SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, and breaks any running code that still writes NULL.",
        "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a separate transaction, then SET NOT NULL (which reuses the validated check) and drop the check.",
    )
    .versions("The validated-CHECK shortcut works from PostgreSQL 12; before that SET NOT NULL always scans the table.")
    .plan(&[
        "deploy code that never writes NULL to {object}",
        "backfill NULLs in batches",
        "add a CHECK that {object} IS NOT NULL, marked NOT VALID",
        "VALIDATE CONSTRAINT in a separate transaction",
        "SET NOT NULL (no scan from PostgreSQL 12) and drop the CHECK",
    ])
    .squawk(&["adding-not-nullable-field"]),
    rule(
        "validate-in-same-transaction",
        "VALIDATE CONSTRAINT in the transaction that added it",
        Medium,
        false,
        "Validating a NOT VALID constraint in the same transaction that added it keeps the ACCESS EXCLUSIVE lock of the ADD for the whole validation scan, which is what NOT VALID was meant to avoid.",
        "Run VALIDATE CONSTRAINT in a separate migration or after a COMMIT.",
    ),
    rule(
        "alter-table-rewrite",
        "ALTER TABLE form that rewrites the table",
        High,
        true,
        "ALTER TABLE … SET TABLESPACE, SET LOGGED, SET UNLOGGED and SET ACCESS METHOD copy the whole table (and, for a tablespace, its files) under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole copy.",
        "Do it in a maintenance window, or build a new table and switch over with pg_repack-style tooling.",
    ),
    // Columns.
    rule(
        "add-required-column",
        "Required column added without a default",
        High,
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
    .squawk(&["adding-required-field"]),
    rule(
        "add-column-volatile-default",
        "Column added with a default that rewrites the table",
        High,
        true,
        "ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), …), a GENERATED … STORED expression, or any default before PostgreSQL 11 rewrites the whole table under an ACCESS EXCLUSIVE lock.",
        "Add the column without a default (or with a constant one), set the default in a separate statement, and backfill existing rows in batches.",
    )
    .versions("From PostgreSQL 11 a non-volatile default is stored in the catalogue and needs no rewrite; before 11 every default rewrites the table.")
    .plan(&[
        "add {object} without a default",
        "ALTER COLUMN … SET DEFAULT (applies to new rows only, no rewrite)",
        "backfill existing rows in batches",
    ])
    .squawk(&["adding-field-with-default"]),
    rule(
        "add-serial-primary-key",
        "Serial or identity primary key added to an existing table",
        High,
        true,
        "Adding a serial or identity column as PRIMARY KEY rewrites the table to fill the sequence and builds the primary key index, all under an ACCESS EXCLUSIVE lock.",
        "Add a nullable bigint column, backfill it in batches from a sequence, build a unique index CONCURRENTLY and attach it with ADD PRIMARY KEY USING INDEX.",
    )
    .plan(&[
        "add {object} as a nullable bigint and attach a sequence default",
        "backfill existing rows in batches",
        "CREATE UNIQUE INDEX CONCURRENTLY on {object}",
        "ADD CONSTRAINT … PRIMARY KEY USING INDEX",
    ])
    .squawk(&["adding-serial-primary-key-field"]),
    rule(
        "change-column-type",
        "Column type changed",
        High,
        true,
        "ALTER COLUMN … TYPE usually rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, and running code that reads or writes the old type can break.",
        "Add a new column with the new type, dual-write and backfill it, switch reads, then drop the old column later.",
    )
    .versions("Some changes need no rewrite (varchar(n) to a longer varchar or to text, numeric precision increases); the rule cannot see the old type, so ignore it with a reason for those.")
    .plan(&[
        "add a new column with the new type next to {object}",
        "dual-write both columns with a trigger or in code",
        "backfill the new column in batches",
        "switch reads to the new column",
        "drop {object} in a later release",
    ])
    .squawk(&["changing-column-type"]),
    rule(
        "drop-column",
        "Column dropped",
        High,
        true,
        "Dropping a column breaks every running instance that still selects or inserts it (including ORMs that list all columns).",
        "First deploy code that no longer uses the column (mark it ignored in the ORM), then drop it in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-column"]),
    rule(
        "drop-default",
        "Column default dropped",
        Medium,
        false,
        "Dropping a default breaks running code that inserts rows without the column and relies on the default.",
        "Deploy code that always writes the column before dropping the default.",
    )
    .plan(&[
        "deploy code that always writes {object}",
        "wait until the old release is gone",
        "DROP DEFAULT in a later migration",
    ])
    .squawk(&["ban-drop-default"]),
    rule(
        "drop-not-null",
        "NOT NULL dropped",
        Medium,
        false,
        "Dropping NOT NULL lets the new release write NULLs that running code (and a rollback) does not expect.",
        "Make sure every reader handles NULL before the column is relaxed.",
    )
    .plan(&[
        "deploy code that tolerates NULL in {object}",
        "DROP NOT NULL in a later migration",
    ])
    .squawk(&["ban-drop-not-null"]),
    rule(
        "drop-generated-expression",
        "Generated expression dropped",
        Medium,
        false,
        "ALTER COLUMN … DROP EXPRESSION turns a generated column into a plain one: nothing fills it any more, and running code that relies on it reads stale values.",
        "Deploy code that writes the column itself before dropping the expression.",
    )
    .plan(&[
        "deploy code that writes {object} itself",
        "DROP EXPRESSION in a later migration",
    ])
    .squawk(&["ban-drop-generated-expression"]),
    rule(
        "alter-identity",
        "Identity of a column changed",
        Medium,
        false,
        "Adding, changing or dropping a column's identity changes how ids are generated under running code; dropping it breaks inserts that rely on it.",
        "Change id generation in its own release, after code that does not depend on it is deployed.",
    )
    .plan(&[
        "deploy code that does not depend on how {object} is generated",
        "change the identity in a later migration",
    ])
    .squawk(&["ban-alter-identity"]),
    // Renames and moves.
    rule(
        "rename-column",
        "Column renamed",
        High,
        true,
        "Renaming a column breaks every running instance that still uses the old name, immediately.",
        "Add the new column, dual-write, backfill, switch reads, and drop the old column in a later release (or expose the new name through a view).",
    )
    .plan(&[
        "add the new column next to {object}",
        "dual-write both columns with a trigger",
        "backfill the new column in batches",
        "switch reads to the new column",
        "drop {object} in a later release",
    ])
    .squawk(&["renaming-column"]),
    rule(
        "rename-table",
        "Table renamed",
        High,
        true,
        "Renaming a table breaks every running instance that still uses the old name, immediately.",
        "Rename the table and create an updatable view with the old name in the same transaction, move code to the new name, then drop the view later.",
    )
    .plan(&[
        "rename {object} and create a view with the old name in the same transaction",
        "deploy code that uses the new name",
        "drop the compatibility view in a later release",
    ])
    .squawk(&["renaming-table"]),
    rule(
        "rename-object",
        "Object renamed",
        Medium,
        true,
        "Renaming an index, view, type, function, sequence, schema or constraint breaks running code and scripts that reference the old name.",
        "Create the object under the new name alongside the old one (or a wrapper), move code to it, then drop the old one later.",
    )
    .plan(&[
        "create {object} under the new name next to the old one",
        "deploy code that uses the new name",
        "drop the old name in a later release",
    ])
    .squawk(&["renaming-object"]),
    rule(
        "set-schema",
        "Object moved to another schema",
        Medium,
        true,
        "ALTER … SET SCHEMA changes the object's qualified name; running code and search_path lookups that use the old schema break.",
        "Create the object in the new schema (or a view there), move code, then drop the old one later.",
    )
    .plan(&[
        "create {object} in the new schema (or a view over it)",
        "deploy code that uses the new schema",
        "drop the old object in a later release",
    ])
    .squawk(&["ban-set-schema"]),
    // Drops.
    rule(
        "drop-table",
        "Table dropped",
        Critical,
        true,
        "Dropping a table loses its data and breaks every running instance that still uses it.",
        "Stop using the table in code first, keep a backup, and drop it in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-table"]),
    rule(
        "drop-database",
        "Database dropped",
        Critical,
        true,
        "Dropping a database from a migration destroys all of its data irrecoverably.",
        "Drop databases by hand, deliberately, never from an application migration.",
    )
    .plan(&[
        "confirm nothing connects to {object}",
        "take a final backup",
        "drop {object} manually, outside the migration tool",
    ])
    .squawk(&["ban-drop-database"]),
    rule(
        "drop-schema",
        "Schema dropped",
        Critical,
        true,
        "Dropping a schema (especially with CASCADE) drops every object in it and breaks running code that uses them.",
        "Move or drop the objects one by one in later releases once no code uses them.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-schema"]),
    rule(
        "drop-view",
        "View dropped",
        Medium,
        true,
        "Dropping a (materialized) view breaks running code and reports that query it.",
        "Stop using the view in code first, then drop it in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-view"]),
    rule(
        "drop-function",
        "Function or procedure dropped",
        Medium,
        true,
        "Dropping a function or procedure breaks running code, triggers and defaults that call it.",
        "Remove every caller (code, triggers, defaults) first, then drop it in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-function"]),
    rule(
        "drop-type",
        "Type or domain dropped",
        Medium,
        true,
        "Dropping a type or domain fails while columns use it, or with CASCADE drops those columns, breaking running code.",
        "Move columns off the type first, then drop it in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-domain", "ban-drop-type"]),
    rule(
        "drop-sequence",
        "Sequence dropped",
        Medium,
        true,
        "Dropping a sequence breaks defaults and code that call nextval() on it.",
        "Remove the defaults and code that use the sequence first, then drop it in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-sequence"]),
    rule(
        "drop-constraint",
        "Constraint dropped",
        Medium,
        false,
        "Dropping a constraint removes a guarantee running code may rely on, and a rollback to the previous release may no longer find its data valid.",
        "Drop constraints only after the code that relied on them is gone; replace them first if the rule is moving.",
    )
    .plan(&[
        "deploy code that no longer relies on {object}",
        "drop {object} in a later migration",
    ])
    .squawk(&["ban-drop-constraint"]),
    rule(
        "drop-extension",
        "Extension dropped",
        High,
        true,
        "Dropping an extension drops its types, functions and operators (and with CASCADE, the columns and indexes that use them).",
        "Remove every use of the extension first, then drop it deliberately in a later release.",
    )
    .plan(DROP_PLAN)
    .squawk(&["ban-drop-extension"]),
    // Data.
    rule(
        "truncate-cascade",
        "TRUNCATE … CASCADE",
        Critical,
        true,
        "TRUNCATE … CASCADE also empties every table with a foreign key to the target, often far more data than intended, under ACCESS EXCLUSIVE locks.",
        "Truncate or delete from the tables explicitly, by name, without CASCADE.",
    )
    .squawk(&["ban-truncate-cascade"]),
    rule(
        "vacuum-full-or-cluster",
        "VACUUM FULL or CLUSTER",
        High,
        true,
        "VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite.",
        "Use pg_repack or pg_squeeze, which rebuild the table online.",
    )
    .squawk(&["prefer-repack"]),
    rule(
        "unbatched-backfill",
        "UPDATE or DELETE of a whole existing table",
        Medium,
        false,
        "An UPDATE or DELETE without WHERE on an existing table touches every row in one transaction: it holds row locks on all of them until the migration commits (blocking concurrent writes), bloats the table, and can run for a long time while the migration's other locks are held.",
        "Backfill in batches (by primary-key range, a few thousand rows each) committed separately, outside the schema migration.",
    )
    .plan(&[
        "ship the schema change first (nullable column or new table)",
        "backfill {object} in batches by primary-key range, committing each batch",
        "make the new state mandatory in a later migration",
    ]),
    rule(
        "refresh-matview-not-concurrently",
        "REFRESH MATERIALIZED VIEW without CONCURRENTLY",
        Medium,
        false,
        "REFRESH MATERIALIZED VIEW without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the view and blocks every read of it until the refresh finishes.",
        "Use REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view).",
    ),
    // Enums.
    rule(
        "enum-add-value-in-transaction",
        "ALTER TYPE … ADD VALUE inside a transaction",
        High,
        true,
        "Before PostgreSQL 12, ALTER TYPE … ADD VALUE cannot run inside a transaction block; from 12 it can, but the new value cannot be used until the transaction commits.",
        "Add the enum value in its own migration outside a transaction (or at least do not use it in the same transaction).",
    )
    .versions("Fails before PostgreSQL 12 whenever the file runs in a transaction; from 12 only when a later statement in the same transaction uses the new value."),
    rule(
        "enum-value-ordering",
        "Enum value added without BEFORE/AFTER",
        Low,
        false,
        "ALTER TYPE … ADD VALUE without BEFORE or AFTER appends the value to the end, which changes ORDER BY and comparisons on the enum if the order matters.",
        "Say where the value goes with BEFORE or AFTER.",
    )
    .squawk(&["require-enum-value-ordering"]),
    // Types.
    rule(
        "prefer-text",
        "varchar(n) instead of text",
        Low,
        false,
        "Changing a varchar(n) limit later needs an ACCESS EXCLUSIVE lock (and a rewrite when it shrinks).",
        "Use text, with a CHECK (char_length(col) <= n) constraint if the limit matters.",
    )
    .squawk(&["prefer-text-field"]),
    rule(
        "ban-char",
        "char(n) column",
        Low,
        false,
        "char(n) pads values with spaces, wastes storage and compares surprisingly; changing it later rewrites the table.",
        "Use text (or varchar), with a CHECK constraint for a fixed length.",
    )
    .squawk(&["ban-char-field"]),
    rule(
        "prefer-bigint",
        "32-bit integer column",
        Low,
        false,
        "int/integer/serial columns overflow at 2^31; widening them later rewrites the table under an ACCESS EXCLUSIVE lock.",
        "Use bigint (or bigserial / bigint identity) for ids and counters.",
    )
    .squawk(&["prefer-bigint-over-int"]),
    rule(
        "prefer-bigint-over-smallint",
        "smallint column",
        Low,
        false,
        "smallint columns overflow at 32767; widening them later rewrites the table under an ACCESS EXCLUSIVE lock.",
        "Use bigint unless the range is certain to stay small.",
    )
    .squawk(&["prefer-bigint-over-smallint"]),
    rule(
        "prefer-identity",
        "serial instead of identity",
        Low,
        false,
        "serial/bigserial create a separately owned sequence with its own permissions and dump/restore pitfalls.",
        "Use bigint GENERATED BY DEFAULT AS IDENTITY.",
    )
    .squawk(&["prefer-identity"]),
    rule(
        "prefer-timestamptz",
        "timestamp without time zone",
        Low,
        false,
        "timestamp without time zone drops the offset, so values depend on each writer's time zone; converting later rewrites the table.",
        "Use timestamptz (timestamp with time zone).",
    )
    .squawk(&["prefer-timestamp-tz", "prefer-timestamptz"]),
    // Domains.
    rule(
        "create-domain-with-constraint",
        "Domain created with a constraint",
        Low,
        false,
        "Constraints on domains are hard to change later: ALTER DOMAIN ADD CONSTRAINT checks every column of the domain in every table under locks.",
        "Put the CHECK on the table columns instead, where it can be added NOT VALID and validated online.",
    )
    .squawk(&["ban-create-domain-with-constraint"]),
    rule(
        "alter-domain-add-constraint",
        "Constraint added to a domain",
        Medium,
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
    .squawk(&["ban-alter-domain-with-add-constraint"]),
    // Transactions, retries and timeouts.
    rule(
        "prefer-robust-statements",
        "Statement cannot be safely retried",
        Low,
        false,
        "Outside a transaction a migration that fails half-way leaves some statements applied; re-running it then fails on CREATE/ADD/DROP without IF [NOT] EXISTS.",
        "Use IF NOT EXISTS on CREATE/ADD and IF EXISTS on DROP so the migration can be re-run.",
    )
    .squawk(&["prefer-robust-stmts"]),
    rule(
        "transaction-nesting",
        "Transaction control inside a transaction",
        Medium,
        true,
        "BEGIN inside a transaction only warns and does nothing, and COMMIT/ROLLBACK ends the migration tool's own transaction early, so later statements run without the atomicity the tool promises.",
        "Remove BEGIN/COMMIT from migrations the tool already wraps in a transaction, or mark the file non-transactional.",
    )
    .squawk(&["transaction-nesting"]),
    rule(
        "uncommitted-transaction",
        "BEGIN without COMMIT",
        High,
        true,
        "A BEGIN that is never committed leaves the transaction open at the end of the file: its changes are rolled back or stay uncommitted, holding locks.",
        "End every explicit BEGIN with COMMIT in the same file.",
    )
    .squawk(&["ban-uncommitted-transaction"]),
    rule(
        "require-lock-timeout",
        "No lock_timeout before a locking statement",
        Medium,
        false,
        "A DDL statement waiting for its lock queues every later query on the table behind it, so a long-running query can turn the migration into an outage.",
        "Start the migration with SET lock_timeout = '2s' (and retry on timeout).",
    )
    .squawk(&["require-timeout-settings", "require-lock-timeout"]),
    rule(
        "require-statement-timeout",
        "No statement_timeout before a locking statement",
        Low,
        false,
        "Without a statement_timeout a slow DDL statement holds its locks for as long as it runs.",
        "SET statement_timeout for the migration (not for CREATE INDEX CONCURRENTLY, which must be allowed to run long).",
    )
    .opt_in()
    .squawk(&["require-timeout-settings", "require-statement-timeout"]),
    // Identifiers and schemas.
    rule(
        "identifier-too-long",
        "Identifier longer than 63 bytes",
        Low,
        false,
        "PostgreSQL silently truncates identifiers to 63 bytes, so the created name differs from the one in the migration and two names can collide.",
        "Use names of at most 63 bytes.",
    )
    .squawk(&["identifier-too-long"]),
    rule(
        "require-table-schema",
        "Table named without a schema",
        Info,
        false,
        "An unqualified table name in CREATE, ALTER or DROP TABLE resolves through whatever search_path is at run time, so the migration can create or change a table in the wrong schema.",
        "Qualify the table with its schema, e.g. public.users.",
    )
    .opt_in()
    .squawk(&["require-table-schema"]),
    rule(
        "duplicate-column-assignment",
        "Column assigned twice in one SET list",
        High,
        true,
        "PostgreSQL rejects an UPDATE (or ON CONFLICT DO UPDATE) that assigns the same column twice (\"multiple assignments to same column\"), so the migration fails when it reaches the statement.",
        "Assign each column once; combine the expressions if both were meant.",
    )
    .squawk(&["ban-duplicate-column-assignments"]),
];

/// Pseudo-rules: notes and summaries, not checks of a statement.
pub static PSEUDO_RULES: &[Rule] = &[
    rule(
        "parse-error",
        "Statement not parsed",
        Info,
        false,
        "sqlparser could not parse the statement, so only the token-level rules checked it.",
        "Nothing to fix in the migration; review the statement by hand.",
    ),
    rule(
        "parse-coverage",
        "Parse coverage",
        Info,
        false,
        "How many statements sqlparser parsed, and how many statements of each classification the run contains.",
        "Nothing to fix; unparsed statements are listed as parse-error.",
    ),
    rule(
        "unused-ignore",
        "Unused gate:ignore",
        Low,
        false,
        "A `-- gate:ignore` or `-- gate:ignore-file` directive matched no finding (or names an unknown rule), so it silences nothing and may hide a future finding.",
        "Remove the directive or fix the rule id.",
    ),
    rule(
        "file-summary",
        "Per-file summary",
        Info,
        false,
        "One per file: how many statements it has and their classification (expand, contract, breaking, data).",
        "Nothing to fix; used by `gate migrate plan`.",
    ),
];

pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().chain(PSEUDO_RULES).find(|r| r.id == id)
}

/// The rules a name in an ignore comment stands for: a gate rule id, or a
/// squawk rule name (so `-- squawk-ignore` comments keep working), which
/// can stand for several gate rules. Empty for an unknown name.
pub fn named(name: &str) -> Vec<&'static Rule> {
    match find(name) {
        Some(rule) => vec![rule],
        None => RULES.iter().filter(|r| r.squawk.contains(&name)).collect(),
    }
}

/// The classification a rule's hit gives a statement.
pub fn class_of(id: &str) -> Option<Class> {
    Some(match id {
        "rename-column"
        | "rename-table"
        | "rename-object"
        | "set-schema"
        | "change-column-type"
        | "add-required-column" => Class::Breaking,
        "drop-column"
        | "drop-table"
        | "drop-database"
        | "drop-schema"
        | "drop-view"
        | "drop-function"
        | "drop-type"
        | "drop-sequence"
        | "drop-constraint"
        | "drop-extension"
        | "drop-default"
        | "drop-generated-expression"
        | "alter-identity"
        | "set-not-null"
        | "constraint-missing-not-valid"
        | "add-foreign-key"
        | "add-unique-constraint"
        | "add-primary-key"
        | "alter-domain-add-constraint" => Class::Contract,
        "truncate-cascade" => Class::Data,
        _ => return None,
    })
}
