//! The state of expand/contract migrations, kept in the database it
//! migrates: schema `gate_migrate`, table `migrations`, one row per
//! migration with its phase, its operations and its backfill progress.
//! Commands that change the state hold a session advisory lock, so one
//! gate at a time works on migrations; the server drops the lock when the
//! session ends, however gate ends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient};

use super::ExpandError;
use super::ops::Operation;

/// The advisory lock key: "gate" in ASCII.
const LOCK_KEY: i64 = 0x6761_7465;

/// The state schema.
pub const STATE_SCHEMA: &str = "gate_migrate";

/// The phases of the state machine, as `status` shows them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Phase {
    /// No migration in progress: only the old schema is served.
    OldOnly,
    /// New columns, triggers and the new version's views exist: both
    /// versions are served and writes through either reach both.
    Expanded,
    /// Every existing row has its new columns filled.
    Backfilled,
    /// The new columns pass the new version's constraints.
    Validated,
    /// The old version is gone; the new version is the only one.
    Contracted,
    /// The expand was undone; the old version is the only one.
    RolledBack,
}

impl Phase {
    /// The forward path, in order.
    pub const PATH: [Phase; 5] = [
        Phase::OldOnly,
        Phase::Expanded,
        Phase::Backfilled,
        Phase::Validated,
        Phase::Contracted,
    ];

    /// Whether the migration is still in progress (not contracted nor
    /// rolled back).
    pub fn active(self) -> bool {
        matches!(self, Phase::Expanded | Phase::Backfilled | Phase::Validated)
    }
}

/// Backfill progress of one table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    /// Primary key of the last row backfilled, each column as text.
    pub last_key: Option<Vec<String>>,
    /// The highest key when the backfill began: rows after it were written
    /// with the triggers in place.
    pub high_key: Option<Vec<String>>,
    pub done: u64,
    pub total: u64,
    pub finished: bool,
}

/// One migration's row.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    pub name: String,
    /// The schema of the tables.
    pub schema: String,
    /// The schema the old version's applications use (views, or the
    /// tables' own schema when no gate migration came before).
    pub old_version: String,
    /// The schema of views for the new version.
    pub new_version: String,
    pub phase: Phase,
    pub operations: Vec<Operation>,
    /// The operations file as given to `start`, and its digest.
    pub file: String,
    pub file_sha256: String,
    pub backfill: BTreeMap<String, TableProgress>,
    /// Backfill rows per second; `None` is unlimited.
    pub rate: Option<i64>,
    /// The last validation's failures, if any.
    pub validation: Option<serde_json::Value>,
    pub started_at: String,
    pub updated_at: String,
}

fn db(during: &str) -> impl Fn(tokio_postgres::Error) -> ExpandError + '_ {
    move |e| ExpandError::db(during, &e)
}

/// Takes the migration lock for this session, or says who holds it.
pub async fn lock(client: &Client) -> Result<(), ExpandError> {
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(db("taking the migration lock"))?
        .get(0);
    if got {
        return Ok(());
    }
    let holder = client
        .query_opt(
            "SELECT l.pid, coalesce(a.application_name, '') FROM pg_locks l \
             LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
             AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1",
            &[&LOCK_KEY],
        )
        .await
        .map_err(db("finding the migration lock's holder"))?;
    let who = holder.map_or_else(
        || "another session".to_string(),
        |r| format!("backend pid {}", r.get::<_, i32>(0)),
    );
    Err(ExpandError::Busy(format!(
        "another gate is working on a migration of this database ({who} holds the migration lock); \
         wait for it, or stop it and run the command again"
    )))
}

