//! The audit log in PostgreSQL: the same entries, tree and signed
//! checkpoints as the audit directory ([`crate::log`]), kept in three tables
//! of a schema the caller names (the rollout store's, `gate` by default):
//!
//! - `audit_entries (seq, line)`: one canonical JSON line per entry;
//! - `audit_checkpoints (size, note)`: the signed checkpoint of each append;
//! - `audit_head (id = 1, head)`: the tree's frontier and last time after
//!   the last append, the row every append locks.
//!
//! An append is one transaction (`SELECT … FOR UPDATE` on the head, seal,
//! insert the entry and its checkpoint, update the head, commit with
//! `synchronous_commit = on`), so there is no torn entry to recover. Reading
//! builds a [`Snapshot`] from the rows (lines joined by newlines, notes one
//! after another), so [`crate::verify`] and [`crate::InclusionProof`] work on
//! it unchanged. This module runs statements on a client it is given; it
//! never connects.

use std::path::PathBuf;

use tokio_postgres::{Client, GenericClient};

use crate::error::AuditError;
use crate::log::{Appended, Draft};
use crate::note::Signer;
use crate::seal::{Head, seal};
use crate::snapshot::Snapshot;
use crate::verify::Verified;

/// The statements that create the audit tables in `schema` (which exists).
pub fn create_tables(schema: &str) -> String {
    format!(
        "CREATE TABLE {schema}.audit_entries (seq bigint PRIMARY KEY, line bytea NOT NULL);
         CREATE TABLE {schema}.audit_checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
         CREATE TABLE {schema}.audit_head (id smallint PRIMARY KEY CHECK (id = 1), head jsonb NOT NULL);
         INSERT INTO {schema}.audit_head (id, head) VALUES (1, '{{\"size\":0,\"last_time\":null,\"frontier\":[]}}');"
    )
}

/// Where a log in PostgreSQL is, for messages: `location` (a URL without
/// its password) and the table.
fn at(location: &str, schema: &str, table: &str) -> PathBuf {
    PathBuf::from(format!("{location}#{schema}.{table}"))
}

fn failed(location: &str, schema: &str, what: &str, e: &tokio_postgres::Error) -> AuditError {
    let reason = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    AuditError::Io {
        path: at(location, schema, "audit_head"),
        message: format!("{what}: {reason}"),
        help: "check that the database is reachable and that its user may read and write \
               the gate schema (docs/audit.md, \"The audit log in PostgreSQL\")"
            .into(),
    }
}

/// Appends `draft` in one transaction, committed durably before returning.
pub async fn append(
    client: &mut Client,
    schema: &str,
    location: &str,
    signer: &Signer,
    draft: Draft,
) -> Result<Appended, AuditError> {
    let fail = |what: &str, e: tokio_postgres::Error| failed(location, schema, what, &e);
    let tx = client
        .transaction()
        .await
        .map_err(|e| fail("beginning the append", e))?;
    tx.batch_execute("SET LOCAL synchronous_commit = on")
        .await
        .map_err(|e| fail("setting synchronous_commit", e))?;
    let row = tx
        .query_one(
            &format!("SELECT head::text FROM {schema}.audit_head WHERE id = 1 FOR UPDATE"),
            &[],
        )
        .await
        .map_err(|e| fail("locking the log's head", e))?;
    let head: Head = serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| AuditError::Io {
        path: at(location, schema, "audit_head"),
        message: format!("the log's head does not read: {e}"),
        help: "run `gate audit verify` on this log".into(),
    })?;
    let sealed = seal(signer, &head, draft).map_err(|e| AuditError::Io {
        path: at(location, schema, "audit_head"),
        message: e.to_string(),
        help: "run `gate audit verify` on this log".into(),
    })?;
    let size = i64::try_from(sealed.head.size).unwrap_or(i64::MAX);
    let head_json = serde_json::to_string(&sealed.head).expect("a head serialises");
    tx.execute(
        &format!("INSERT INTO {schema}.audit_entries (seq, line) VALUES ($1, $2)"),
        &[&(size - 1), &sealed.line],
    )
    .await
    .map_err(|e| fail("inserting the entry", e))?;
    tx.execute(
        &format!("INSERT INTO {schema}.audit_checkpoints (size, note) VALUES ($1, $2)"),
        &[&size, &sealed.note],
    )
    .await
    .map_err(|e| fail("inserting the checkpoint", e))?;
    tx.execute(
        &format!("UPDATE {schema}.audit_head SET head = $1::text::jsonb WHERE id = 1"),
        &[&head_json],
    )
    .await
    .map_err(|e| fail("updating the log's head", e))?;
    tx.commit()
        .await
        .map_err(|e| fail("committing the append", e))?;
    Ok(Appended {
        entry: sealed.entry,
        checkpoint: sealed.note,
        recovered: None,
    })
}

