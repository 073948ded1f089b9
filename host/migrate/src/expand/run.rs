//! The commands: `start` (expand, backfill, validate), `validate`,
//! `complete` (contract), `rollback`, `status` and `set-rate`. Each step
//! that changes the schema is one transaction that also records the new
//! phase, so a step is either done and recorded or not done at all:
//! killing gate anywhere and running the command again resumes.

use std::collections::BTreeMap;
use std::time::Duration;

use gate_core::failpoint;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::ExpandError;
use super::backfill::{self, BackfillOptions, Batch};
use super::ops::{Constraint, MigrationFile, Operation};
use super::plan;
use super::schema::{self, Table, new_column_of};
use super::sql::{ident, qualified};
use super::state::{self, Phase, Record, STATE_SCHEMA, Status};
use super::triggers::{self, function_prefix};
use super::validate::{self, not_null_name};

/// Seconds a command waits for the migration lock before it says who
/// holds it.
const LOCK_WAIT: u64 = 5;

/// How the commands run.
#[derive(Clone, Debug)]
pub struct Options {
    /// `lock_timeout` of each schema change and of each backfill batch.
    pub lock_timeout: Duration,
    /// Attempts after a lock timeout or deadlock, per step.
    pub retries: u32,
    pub batch_size: u64,
    /// Least pause between backfill batches.
    pub pause: Duration,
    /// Backfill rows per second (`None`: unlimited, or as already set).
    pub rate: Option<i64>,
}

impl Options {
    fn backfill(&self) -> BackfillOptions {
        BackfillOptions {
            batch_size: self.batch_size,
            lock_timeout: self.lock_timeout,
            pause: self.pause,
            retries: self.retries,
        }
    }
}

/// What `start` reports as it goes.
#[derive(Clone, Debug)]
pub enum Event {
    /// Both versions are served (`resumed`: by an earlier run).
    Expanded {
        old_version: String,
        new_version: String,
        resumed: bool,
    },
    Batch(Batch),
    Backfilled,
    Validated,
}

/// Runs `step` again after a lock timeout or a deadlock, pausing longer
/// each time, up to `retries` times.
macro_rules! retrying {
    ($options:expr, $what:expr, $step:expr) => {{
        let mut attempt = 0u32;
        loop {
            match $step.await {
                Err(e) if e.retryable() && attempt < $options.retries => {
                    attempt += 1;
                    tracing::info!("{} retried ({attempt}/{}): {e}", $what, $options.retries);
                    tokio::time::sleep(Duration::from_millis(200) * attempt).await;
                }
                other => break other,
            }
        }
    }};
}

fn db(during: impl Into<String>) -> impl Fn(tokio_postgres::Error) -> ExpandError {
    let during = during.into();
    move |e| ExpandError::db(during.clone(), &e)
}

async fn set_lock_timeout(tx: &Transaction<'_>, timeout: Duration) -> Result<(), ExpandError> {
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        timeout.as_millis()
    ))
    .await
    .map_err(db("setting lock_timeout"))
}

