//! The operations file of an expand/contract migration: TOML, one or more
//! `[[operation]]` tables, each holding one operation by its kind. Read into
//! typed [`Operation`]s; every error names the file, the line and the
//! column.
//!
//! ```toml
//! name = "add_email"        # default: the file name without .toml
//! schema = "public"         # the schema of the tables (default public)
//!
//! [[operation]]
//! [operation.add_column]
//! table = "users"
//! column = "email"
//! type = "text"
//! not_null = true
//! up = "lower(name) || '@example.com'"   # existing rows, and rows the old version writes
//! check = "email LIKE '%@%'"
//!
//! [[operation]]
//! rename_column = { table = "users", from = "name", to = "full_name" }
//!
//! [[operation]]
//! change_type = { table = "orders", column = "amount", type = "bigint", up = "amount::bigint", down = "amount::integer" }
//!
//! [[operation]]
//! drop_column = { table = "users", column = "legacy", down = "'n/a'" }
//!
//! [[operation]]
//! set_not_null = { table = "users", column = "city", up = "coalesce(city, 'unknown')" }
//!
//! [[operation]]
//! [operation.create_table]
//! table = "orders"
//! primary_key = ["id"]
//! columns = [{ name = "id", type = "bigint" }, { name = "note", type = "text", not_null = true, default = "''" }]
//!
//! [[operation]]
//! rename_table = { table = "users", to = "customers" }
//!
//! [[operation]]
//! drop_table = { table = "legacy" }
//!
//! [[operation]]
//! add_constraint = { table = "users", name = "users_amount_positive", kind = "check", check = "amount >= 0" }
//!
//! [[operation]]
//! raw_sql = { up = "COMMENT ON TABLE users IS 'people'", down = "COMMENT ON TABLE users IS NULL" }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const MAX_IDENT: usize = 63;
/// Version schemas are `<schema>_<name>`: the name leaves room for the schema.
const MAX_NAME: usize = 40;

/// One operation, with its expand, backfill and contract halves (see
/// [`super::plan`]). Stored as JSON in the state table, so `complete` and
/// `rollback` need only the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// A new column; `up` computes it for existing rows and for rows the old
    /// version writes (else `default`).
    AddColumn {
        table: String,
        column: String,
        #[serde(rename = "type")]
        type_: String,
        default: Option<String>,
        not_null: bool,
        check: Option<String>,
        up: Option<String>,
    },
    /// The new version sees `from` as `to`; the column is renamed at complete.
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    /// A new column of the new type beside the old one, kept in step by
    /// `up` (old → new) and `down` (new → old); it replaces the old one at
    /// complete.
    ChangeType {
        table: String,
        column: String,
        #[serde(rename = "type")]
        type_: String,
        up: String,
        down: String,
        /// The new column's default: what a new-version insert that
        /// leaves the column out stores. Required when the old column has
        /// one.
        #[serde(default)]
        default: Option<String>,
    },
    /// The new version no longer sees the column; it is dropped at
    /// complete. `down` gives it a value in rows the new version writes.
    DropColumn {
        table: String,
        column: String,
        down: Option<String>,
    },
    /// The column becomes NOT NULL: `up` gives NULLs a value in existing
    /// rows and in rows the old version writes; a check validated before
    /// complete, then `SET NOT NULL` at complete.
    SetNotNull {
        table: String,
        column: String,
        up: Option<String>,
    },
    /// An index built `CONCURRENTLY` after the expand; kept at complete,
    /// dropped at rollback.
    CreateIndex {
        table: String,
        name: String,
        columns: Vec<String>,
        unique: bool,
    },
    /// A new table, seen by the new version only; kept at complete, dropped
    /// at rollback.
    CreateTable {
        table: String,
        columns: Vec<ColumnDef>,
        primary_key: Vec<String>,
    },
    /// The new version sees the table as `to`, the old one by its name;
    /// the table is renamed at complete.
    RenameTable { table: String, to: String },
    /// The new version no longer sees the table; it is dropped at
    /// complete.
    DropTable { table: String },
    /// A constraint on existing rows: checked and enforced at validation
    /// (see [`Constraint`]), dropped at rollback.
    AddConstraint {
        table: String,
        name: String,
        constraint: Constraint,
    },
    /// SQL run as it is at the start of the expand, in its transaction;
    /// `down` at rollback. Not phased: both versions see what it does at
    /// once. Linted first by the migration validator.
    RawSql {
        up: String,
        down: Option<String>,
        lint: LintMode,
    },
}

/// What a raw_sql operation's findings of the migration validator do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LintMode {
    /// A finding that fails `gate migrate lint` refuses the file.
    #[default]
    Error,
    /// Findings are shown; the file is run anyway.
    Warn,
}

/// The kinds of constraint `add_constraint` adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Constraint {
    /// `CHECK (expression)`, added `NOT VALID` then validated.
    Check { expression: String },
    /// A unique index built `CONCURRENTLY`, made the constraint at complete.
    Unique { columns: Vec<String> },
    /// `FOREIGN KEY (columns) REFERENCES table (columns)`, added `NOT VALID`
    /// then validated.
    ForeignKey {
        columns: Vec<String>,
        references_table: String,
        references_columns: Vec<String>,
        on_delete: OnDelete,
    },
}