/// Waits up to `seconds` for the migration lock.
pub async fn lock_waiting(client: &Client, seconds: u64) -> Result<(), ExpandError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        match lock(client).await {
            Err(ExpandError::Busy(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// Creates the state schema and table if they are missing.
pub async fn ensure(client: &Client) -> Result<(), ExpandError> {
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS gate_migrate;
             CREATE TABLE IF NOT EXISTS gate_migrate.migrations (
                 name text PRIMARY KEY,
                 schema text NOT NULL,
                 old_version text NOT NULL,
                 new_version text NOT NULL,
                 phase text NOT NULL,
                 operations jsonb NOT NULL,
                 file text NOT NULL,
                 file_sha256 text NOT NULL,
                 backfill jsonb NOT NULL DEFAULT '{}'::jsonb,
                 rate bigint,
                 cancel boolean NOT NULL DEFAULT false,
                 validation jsonb,
                 started_at timestamptz NOT NULL DEFAULT now(),
                 updated_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(db("creating the state table gate_migrate.migrations"))
}

/// Whether the state table exists (status reads without creating it).
pub async fn exists(client: &Client) -> Result<bool, ExpandError> {
    Ok(client
        .query_one(
            "SELECT to_regclass('gate_migrate.migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(db("looking for the state table"))?
        .get(0))
}

const COLUMNS: &str = "name, schema, old_version, new_version, phase, operations::text, file, \
     file_sha256, backfill::text, rate, validation::text, \
     to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
     to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

fn record(row: &tokio_postgres::Row) -> Result<Record, ExpandError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        ExpandError::State(format!(
            "gate_migrate.migrations row `{}`: {what} cannot be read: {e}",
            row.get::<_, String>(0)
        ))
    };
    let phase: String = row.get(4);
    let validation: Option<String> = row.get(10);
    Ok(Record {
        name: row.get(0),
        schema: row.get(1),
        old_version: row.get(2),
        new_version: row.get(3),
        phase: phase.parse().map_err(|e| corrupt("phase", &e))?,
        operations: serde_json::from_str(row.get(5)).map_err(|e| corrupt("operations", &e))?,
        file: row.get(6),
        file_sha256: row.get(7),
        backfill: serde_json::from_str(row.get(8)).map_err(|e| corrupt("backfill", &e))?,
        rate: row.get(9),
        validation: validation
            .map(|v| serde_json::from_str(&v))
            .transpose()
            .map_err(|e| corrupt("validation", &e))?,
        started_at: row.get(11),
        updated_at: row.get(12),
    })
}

/// The migration in progress, if any.
pub async fn active(client: &impl GenericClient) -> Result<Option<Record>, ExpandError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM gate_migrate.migrations \
                 WHERE phase IN ('expanded', 'backfilled', 'validated') ORDER BY started_at"
            ),
            &[],
        )
        .await
        .map_err(db("reading gate_migrate.migrations"))?;
    rows.first().map(record).transpose()
}

/// Every migration, latest first.
pub async fn history(client: &impl GenericClient) -> Result<Vec<Record>, ExpandError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM gate_migrate.migrations ORDER BY updated_at DESC, started_at DESC"
            ),
            &[],
        )
        .await
        .map_err(db("reading gate_migrate.migrations"))?;
    rows.iter().map(record).collect()
}

/// The migration named `name`.
pub async fn get(client: &impl GenericClient, name: &str) -> Result<Option<Record>, ExpandError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM gate_migrate.migrations WHERE name = $1"),
            &[&name],
        )
        .await
        .map_err(db("reading gate_migrate.migrations"))?;
    rows.first().map(record).transpose()
}

/// The version schema of the last contracted migration of `schema`, if it
/// still exists: the old version of the next migration.
pub async fn current_version(
    client: &impl GenericClient,
    schema: &str,
) -> Result<Option<String>, ExpandError> {
    let row = client
        .query_opt(
            "SELECT m.new_version FROM gate_migrate.migrations m \
             WHERE m.schema = $1 AND m.phase = 'contracted' \
             AND EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = m.new_version) \
             ORDER BY m.updated_at DESC LIMIT 1",
            &[&schema],
        )
        .await
        .map_err(db("reading gate_migrate.migrations"))?;
    Ok(row.map(|r| r.get(0)))
}