/// `start`: expands (or finds the expand of an earlier run), backfills and
/// validates. A validation failure is `ExpandError::Validation`, with the
/// migration left `backfilled`.
pub async fn start(
    client: &mut Client,
    file: &MigrationFile,
    options: &Options,
    events: &mut dyn FnMut(Event),
) -> Result<Record, ExpandError> {
    // A killed gate's session may take a moment to end on the server.
    state::lock_waiting(client, LOCK_WAIT).await?;
    state::ensure(client).await?;
    let mut record = match state::active(&*client).await? {
        Some(active) if active.name != file.name => {
            return Err(ExpandError::State(format!(
                "migration `{}` is in progress (phase {}); complete it or roll it back before starting `{}`",
                active.name, active.phase, file.name
            )));
        }
        Some(active) if active.file_sha256 != file.sha256 => {
            return Err(ExpandError::State(format!(
                "migration `{}` was started from a different version of {} (sha256 {}); \
                 roll it back before starting the changed file",
                active.name, active.file, active.file_sha256
            )));
        }
        Some(active) => {
            events(Event::Expanded {
                old_version: active.old_version.clone(),
                new_version: active.new_version.clone(),
                resumed: true,
            });
            active
        }
        None => {
            match state::get(&*client, &file.name).await? {
                Some(done) if done.phase == Phase::Contracted => {
                    return Err(ExpandError::State(format!(
                        "migration `{}` is already complete (phase contracted)",
                        file.name
                    )));
                }
                Some(_) => state::delete(&*client, &file.name).await?,
                None => {}
            }
            let record = retrying!(options, "expand", expand(client, file, options))?;
            failpoint::hit("migrate-after-expand");
            events(Event::Expanded {
                old_version: record.old_version.clone(),
                new_version: record.new_version.clone(),
                resumed: false,
            });
            record
        }
    };
    state::set_cancel(client, &record.name, false).await?;
    if let Some(rate) = options.rate {
        let rate = (rate > 0).then_some(rate);
        state::set_rate(client, rate).await?;
        record.rate = rate;
    }
    if record.phase == Phase::Expanded {
        build_indexes(client, &record).await?;
        let tables = schema::tables(&*client, &record.schema).await?;
        let mut on_batch = |b: &Batch| events(Event::Batch(b.clone()));
        backfill::run(
            client,
            &mut record,
            &tables,
            &options.backfill(),
            &mut on_batch,
        )
        .await?;
        state::set_phase(&*client, &record.name, Phase::Backfilled).await?;
        record.phase = Phase::Backfilled;
        events(Event::Backfilled);
    }
    if record.phase == Phase::Backfilled {
        run_validation(client, &mut record, options).await?;
        events(Event::Validated);
    }
    Ok(record)
}

async fn run_validation(
    client: &mut Client,
    record: &mut Record,
    options: &Options,
) -> Result<(), ExpandError> {
    let tables = schema::tables(&*client, &record.schema).await?;
    let result = retrying!(
        options,
        "validation",
        validate::validate(client, record, &tables, options.lock_timeout)
    )?;
    match result {
        Some(failures) => {
            let json = serde_json::to_value(&failures).expect("serialisable");
            state::set_validation(&*client, &record.name, Some(&json)).await?;
            Err(ExpandError::Validation(failures))
        }
        None => {
            state::set_validation(&*client, &record.name, None).await?;
            state::set_phase(&*client, &record.name, Phase::Validated).await?;
            record.phase = Phase::Validated;
            record.validation = None;
            Ok(())
        }
    }
}

/// The table's oid, which names its trigger function.
async fn oid_of(tx: &Transaction<'_>, schema: &str, table: &str) -> Result<u32, ExpandError> {
    Ok(tx
        .query_one("SELECT to_regclass($1)::oid", &[&qualified(schema, table)])
        .await
        .map_err(db("reading the table's oid"))?
        .get(0))
}

/// The old version's views, for tables it has none for yet (a table
/// created by an earlier migration has no view in the schema of the one
/// before).
async fn old_version_views(
    tx: &Transaction<'_>,
    old_version: &str,
    schema: &str,
    tables: &BTreeMap<String, Table>,
    ops: &[Operation],
) -> Result<Vec<String>, ExpandError> {
    let mut sql = Vec::new();
    if old_version == schema {
        return Ok(sql);
    }
    for table in tables.values() {
        let exists: bool = tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&qualified(old_version, &table.name)],
            )
            .await
            .map_err(db("looking for the old version's views"))?
            .get(0);
        if !exists {
            sql.push(schema::view_sql(
                old_version,
                schema,
                &table.name,
                &schema::old_projection(table, ops),
            ));
        }
    }
    Ok(sql)
}

