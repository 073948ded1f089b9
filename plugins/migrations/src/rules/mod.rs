//! The rule registry: every rule is one module in this directory (its
//! metadata, classification, detection and cases), and one line in the
//! `registry!` list below gives it a [`RuleId`] variant. A rule named
//! anywhere in the crate is named by its variant, so a misspelt rule does
//! not compile; `describe()` and docs/migrations/rules.md are written from
//! the same list, in its order (the documentation order).
//!
//! A rule detects through its `on` hook: the analysis walks each statement
//! into typed facts (`crate::analyze::Fact`) and hands every fact to every
//! rule, in this list's order; the rule matches the facts it judges and
//! reports its hits with its own messages.
//!
//! `cargo xtask new-rule <id>` writes a new rule's module from a template
//! and adds its line here.

#[macro_use]
mod registry;
mod rule;

#[cfg(test)]
pub(crate) mod cases;

pub use rule::Rule;
use rule::rule;

use crate::analyze::{Analysis, Dropped};

/// The plan of every rule that drops an object code may still use.
const DROP_PLAN: &[&str] = &[
    "deploy code that no longer reads or writes {object}",
    "wait until every instance of the old release is gone",
    "drop {object} in a later migration, after a backup or snapshot",
];

/// The hit of a rule about dropping an object running code may still use
/// (`drop-table`, `drop-view`, …), unless the migrations created it.
fn drop_breaks(a: &mut Analysis<'_>, id: RuleId, d: &Dropped<'_>) {
    if d.new {
        return;
    }
    let extra = if d.cascade {
        " with CASCADE, which also drops everything that depends on it"
    } else {
        ""
    };
    a.add(
        id,
        format!(
            "{} {}{extra} breaks running code that still uses it.",
            d.verb(),
            d.name
        ),
        Some(d.name.to_string()),
    );
}

registry! {
    create_index_not_concurrently: CreateIndexNotConcurrently,
    drop_index_not_concurrently: DropIndexNotConcurrently,
    concurrently_in_transaction: ConcurrentlyInTransaction,
    reindex_not_concurrently: ReindexNotConcurrently,
    detach_partition_not_concurrently: DetachPartitionNotConcurrently,
    constraint_missing_not_valid: ConstraintMissingNotValid,
    add_foreign_key: AddForeignKey,
    add_unique_constraint: AddUniqueConstraint,
    add_primary_key: AddPrimaryKey,
    set_not_null: SetNotNull,
    validate_in_same_transaction: ValidateInSameTransaction,
    alter_table_rewrite: AlterTableRewrite,
    add_required_column: AddRequiredColumn,
    add_column_volatile_default: AddColumnVolatileDefault,
    add_serial_primary_key: AddSerialPrimaryKey,
    change_column_type: ChangeColumnType,
    drop_column: DropColumn,
    drop_default: DropDefault,
    drop_not_null: DropNotNull,
    drop_generated_expression: DropGeneratedExpression,
    alter_identity: AlterIdentity,
    rename_column: RenameColumn,
    rename_table: RenameTable,
    rename_object: RenameObject,
    set_schema: SetSchema,
    drop_table: DropTable,
    drop_database: DropDatabase,
    drop_schema: DropSchema,
    drop_view: DropView,
    drop_function: DropFunction,
    drop_type: DropType,
    drop_sequence: DropSequence,
    drop_constraint: DropConstraint,
    drop_extension: DropExtension,
    truncate_cascade: TruncateCascade,
    vacuum_full_or_cluster: VacuumFullOrCluster,
    unbatched_backfill: UnbatchedBackfill,
    refresh_matview_not_concurrently: RefreshMatviewNotConcurrently,
    enum_add_value_in_transaction: EnumAddValueInTransaction,
    enum_value_ordering: EnumValueOrdering,
    prefer_text: PreferText,
    ban_char: BanChar,
    prefer_bigint: PreferBigint,
    prefer_bigint_over_smallint: PreferBigintOverSmallint,
    prefer_identity: PreferIdentity,
    prefer_timestamptz: PreferTimestamptz,
    create_domain_with_constraint: CreateDomainWithConstraint,
    alter_domain_add_constraint: AlterDomainAddConstraint,
    prefer_robust_statements: PreferRobustStatements,
    transaction_nesting: TransactionNesting,
    uncommitted_transaction: UncommittedTransaction,
    require_lock_timeout: RequireLockTimeout,
    require_statement_timeout: RequireStatementTimeout,
    identifier_too_long: IdentifierTooLong,
    require_table_schema: RequireTableSchema,
    duplicate_column_assignment: DuplicateColumnAssignment,
    // New rules go above this line (`cargo xtask new-rule` puts them here).
    // Pseudo-rules: notes and summaries about the run, not statement checks.
    parse_error: ParseError,
    parse_coverage: ParseCoverage,
    unused_ignore: UnusedIgnore,
    file_summary: FileSummary,
}

impl RuleId {
    /// The rule with this kebab-case id (not a squawk name).
    pub fn from_name(name: &str) -> Option<RuleId> {
        RuleId::ALL.iter().copied().find(|id| id.name() == name)
    }

    /// The rule's kebab-case id.
    pub fn name(self) -> &'static str {
        self.rule().id
    }
}

/// Every rule, pseudo-rules last, in documentation order.
pub fn all() -> impl Iterator<Item = &'static Rule> {
    RuleId::ALL.iter().map(|id| id.rule())
}

/// The rules a name in an ignore comment stands for: a gate rule id, or a
/// squawk rule name (so `-- squawk-ignore` comments keep working), which
/// can stand for several gate rules. Empty for an unknown name.
pub fn named(name: &str) -> Vec<RuleId> {
    match RuleId::from_name(name) {
        Some(id) => vec![id],
        None => RuleId::ALL
            .iter()
            .copied()
            .filter(|id| id.rule().squawk.contains(&name))
            .collect(),
    }
}
