//! The check of an operations file against the catalog, before the expand
//! changes anything: every table and column an operation names exists (or,
//! for one it creates, does not), and what the operation needs of it holds.
//! A misfit names the operation's place in the file.

use std::collections::BTreeMap;

use tokio_postgres::Transaction;

use super::ExpandError;
use super::backfill;
use super::ops::{Constraint, Located, MigrationFile, Operation};
use super::schema::{self, Table, new_column_of};
use super::sql::qualified;

fn db(during: &'static str) -> impl Fn(tokio_postgres::Error) -> ExpandError {
    move |e| ExpandError::db(during, &e)
}

/// An operation that does not fit the database, at its place in the file.
pub fn misfit(file: &MigrationFile, at: &Located, message: impl std::fmt::Display) -> ExpandError {
    ExpandError::Plan(format!(
        "{}:{}:{}: {}: {message}",
        file.path.display(),
        at.line,
        at.column,
        at.op.kind()
    ))
}

/// Checks every operation against the catalog before anything changes.
pub async fn check_plan(
    tx: &Transaction<'_>,
    file: &MigrationFile,
    tables: &BTreeMap<String, Table>,
) -> Result<(), ExpandError> {
    let ops: Vec<Operation> = file.operations.iter().map(|l| l.op.clone()).collect();
    let fill = backfill::tables_to_fill(&ops);
    for at in &file.operations {
        // Raw SQL has run already, in the same transaction: the catalog
        // read shows what it did.
        if matches!(at.op, Operation::RawSql { .. }) {
            continue;
        }
        let check = Check {
            tx,
            file,
            at,
            tables,
        };
        if let Operation::CreateTable { table, .. } = &at.op {
            check.table_is_free(table).await?;
            continue;
        }
        let Some(table) = tables.get(at.op.table()) else {
            return Err(check.misfit(format!("no table {}.{}", file.schema, at.op.table())));
        };
        check.operation(table).await?;
        if fill.contains(&table.name) && table.primary_key.is_empty() {
            return Err(check.misfit(format!(
                "table {} has no primary key: the backfill walks rows by primary key",
                table.name
            )));
        }
    }
    Ok(())
}

/// One operation of the file, checked.
struct Check<'a> {
    tx: &'a Transaction<'a>,
    file: &'a MigrationFile,
    at: &'a Located,
    tables: &'a BTreeMap<String, Table>,
}