/// The physical changes of one operation's expand. The new version's
/// constraints come at validation, NOT VALID then VALIDATE, once no row
/// breaks them: until then neither version's writes can fail on them.
fn expand_sql(schema: &str, op: &Operation) -> Vec<String> {
    let rel = qualified(schema, op.table());
    match op {
        Operation::AddColumn {
            column,
            type_,
            default,
            ..
        } => {
            let c = ident(column);
            // No DEFAULT on ADD COLUMN: a volatile one would rewrite the
            // table under its lock. Existing rows get it from the backfill.
            let mut sql = vec![format!("ALTER TABLE {rel} ADD COLUMN {c} {type_}")];
            if let Some(d) = default {
                sql.push(format!(
                    "ALTER TABLE {rel} ALTER COLUMN {c} SET DEFAULT ({d})"
                ));
            }
            sql
        }
        Operation::ChangeType {
            column,
            type_,
            default,
            ..
        } => {
            let temp = ident(&new_column_of(column));
            let mut sql = vec![format!("ALTER TABLE {rel} ADD COLUMN {temp} {type_}")];
            // Set once the column exists, so that it is a default for new
            // rows only: existing rows stay NULL until the backfill gives
            // them `up`.
            if let Some(d) = default {
                sql.push(format!(
                    "ALTER TABLE {rel} ALTER COLUMN {temp} SET DEFAULT ({d})"
                ));
            }
            sql
        }
        Operation::CreateTable {
            table,
            columns,
            primary_key,
        } => vec![schema::create_table_sql(
            schema,
            table,
            columns,
            primary_key,
        )],
        // Built CONCURRENTLY after the expand (see `build_indexes`); a
        // renamed or dropped table changes only what the new version's
        // views show.
        Operation::RenameColumn { .. }
        | Operation::DropColumn { .. }
        | Operation::SetNotNull { .. }
        | Operation::CreateIndex { .. }
        | Operation::RenameTable { .. }
        | Operation::DropTable { .. } => Vec::new(),
        // Added at validation, once no row breaks it; raw SQL ran first
        // (see `raw_ups`).
        Operation::AddConstraint { .. } | Operation::RawSql { .. } => Vec::new(),
    }
}

/// Each raw_sql's `up`, as it is, first in the expand's transaction, so
/// the catalog read after it (and the views made from it) shows what it
/// did, and a misfit later in the expand undoes it too.
async fn raw_ups(tx: &Transaction<'_>, file: &MigrationFile) -> Result<(), ExpandError> {
    for at in &file.operations {
        if let Operation::RawSql { up, .. } = &at.op {
            tx.batch_execute(up).await.map_err(|e| {
                ExpandError::db(
                    format!(
                        "{}:{}:{}: raw_sql `up`",
                        file.path.display(),
                        at.line,
                        at.column
                    ),
                    &e,
                )
            })?;
        }
    }
    Ok(())
}

/// The new version's schema and its views: one per table (under its new
/// name if renamed, none if dropped), and one per created table (in the
/// new version's schema only).
fn new_version_views(
    new_version: &str,
    schema: &str,
    tables: &BTreeMap<String, Table>,
    ops: &[Operation],
) -> Vec<String> {
    let mut sql = vec![format!("CREATE SCHEMA {}", ident(new_version))];
    for table in tables.values() {
        let Some(view) = ops
            .iter()
            .find(|o| o.table() == table.name)
            .map_or(Some(table.name.as_str()), Operation::new_table)
        else {
            continue;
        };
        sql.push(schema::view_sql_as(
            new_version,
            view,
            schema,
            &table.name,
            &schema::new_projection(table, ops),
        ));
    }
    for op in ops {
        if let Operation::CreateTable { table, columns, .. } = op {
            let projection = columns
                .iter()
                .map(|c| (c.name.clone(), c.name.clone()))
                .collect();
            sql.push(schema::view_sql(new_version, schema, table, &projection));
        }
    }
    sql
}

/// The trigger of each table an operation changes, where one is needed.
async fn create_triggers(
    tx: &Transaction<'_>,
    file: &MigrationFile,
    new_version: &str,
    tables: &BTreeMap<String, Table>,
    ops: &[Operation],
) -> Result<(), ExpandError> {
    for table in tables.values() {
        if !ops.iter().any(|o| o.table() == table.name) {
            continue;
        }
        let oid = oid_of(tx, &file.schema, &table.name).await?;
        if let Some(trigger) =
            triggers::trigger_sql(&file.name, new_version, &file.schema, table, oid, ops)
        {
            tx.batch_execute(&trigger).await.map_err(db(format!(
                "expand: creating the trigger on {} (check the `up` and `down` expressions)",
                table.name
            )))?;
        }
    }
    Ok(())
}

