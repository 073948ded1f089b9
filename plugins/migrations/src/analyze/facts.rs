//! The typed facts a statement's walk reports: what the statement does, to
//! which object, and how (guarded, concurrently, on an object the migrations
//! being judged created). The walkers in this directory parse statements,
//! keep the shared state (new objects, transactions, locks) and emit facts;
//! every rule decides from the facts, in its own module under `src/rules/`.
//!
//! A statement's facts come in walk order: [`Fact::Transaction`] (for
//! BEGIN/COMMIT/ROLLBACK), [`Fact::Statement`], the facts of its grammar,
//! [`Fact::Walked`], then [`Fact::Locks`]. Each fact goes to every rule in
//! registry order, so a statement's findings come in the order of its
//! facts, and for one fact in registry order.

use gate_sqlkit::Token;

use super::{AddedColumn, Analysis};
use crate::rules::RuleId;

/// One thing a statement does, as its walk reports it.
pub(crate) enum Fact<'a> {
    /// The statement, before its grammar walk (`Analysis::t` holds its tokens).
    Statement,
    /// BEGIN, COMMIT or ROLLBACK, and what it did to the transaction state.
    Transaction(TxEvent<'a>),
    /// A statement (or ALTER TABLE action) that fails when re-run unless
    /// guarded with IF [NOT] EXISTS: `what` is its verb (`DROP COLUMN`).
    Guardable {
        what: &'a str,
        object: &'a str,
        guarded: bool,
    },
    /// A table named by CREATE TABLE, ALTER TABLE or DROP TABLE (`verb`).
    TableNamed { verb: &'a str, table: &'a str },
    /// The type written for a column or a composite type's attribute
    /// (`object` is `table.column`), in a definition or an ALTER … TYPE.
    ColumnType {
        object: &'a str,
        ty: &'a [Token],
        at: usize,
    },
    /// ALTER TABLE … ADD COLUMN: the column, its type aside.
    AddColumn(&'a AddedColumn<'a>),
    /// The same column's inline constraints (PRIMARY KEY, UNIQUE,
    /// REFERENCES, CHECK), after [`Fact::AddColumn`].
    ColumnConstraints(&'a AddedColumn<'a>),
    /// ALTER TABLE … ADD [CONSTRAINT name] CHECK/FOREIGN KEY/UNIQUE/…
    AddConstraint(AddedConstraint<'a>),
    /// ALTER TABLE … VALIDATE CONSTRAINT.
    Validate {
        table: &'a str,
        name: &'a str,
        object: &'a str,
        at: usize,
    },
    /// ALTER TABLE … ALTER COLUMN: NOT NULL, default, expression, identity.
    AlterColumn(AlteredColumn<'a>),
    /// ALTER COLUMN … TYPE, or ALTER TYPE … ALTER ATTRIBUTE … TYPE.
    ChangeType(ChangedType<'a>),
    /// ALTER TABLE … DROP COLUMN, or ALTER TYPE … DROP ATTRIBUTE.
    DropColumn {
        of: ColumnOf<'a>,
        object: &'a str,
        at: usize,
        new: bool,
    },
    /// ALTER TABLE … DROP CONSTRAINT, or ALTER DOMAIN … DROP CONSTRAINT.
    DropConstraint {
        on: ConstraintOn<'a>,
        at: Option<usize>,
        new: bool,
    },
    /// ALTER TABLE … SET TABLESPACE/LOGGED/UNLOGGED/ACCESS METHOD (`what`).
    RewriteTable {
        table: &'a str,
        what: &'a str,
        at: usize,
        new: bool,
        foreign: bool,
    },
    /// ALTER TABLE … DETACH PARTITION.
    DetachPartition {
        table: &'a str,
        partition: &'a str,
        concurrently: bool,
        at: usize,
        new: bool,
    },
    /// A rename of a table, column, constraint, type, … .
    Rename {
        renamed: Renamed<'a>,
        at: Option<usize>,
        new: bool,
    },
    /// ALTER … SET SCHEMA: `kind` is the object's kind in lower case
    /// (`table`, `type`, `materialized view`, …).
    SetSchema {
        kind: &'a str,
        name: &'a str,
        at: Option<usize>,
        new: bool,
    },
    /// One object of a DROP statement.
    Drop(Dropped<'a>),
    /// CREATE INDEX; `label` is its name, or `on <table>` without one.
    CreateIndex {
        label: &'a str,
        table: &'a str,
        concurrently: bool,
        new_table: bool,
    },
    /// CREATE DOMAIN, and whether it has a CHECK.
    CreateDomain { name: &'a str, check: bool },
    /// ALTER DOMAIN … SET NOT NULL (`not_null`) or ADD a constraint.
    DomainConstraint {
        domain: &'a str,
        not_null: bool,
        not_valid: bool,
        new: bool,
    },
    /// ALTER TYPE … ADD VALUE; `positioned` says BEFORE or AFTER.
    AddEnumValue {
        ty: &'a str,
        value: &'a str,
        positioned: bool,
        new: bool,
    },
    /// REINDEX; `label` is its kind and name (`INDEX i`).
    Reindex {
        label: &'a str,
        name: &'a str,
        concurrently: bool,
    },
    /// The statement, after its grammar walk.
    Walked,
    /// The locks the statement takes, known once every rule saw [`Fact::Walked`]:
    /// it waits for a lock that blocks reads or writes (`waits`), and holds
    /// it for long enough to count for statement_timeout (`long`).
    Locks { waits: bool, long: bool },
}

impl<'a> Fact<'a> {
    /// The column of an [`Fact::AddColumn`] to a table that holds data,
    /// unless it is a serial or identity PRIMARY KEY (which only
    /// `add-serial-primary-key` judges).
    pub(crate) fn plain_added_column(&self) -> Option<&'a AddedColumn<'a>> {
        match self {
            Fact::AddColumn(c) if c.to_existing_table() && !c.serial_primary_key() => Some(c),
            _ => None,
        }
    }

    /// The column of an [`Fact::AlterColumn`] making `change` to a table
    /// that existed before the migrations.
    pub(crate) fn altered_column(&self, change: ColumnChange) -> Option<&AlteredColumn<'a>> {
        match self {
            Fact::AlterColumn(c) if c.change == change && !c.new => Some(c),
            _ => None,
        }
    }
}

/// What BEGIN, COMMIT or ROLLBACK did.
pub(crate) enum TxEvent<'a> {
    /// BEGIN while the file's own BEGIN (`explicit`) or the migration
    /// tool's transaction is open: it does nothing.
    NestedBegin { explicit: bool },
    /// COMMIT/ROLLBACK (`keyword`) that ended the tool's transaction.
    EndsToolTransaction { keyword: &'a str },
    /// COMMIT/ROLLBACK (`keyword`) with no transaction open.
    EndsNothing { keyword: &'a str },
    /// Any other BEGIN, COMMIT or ROLLBACK: opens or ends a transaction as written.
    Plain,
}

/// Whose column an ALTER changes.
#[derive(Clone, Copy)]
pub(crate) enum ColumnOf<'a> {
    /// A column of this table (as written, possibly qualified).
    Table(&'a str),
    /// An attribute of this composite type.
    Type(&'a str),
}

/// Which constraint a DROP CONSTRAINT drops.
pub(crate) enum ConstraintOn<'a> {
    /// Constraint `name` of `table`; `object` is `table.name`, unqualified.
    Table {
        table: &'a str,
        name: &'a str,
        object: &'a str,
    },
    /// A constraint of this domain.
    Domain(&'a str),
}

/// The kind of constraint ALTER TABLE … ADD adds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConstraintKind {
    Check,
    ForeignKey,
    Unique,
    Exclude,
    PrimaryKey,
    /// A kind no rule judges.
    Other,
}

/// ALTER TABLE … ADD [CONSTRAINT name] <kind> ….
pub(crate) struct AddedConstraint<'a> {
    pub(crate) table: &'a str,
    /// The constraint's name, or `constraint` without one.
    pub(crate) label: &'a str,
    /// `table.label`, unqualified table.
    pub(crate) object: &'a str,
    pub(crate) kind: ConstraintKind,
    pub(crate) not_valid: bool,
    /// `… USING INDEX`: attaches an index built before.
    pub(crate) using_index: bool,
    pub(crate) at: usize,
    pub(crate) new: bool,
}

/// What ALTER TABLE … ALTER COLUMN changes (other than the type).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnChange {
    SetNotNull,
    DropNotNull,
    DropDefault,
    DropExpression,
    /// DROP IDENTITY, ADD GENERATED or SET GENERATED.
    Identity,
}

/// ALTER TABLE … ALTER COLUMN … (not TYPE).
pub(crate) struct AlteredColumn<'a> {
    pub(crate) table: &'a str,
    /// The table's name without its schema.
    pub(crate) short: &'a str,
    pub(crate) column: &'a str,
    /// `short.column`.
    pub(crate) object: &'a str,
    pub(crate) change: ColumnChange,
    pub(crate) at: usize,
    pub(crate) new: bool,
    pub(crate) foreign: bool,
}

impl AlteredColumn<'_> {
    /// Reports a hit of `rule` on the column, at its ALTER action.
    pub(crate) fn report(&self, a: &mut Analysis<'_>, rule: RuleId, message: String) {
        a.add_at(rule, message, Some(self.object.to_string()), self.at);
    }
}

/// A column's or attribute's type change.
pub(crate) struct ChangedType<'a> {
    pub(crate) of: ColumnOf<'a>,
    /// `table.column` or `type.attribute`, unqualified.
    pub(crate) object: &'a str,
    /// The new type's tokens.
    pub(crate) ty: &'a [Token],
    pub(crate) at: usize,
    pub(crate) new: bool,
    pub(crate) foreign: bool,
}