/// Inserts a new migration in phase `expanded` (inside the expand's
/// transaction).
pub async fn insert(client: &impl GenericClient, r: &Record) -> Result<(), ExpandError> {
    let operations = serde_json::to_string(&r.operations).expect("serialisable");
    client
        .execute(
            "INSERT INTO gate_migrate.migrations \
             (name, schema, old_version, new_version, phase, operations, file, file_sha256, rate) \
             VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8, $9)",
            &[
                &r.name,
                &r.schema,
                &r.old_version,
                &r.new_version,
                &r.phase.to_string(),
                &operations,
                &r.file,
                &r.file_sha256,
                &r.rate,
            ],
        )
        .await
        .map_err(db("recording the migration"))?;
    Ok(())
}

pub async fn delete(client: &impl GenericClient, name: &str) -> Result<(), ExpandError> {
    client
        .execute(
            "DELETE FROM gate_migrate.migrations WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(db("removing a rolled-back migration's record"))?;
    Ok(())
}

pub async fn set_phase(
    client: &impl GenericClient,
    name: &str,
    phase: Phase,
) -> Result<(), ExpandError> {
    client
        .execute(
            "UPDATE gate_migrate.migrations SET phase = $2, updated_at = now() WHERE name = $1",
            &[&name, &phase.to_string()],
        )
        .await
        .map_err(db("recording the migration's phase"))?;
    Ok(())
}

pub async fn set_backfill(
    client: &impl GenericClient,
    name: &str,
    backfill: &BTreeMap<String, TableProgress>,
) -> Result<(), ExpandError> {
    let json = serde_json::to_string(backfill).expect("serialisable");
    client
        .execute(
            "UPDATE gate_migrate.migrations SET backfill = $2::text::jsonb, updated_at = now() WHERE name = $1",
            &[&name, &json],
        )
        .await
        .map_err(db("recording backfill progress"))?;
    Ok(())
}

pub async fn set_validation(
    client: &impl GenericClient,
    name: &str,
    validation: Option<&serde_json::Value>,
) -> Result<(), ExpandError> {
    let json = validation.map(|v| v.to_string());
    client
        .execute(
            "UPDATE gate_migrate.migrations SET validation = $2::text::jsonb, updated_at = now() WHERE name = $1",
            &[&name, &json],
        )
        .await
        .map_err(db("recording the validation"))?;
    Ok(())
}

/// Sets the backfill rate of the migration in progress (rows per second,
/// `None` unlimited). Needs no lock: the backfill reads it between batches.
pub async fn set_rate(client: &Client, rate: Option<i64>) -> Result<String, ExpandError> {
    let row = client
        .query_opt(
            "UPDATE gate_migrate.migrations SET rate = $1 \
             WHERE phase IN ('expanded', 'backfilled', 'validated') RETURNING name",
            &[&rate],
        )
        .await
        .map_err(db("setting the backfill rate"))?;
    row.map(|r| r.get(0))
        .ok_or_else(|| ExpandError::State("no migration in progress".into()))
}

/// The rate and whether a rollback asked the backfill to stop.
pub async fn controls(client: &Client, name: &str) -> Result<(Option<i64>, bool), ExpandError> {
    let row = client
        .query_one(
            "SELECT rate, cancel FROM gate_migrate.migrations WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(db("reading the backfill rate"))?;
    Ok((row.get(0), row.get(1)))
}

pub async fn set_cancel(client: &Client, name: &str, cancel: bool) -> Result<(), ExpandError> {
    client
        .execute(
            "UPDATE gate_migrate.migrations SET cancel = $2 WHERE name = $1",
            &[&name, &cancel],
        )
        .await
        .map_err(db("signalling the backfill"))?;
    Ok(())
}

/// What `gate migrate status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The phase of the migration shown (`old-only` when there is none).
    pub phase: Phase,
    /// The state machine's forward path, in order.
    pub phases: Vec<Phase>,
    /// The migration in progress, else the latest one.
    pub migration: Option<Record>,
}

impl Status {
    pub fn of(migration: Option<Record>) -> Status {
        Status {
            phase: migration.as_ref().map_or(Phase::OldOnly, |m| m.phase),
            phases: Phase::PATH.to_vec(),
            migration,
        }
    }
}
