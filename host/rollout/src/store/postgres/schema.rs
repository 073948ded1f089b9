//! The `gate` schema: its tables, numbered migrations and the version
//! check. On connect, a schema at this gate's version is used as it is (no
//! DDL, so a user without `CREATE` can run gate once the schema exists);
//! otherwise the schema is created and migrated in one transaction under
//! `pg_advisory_xact_lock`, so runners starting at once apply each
//! migration exactly once. A database migrated by a newer gate is refused.

use tokio_postgres::Client;

use super::super::StoreError;
use gate_sandbox::postgres::db_error;

/// The schema every table lives in.
pub const SCHEMA: &str = "gate";

/// The advisory lock taken while migrating ("gate" in ASCII).
const MIGRATION_LOCK: i64 = 0x6761_7465;

/// Migration `n` is `MIGRATIONS[n - 1]`; never edit one that shipped, add
/// the next.
fn migrations() -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {SCHEMA}.rollouts (
             name text PRIMARY KEY,
             state jsonb,
             revision bigint NOT NULL DEFAULT 0,
             lease_holder text,
             lease_token bigint NOT NULL DEFAULT 0,
             lease_expires timestamptz
         );
         CREATE TABLE {SCHEMA}.archived_states (
             id bigserial PRIMARY KEY,
             rollout text NOT NULL,
             state jsonb NOT NULL,
             archived_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE TABLE {SCHEMA}.commands (
             id bigserial PRIMARY KEY,
             rollout text NOT NULL,
             body jsonb NOT NULL,
             created timestamptz NOT NULL DEFAULT now(),
             done_at timestamptz
         );
         CREATE INDEX commands_pending ON {SCHEMA}.commands (rollout, id) WHERE done_at IS NULL;
         CREATE TABLE {SCHEMA}.events (
             id bigserial PRIMARY KEY,
             rollout text NOT NULL,
             body jsonb NOT NULL
         );
         {}",
            gate_audit::pg::create_tables(SCHEMA)
        ),
        // 2: incidents (docs/incidents.md), one per rollout, run and trigger kind,
        // numbered per rollout and UTC day.
        format!(
            "CREATE TABLE {SCHEMA}.incidents (
             id text PRIMARY KEY,
             rollout text NOT NULL,
             run_id text NOT NULL,
             trigger text NOT NULL,
             day date NOT NULL,
             n integer NOT NULL,
             opened timestamptz NOT NULL DEFAULT now(),
             body jsonb NOT NULL,
             UNIQUE (rollout, run_id, trigger),
             UNIQUE (rollout, day, n)
         );"
        ),
        // 3: the notification outbox shared by a rollout's runners
        // (store::postgres::outbox), and its targets' state (a Slack thread).
        format!(
            "CREATE TABLE {SCHEMA}.notify_outbox (
             rollout text NOT NULL,
             target text NOT NULL,
             event_id text NOT NULL,
             seq bigint NOT NULL,
             entry jsonb NOT NULL,
             enqueued timestamptz NOT NULL DEFAULT now(),
             delivered_at timestamptz,
             PRIMARY KEY (rollout, target, event_id)
         );
         CREATE INDEX notify_outbox_pending ON {SCHEMA}.notify_outbox (rollout, seq)
             WHERE delivered_at IS NULL;
         CREATE TABLE {SCHEMA}.notify_state (
             rollout text NOT NULL,
             name text NOT NULL,
             body bytea NOT NULL,
             PRIMARY KEY (rollout, name)
         );"
        ),
    ]
}

/// The schema version this gate writes and reads.
pub fn current() -> i32 {
    migrations().len() as i32
}

/// Brings the schema to [`current`], or refuses a newer one.
pub async fn ensure(client: &mut Client, at: &str) -> Result<(), StoreError> {
    let unusable = |what: &str, e: tokio_postgres::Error| {
        StoreError::Unusable(format!("{at}: {what}: {}", db_error(&e)))
    };
    if let Some(version) = version(client)
        .await
        .map_err(|e| unusable("reading the schema version", e))?
    {
        check_not_newer(version, at)?;
        if version == current() {
            return Ok(());
        }
    }
    let tx = client
        .transaction()
        .await
        .map_err(|e| unusable("beginning the migration", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| unusable("locking the migration", e))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {SCHEMA};
         CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_version (
             id smallint PRIMARY KEY CHECK (id = 1),
             version integer NOT NULL
         );"
    ))
    .await
    .map_err(|e| unusable(&format!("creating the `{SCHEMA}` schema"), e))?;
    let row = tx
        .query_opt(
            &format!("SELECT version FROM {SCHEMA}.schema_version WHERE id = 1"),
            &[],
        )
        .await
        .map_err(|e| unusable("reading the schema version", e))?;
    let from = row.map_or(0, |r| r.get::<_, i32>(0));
    check_not_newer(from, at)?;
    for (n, migration) in migrations().iter().enumerate().skip(from.max(0) as usize) {
        tx.batch_execute(migration)
            .await
            .map_err(|e| unusable(&format!("applying schema migration {}", n + 1), e))?;
    }
    tx.execute(
        &format!(
            "INSERT INTO {SCHEMA}.schema_version (id, version) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version"
        ),
        &[&current()],
    )
    .await
    .map_err(|e| unusable("recording the schema version", e))?;
    tx.commit()
        .await
        .map_err(|e| unusable("committing the migration", e))
}

/// The recorded version, `None` before the schema exists.
async fn version(client: &Client) -> Result<Option<i32>, tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{SCHEMA}.schema_version")],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!("SELECT version FROM {SCHEMA}.schema_version WHERE id = 1"),
            &[],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

fn check_not_newer(version: i32, at: &str) -> Result<(), StoreError> {
    if version > current() {
        return Err(StoreError::Unusable(format!(
            "{at}: the `{SCHEMA}` schema is at version {version}, newer than this gate knows ({}); \
             run the gate release that migrated it (or a newer one)",
            current()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_numbered_from_one_and_newer_ones_are_refused() {
        assert!(current() >= 1);
        assert!(check_not_newer(current(), "db").is_ok());
        let e = check_not_newer(current() + 1, "postgres://u@h/d").unwrap_err();
        assert!(matches!(e, StoreError::Unusable(_)));
        assert!(e.to_string().contains("newer than this gate knows"), "{e}");
    }
}