/// What a foreign key does when the referenced row is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl OnDelete {
    const NAMES: [(&'static str, OnDelete); 5] = [
        ("no_action", OnDelete::NoAction),
        ("restrict", OnDelete::Restrict),
        ("cascade", OnDelete::Cascade),
        ("set_null", OnDelete::SetNull),
        ("set_default", OnDelete::SetDefault),
    ];

    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::SetDefault => "SET DEFAULT",
        }
    }
}

/// A column of a created table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub not_null: bool,
    pub default: Option<String>,
}

impl Operation {
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::AddColumn { .. } => "add_column",
            Operation::RenameColumn { .. } => "rename_column",
            Operation::ChangeType { .. } => "change_type",
            Operation::DropColumn { .. } => "drop_column",
            Operation::SetNotNull { .. } => "set_not_null",
            Operation::CreateTable { .. } => "create_table",
            Operation::CreateIndex { .. } => "create_index",
            Operation::RenameTable { .. } => "rename_table",
            Operation::DropTable { .. } => "drop_table",
            Operation::AddConstraint { .. } => "add_constraint",
            Operation::RawSql { .. } => "raw_sql",
        }
    }

    /// The table the operation is about ("" for raw_sql, which names none
    /// gate knows of).
    pub fn table(&self) -> &str {
        match self {
            Operation::RawSql { .. } => "",
            Operation::AddColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::ChangeType { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::SetNotNull { table, .. }
            | Operation::CreateTable { table, .. }
            | Operation::CreateIndex { table, .. }
            | Operation::RenameTable { table, .. }
            | Operation::DropTable { table }
            | Operation::AddConstraint { table, .. } => table,
        }
    }

    /// The old version's column the operation is about (none for a new
    /// column).
    pub fn old_column(&self) -> Option<&str> {
        match self {
            Operation::AddColumn { .. }
            | Operation::CreateTable { .. }
            | Operation::CreateIndex { .. }
            | Operation::RenameTable { .. }
            | Operation::DropTable { .. }
            | Operation::AddConstraint { .. }
            | Operation::RawSql { .. } => None,
            Operation::RenameColumn { from, .. } => Some(from),
            Operation::ChangeType { column, .. }
            | Operation::DropColumn { column, .. }
            | Operation::SetNotNull { column, .. } => Some(column),
        }
    }

    /// The new version's name of the column (none for a dropped one).
    pub fn new_column(&self) -> Option<&str> {
        match self {
            Operation::AddColumn { column, .. }
            | Operation::ChangeType { column, .. }
            | Operation::SetNotNull { column, .. } => Some(column),
            Operation::RenameColumn { to, .. } => Some(to),
            Operation::DropColumn { .. }
            | Operation::CreateTable { .. }
            | Operation::CreateIndex { .. }
            | Operation::RenameTable { .. }
            | Operation::DropTable { .. }
            | Operation::AddConstraint { .. }
            | Operation::RawSql { .. } => None,
        }
    }

    /// The name the new version sees the operation's table by (none for a
    /// dropped one).
    pub fn new_table(&self) -> Option<&str> {
        match self {
            Operation::RenameTable { to, .. } => Some(to),
            Operation::DropTable { .. } => None,
            other => Some(other.table()),
        }
    }

    /// The existing columns (table, column) an index or key of the
    /// operation is built on: it lives as long as they do.
    pub fn indexed_columns(&self) -> Vec<(&str, &str)> {
        fn on<'a>(table: &'a str, columns: &'a [String]) -> Vec<(&'a str, &'a str)> {
            columns.iter().map(|c| (table, c.as_str())).collect()
        }
        match self {
            Operation::CreateIndex { table, columns, .. } => on(table, columns),
            Operation::AddConstraint {
                table, constraint, ..
            } => match constraint {
                Constraint::Check { .. } => Vec::new(),
                Constraint::Unique { columns } => on(table, columns),
                Constraint::ForeignKey {
                    columns,
                    references_table,
                    references_columns,
                    ..
                } => {
                    let mut used = on(table, columns);
                    used.extend(on(references_table, references_columns));
                    used
                }
            },
            _ => Vec::new(),
        }
    }

    /// The old version's column that complete drops (the old values of a
    /// changed type, a dropped column): whatever is built on it goes too.
    pub fn dropped_column(&self) -> Option<(&str, &str)> {
        match self {
            Operation::ChangeType { table, column, .. }
            | Operation::DropColumn { table, column, .. } => Some((table, column)),
            _ => None,
        }
    }

    /// Whether the operation is about a whole table that the old version
    /// already has (renamed or dropped): no other operation of the
    /// migration may touch that table.
    pub fn whole_table(&self) -> bool {
        matches!(
            self,
            Operation::RenameTable { .. } | Operation::DropTable { .. }
        )
    }

    /// One line for status output: `add_column users.email`.
    pub fn describe(&self) -> String {
        match self {
            Operation::RenameColumn { table, from, to } => {
                format!("rename_column {table}.{from} -> {to}")
            }
            Operation::ChangeType {
                table,
                column,
                type_,
                ..
            } => format!("change_type {table}.{column} -> {type_}"),
            Operation::AddColumn {
                table,
                column,
                type_,
                ..
            } => format!("add_column {table}.{column} {type_}"),
            Operation::DropColumn { table, column, .. } => format!("drop_column {table}.{column}"),
            Operation::SetNotNull { table, column, .. } => {
                format!("set_not_null {table}.{column}")
            }
            Operation::CreateTable { table, .. } => format!("create_table {table}"),
            Operation::CreateIndex { table, name, .. } => format!("create_index {name} on {table}"),
            Operation::RenameTable { table, to } => format!("rename_table {table} -> {to}"),
            Operation::DropTable { table } => format!("drop_table {table}"),
            Operation::AddConstraint { table, name, .. } => {
                format!("add_constraint {name} on {table}")
            }
            Operation::RawSql { up, .. } => {
                let first = up.trim().lines().next().unwrap_or("");
                let first: String = first.chars().take(60).collect();
                format!("raw_sql {first}")
            }
        }
    }
}

