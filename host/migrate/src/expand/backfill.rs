//! Backfill of existing rows, in batches keyed by the primary key: each
//! batch is its own transaction, with `SET LOCAL lock_timeout`, touches at
//! most `batch_size` rows (`UPDATE … SET key = key`: the trigger fills the
//! new columns) and records its last key in the state table in the same
//! transaction, so a killed backfill resumes after the last committed
//! batch. Between batches it pauses, and keeps to the rate in the state
//! table, which `gate migrate set-rate` changes while it runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::ExpandError;
use super::ops::Operation;
use super::schema::Table;
use super::sql::{ident, qualified};
use super::state::{self, Record, TableProgress};

/// How the backfill runs.
#[derive(Clone, Debug)]
pub struct BackfillOptions {
    pub batch_size: u64,
    /// `lock_timeout` of each batch.
    pub lock_timeout: Duration,
    /// The least pause between batches.
    pub pause: Duration,
    /// Retries of a batch that timed out on a lock or deadlocked.
    pub retries: u32,
}

/// One committed batch, for progress output.
#[derive(Clone, Debug)]
pub struct Batch {
    pub table: String,
    pub done: u64,
    pub total: u64,
    /// Rows per second over the whole table so far.
    pub rows_per_sec: f64,
    /// The rate limit in force.
    pub rate: Option<i64>,
    pub finished: bool,
}

/// The tables whose rows need a backfill: those with an added column that
/// has an `up` or a `default`, a changed type, or a column made NOT NULL
/// with an `up`.
pub fn tables_to_fill(ops: &[Operation]) -> Vec<String> {
    let mut out: Vec<String> = ops
        .iter()
        .filter(|o| match o {
            Operation::AddColumn { up, default, .. } => up.is_some() || default.is_some(),
            Operation::SetNotNull { up, .. } => up.is_some(),
            Operation::CreateTable { .. } | Operation::CreateIndex { .. } => false,
            Operation::ChangeType { .. } => true,
            Operation::RenameColumn { .. }
            | Operation::DropColumn { .. }
            | Operation::RenameTable { .. }
            | Operation::DropTable { .. }
            | Operation::AddConstraint { .. }
            | Operation::RawSql { .. } => false,
        })
        .map(|o| o.table().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `(k1, k2)` of `alias`'s key columns, and `($n::text::type, …)` params.
fn key_tuple(alias: &str, key: &[String]) -> String {
    let cols: Vec<String> = key
        .iter()
        .map(|k| format!("{alias}.{}", ident(k)))
        .collect();
    format!("({})", cols.join(", "))
}

fn params_tuple(first: usize, table: &Table) -> String {
    let ps: Vec<String> = table
        .primary_key
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let type_ = table.column(k).map_or("text", |c| c.type_.as_str());
            format!("${}::text::{type_}", first + i)
        })
        .collect();
    format!("({})", ps.join(", "))
}

