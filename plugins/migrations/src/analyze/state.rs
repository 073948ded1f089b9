//! What the analysis remembers across statements: new objects, open transactions, timeouts, NOT VALID constraints.

use std::collections::{HashMap, HashSet};

use gate_sqlkit::{self as sk, Token};

/// Names of objects created by the migrations being judged, with the schema
/// the statement gave. A qualified name matches the same qualified name or
/// an unqualified one (search_path is not known here); an unqualified name
/// matches any schema's object of that name.
#[derive(Default, Debug, PartialEq, Eq)]
pub(crate) struct Objects(HashMap<String, HashSet<Option<String>>>);

/// `(schema, name)` of a possibly qualified name (`db.schema.name` keeps `schema`).
pub(crate) fn split_name(name: &str) -> (Option<String>, String) {
    let mut parts = name.rsplit('.');
    let last = parts.next().unwrap_or(name).to_string();
    (parts.next().map(str::to_string), last)
}

impl Objects {
    pub(crate) fn insert(&mut self, name: &str) {
        let (schema, last) = split_name(name);
        self.0.entry(last).or_default().insert(schema);
    }

    pub(crate) fn remove(&mut self, name: &str) {
        let (schema, last) = split_name(name);
        if let Some(schemas) = self.0.get_mut(&last) {
            schemas.remove(&schema);
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        let (schema, last) = split_name(name);
        self.0.get(&last).is_some_and(|schemas| match schema {
            None => !schemas.is_empty(),
            Some(s) => schemas.contains(&Some(s)) || schemas.contains(&None),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Table,
    Index,
    Type,
}

/// What one file leaves to the files after it (all the walk carries from
/// file to file). Comparable, so tests can hold a replay to a validation.
#[derive(Default, Debug, PartialEq, Eq)]
pub(crate) struct RunState {
    /// New objects (see [`Scope`]).
    pub(crate) tables: Objects,
    pub(crate) indexes: Objects,
    pub(crate) types: Objects,
    /// NOT VALID `CHECK (col IS NOT NULL)` constraints: name → (table, column).
    pub(crate) not_null_checks: HashMap<String, (String, String)>,
    /// (table, column) with a validated `IS NOT NULL` check.
    pub(crate) validated_not_null: HashSet<(String, String)>,
}

#[derive(Default)]
pub(crate) struct FileState {
    /// The tool runs the file in a transaction.
    pub(crate) file_tx: bool,
    /// The tool's transaction is open: from the start of a `file_tx` file
    /// until the file's own COMMIT/ROLLBACK ends it, and again after a BEGIN
    /// that reopens it for the tool's final COMMIT.
    pub(crate) tool_open: bool,
    /// The file's statements run in more than one transaction (or outside
    /// any), so a failure part-way leaves earlier parts committed.
    pub(crate) several_units: bool,
    /// Objects created in the open transaction, dropped from the new
    /// objects again if it rolls back.
    pub(crate) created_in_tx: Vec<(Kind, String)>,
    /// An explicit BEGIN is open: its statement's line, column and the
    /// lines of the `gate:ignore`s above it.
    pub(crate) explicit: Option<(u32, u32, Vec<u32>)>,
    pub(crate) lock_timeout: bool,
    pub(crate) statement_timeout: bool,
    pub(crate) lock_timeout_reported: bool,
    pub(crate) statement_timeout_reported: bool,
    /// Constraints added NOT VALID in the current transaction.
    pub(crate) not_valid_in_tx: HashSet<String>,
    /// Enum values added in the current transaction.
    pub(crate) enum_values_in_tx: Vec<String>,
}

impl FileState {
    pub(crate) fn in_tx(&self) -> bool {
        self.tool_open || self.explicit.is_some()
    }

    pub(crate) fn end_tx(&mut self) {
        self.not_valid_in_tx.clear();
        self.enum_values_in_tx.clear();
        self.created_in_tx.clear();
    }

    /// ROLLBACK: what the transaction created does not exist any more.
    pub(crate) fn roll_back(&mut self, run: &mut RunState) {
        for (kind, name) in self.created_in_tx.drain(..) {
            run.objects(kind).remove(&name);
        }
        self.end_tx();
    }
}

impl RunState {
    pub(crate) fn objects(&mut self, kind: Kind) -> &mut Objects {
        match kind {
            Kind::Table => &mut self.tables,
            Kind::Index => &mut self.indexes,
            Kind::Type => &mut self.types,
        }
    }
}

/// Whether the statements of a file, from the tokens of each, run in more
/// than one transaction or outside one: the same walk as the analysis
/// (BEGIN opens, COMMIT/ROLLBACK closes, the tool's transaction opens the
/// file when `file_tx`), counting transactions that hold a statement and
/// statements outside any transaction.
pub(crate) fn several_units(statements: &[Vec<Token>], file_tx: bool) -> bool {
    let mut open = file_tx;
    let mut holds = false;
    let mut units = 0;
    for tokens in statements {
        match sk::transaction_control(tokens) {
            Some(sk::TxControl::Begin) => {
                if !open {
                    open = true;
                    holds = false;
                }
            }
            Some(sk::TxControl::Commit | sk::TxControl::Rollback) => {
                if open && holds {
                    units += 1;
                }
                open = false;
                holds = false;
            }
            None if open => holds = true,
            None => units += 1,
        }
    }
    if open && holds {
        units += 1;
    }
    units > 1
}