/// The expand, in one transaction: version schemas, new columns, triggers,
/// and the state row in phase `expanded`.
async fn expand(
    client: &mut Client,
    file: &MigrationFile,
    options: &Options,
) -> Result<Record, ExpandError> {
    let tx = client
        .transaction()
        .await
        .map_err(db("beginning the expand"))?;
    set_lock_timeout(&tx, options.lock_timeout).await?;
    let s = &file.schema;
    raw_ups(&tx, file).await?;
    let tables = schema::tables(&tx, s).await?;
    plan::check_plan(&tx, file, &tables).await?;
    let ops: Vec<Operation> = file.operations.iter().map(|l| l.op.clone()).collect();
    let old_version = state::current_version(&tx, s)
        .await?
        .unwrap_or_else(|| s.clone());
    let new_version = format!("{s}_{}", file.name);
    if schema::schema_exists(&tx, &new_version).await? {
        return Err(ExpandError::Plan(format!(
            "schema {new_version} already exists; gate creates it for the new version of migration `{}`",
            file.name
        )));
    }
    let mut sql = old_version_views(&tx, &old_version, s, &tables, &ops).await?;
    sql.extend(ops.iter().flat_map(|op| expand_sql(s, op)));
    sql.extend(new_version_views(&new_version, s, &tables, &ops));
    for statement in &sql {
        tx.batch_execute(statement)
            .await
            .map_err(db(format!("expand: `{statement}`")))?;
    }
    create_triggers(&tx, file, &new_version, &tables, &ops).await?;
    let record = Record {
        name: file.name.clone(),
        schema: s.clone(),
        old_version,
        new_version,
        phase: Phase::Expanded,
        operations: ops,
        file: file.path.display().to_string(),
        file_sha256: file.sha256.clone(),
        backfill: BTreeMap::new(),
        rate: options.rate,
        validation: None,
        started_at: String::new(),
        updated_at: String::new(),
    };
    state::insert(&tx, &record).await?;
    tx.commit().await.map_err(db("committing the expand"))?;
    Ok(record)
}

/// Whether index `name` of `schema` exists, and is valid.
async fn index_state(
    client: &Client,
    schema: &str,
    name: &str,
) -> Result<Option<bool>, ExpandError> {
    Ok(client
        .query_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            &[&qualified(schema, name)],
        )
        .await
        .map_err(db("reading pg_index"))?
        .map(|r| r.get(0)))
}

/// `CREATE INDEX CONCURRENTLY` of each created index, outside any
/// transaction. A valid index is done; an invalid one (a build that was
/// killed or failed) is dropped and built again.
async fn build_indexes(client: &Client, record: &Record) -> Result<(), ExpandError> {
    for op in &record.operations {
        let Operation::CreateIndex {
            table,
            name,
            columns,
            unique,
        } = op
        else {
            continue;
        };
        match index_state(client, &record.schema, name).await? {
            Some(true) => continue,
            Some(false) => {
                let statement = format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    qualified(&record.schema, name)
                );
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(db(format!("start: `{statement}`")))?;
            }
            None => {}
        }
        let columns: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let statement = format!(
            "CREATE {}INDEX CONCURRENTLY {} ON {} ({})",
            if *unique { "UNIQUE " } else { "" },
            ident(name),
            qualified(&record.schema, table),
            columns.join(", ")
        );
        client
            .batch_execute(&statement)
            .await
            .map_err(db(format!("start: `{statement}`")))?;
    }
    Ok(())
}

/// `DROP INDEX CONCURRENTLY` of each created index (and unique
/// constraint's index), before the rollback's transaction.
async fn drop_indexes(client: &Client, record: &Record) -> Result<(), ExpandError> {
    for op in &record.operations {
        if let Operation::CreateIndex { name, .. }
        | Operation::AddConstraint {
            name,
            constraint: Constraint::Unique { .. },
            ..
        } = op
        {
            let statement = format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                qualified(&record.schema, name)
            );
            client
                .batch_execute(&statement)
                .await
                .map_err(db(format!("rollback: `{statement}`")))?;
        }
    }
    Ok(())
}