/// What a rename renames.
pub(crate) enum Renamed<'a> {
    /// ALTER TABLE t RENAME TO `to`.
    Table { table: &'a str, to: &'a str },
    /// ALTER TABLE … RENAME [COLUMN]; `object` is `table.column`, unqualified.
    Column { object: &'a str, to: &'a str },
    /// ALTER TABLE … RENAME CONSTRAINT; `object` is `table.name`, unqualified.
    Constraint {
        table: &'a str,
        name: &'a str,
        object: &'a str,
    },
    /// ALTER TYPE … RENAME VALUE.
    EnumValue { ty: &'a str },
    /// ALTER TYPE … RENAME ATTRIBUTE.
    Attribute { ty: &'a str },
    /// ALTER <kind> name RENAME …: `kind` in lower case (`type`, `index`, …).
    Object { kind: &'a str, name: &'a str },
}

/// The kinds of object a DROP statement drops that the rules know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Table,
    ForeignTable,
    Index,
    View,
    MaterializedView,
    Sequence,
    Schema,
    Type,
    Domain,
    Function,
    Procedure,
    Routine,
    Aggregate,
    Extension,
    Trigger,
    Database,
}

impl ObjectKind {
    const ALL: [ObjectKind; 16] = [
        ObjectKind::Table,
        ObjectKind::ForeignTable,
        ObjectKind::Index,
        ObjectKind::View,
        ObjectKind::MaterializedView,
        ObjectKind::Sequence,
        ObjectKind::Schema,
        ObjectKind::Type,
        ObjectKind::Domain,
        ObjectKind::Function,
        ObjectKind::Procedure,
        ObjectKind::Routine,
        ObjectKind::Aggregate,
        ObjectKind::Extension,
        ObjectKind::Trigger,
        ObjectKind::Database,
    ];