/// A log read from PostgreSQL: its rows as a [`Snapshot`], and the size its
/// head row records.
#[derive(Clone, Debug)]
pub struct Read {
    pub snapshot: Snapshot,
    pub recorded_size: u64,
}

/// Rows cut off the end together with their checkpoints leave a log that
/// verifies on its own; the head row still counts them. `verified` is what
/// [`crate::verify`] found in `snapshot`; `recorded_size` the head's size.
pub fn check_size(
    snapshot: &Snapshot,
    recorded_size: u64,
    verified: &Verified,
) -> Result<(), AuditError> {
    if verified.entries == recorded_size {
        return Ok(());
    }
    let seq = verified.entries.min(recorded_size);
    Err(AuditError::Tampered {
        path: snapshot.entries_path.clone(),
        seq,
        line: seq + 1,
        problem: format!(
            "the log holds {} entries but its head records {recorded_size}: entries were \
             removed from (or added to) its end",
            verified.entries
        ),
        help: "the log is not what was recorded from this entry on; keep a copy for the \
               investigation and compare it with your backups or a published checkpoint"
            .into(),
    })
}

/// Reads the whole log in one repeatable-read transaction; `None` when the
/// schema has no audit tables.
pub async fn read(
    client: &mut Client,
    schema: &str,
    location: &str,
) -> Result<Option<Read>, AuditError> {
    let fail = |what: &str, e: tokio_postgres::Error| failed(location, schema, what, &e);
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| fail("beginning the read", e))?;
    let exists = tx
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.audit_head")],
        )
        .await
        .map_err(|e| fail("looking for the audit tables", e))?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let head = tx
        .query_opt(
            &format!("SELECT (head->>'size')::bigint FROM {schema}.audit_head WHERE id = 1"),
            &[],
        )
        .await
        .map_err(|e| fail("reading the log's head", e))?;
    let recorded_size = head
        .and_then(|r| r.get::<_, Option<i64>>(0))
        .map_or(0, |s| u64::try_from(s).unwrap_or(0));
    let entries = rows_joined(
        &tx,
        &format!("SELECT line FROM {schema}.audit_entries ORDER BY seq"),
        true,
    )
    .await
    .map_err(|e| fail("reading the entries", e))?;
    let checkpoints = rows_joined(
        &tx,
        &format!("SELECT convert_to(note, 'UTF8') FROM {schema}.audit_checkpoints ORDER BY size"),
        false,
    )
    .await
    .map_err(|e| fail("reading the checkpoints", e))?;
    Ok(Some(Read {
        snapshot: Snapshot {
            entries_path: at(location, schema, "audit_entries"),
            checkpoints_path: at(location, schema, "audit_checkpoints"),
            entries,
            checkpoints,
        },
        recorded_size,
    }))
}

/// The `bytea` column of every row, one after another; with `lines`, each
/// followed by a newline.
async fn rows_joined(
    client: &impl GenericClient,
    query: &str,
    lines: bool,
) -> Result<Vec<u8>, tokio_postgres::Error> {
    let mut out = Vec::new();
    for row in client.query(query, &[]).await? {
        out.extend_from_slice(row.get::<_, &[u8]>(0));
        if lines {
            out.push(b'\n');
        }
    }
    Ok(out)
}