/// The migration in progress, or an error saying there is none.
async fn in_progress(client: &impl GenericClient) -> Result<Record, ExpandError> {
    state::active(client).await?.ok_or_else(|| {
        ExpandError::State(
            "no migration in progress (phase old-only); start one with `gate migrate start FILE`"
                .into(),
        )
    })
}

/// `validate`: checks a backfilled migration again (after rows were fixed).
pub async fn validate_cmd(client: &mut Client, options: &Options) -> Result<Record, ExpandError> {
    // A killed gate's session may take a moment to end on the server.
    state::lock_waiting(client, LOCK_WAIT).await?;
    state::ensure(client).await?;
    let mut record = in_progress(&*client).await?;
    if record.phase == Phase::Expanded {
        return Err(ExpandError::State(format!(
            "migration `{}` is still being backfilled (phase expanded); run `gate migrate start {}` again to resume it",
            record.name, record.file
        )));
    }
    run_validation(client, &mut record, options).await?;
    Ok(record)
}

/// DROP FUNCTION … CASCADE of the migration's trigger functions (their
/// triggers go with them).
async fn drop_triggers(tx: &Transaction<'_>, migration: &str) -> Result<Vec<String>, ExpandError> {
    let rows = tx
        .query(
            "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = $1 AND starts_with(p.proname::text, $2)",
            &[&STATE_SCHEMA, &function_prefix(migration)],
        )
        .await
        .map_err(db("finding the migration's triggers"))?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "DROP FUNCTION IF EXISTS {}() CASCADE",
                qualified(STATE_SCHEMA, r.get::<_, &str>(0))
            )
        })
        .collect())
}

/// `complete`: validates if it has not, then contracts in one transaction.
pub async fn complete(client: &mut Client, options: &Options) -> Result<Record, ExpandError> {
    // A killed gate's session may take a moment to end on the server.
    state::lock_waiting(client, LOCK_WAIT).await?;
    state::ensure(client).await?;
    let mut record = in_progress(&*client).await?;
    match record.phase {
        Phase::Expanded => {
            return Err(ExpandError::State(format!(
                "migration `{}` is not backfilled yet (phase expanded); run `gate migrate start {}` again to resume the backfill",
                record.name, record.file
            )));
        }
        Phase::Backfilled => run_validation(client, &mut record, options).await?,
        _ => {}
    }
    retrying!(options, "complete", contract(client, &record, options))?;
    record.phase = Phase::Contracted;
    Ok(record)
}

