//! Validation before contract: the new columns against the old. For each
//! operation: the row count through both versions, NULLs where NOT NULL is
//! coming, values the `up` expression did not produce, and the constraints
//! the expand added `NOT VALID`, checked for offending rows and then
//! validated (`VALIDATE CONSTRAINT` takes a lock that lets reads and writes
//! go on). Offending rows are named by their primary key.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::ExpandError;
use super::ops::{Constraint, Operation};
use super::schema::{Table, new_column_of};
use super::sql::{ident, qualified};
use super::state::Record;

/// Rows named per failure, at most.
const SAMPLE: i64 = 10;

/// One check that failed.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The operation, as `status` describes it.
    pub operation: String,
    pub problem: String,
    /// Primary keys of offending rows (at most 10), e.g. `id=42`.
    pub rows: Vec<String>,
    /// How many rows offend.
    pub count: i64,
}

/// Every failed check: complete is blocked until they pass.
#[derive(Clone, Debug, Serialize)]
pub struct Failures {
    pub migration: String,
    pub failures: Vec<Failure>,
}

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "validation of migration `{}` failed; complete is blocked until these rows are fixed \
             (then run `gate migrate validate`), or roll back with `gate migrate rollback`:",
            self.migration
        )?;
        for x in &self.failures {
            if x.rows.is_empty() {
                writeln!(f, "  {}: {}", x.operation, x.problem)?;
                continue;
            }
            writeln!(
                f,
                "  {}: {}: {} row(s): {}{}",
                x.operation,
                x.problem,
                x.count,
                x.rows.join(", "),
                if x.count > x.rows.len() as i64 {
                    ", …"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}

/// The name of the NOT NULL check the expand adds for operation `index`.
pub fn not_null_name(migration: &str, index: usize) -> String {
    format!("gate_{migration}_{index}_not_null")
}

/// The name of an added column's check constraint.
pub fn check_name(table: &str, column: &str) -> String {
    let name = format!("{table}_{column}_check");
    if name.len() <= 63 {
        name
    } else {
        format!("{}_check", &column[..column.len().min(57)])
    }
}

/// What one operation promises about its rows: a condition every row must
/// meet, and what enforces it from validation on.
struct Rule {
    problem: String,
    /// Rows that fail.
    offending: String,
    constraint: Option<Enforce>,
}

/// How a rule is enforced once no row breaks it.
enum Enforce {
    /// A constraint (name, definition) added `NOT VALID`, then validated.
    Constraint(String, String),
    /// A foreign key (name, definition, the referenced relation), added
    /// `NOT VALID` under both tables' locks, then validated.
    ForeignKey(String, String, String),
    /// A unique index (name, columns) built `CONCURRENTLY`.
    UniqueIndex(String, Vec<String>),
}

fn enforced(name: String, definition: String) -> Option<Enforce> {
    Some(Enforce::Constraint(name, definition))
}

/// The rule of an added constraint.
fn constraint_rule(schema: &str, table: &Table, name: &str, constraint: &Constraint) -> Rule {
    let relation = qualified(schema, &table.name);
    let list = |columns: &[String]| {
        columns
            .iter()
            .map(|c| ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match constraint {
        Constraint::Check { expression } => Rule {
            problem: format!("fails the check ({expression})"),
            offending: format!("NOT coalesce(({expression}), true)"),
            constraint: enforced(name.to_string(), format!("CHECK ({expression})")),
        },
        Constraint::Unique { columns } => Rule {
            problem: format!("duplicate ({})", columns.join(", ")),
            offending: format!(
                "({cols}) IN (SELECT {cols} FROM {relation} GROUP BY {cols} HAVING count(*) > 1)",
                cols = list(columns)
            ),
            constraint: Some(Enforce::UniqueIndex(name.to_string(), columns.clone())),
        },
        Constraint::ForeignKey {
            columns,
            references_table,
            references_columns,
            on_delete,
        } => {
            let referenced = qualified(schema, references_table);
            let present: Vec<String> = columns
                .iter()
                .map(|c| format!("{relation}.{} IS NOT NULL", ident(c)))
                .collect();
            let matched: Vec<String> = columns
                .iter()
                .zip(references_columns)
                .map(|(c, r)| format!("r.{} = {relation}.{}", ident(r), ident(c)))
                .collect();
            Rule {
                problem: format!("references no row of {references_table}"),
                offending: format!(
                    "{} AND NOT EXISTS (SELECT 1 FROM {referenced} r WHERE {})",
                    present.join(" AND "),
                    matched.join(" AND ")
                ),
                constraint: Some(Enforce::ForeignKey(
                    name.to_string(),
                    format!(
                        "FOREIGN KEY ({}) REFERENCES {referenced} ({}) ON DELETE {}",
                        list(columns),
                        list(references_columns),
                        on_delete.sql()
                    ),
                    referenced.clone(),
                )),
            }
        }
    }
}

fn rules(record: &Record, index: usize, op: &Operation, table: &Table) -> Vec<Rule> {
    let mut out = Vec::new();
    match op {
        Operation::AddColumn {
            column,
            not_null,
            check,
            up,
            ..
        } => {
            let c = ident(column);
            if *not_null {
                out.push(Rule {
                    problem: format!(
                        "{column} is NULL where NOT NULL is coming{}",
                        if up.is_some() {
                            " (the `up` expression gave NULL)"
                        } else {
                            ""
                        }
                    ),
                    offending: format!("{c} IS NULL"),
                    constraint: enforced(
                        not_null_name(&record.name, index),
                        format!("CHECK ({c} IS NOT NULL)"),
                    ),
                });
            }
            if let Some(check) = check {
                out.push(Rule {
                    problem: format!("fails the check ({check})"),
                    offending: format!("NOT coalesce(({check}), true)"),
                    constraint: enforced(
                        check_name(&table.name, column),
                        format!("CHECK ({check})"),
                    ),
                });
            }
        }
        Operation::ChangeType { column, .. } => {
            let old = ident(column);
            let new = ident(&new_column_of(column));
            out.push(Rule {
                problem: format!("the `up` expression gave NULL for a {column} that is not NULL"),
                offending: format!("{new} IS NULL AND {old} IS NOT NULL"),
                constraint: None,
            });
            if table.column(column).is_some_and(|c| c.not_null) {
                out.push(Rule {
                    problem: format!("{column} is NULL in the new type where it is NOT NULL"),
                    offending: format!("{new} IS NULL"),
                    constraint: enforced(
                        not_null_name(&record.name, index),
                        format!("CHECK ({new} IS NOT NULL)"),
                    ),
                });
            }
        }
        Operation::SetNotNull { column, up, .. } => {
            let c = ident(column);
            out.push(Rule {
                problem: format!(
                    "{column} is NULL where NOT NULL is coming{}",
                    if up.is_some() {
                        " (the `up` expression gave NULL)"
                    } else {
                        " (give `up`, or fix the rows)"
                    }
                ),
                offending: format!("{c} IS NULL"),
                constraint: enforced(
                    not_null_name(&record.name, index),
                    format!("CHECK ({c} IS NOT NULL)"),
                ),
            });
        }
        Operation::RenameColumn { .. }
        | Operation::DropColumn { .. }
        | Operation::CreateTable { .. }
        | Operation::CreateIndex { .. }
        | Operation::RenameTable { .. }
        | Operation::DropTable { .. }
        | Operation::RawSql { .. } => {}
        Operation::AddConstraint {
            name, constraint, ..
        } => out.push(constraint_rule(&record.schema, table, name, constraint)),
    }
    out
}

fn db(during: impl Into<String>) -> impl Fn(tokio_postgres::Error) -> ExpandError {
    let during = during.into();
    move |e| ExpandError::db(during.clone(), &e)
}

/// Runs every check; `Ok(None)` when all pass (constraints validated).
pub async fn validate(
    client: &Client,
    record: &Record,
    tables: &std::collections::BTreeMap<String, Table>,
    lock_timeout: Duration,
) -> Result<Option<Failures>, ExpandError> {
    let mut failures = Vec::new();
    for (index, op) in record.operations.iter().enumerate() {
        // Raw SQL promises nothing gate could check.
        if matches!(op, Operation::RawSql { .. }) {
            continue;
        }
        let Some(table) = tables.get(op.table()) else {
            return Err(ExpandError::Plan(format!(
                "table {}.{} is gone; roll the migration back",
                record.schema,
                op.table()
            )));
        };
        // A created table has no old version to count through, a dropped
        // one no new version.
        if let Some(new_name) = op.new_table()
            && record.old_version != record.schema
            && !matches!(op, Operation::CreateTable { .. })
        {
            failures.extend(count_both_versions(client, record, op, table, new_name).await?);
        }
        for rule in rules(record, index, op, table) {
            let checked = Checked {
                record,
                op,
                table,
                rule: &rule,
            };
            failures.extend(checked.run(client, lock_timeout).await?);
        }
    }
    Ok((!failures.is_empty()).then(|| Failures {
        migration: record.name.clone(),
        failures,
    }))
}

/// The same rows through both versions, counted in one statement (one
/// snapshot: concurrent writes count the same through both).
async fn count_both_versions(
    client: &Client,
    record: &Record,
    op: &Operation,
    table: &Table,
    new_name: &str,
) -> Result<Option<Failure>, ExpandError> {
    let counts = client
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})",
                qualified(&record.old_version, &table.name),
                qualified(&record.new_version, new_name)
            ),
            &[],
        )
        .await
        .map_err(db(format!("counting {} through both versions", table.name)))?;
    let (old, new): (i64, i64) = (counts.get(0), counts.get(1));
    Ok((old != new).then(|| Failure {
        operation: op.describe(),
        problem: format!("the old version shows {old} rows, the new one {new}"),
        rows: Vec::new(),
        count: (old - new).abs(),
    }))
}