    /// The kind as SQL writes it after DROP.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            ObjectKind::Table => "TABLE",
            ObjectKind::ForeignTable => "FOREIGN TABLE",
            ObjectKind::Index => "INDEX",
            ObjectKind::View => "VIEW",
            ObjectKind::MaterializedView => "MATERIALIZED VIEW",
            ObjectKind::Sequence => "SEQUENCE",
            ObjectKind::Schema => "SCHEMA",
            ObjectKind::Type => "TYPE",
            ObjectKind::Domain => "DOMAIN",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Procedure => "PROCEDURE",
            ObjectKind::Routine => "ROUTINE",
            ObjectKind::Aggregate => "AGGREGATE",
            ObjectKind::Extension => "EXTENSION",
            ObjectKind::Trigger => "TRIGGER",
            ObjectKind::Database => "DATABASE",
        }
    }

    /// The kind written as `keyword` (`MATERIALIZED VIEW`), if the rules know it.
    pub(crate) fn from_keyword(keyword: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.keyword() == keyword)
    }
}

/// One object a DROP statement drops.
pub(crate) struct Dropped<'a> {
    pub(crate) kind: ObjectKind,
    pub(crate) name: &'a str,
    pub(crate) cascade: bool,
    pub(crate) concurrently: bool,
    /// The migrations being judged created it: nothing uses it yet.
    pub(crate) new: bool,
}

impl Dropped<'_> {
    /// `DROP <kind>`, as the statement wrote it.
    pub(crate) fn verb(&self) -> String {
        format!("DROP {}", self.kind.keyword())
    }
}