/// The statements that contract one operation: the old version's
/// columns go, new ones take their names, NOT NULL checks become NOT NULL.
fn contract_sql(
    record: &Record,
    index: usize,
    op: &Operation,
    tables: &BTreeMap<String, Table>,
) -> Vec<String> {
    let rel = qualified(&record.schema, op.table());
    let nn = ident(&not_null_name(&record.name, index));
    match op {
        Operation::SetNotNull { column, .. }
        | Operation::AddColumn {
            column,
            not_null: true,
            ..
        } => vec![
            format!(
                "ALTER TABLE {rel} ALTER COLUMN {} SET NOT NULL",
                ident(column)
            ),
            format!("ALTER TABLE {rel} DROP CONSTRAINT IF EXISTS {nn}"),
        ],
        // Created tables are kept as they are.
        Operation::AddColumn { .. }
        | Operation::CreateTable { .. }
        | Operation::CreateIndex { .. } => Vec::new(),
        Operation::RenameColumn { from, to, .. } => vec![format!(
            "ALTER TABLE {rel} RENAME COLUMN {} TO {}",
            ident(from),
            ident(to)
        )],
        Operation::ChangeType { column, .. } => {
            let not_null = tables
                .get(op.table())
                .and_then(|t| t.column(column))
                .is_some_and(|c| c.not_null);
            let mut sql = vec![
                format!("ALTER TABLE {rel} DROP COLUMN {}", ident(column)),
                format!(
                    "ALTER TABLE {rel} RENAME COLUMN {} TO {}",
                    ident(&new_column_of(column)),
                    ident(column)
                ),
            ];
            if not_null {
                sql.push(format!(
                    "ALTER TABLE {rel} ALTER COLUMN {} SET NOT NULL",
                    ident(column)
                ));
                sql.push(format!("ALTER TABLE {rel} DROP CONSTRAINT IF EXISTS {nn}"));
            }
            sql
        }
        Operation::DropColumn { column, .. } => vec![format!(
            "ALTER TABLE {rel} DROP COLUMN IF EXISTS {}",
            ident(column)
        )],
        // The new version's view follows the table (views name it by oid).
        Operation::RenameTable { to, .. } => {
            vec![format!("ALTER TABLE {rel} RENAME TO {}", ident(to))]
        }
        Operation::DropTable { .. } => vec![format!("DROP TABLE IF EXISTS {rel}")],
        // The unique index validation built becomes the constraint; a check
        // or foreign key is in place, validated, already.
        Operation::AddConstraint {
            name,
            constraint: Constraint::Unique { .. },
            ..
        } => vec![format!(
            "ALTER TABLE {rel} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}",
            name = ident(name)
        )],
        Operation::AddConstraint { .. } | Operation::RawSql { .. } => Vec::new(),
    }
}

async fn contract(
    client: &mut Client,
    record: &Record,
    options: &Options,
) -> Result<(), ExpandError> {
    let tx = client
        .transaction()
        .await
        .map_err(db("beginning the contract"))?;
    set_lock_timeout(&tx, options.lock_timeout).await?;
    let mut sql = Vec::new();
    if record.old_version != record.schema {
        sql.push(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            ident(&record.old_version)
        ));
    }
    sql.extend(drop_triggers(&tx, &record.name).await?);
    let tables = schema::tables(&tx, &record.schema).await?;
    for (index, op) in record.operations.iter().enumerate() {
        sql.extend(contract_sql(record, index, op, &tables));
    }
    for statement in &sql {
        tx.batch_execute(statement)
            .await
            .map_err(db(format!("complete: `{statement}`")))?;
    }
    kept(&tx, record).await?;
    state::set_phase(&tx, &record.name, Phase::Contracted).await?;
    failpoint::hit("migrate-before-contract-commit");
    tx.commit().await.map_err(db("committing the contract"))
}

/// Every index and constraint the migration built is still there after
/// the contract's statements, before they commit: what PostgreSQL drops
/// with a dropped column (or raw SQL drops) is never lost silently.
async fn kept(tx: &Transaction<'_>, record: &Record) -> Result<(), ExpandError> {
    for op in &record.operations {
        let (table, name, what) = match op {
            Operation::CreateIndex { table, name, .. } => (table, name, "index"),
            Operation::AddConstraint { table, name, .. } => (table, name, "constraint"),
            _ => continue,
        };
        let table = op.new_table().unwrap_or(table);
        let there: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $3) \
                 OR EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass($1) AND indexrelid = to_regclass($2))",
                &[
                    &qualified(&record.schema, table),
                    &qualified(&record.schema, name),
                    name,
                ],
            )
            .await
            .map_err(db("checking what the migration built"))?
            .get(0);
        if !there {
            return Err(ExpandError::State(format!(
                "complete: the {what} {name} on {table} would not survive the contract (a statement of it \
                 dropped it); nothing was changed. Roll the migration back and build it in a later migration"
            )));
        }
    }
    Ok(())
}