impl Check<'_> {
    fn misfit(&self, message: impl std::fmt::Display) -> ExpandError {
        misfit(self.file, self.at, message)
    }

    /// Whether `name` (a table, view, index…) exists in the tables' schema.
    async fn exists(&self, name: &str) -> Result<bool, ExpandError> {
        Ok(self
            .tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&qualified(&self.file.schema, name)],
            )
            .await
            .map_err(db("looking for the table"))?
            .get(0))
    }

    async fn table_is_free(&self, table: &str) -> Result<(), ExpandError> {
        if self.exists(table).await? {
            return Err(self.misfit(format!("{}.{table} already exists", self.file.schema)));
        }
        Ok(())
    }

    fn column<'t>(
        &self,
        table: &'t Table,
        column: &str,
    ) -> Result<&'t schema::Column, ExpandError> {
        table
            .column(column)
            .ok_or_else(|| self.misfit(format!("no column {}.{column}", table.name)))
    }

    fn column_is_free(&self, table: &Table, column: &str) -> Result<(), ExpandError> {
        if table.column(column).is_some() {
            return Err(self.misfit(format!("{}.{column} already exists", table.name)));
        }
        Ok(())
    }

    /// What the operation needs of its (existing) table.
    async fn operation(&self, table: &Table) -> Result<(), ExpandError> {
        match &self.at.op {
            Operation::AddColumn { column, .. } => self.column_is_free(table, column),
            Operation::RenameColumn { from, to, .. } => {
                self.column(table, from)?;
                self.column_is_free(table, to)
            }
            Operation::DropColumn { column, down, .. } => {
                self.drop_column(table, column, down.is_some()).await
            }
            Operation::SetNotNull { column, .. } => {
                if self.column(table, column)?.not_null {
                    return Err(self.misfit(format!("{}.{column} is already NOT NULL", table.name)));
                }
                Ok(())
            }
            Operation::CreateTable { .. } | Operation::RawSql { .. } => Ok(()),
            Operation::CreateIndex { name, columns, .. } => {
                self.create_index(table, name, columns).await
            }
            Operation::ChangeType {
                column, default, ..
            } => self.change_type(table, column, default.is_some()).await,
            Operation::RenameTable { to, .. } => self.table_is_free(to).await,
            Operation::DropTable { .. } => self.not_referenced(table).await,
            Operation::AddConstraint {
                name, constraint, ..
            } => self.add_constraint(table, name, constraint).await,
        }
    }

    /// The name is free on the table; the columns exist; a foreign key's
    /// referenced columns exist and are a primary key or unique.
    async fn add_constraint(
        &self,
        table: &Table,
        name: &str,
        constraint: &Constraint,
    ) -> Result<(), ExpandError> {
        let taken: bool = self
            .tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2)",
                &[&qualified(&self.file.schema, &table.name), &name],
            )
            .await
            .map_err(db("reading the table's constraints"))?
            .get(0);
        if taken {
            return Err(self.misfit(format!("{} already has a constraint {name}", table.name)));
        }
        match constraint {
            Constraint::Check { expression } => self.check_reads(table, expression).await,
            // The index name is free too (or an invalid index of it).
            Constraint::Unique { columns } => self.create_index(table, name, columns).await,
            Constraint::ForeignKey {
                columns,
                references_table,
                references_columns,
                ..
            } => {
                for c in columns {
                    self.column(table, c)?;
                }
                let Some(referenced) = self.tables.get(references_table) else {
                    return Err(self.misfit(format!(
                        "no table {}.{references_table} to reference",
                        self.file.schema
                    )));
                };
                for c in references_columns {
                    self.column(referenced, c)?;
                }
                self.unique_key(referenced, references_columns).await
            }
        }
    }

    /// A check reads no column that complete drops: PostgreSQL would drop
    /// the check with the column. Which columns the expression reads is
    /// PostgreSQL's answer, not a reading of its text: a temporary view of
    /// it records its columns in `pg_depend`, and is undone at once.
    async fn check_reads(&self, table: &Table, expression: &str) -> Result<(), ExpandError> {
        let dropped: BTreeMap<&str, &Located> = self
            .file
            .operations
            .iter()
            .filter_map(|at| match at.op.dropped_column() {
                Some((t, column)) if t == table.name => Some((column, at)),
                _ => None,
            })
            .collect();
        if dropped.is_empty() {
            return Ok(());
        }
        self.tx
            .batch_execute(&format!(
                "SAVEPOINT gate_check_probe; \
                 CREATE TEMPORARY VIEW gate_check_probe AS SELECT ({expression}) AS v FROM {}",
                qualified(&self.file.schema, &table.name)
            ))
            .await
            .map_err(|e| {
                self.misfit(format!(
                    "the check does not read as SQL on {}: {}",
                    table.name,
                    gate_sandbox::postgres::db_error(&e)
                ))
            })?;
        let read: Vec<String> = self
            .tx
            .query(
                "SELECT DISTINCT a.attname::text FROM pg_depend d \
                 JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid \
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                 WHERE r.ev_class = 'pg_temp.gate_check_probe'::regclass AND d.refobjid = to_regclass($1)",
                &[&qualified(&self.file.schema, &table.name)],
            )
            .await
            .map_err(db("reading the columns the check reads"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        self.tx
            .batch_execute(
                "ROLLBACK TO SAVEPOINT gate_check_probe; RELEASE SAVEPOINT gate_check_probe",
            )
            .await
            .map_err(db("undoing the check's probe"))?;
        if let Some((column, by)) = read.iter().find_map(|c| dropped.get_key_value(c.as_str())) {
            return Err(self.misfit(format!(
                "the check reads {}.{column}, which is replaced by {} (line {}): complete drops the old \
                 column, and PostgreSQL drops the check with it; add the check in a later migration",
                table.name,
                by.op.kind(),
                by.line
            )));
        }
        Ok(())
    }

    /// `columns` of `table` are its primary key or a unique index, as a
    /// foreign key needs.
    async fn unique_key(&self, table: &Table, columns: &[String]) -> Result<(), ExpandError> {
        let unique: bool = self
            .tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) \
                 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL \
                 AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a \
                      WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) \
                   = (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) x))",
                &[&qualified(&self.file.schema, &table.name), &columns],
            )
            .await
            .map_err(db("reading the referenced table's keys"))?
            .get(0);
        if !unique {
            return Err(self.misfit(format!(
                "{} ({}) is not a primary key or unique: a foreign key references one",
                table.name,
                columns.join(", ")
            )));
        }
        Ok(())
    }

    /// No foreign key of another table references `table`: dropping it at
    /// complete would fail, or take the other table's key with it.
    async fn not_referenced(&self, table: &Table) -> Result<(), ExpandError> {
        let referencing: Option<String> = self
            .tx
            .query_opt(
                "SELECT k.conrelid::regclass::text || ' (' || k.conname || ')' FROM pg_constraint k \
                 WHERE k.contype = 'f' AND k.confrelid = to_regclass($1) AND k.conrelid <> k.confrelid LIMIT 1",
                &[&qualified(&self.file.schema, &table.name)],
            )
            .await
            .map_err(db("reading the table's foreign keys"))?
            .map(|r| r.get(0));
        if let Some(other) = referencing {
            return Err(self.misfit(format!(
                "{} is referenced by the foreign key of {other}; drop that key in an earlier migration",
                table.name
            )));
        }
        Ok(())
    }

    /// Not part of the key; a NOT NULL column without a default needs
    /// `down` for the rows the new version inserts.
    async fn drop_column(
        &self,
        table: &Table,
        column: &str,
        has_down: bool,
    ) -> Result<(), ExpandError> {
        let c = self.column(table, column)?;
        if table.primary_key.iter().any(|k| k == column) {
            return Err(self.misfit(format!(
                "{}.{column} is part of the primary key",
                table.name
            )));
        }
        let has_default: bool = self
            .tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_attrdef d JOIN pg_attribute a \
                 ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
                 WHERE d.adrelid = to_regclass($1) AND a.attname = $2)",
                &[&qualified(&self.file.schema, &table.name), &column],
            )
            .await
            .map_err(db("reading the column's default"))?
            .get(0);
        if c.not_null && !has_default && !has_down {
            return Err(self.misfit(format!(
                "{}.{column} is NOT NULL without a default: rows the new version inserts \
                 need a value for the old version; give `down`",
                table.name
            )));
        }
        Ok(())
    }

    /// The columns exist; the name is free, or an invalid index on the
    /// table (what a killed build leaves: it is dropped and built again).
    async fn create_index(
        &self,
        table: &Table,
        name: &str,
        columns: &[String],
    ) -> Result<(), ExpandError> {
        for c in columns {
            self.column(table, c)?;
        }
        let taken: bool = self
            .tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_index i \
                 WHERE i.indexrelid = to_regclass($1) AND i.indrelid = to_regclass($2) AND NOT i.indisvalid)",
                &[
                    &qualified(&self.file.schema, name),
                    &qualified(&self.file.schema, &table.name),
                ],
            )
            .await
            .map_err(db("looking for the index"))?
            .get(0);
        if taken {
            return Err(self.misfit(format!("{}.{name} already exists", self.file.schema)));
        }
        Ok(())
    }

    /// The column exists, its new values' column can be added, and no
    /// index, key or constraint uses it.
    async fn change_type(
        &self,
        table: &Table,
        column: &str,
        has_default: bool,
    ) -> Result<(), ExpandError> {
        self.column(table, column)?;
        let old_default: Option<String> = self
            .tx
            .query_opt(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a \
                 ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
                 WHERE d.adrelid = to_regclass($1) AND a.attname = $2",
                &[&qualified(&self.file.schema, &table.name), &column],
            )
            .await
            .map_err(db("reading the column's default"))?
            .map(|r| r.get(0));
        if let (Some(old), false) = (old_default, has_default) {
            return Err(self.misfit(format!(
                "{}.{column} has a default ({old}): give `default`, the new type's default, which a \
                 new-version insert that leaves the column out gets",
                table.name
            )));
        }
        let temp = new_column_of(column);
        if temp.len() > 63 || table.column(&temp).is_some() {
            return Err(self.misfit(format!(
                "the new values' column {temp} cannot be added (too long, or it exists)"
            )));
        }
        if schema::constrained_columns(self.tx, &self.file.schema, &table.name)
            .await?
            .iter()
            .any(|c| c == column)
        {
            return Err(self.misfit(format!(
                "{}.{column} is used by an index, a key or a constraint; changing the type of \
                 such a column is not built yet",
                table.name
            )));
        }
        Ok(())
    }
}