/// One rule of one operation, checked against the rows of its table.
struct Checked<'a> {
    record: &'a Record,
    op: &'a Operation,
    table: &'a Table,
    rule: &'a Rule,
}

impl Checked<'_> {
    fn relation(&self) -> String {
        qualified(&self.record.schema, &self.table.name)
    }

    /// Offending rows by primary key (ctid without one), at most
    /// [`SAMPLE`], with their count.
    fn offending_sql(&self) -> String {
        let key = if self.table.primary_key.is_empty() {
            "ctid::text".to_string()
        } else {
            self.table
                .primary_key
                .iter()
                .map(|k| format!("{} || '=' || {}::text", super::sql::literal(k), ident(k)))
                .collect::<Vec<_>>()
                .join(" || ', ' || ")
        };
        format!(
            "SELECT {key}, count(*) OVER () FROM {} WHERE {} LIMIT {SAMPLE}",
            self.relation(),
            self.rule.offending
        )
    }

    /// The rows that break the rule now, as a failure (none: `None`).
    async fn offending(&self, client: &Client) -> Result<Option<Failure>, ExpandError> {
        let rows = client
            .query(&self.offending_sql(), &[])
            .await
            .map_err(db(format!("checking {}", self.op.describe())))?;
        Ok(rows.first().map(|first| Failure {
            operation: self.op.describe(),
            problem: self.rule.problem.clone(),
            rows: rows.iter().map(|r| r.get(0)).collect(),
            count: first.get(1),
        }))
    }

    /// Offending rows first; with none, the rule's constraint is added
    /// `NOT VALID` (if it is not there yet) and validated.
    async fn run(
        &self,
        client: &Client,
        lock_timeout: Duration,
    ) -> Result<Option<Failure>, ExpandError> {
        if let Some(failure) = self.offending(client).await? {
            return Ok(Some(failure));
        }
        match &self.rule.constraint {
            None => Ok(None),
            Some(Enforce::Constraint(name, definition)) => {
                self.constraint(client, lock_timeout, name, definition, None)
                    .await
            }
            Some(Enforce::ForeignKey(name, definition, referenced)) => {
                self.constraint(client, lock_timeout, name, definition, Some(referenced))
                    .await
            }
            Some(Enforce::UniqueIndex(name, columns)) => {
                self.unique_index(client, name, columns).await
            }
        }
    }

    /// The constraint, added `NOT VALID` if it is not there yet, then
    /// validated; rows written since the check that break it are a failure.
    ///
    /// A foreign key locks both tables (`SHARE ROW EXCLUSIVE`), its own
    /// first: against an application that writes the referenced row first
    /// and then its children, in one transaction, that order deadlocks, and
    /// PostgreSQL aborts the application's transaction. So gate locks the
    /// referenced table first, waiting at most lock_timeout while it holds
    /// nothing else, then its own table `NOWAIT`: a lock gate waits for
    /// while holding another is one an application could be waiting on it
    /// for. Not available now is a lock timeout, retried.
    async fn constraint(
        &self,
        client: &Client,
        lock_timeout: Duration,
        name: &str,
        definition: &str,
        referenced: Option<&str>,
    ) -> Result<Option<Failure>, ExpandError> {
        let existing = self.constraint_validated(client, name).await?;
        let relation = self.relation();
        let timeout = format!("SET lock_timeout = '{}ms'; ", lock_timeout.as_millis());
        // One statement string: one implicit transaction, which keeps the
        // locks until the constraint is added.
        let locks = referenced
            .map(|r| {
                format!(
                    "LOCK TABLE {r} IN SHARE ROW EXCLUSIVE MODE; \
                     LOCK TABLE {relation} IN SHARE ROW EXCLUSIVE MODE NOWAIT; "
                )
            })
            .unwrap_or_default();
        if existing.is_none() {
            client
                .batch_execute(&format!(
                    "{timeout}{locks}ALTER TABLE {relation} ADD CONSTRAINT {} {definition} NOT VALID",
                    ident(name)
                ))
                .await
                .map_err(db(format!("adding constraint {name} NOT VALID")))?;
        }
        if existing == Some(true) {
            return Ok(None);
        }
        let validated = client
            .batch_execute(&format!(
                "{timeout}ALTER TABLE {relation} VALIDATE CONSTRAINT {}",
                ident(name)
            ))
            .await;
        match validated {
            Ok(()) => Ok(None),
            // A row written since the check above breaks it.
            Err(e)
                if e.code() == Some(&SqlState::CHECK_VIOLATION)
                    || e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) =>
            {
                self.offending(client).await
            }
            Err(e) => Err(ExpandError::db(format!("validating constraint {name}"), &e)),
        }
    }

    /// The unique index, built `CONCURRENTLY` (an invalid one, left by a
    /// build that was killed or failed, dropped first). A duplicate
    /// written during the build fails it: the duplicates are the failure.
    async fn unique_index(
        &self,
        client: &Client,
        name: &str,
        columns: &[String],
    ) -> Result<Option<Failure>, ExpandError> {
        let index = qualified(&self.record.schema, name);
        let valid: Option<bool> = client
            .query_opt(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
                &[&index],
            )
            .await
            .map_err(db("reading pg_index"))?
            .map(|r| r.get(0));
        let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {index}");
        match valid {
            Some(true) => return Ok(None),
            Some(false) => client
                .batch_execute(&drop)
                .await
                .map_err(db(format!("validate: `{drop}`")))?,
            None => {}
        }
        let columns: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let create = format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})",
            ident(name),
            self.relation(),
            columns.join(", ")
        );
        match client.batch_execute(&create).await {
            Ok(()) => Ok(None),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                client
                    .batch_execute(&drop)
                    .await
                    .map_err(db(format!("validate: `{drop}`")))?;
                Ok(Some(self.offending(client).await?.unwrap_or_else(|| {
                    Failure {
                        operation: self.op.describe(),
                        problem: format!(
                            "{}; a duplicate was written while the index was built, run `gate migrate validate` again",
                            self.rule.problem
                        ),
                        rows: Vec::new(),
                        count: 1,
                    }
                })))
            }
            Err(e) => Err(ExpandError::db(format!("validate: `{create}`"), &e)),
        }
    }

    /// Whether constraint `name` is on the table: `None` no, else whether
    /// it is validated.
    async fn constraint_validated(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<bool>, ExpandError> {
        Ok(client
            .query_opt(
                "SELECT k.convalidated FROM pg_constraint k \
                 JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3",
                &[&self.record.schema, &self.table.name, &name],
            )
            .await
            .map_err(db("reading pg_constraint"))?
            .map(|r| r.get::<_, bool>(0)))
    }
}