/// `rollback`: undoes the expand in one transaction. The old version's
/// columns and rows are not touched. A backfill running in another gate is
/// asked to stop first.
pub async fn rollback(client: &mut Client, options: &Options) -> Result<Record, ExpandError> {
    match state::lock(client).await {
        Ok(()) => {}
        // Ask a running backfill to stop between batches, then wait for it.
        Err(ExpandError::Busy(msg)) => match state::active(&*client).await {
            Ok(Some(active)) => {
                state::set_cancel(client, &active.name, true).await?;
                state::lock_waiting(client, 30).await?;
            }
            _ => return Err(ExpandError::Busy(msg)),
        },
        Err(e) => return Err(e),
    }
    state::ensure(client).await?;
    let record = in_progress(&*client).await?;
    drop_indexes(client, &record).await?;
    retrying!(options, "rollback", undo(client, &record, options))?;
    let mut record = record;
    record.phase = Phase::RolledBack;
    Ok(record)
}

/// The statements that undo one operation's expand; the old version's
/// columns and rows are not touched.
fn undo_sql(record: &Record, index: usize, op: &Operation) -> Vec<String> {
    let rel = qualified(&record.schema, op.table());
    match op {
        Operation::AddColumn { column, .. } => vec![format!(
            "ALTER TABLE {rel} DROP COLUMN IF EXISTS {}",
            ident(column)
        )],
        Operation::ChangeType { column, .. } => vec![format!(
            "ALTER TABLE {rel} DROP COLUMN IF EXISTS {}",
            ident(&new_column_of(column))
        )],
        // The check validation added; the column itself is untouched.
        Operation::SetNotNull { .. } => vec![format!(
            "ALTER TABLE {rel} DROP CONSTRAINT IF EXISTS {}",
            ident(&not_null_name(&record.name, index))
        )],
        Operation::CreateTable { .. } => vec![format!("DROP TABLE IF EXISTS {rel}")],
        Operation::AddConstraint {
            name,
            constraint: Constraint::Check { .. } | Constraint::ForeignKey { .. },
            ..
        } => vec![format!(
            "ALTER TABLE {rel} DROP CONSTRAINT IF EXISTS {}",
            ident(name)
        )],
        // Dropped CONCURRENTLY before (see `drop_indexes`); a renamed or
        // dropped table was not touched (its new-version view went with
        // the schema).
        Operation::RenameColumn { .. }
        | Operation::DropColumn { .. }
        | Operation::CreateIndex { .. }
        | Operation::RenameTable { .. }
        | Operation::DropTable { .. }
        | Operation::AddConstraint { .. } => Vec::new(),
        // Raw SQL is undone by its `down`, if it has one.
        Operation::RawSql { down, .. } => down.iter().cloned().collect(),
    }
}

async fn undo(client: &mut Client, record: &Record, options: &Options) -> Result<(), ExpandError> {
    let tx = client
        .transaction()
        .await
        .map_err(db("beginning the rollback"))?;
    set_lock_timeout(&tx, options.lock_timeout).await?;
    let mut sql = vec![format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        ident(&record.new_version)
    )];
    sql.extend(drop_triggers(&tx, &record.name).await?);
    // Last operation first: a raw_sql's `down` may depend on what came
    // after it being undone.
    for (index, op) in record.operations.iter().enumerate().rev() {
        sql.extend(undo_sql(record, index, op));
    }
    for statement in &sql {
        tx.batch_execute(statement)
            .await
            .map_err(db(format!("rollback: `{statement}`")))?;
    }
    state::set_phase(&tx, &record.name, Phase::RolledBack).await?;
    failpoint::hit("migrate-before-rollback-commit");
    tx.commit().await.map_err(db("committing the rollback"))
}

/// `status`: the migration in progress, else the latest, else `old-only`.
pub async fn status(client: &Client) -> Result<Status, ExpandError> {
    if !state::exists(client).await? {
        return Ok(Status::of(None));
    }
    let shown = match state::active(client).await? {
        Some(active) => Some(active),
        None => state::history(client).await?.into_iter().next(),
    };
    Ok(Status::of(shown))
}

/// `set-rate`: the backfill's rows per second (0: unlimited).
pub async fn set_rate(client: &Client, rate: u64) -> Result<String, ExpandError> {
    if !state::exists(client).await? {
        return Err(ExpandError::State("no migration in progress".into()));
    }
    let rate = (rate > 0).then_some(rate as i64);
    state::set_rate(client, rate).await
}