/// An operation and where the file gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub op: Operation,
    pub line: usize,
    pub column: usize,
}

/// A parsed operations file.
#[derive(Clone, Debug)]
pub struct MigrationFile {
    pub path: PathBuf,
    /// The migration's name: `[a-z0-9_]`, at most 40 characters.
    pub name: String,
    /// The schema of the tables.
    pub schema: String,
    pub operations: Vec<Located>,
    /// Of the file's bytes, recorded with the migration.
    pub sha256: String,
}

/// An operations file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{column}: {message}\nhelp: see docs/migrations.md#expandcontract-migrations-that-gate-runs for the operations file format", .file.display())]
pub struct OpsError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Option<Spanned<String>>,
    schema: Option<Spanned<String>>,
    #[serde(default)]
    operation: Vec<Spanned<RawOperation>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawOperation {
    AddColumn(RawAddColumn),
    RenameColumn(RawRenameColumn),
    ChangeType(RawChangeType),
    DropColumn(RawDropColumn),
    SetNotNull(RawSetNotNull),
    CreateTable(RawCreateTable),
    CreateIndex(RawCreateIndex),
    RenameTable(RawRenameTable),
    DropTable(RawDropTable),
    AddConstraint(RawAddConstraint),
    RawSql(RawRawSql),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRawSql {
    up: Spanned<String>,
    down: Option<Spanned<String>>,
    lint: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAddConstraint {
    table: Spanned<String>,
    name: Spanned<String>,
    kind: Spanned<String>,
    check: Option<Spanned<String>>,
    columns: Option<Spanned<Vec<Spanned<String>>>>,
    references: Option<Spanned<RawReferences>>,
    on_delete: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReferences {
    table: Spanned<String>,
    columns: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRenameTable {
    table: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDropTable {
    table: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreateIndex {
    table: Spanned<String>,
    name: Spanned<String>,
    columns: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    unique: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreateTable {
    table: Spanned<String>,
    columns: Spanned<Vec<Spanned<RawColumnDef>>>,
    #[serde(default)]
    primary_key: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumnDef {
    name: Spanned<String>,
    #[serde(rename = "type")]
    type_: Spanned<String>,
    #[serde(default)]
    not_null: bool,
    default: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetNotNull {
    table: Spanned<String>,
    column: Spanned<String>,
    up: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDropColumn {
    table: Spanned<String>,
    column: Spanned<String>,
    down: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAddColumn {
    table: Spanned<String>,
    column: Spanned<String>,
    #[serde(rename = "type")]
    type_: Spanned<String>,
    default: Option<Spanned<String>>,
    #[serde(default)]
    not_null: bool,
    check: Option<Spanned<String>>,
    up: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRenameColumn {
    table: Spanned<String>,
    from: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChangeType {
    table: Spanned<String>,
    column: Spanned<String>,
    #[serde(rename = "type")]
    type_: Spanned<String>,
    up: Spanned<String>,
    down: Spanned<String>,
    default: Option<Spanned<String>>,
}

struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> OpsError {
        let (line, column) = line_column(self.text, span.start);
        OpsError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An identifier: non-empty, at most 63 bytes, no NUL.
    fn ident(&self, what: &str, value: Spanned<String>) -> Result<String, OpsError> {
        let span = value.span();
        let name = value.into_inner();
        if name.is_empty() {
            return Err(self.error(span, format!("`{what}` is empty")));
        }
        if name.len() > MAX_IDENT {
            return Err(self.error(
                span,
                format!(
                    "`{what}` `{name}` is {} bytes; PostgreSQL names are at most {MAX_IDENT}",
                    name.len()
                ),
            ));
        }
        if name.contains('\0') {
            return Err(self.error(span, format!("`{what}` holds a NUL character")));
        }
        Ok(name)
    }

    /// An SQL expression or type: not blank, no `;` outside quotes would be
    /// nicer, but the expression is the file author's SQL like any migration's.
    fn expr(&self, what: &str, value: Spanned<String>) -> Result<String, OpsError> {
        let span = value.span();
        let text = value.into_inner();
        if text.trim().is_empty() {
            return Err(self.error(span, format!("`{what}` is empty")));
        }
        Ok(text)
    }

    fn opt_expr(
        &self,
        what: &str,
        value: Option<Spanned<String>>,
    ) -> Result<Option<String>, OpsError> {
        value.map(|v| self.expr(what, v)).transpose()
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Reads an operations file from disk, without following a symlink.
pub fn read(path: &Path) -> Result<MigrationFile, OpsError> {
    let at_file = |message: String| OpsError {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        message,
    };
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| at_file(format!("cannot read the operations file: {e}")))?;
    if !meta.file_type().is_file() {
        return Err(at_file(
            "not a regular file (gate does not follow symlinks to operations files)".into(),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| at_file(format!("cannot read the operations file: {e}")))?;
    parse(path, &text)
}

/// Parses the text of an operations file named `path`.
pub fn parse(path: &Path, text: &str) -> Result<MigrationFile, OpsError> {
    let source = Source { file: path, text };
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| source.error(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
    let name = match raw.name {
        Some(n) => {
            let span = n.span();
            let name = n.into_inner();
            check_name(&name).map_err(|m| source.error(span, m))?;
            name
        }
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            check_name(&stem).map_err(|m| {
                source.error(
                    0..0,
                    format!(
                        "the file name does not make a migration name ({m}); set `name = \"...\"`"
                    ),
                )
            })?;
            stem
        }
    };
    let schema = match raw.schema {
        Some(s) => source.ident("schema", s)?,
        None => "public".to_string(),
    };
    if schema.len() + 1 + name.len() > MAX_IDENT {
        return Err(source.error(
            0..0,
            format!("version schema `{schema}_{name}` would be longer than {MAX_IDENT} bytes; shorten `name`"),
        ));
    }
    if raw.operation.is_empty() {
        return Err(source.error(
            0..0,
            "no operations; add at least one [[operation]] (add_column, rename_column, change_type, drop_column, \
             set_not_null, create_table, create_index, rename_table, drop_table, add_constraint, raw_sql)",
        ));
    }
    let mut operations = Vec::new();
    // (table, column) pairs an earlier operation touches, old and new names.
    let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
    let mut tables = Tables::default();
    let mut spans = Vec::new();
    for raw_op in raw.operation {
        let span = raw_op.span();
        let op = typed(&source, span.clone(), raw_op.into_inner())?;
        check_tables(&source, &span, &op, &mut tables)?;
        let mut names: BTreeSet<String> = op.new_column().map(str::to_string).into_iter().collect();
        names.extend(op.old_column().map(str::to_string));
        for column in names {
            if !touched.insert((op.table().to_string(), column.clone())) {
                return Err(source.error(
                    span.clone(),
                    format!(
                        "{}: column {}.{column} is already changed by an earlier operation of this migration; \
                         one operation per column per migration",
                        op.kind(),
                        op.table()
                    ),
                ));
            }
        }
        let (line, column) = line_column(text, span.start);
        operations.push(Located { op, line, column });
        spans.push(span);
    }
    check_indexed_columns(&source, &spans, &operations)?;
    Ok(MigrationFile {
        path: path.to_path_buf(),
        name,
        schema,
        operations,
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

/// No index or key of the migration is built on a column that its
/// complete drops: PostgreSQL would drop it with the column, and the
/// migration would complete without it.
fn check_indexed_columns(
    source: &Source<'_>,
    spans: &[Range<usize>],
    operations: &[Located],
) -> Result<(), OpsError> {
    let dropped: BTreeMap<(&str, &str), &Located> = operations
        .iter()
        .filter_map(|at| at.op.dropped_column().map(|c| (c, at)))
        .collect();
    for (at, span) in operations.iter().zip(spans) {
        for (table, column) in at.op.indexed_columns() {
            if let Some(by) = dropped.get(&(table, column)) {
                return Err(source.error(
                    span.clone(),
                    format!(
                        "{}: column {table}.{column} is replaced by {} (line {}): complete drops the old \
                         column, and PostgreSQL drops what is built on it; build this in a later migration",
                        at.op.kind(),
                        by.op.kind(),
                        by.line
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The tables the operations so far name: every one, and those renamed or
/// dropped (with a rename's new name).
#[derive(Default)]
struct Tables {
    named: BTreeSet<String>,
    whole: BTreeSet<String>,
}

/// A table renamed or dropped is the only thing its operation's migration
/// does to it: the old and new versions would otherwise disagree on what
/// the other operation is about.
fn check_tables(
    source: &Source<'_>,
    span: &Range<usize>,
    op: &Operation,
    tables: &mut Tables,
) -> Result<(), OpsError> {
    if matches!(op, Operation::RawSql { .. }) {
        return Ok(());
    }
    let mut names = vec![op.table().to_string()];
    if let Operation::RenameTable { to, .. } = op {
        names.push(to.clone());
    }
    for name in &names {
        let clash = if op.whole_table() {
            tables.named.contains(name)
        } else {
            tables.whole.contains(name)
        };
        if clash {
            return Err(source.error(
                span.clone(),
                format!(
                    "{}: table {name} is renamed or dropped by this migration and named by another of its \
                     operations; a renamed or dropped table gets no other operation in the same migration",
                    op.kind()
                ),
            ));
        }
    }
    if op.whole_table() {
        tables.whole.extend(names.iter().cloned());
    }
    tables.named.extend(names);
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "migration name `{name}` must be 1 to {MAX_NAME} characters of a-z, 0-9 and _"
        ));
    }
    Ok(())
}

/// The typed operation of a raw one; `span` is its `[[operation]]`.
fn typed(
    source: &Source<'_>,
    span: Range<usize>,
    raw: RawOperation,
) -> Result<Operation, OpsError> {
    match raw {
        RawOperation::AddColumn(a) => add_column(source, span, a),
        RawOperation::RenameColumn(r) => rename_column(source, span, r),
        RawOperation::ChangeType(c) => Ok(Operation::ChangeType {
            table: source.ident("table", c.table)?,
            column: source.ident("column", c.column)?,
            type_: source.expr("type", c.type_)?,
            up: source.expr("up", c.up)?,
            down: source.expr("down", c.down)?,
            default: source.opt_expr("default", c.default)?,
        }),
        RawOperation::DropColumn(d) => Ok(Operation::DropColumn {
            table: source.ident("table", d.table)?,
            column: source.ident("column", d.column)?,
            down: source.opt_expr("down", d.down)?,
        }),
        RawOperation::CreateTable(t) => create_table(source, t),
        RawOperation::CreateIndex(i) => create_index(source, i),
        RawOperation::RenameTable(r) => {
            let op = Operation::RenameTable {
                table: source.ident("table", r.table)?,
                to: source.ident("to", r.to)?,
            };
            if Some(op.table()) == op.new_table() {
                return Err(source.error(span, "rename_table: `table` and `to` are the same"));
            }
            Ok(op)
        }
        RawOperation::AddConstraint(c) => add_constraint(source, span, c),
        RawOperation::RawSql(r) => raw_sql(source, r),
        RawOperation::DropTable(d) => Ok(Operation::DropTable {
            table: source.ident("table", d.table)?,
        }),
        RawOperation::SetNotNull(n) => Ok(Operation::SetNotNull {
            table: source.ident("table", n.table)?,
            column: source.ident("column", n.column)?,
            up: source.opt_expr("up", n.up)?,
        }),
    }
}

fn add_column(
    source: &Source<'_>,
    span: Range<usize>,
    a: RawAddColumn,
) -> Result<Operation, OpsError> {
    let op = Operation::AddColumn {
        table: source.ident("table", a.table)?,
        column: source.ident("column", a.column)?,
        type_: source.expr("type", a.type_)?,
        default: source.opt_expr("default", a.default)?,
        not_null: a.not_null,
        check: source.opt_expr("check", a.check)?,
        up: source.opt_expr("up", a.up)?,
    };
    if let Operation::AddColumn {
        not_null: true,
        default: None,
        up: None,
        table,
        column,
        ..
    } = &op
    {
        return Err(source.error(
            span,
            format!(
                "add_column {table}.{column} is NOT NULL but gives neither `default` nor `up`: \
                 existing rows and rows the old version inserts would have no value"
            ),
        ));
    }
    Ok(op)
}

fn rename_column(
    source: &Source<'_>,
    span: Range<usize>,
    r: RawRenameColumn,
) -> Result<Operation, OpsError> {
    let op = Operation::RenameColumn {
        table: source.ident("table", r.table)?,
        from: source.ident("from", r.from)?,
        to: source.ident("to", r.to)?,
    };
    if op.old_column() == op.new_column() {
        return Err(source.error(span, "rename_column: `from` and `to` are the same"));
    }
    Ok(op)
}

fn create_table(source: &Source<'_>, t: RawCreateTable) -> Result<Operation, OpsError> {
    let table = source.ident("table", t.table)?;
    let columns_span = t.columns.span();
    let mut columns: Vec<ColumnDef> = Vec::new();
    for raw in t.columns.into_inner() {
        let at = raw.span();
        let raw = raw.into_inner();
        let name = source.ident("name", raw.name)?;
        if columns.iter().any(|c| c.name == name) {
            return Err(source.error(
                at,
                format!("create_table {table}: column `{name}` is given twice"),
            ));
        }
        columns.push(ColumnDef {
            name,
            type_: source.expr("type", raw.type_)?,
            not_null: raw.not_null,
            default: source.opt_expr("default", raw.default)?,
        });
    }
    if columns.is_empty() {
        return Err(source.error(
            columns_span,
            format!("create_table {table}: `columns` is empty"),
        ));
    }
    let mut primary_key = Vec::new();
    for key in t.primary_key {
        let at = key.span();
        let key = source.ident("primary_key", key)?;
        if !columns.iter().any(|c| c.name == key) {
            return Err(source.error(
                at,
                format!("create_table {table}: primary key column `{key}` is not in `columns`"),
            ));
        }
        primary_key.push(key);
    }
    Ok(Operation::CreateTable {
        table,
        columns,
        primary_key,
    })
}

fn raw_sql(source: &Source<'_>, r: RawRawSql) -> Result<Operation, OpsError> {
    let lint = match r.lint {
        None => LintMode::Error,
        Some(v) => {
            let at = v.span();
            match v.into_inner().as_str() {
                "error" => LintMode::Error,
                "warn" => LintMode::Warn,
                other => {
                    return Err(source.error(
                        at,
                        format!("raw_sql: lint `{other}`; use \"error\" (the default) or \"warn\""),
                    ));
                }
            }
        }
    };
    Ok(Operation::RawSql {
        up: source.expr("up", r.up)?,
        down: source.opt_expr("down", r.down)?,
        lint,
    })
}

/// Non-empty column names.
fn column_list(
    source: &Source<'_>,
    what: &str,
    columns: Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<String>, OpsError> {
    let span = columns.span();
    let columns = columns
        .into_inner()
        .into_iter()
        .map(|c| source.ident(what, c))
        .collect::<Result<Vec<_>, _>>()?;
    if columns.is_empty() {
        return Err(source.error(span, format!("`{what}` is empty")));
    }
    Ok(columns)
}

fn add_constraint(
    source: &Source<'_>,
    span: Range<usize>,
    c: RawAddConstraint,
) -> Result<Operation, OpsError> {
    let kind_span = c.kind.span();
    let kind = c.kind.into_inner();
    // The fields each kind takes; any other is an error at the field.
    let given: [(&str, Option<Range<usize>>); 4] = [
        ("check", c.check.as_ref().map(|v| v.span())),
        ("columns", c.columns.as_ref().map(|v| v.span())),
        ("references", c.references.as_ref().map(|v| v.span())),
        ("on_delete", c.on_delete.as_ref().map(|v| v.span())),
    ];
    let takes: &[&str] = match kind.as_str() {
        "check" => &["check"],
        "unique" => &["columns"],
        "foreign_key" => &["columns", "references", "on_delete"],
        other => {
            return Err(source.error(
                kind_span,
                format!("add_constraint: unknown kind `{other}`; use check, unique or foreign_key"),
            ));
        }
    };
    for (field, at) in &given {
        if let Some(at) = at
            && !takes.contains(field)
        {
            return Err(source.error(
                at.clone(),
                format!("add_constraint: `{field}` does not apply to kind = \"{kind}\""),
            ));
        }
    }
    let needs = |field: &str| {
        source.error(
            span.clone(),
            format!("add_constraint: kind = \"{kind}\" needs `{field}`"),
        )
    };
    let constraint = match kind.as_str() {
        "check" => Constraint::Check {
            expression: source.expr("check", c.check.ok_or_else(|| needs("check"))?)?,
        },
        "unique" => Constraint::Unique {
            columns: column_list(
                source,
                "columns",
                c.columns.ok_or_else(|| needs("columns"))?,
            )?,
        },
        _ => foreign_key(
            source,
            c.columns.ok_or_else(|| needs("columns"))?,
            c.references.ok_or_else(|| needs("references"))?,
            c.on_delete,
        )?,
    };
    Ok(Operation::AddConstraint {
        table: source.ident("table", c.table)?,
        name: source.ident("name", c.name)?,
        constraint,
    })
}

fn foreign_key(
    source: &Source<'_>,
    columns: Spanned<Vec<Spanned<String>>>,
    references: Spanned<RawReferences>,
    on_delete: Option<Spanned<String>>,
) -> Result<Constraint, OpsError> {
    let columns = column_list(source, "columns", columns)?;
    let at = references.span();
    let references = references.into_inner();
    let references_table = source.ident("references.table", references.table)?;
    let references_columns = column_list(source, "references.columns", references.columns)?;
    if references_columns.len() != columns.len() {
        return Err(source.error(
            at,
            format!(
                "add_constraint: {} column(s) reference {} column(s) of {references_table}",
                columns.len(),
                references_columns.len()
            ),
        ));
    }
    let on_delete = match on_delete {
        None => OnDelete::NoAction,
        Some(v) => {
            let at = v.span();
            let v = v.into_inner();
            OnDelete::NAMES
                .iter()
                .find(|(name, _)| *name == v)
                .map(|(_, o)| *o)
                .ok_or_else(|| {
                    source.error(
                        at,
                        format!(
                            "add_constraint: on_delete `{v}`; use no_action, restrict, cascade, set_null or set_default"
                        ),
                    )
                })?
        }
    };
    Ok(Constraint::ForeignKey {
        columns,
        references_table,
        references_columns,
        on_delete,
    })
}

fn create_index(source: &Source<'_>, i: RawCreateIndex) -> Result<Operation, OpsError> {
    let span = i.columns.span();
    let columns = i
        .columns
        .into_inner()
        .into_iter()
        .map(|c| source.ident("columns", c))
        .collect::<Result<Vec<_>, _>>()?;
    if columns.is_empty() {
        return Err(source.error(span, "create_index: `columns` is empty"));
    }
    Ok(Operation::CreateIndex {
        table: source.ident("table", i.table)?,
        name: source.ident("name", i.name)?,
        columns,
        unique: i.unique,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<MigrationFile, OpsError> {
        parse(Path::new("m/02_email.toml"), text)
    }

    #[test]
    fn reads_each_operation_with_its_location() {
        let file = parse_str(
            "[[operation]]\n[operation.add_column]\ntable = \"users\"\ncolumn = \"email\"\ntype = \"text\"\n\
             not_null = true\ndefault = \"''\"\n\n\
             [[operation]]\nrename_column = { table = \"users\", from = \"name\", to = \"full_name\" }\n\n\
             [[operation]]\nchange_type = { table = \"orders\", column = \"amount\", type = \"bigint\", up = \"amount\", down = \"amount::int\" }\n",
        )
        .unwrap();
        assert_eq!(file.name, "02_email");
        assert_eq!(file.schema, "public");
        let kinds: Vec<_> = file.operations.iter().map(|o| o.op.kind()).collect();
        assert_eq!(kinds, ["add_column", "rename_column", "change_type"]);
        // An operation is located at its `[[operation]]` header.
        assert_eq!(file.operations[1].line, 9);
        assert!(matches!(
            &file.operations[0].op,
            Operation::AddColumn { not_null: true, default: Some(d), .. } if d == "''"
        ));
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = parse_str(
            "[[operation]]\nrename_column = { table = \"users\", from = \"a\", too = \"b\" }\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 48), "{e}");
        assert!(e.message.contains("too"), "{e}");
        assert!(e.to_string().starts_with("m/02_email.toml:2:48: "), "{e}");

        let e = parse_str("[[operation]]\ndrop_everything = { table = \"users\" }\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("drop_everything"), "{e}");

        let e = parse_str(
            "[[operation]]\nadd_column = { table = \"users\", column = \"c\", type = \"int\", not_null = true }\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("neither `default` nor `up`"), "{e}");

        let e = parse_str(
            "[[operation]]\nrename_column = { table = \"\", from = \"a\", to = \"b\" }\n",
        )
        .unwrap_err();
        assert!(e.message.contains("`table` is empty"), "{e}");

        let e = parse_str("name = \"Bad-Name\"\n[[operation]]\nrename_column = { table = \"t\", from = \"a\", to = \"b\" }\n")
            .unwrap_err();
        assert_eq!((e.line, e.column), (1, 8), "{e}");

        let e = parse_str("name = \"x\"\n").unwrap_err();
        assert!(e.message.contains("no operations"), "{e}");
    }

    #[test]
    fn set_not_null_is_read_and_its_errors_located() {
        let file = parse_str(
            "[[operation]]\nset_not_null = { table = \"users\", column = \"city\", up = \"'x'\" }\n",
        )
        .unwrap();
        assert_eq!(
            file.operations[0].op,
            Operation::SetNotNull {
                table: "users".into(),
                column: "city".into(),
                up: Some("'x'".into()),
            }
        );
        assert_eq!(file.operations[0].op.describe(), "set_not_null users.city");
        let e = parse_str(
            "\n[[operation]]\nset_not_null = { table = \"users\", column = \"city\", up = \" \" }\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (3, 57), "{e}");
        assert!(e.message.contains("`up` is empty"), "{e}");
        let e = parse_str("[[operation]]\nset_not_null = { table = \"users\", columns = \"c\" }\n")
            .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("columns"), "{e}");
    }

    #[test]
    fn create_table_is_read_and_its_errors_located() {
        let file = parse_str(
            "[[operation]]\n[operation.create_table]\ntable = \"orders\"\nprimary_key = [\"id\"]\n\
             columns = [{ name = \"id\", type = \"bigint\" }, { name = \"note\", type = \"text\", not_null = true, default = \"''\" }]\n",
        )
        .unwrap();
        let Operation::CreateTable {
            table,
            columns,
            primary_key,
        } = &file.operations[0].op
        else {
            panic!("{:?}", file.operations[0].op);
        };
        assert_eq!(table, "orders");
        assert_eq!(primary_key, &["id"]);
        assert_eq!(columns[1].name, "note");
        assert!(columns[1].not_null);
        assert_eq!(columns[1].default.as_deref(), Some("''"));

        let e = parse_str(
            "[[operation]]\n[operation.create_table]\ntable = \"orders\"\nprimary_key = [\"nope\"]\n\
             columns = [{ name = \"id\", type = \"bigint\" }]\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (4, 16), "{e}");
        assert!(e.message.contains("`nope` is not in `columns`"), "{e}");

        let e = parse_str(
            "[[operation]]\n[operation.create_table]\ntable = \"orders\"\n\
             columns = [{ name = \"id\", type = \"bigint\" }, { name = \"id\", type = \"int\" }]\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (4, 46), "{e}");
        assert!(e.message.contains("given twice"), "{e}");

        let e = parse_str(
            "[[operation]]\n[operation.create_table]\ntable = \"orders\"\ncolumns = []\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (4, 11), "{e}");
    }

    #[test]
    fn create_index_is_read_and_its_errors_located() {
        let file = parse_str(
            "[[operation]]\ncreate_index = { table = \"users\", name = \"users_amount_idx\", columns = [\"amount\"] }\n",
        )
        .unwrap();
        assert_eq!(
            file.operations[0].op,
            Operation::CreateIndex {
                table: "users".into(),
                name: "users_amount_idx".into(),
                columns: vec!["amount".into()],
                unique: false,
            }
        );
        let e = parse_str(
            "[[operation]]\ncreate_index = { table = \"users\", name = \"i\", columns = [] }\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 57), "{e}");
        assert!(e.message.contains("`columns` is empty"), "{e}");
    }

    #[test]
    fn rename_and_drop_table_are_read_and_their_errors_located() {
        let file = parse_str(
            "[[operation]]\nrename_table = { table = \"users\", to = \"customers\" }\n\
             [[operation]]\ndrop_table = { table = \"legacy\" }\n",
        )
        .unwrap();
        assert_eq!(
            file.operations[0].op.describe(),
            "rename_table users -> customers"
        );
        assert_eq!(file.operations[0].op.new_table(), Some("customers"));
        assert_eq!(file.operations[1].op.new_table(), None);
        let e = parse_str("[[operation]]\nrename_table = { table = \"users\", to = \"users\" }\n")
            .unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("are the same"), "{e}");
        let e = parse_str(
            "[[operation]]\nadd_column = { table = \"users\", column = \"c\", type = \"int\" }\n\
             [[operation]]\ndrop_table = { table = \"users\" }\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        assert!(e.message.contains("renamed or dropped"), "{e}");
        let e = parse_str("[[operation]]\ndrop_table = { table = \"users\", cascade = true }\n")
            .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("cascade"), "{e}");
    }

    #[test]
    fn add_constraint_is_read_and_its_errors_located() {
        let file = parse_str(
            "[[operation]]\n[operation.add_constraint]\ntable = \"orders\"\nname = \"orders_user_fk\"\n\
             kind = \"foreign_key\"\ncolumns = [\"user_id\"]\nreferences = { table = \"users\", columns = [\"id\"] }\n\
             on_delete = \"cascade\"\n",
        )
        .unwrap();
        assert_eq!(
            file.operations[0].op,
            Operation::AddConstraint {
                table: "orders".into(),
                name: "orders_user_fk".into(),
                constraint: Constraint::ForeignKey {
                    columns: vec!["user_id".into()],
                    references_table: "users".into(),
                    references_columns: vec!["id".into()],
                    on_delete: OnDelete::Cascade,
                },
            }
        );
        let json = serde_json::to_string(&file.operations[0].op).unwrap();
        let back: Operation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, file.operations[0].op);
        let at = |text: &str| {
            let e = parse_str(text).unwrap_err();
            (e.line, e.column, e.message)
        };
        let (line, column, m) = at(
            "[[operation]]\nadd_constraint = { table = \"t\", name = \"c\", kind = \"primary\" }\n",
        );
        assert_eq!((line, column), (2, 52), "{m}");
        assert!(m.contains("unknown kind `primary`"), "{m}");
        let (line, column, m) = at(
            "[[operation]]\nadd_constraint = { table = \"t\", name = \"c\", kind = \"check\", columns = [\"a\"] }\n",
        );
        assert_eq!((line, column), (2, 71), "{m}");
        assert!(m.contains("`columns` does not apply"), "{m}");
        let (line, _, m) = at(
            "[[operation]]\nadd_constraint = { table = \"t\", name = \"c\", kind = \"unique\" }\n",
        );
        assert_eq!(line, 1, "{m}");
        assert!(m.contains("needs `columns`"), "{m}");
        let (line, _, m) = at(
            "[[operation]]\nadd_constraint = { table = \"t\", name = \"c\", kind = \"foreign_key\", columns = [\"a\", \"b\"], \
             references = { table = \"u\", columns = [\"id\"] } }\n",
        );
        assert_eq!(line, 2, "{m}");
        assert!(m.contains("2 column(s) reference 1"), "{m}");
    }

    #[test]
    fn raw_sql_is_read_and_its_errors_located() {
        let file = parse_str(
            "[[operation]]\nraw_sql = { up = \"CREATE TABLE t (id int)\", down = \"DROP TABLE t\", lint = \"warn\" }\n",
        )
        .unwrap();
        assert_eq!(
            file.operations[0].op,
            Operation::RawSql {
                up: "CREATE TABLE t (id int)".into(),
                down: Some("DROP TABLE t".into()),
                lint: LintMode::Warn,
            }
        );
        assert_eq!(
            file.operations[0].op.describe(),
            "raw_sql CREATE TABLE t (id int)"
        );
        let e = parse_str("[[operation]]\nraw_sql = { up = \"SELECT 1\", lint = \"off\" }\n")
            .unwrap_err();
        assert_eq!((e.line, e.column), (2, 37), "{e}");
        assert!(e.message.contains("lint `off`"), "{e}");
        let e = parse_str("[[operation]]\nraw_sql = { down = \"SELECT 1\" }\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("up"), "{e}");
    }

    #[test]
    fn one_operation_per_column() {
        let e = parse_str(
            "[[operation]]\nrename_column = { table = \"t\", from = \"a\", to = \"b\" }\n\
             [[operation]]\nchange_type = { table = \"t\", column = \"a\", type = \"int\", up = \"a\", down = \"a\" }\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("already changed"), "{e}");
    }

    #[test]
    fn nothing_is_built_on_a_column_that_complete_drops() {
        let e = parse_str(
            "[[operation]]\ncreate_index = { table = \"t\", name = \"t_a\", columns = [\"b\", \"a\"] }\n\
             [[operation]]\nchange_type = { table = \"t\", column = \"a\", type = \"int\", up = \"a\", down = \"a\" }\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (1, 1), "{e}");
        assert!(
            e.message
                .contains("create_index: column t.a is replaced by change_type (line 3)"),
            "{e}"
        );
        let e = parse_str(
            "[[operation]]\ndrop_column = { table = \"u\", column = \"id2\" }\n\
             [[operation]]\nadd_constraint = { table = \"t\", name = \"fk\", kind = \"foreign_key\", columns = [\"u\"], references = { table = \"u\", columns = [\"id2\"] } }\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(
            e.message
                .contains("u.id2 is replaced by drop_column (line 1)"),
            "{e}"
        );
        // Other columns of the table are free to index.
        parse_str(
            "[[operation]]\ncreate_index = { table = \"t\", name = \"t_b\", columns = [\"b\"] }\n\
             [[operation]]\ndrop_column = { table = \"t\", column = \"a\" }\n",
        )
        .unwrap();
    }

    #[test]
    fn operations_round_trip_through_the_state_table_json() {
        let file = parse_str(
            "[[operation]]\nchange_type = { table = \"t\", column = \"a\", type = \"int\", up = \"a\", down = \"a\" }\n",
        )
        .unwrap();
        let json = serde_json::to_string(&file.operations[0].op).unwrap();
        assert!(json.contains("\"kind\":\"change_type\""), "{json}");
        let back: Operation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, file.operations[0].op);
    }
}