/// `alias.k1 DESC, alias.k2 DESC`.
fn descending(alias: &str, key: &[String]) -> String {
    key.iter()
        .map(|k| format!("{alias}.{} DESC", ident(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_text(alias: &str, key: &[String]) -> String {
    let cols: Vec<String> = key
        .iter()
        .map(|k| format!("{alias}.{}::text", ident(k)))
        .collect();
    format!("ARRAY[{}]", cols.join(", "))
}

/// Backfills every table that needs it, resuming from the state table.
pub async fn run(
    client: &mut Client,
    record: &mut Record,
    tables: &BTreeMap<String, Table>,
    options: &BackfillOptions,
    progress: &mut dyn FnMut(&Batch),
) -> Result<(), ExpandError> {
    for name in tables_to_fill(&record.operations) {
        let Some(table) = tables.get(&name) else {
            return Err(ExpandError::Plan(format!(
                "table {}.{name} is gone; roll the migration back",
                record.schema
            )));
        };
        fill_table(client, record, table, options, progress).await?;
    }
    Ok(())
}

/// Records the highest key of the table now, where the backfill stops:
/// rows after it are written with the trigger in place, however fast
/// inserts come. An empty table is finished at once.
async fn find_high_key(
    client: &Client,
    record: &mut Record,
    table: &Table,
    p: &mut TableProgress,
) -> Result<(), ExpandError> {
    let key = &table.primary_key;
    let relation = qualified(&record.schema, &table.name);
    let row = client
        .query_opt(
            &format!(
                "SELECT {}, count(*) OVER () FROM {relation} t ORDER BY {} LIMIT 1",
                key_text("t", key),
                descending("t", key),
            ),
            &[],
        )
        .await
        .map_err(|e| ExpandError::db(format!("finding the last key of {}", table.name), &e))?;
    match row {
        None => p.finished = true,
        Some(r) => {
            p.high_key = Some(r.get(0));
            p.total = r.get::<_, i64>(1) as u64;
        }
    }
    record.backfill.insert(table.name.clone(), p.clone());
    state::set_backfill(client, &record.name, &record.backfill).await
}

/// The statement of one batch: the next `batch_size` keys up to the high
/// key (`after`: and after the last key done), touched so the trigger
/// fills them; it returns how many rows and the last key.
fn batch_sql(table: &Table, relation: &str, batch_size: u64, after: bool) -> String {
    let key = &table.primary_key;
    let n = key.len();
    let order: Vec<String> = key.iter().map(|k| ident(k)).collect();
    let upper = format!("{} <= {}", key_tuple("t", key), params_tuple(1, table));
    let lower = if after {
        format!(
            " AND {} > {}",
            key_tuple("t", key),
            params_tuple(n + 1, table)
        )
    } else {
        String::new()
    };
    let set = ident(&key[0]);
    format!(
        "WITH batch AS (SELECT {keys} FROM {relation} t WHERE {upper}{lower} ORDER BY {keys} LIMIT {batch_size}), \
         done AS (UPDATE {relation} u SET {set} = u.{set} FROM batch b WHERE {ukey} = {bkey} RETURNING {uret}) \
         SELECT count(*)::bigint, (SELECT {dkey} FROM done d ORDER BY {dorder} LIMIT 1) FROM done",
        keys = order.join(", "),
        ukey = key_tuple("u", key),
        bkey = key_tuple("b", key),
        uret = key
            .iter()
            .map(|k| format!("u.{}", ident(k)))
            .collect::<Vec<_>>()
            .join(", "),
        dkey = key_text("d", key),
        dorder = descending("d", key),
    )
}

/// One table's batch statements and settings.
struct Batches<'a> {
    table: &'a Table,
    first: String,
    next: String,
    /// `SET LOCAL` of each batch's transaction.
    settings: String,
    high: Vec<String>,
}

/// One batch in its own transaction, with the progress it makes recorded
/// in the same transaction: (rows, last key).
async fn run_batch(
    client: &mut Client,
    record: &Record,
    b: &Batches<'_>,
    p: &TableProgress,
) -> Result<(i64, Option<Vec<String>>), ExpandError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| ExpandError::db("beginning a backfill batch", &e))?;
    tx.batch_execute(&b.settings)
        .await
        .map_err(|e| ExpandError::db("setting the batch's lock_timeout", &e))?;
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    for k in &b.high {
        params.push(k);
    }
    let sql = match &p.last_key {
        Some(last) => {
            for k in last {
                params.push(k);
            }
            &b.next
        }
        None => &b.first,
    };
    let row = tx
        .query_one(sql.as_str(), &params)
        .await
        .map_err(|e| ExpandError::db(format!("backfilling {}", b.table.name), &e))?;
    let rows: i64 = row.get(0);
    let last: Option<Vec<String>> = row.get(1);
    let mut backfill = record.backfill.clone();
    backfill.insert(b.table.name.clone(), advanced(p, rows, last.clone()));
    state::set_backfill(&tx, &record.name, &backfill).await?;
    tx.commit()
        .await
        .map_err(|e| ExpandError::db("committing a backfill batch", &e))?;
    gate_core::failpoint::hit("migrate-after-batch");
    Ok((rows, last))
}

/// The progress after a batch of `rows` ending at `last`.
fn advanced(p: &TableProgress, rows: i64, last: Option<Vec<String>>) -> TableProgress {
    let mut next = p.clone();
    next.done += rows as u64;
    if last.is_some() {
        next.last_key = last;
    }
    next.finished = rows == 0;
    next
}

/// A batch, tried again after a lock timeout or a deadlock.
async fn run_batch_retrying(
    client: &mut Client,
    record: &Record,
    b: &Batches<'_>,
    p: &TableProgress,
    options: &BackfillOptions,
) -> Result<(i64, Option<Vec<String>>), ExpandError> {
    let mut attempt = 0;
    loop {
        match run_batch(client, record, b, p).await {
            Ok(r) => return Ok(r),
            Err(e) if e.retryable() && attempt < options.retries => {
                attempt += 1;
                tracing::info!(
                    "backfill batch of {} retried ({attempt}): {e}",
                    b.table.name
                );
                tokio::time::sleep(options.pause.max(Duration::from_millis(100)) * attempt).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The pause after a batch of `rows`: at least `pause`, and long enough to
/// keep to `rate`.
fn pause_after(
    options: &BackfillOptions,
    rate: Option<i64>,
    rows: i64,
    took: Duration,
) -> Duration {
    let mut wait = options.pause;
    if let Some(rate) = rate.filter(|r| *r > 0) {
        let budget = Duration::from_secs_f64(rows as f64 / rate as f64);
        wait = wait.max(budget.saturating_sub(took));
    }
    wait
}

async fn fill_table(
    client: &mut Client,
    record: &mut Record,
    table: &Table,
    options: &BackfillOptions,
    progress: &mut dyn FnMut(&Batch),
) -> Result<(), ExpandError> {
    let relation = qualified(&record.schema, &table.name);
    let mut p = record
        .backfill
        .get(&table.name)
        .cloned()
        .unwrap_or_default();
    if p.high_key.is_none() && !p.finished {
        find_high_key(client, record, table, &mut p).await?;
    }
    if p.finished {
        return Ok(());
    }
    let batches = Batches {
        table,
        first: batch_sql(table, &relation, options.batch_size, false),
        next: batch_sql(table, &relation, options.batch_size, true),
        settings: format!(
            "SET LOCAL lock_timeout = '{}ms'; SET LOCAL gate.backfill = 'on'",
            options.lock_timeout.as_millis()
        ),
        high: p.high_key.clone().unwrap_or_default(),
    };
    let started = Instant::now();
    let done_at_start = p.done;
    loop {
        let (rate, cancel) = state::controls(client, &record.name).await?;
        if cancel {
            return Err(ExpandError::Cancelled);
        }
        let batch_started = Instant::now();
        let (rows, last) = run_batch_retrying(client, record, &batches, &p, options).await?;
        p = advanced(&p, rows, last);
        record.backfill.insert(table.name.clone(), p.clone());
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        progress(&Batch {
            table: table.name.clone(),
            done: p.done,
            total: p.total.max(p.done),
            rows_per_sec: (p.done - done_at_start) as f64 / secs,
            rate,
            finished: p.finished,
        });
        if p.finished {
            return Ok(());
        }
        let wait = pause_after(options, rate, rows, batch_started.elapsed());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
