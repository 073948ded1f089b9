//! The notification outbox of a rollout with shared state
//! (`gate.notify_outbox`, `gate.notify_state`): every runner of the spec
//! enqueues to and delivers from the same rows, so a notification enqueued
//! by a runner that died is delivered by the next one, once.
//!
//! - An entry is keyed by (rollout, target, event id): enqueued again, by
//!   this runner after a restart or by another, it is one row
//!   (`ON CONFLICT DO NOTHING`). The insert is committed before
//!   [`Outbox::enqueue`] returns, as the file outbox's fsync is.
//! - A delivery round holds a session-level advisory lock on the rollout's
//!   outbox (`pg_try_advisory_lock`), so two runners never deliver the same
//!   entry at once; PostgreSQL drops the lock of a session that ends (a
//!   killed runner).
//!
//! The outbox has a session of its own, so a delivery round never waits
//! for the store's (the lease heartbeat, the event writer) or they for it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gate_notify::NotifyError;
use gate_notify::outbox::{Entry, Outbox, RoundLock, sort};
use gate_sandbox::postgres::{Session, db_error};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Mutex;

use super::schema::SCHEMA;
use super::{DbUrl, connect};
use crate::store::StoreError;

/// How long an enqueue may wait for the database before it gives up (the
/// rollout goes on; the failure is shown).
const ENQUEUE_LIMIT: Duration = Duration::from_secs(2);

/// The advisory lock class of delivery rounds ("noti" in ASCII); the key is
/// the rollout's name, hashed.
const ROUND_LOCK_CLASS: i32 = 0x6e6f_7469;

pub struct PgOutbox {
    rollout: String,
    url: DbUrl,
    session: Arc<Mutex<Session>>,
}

impl PgOutbox {
    /// Connects to `url` for the outbox of rollout `rollout`.
    pub async fn open(rollout: &str, url: &DbUrl) -> Result<PgOutbox, StoreError> {
        Ok(PgOutbox {
            rollout: rollout.to_string(),
            url: url.clone(),
            session: Arc::new(Mutex::new(connect(url).await?)),
        })
    }

    fn failed(&self, what: &str, e: &tokio_postgres::Error) -> NotifyError {
        NotifyError::Outbox(format!("{}: {what}: {}", self.url.shown(), db_error(e)))
    }
}

/// Runs `work` to its end from synchronous code inside the runtime, for at
/// most `limit`.
fn wait_for<F: Future>(limit: Duration, work: F) -> Result<F::Output, NotifyError> {
    let handle = Handle::try_current()
        .map_err(|_| NotifyError::Outbox("no async runtime to reach the database".into()))?;
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return Err(NotifyError::Outbox(
            "the PostgreSQL outbox needs a multi-threaded runtime".into(),
        ));
    }
    tokio::task::block_in_place(|| handle.block_on(tokio::time::timeout(limit, work))).map_err(
        |_| {
            NotifyError::Outbox(format!(
                "the database did not answer within {} s",
                limit.as_secs()
            ))
        },
    )
}

fn encode(entry: &Entry) -> Result<String, NotifyError> {
    serde_json::to_string(entry).map_err(|e| NotifyError::Outbox(e.to_string()))
}

/// The held round lock: released when dropped (by a task on the runtime,
/// or by PostgreSQL when the session ends first).
struct Held {
    session: Arc<Mutex<Session>>,
    rollout: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let session = self.session.clone();
        let rollout = std::mem::take(&mut self.rollout);
        if let Ok(handle) = Handle::try_current() {
            handle.spawn(async move {
                let s = session.lock().await;
                let _ = s
                    .client
                    .execute(
                        "SELECT pg_advisory_unlock($1, hashtext($2))",
                        &[&ROUND_LOCK_CLASS, &rollout],
                    )
                    .await;
            });
        }
    }
}

#[async_trait]
impl Outbox for PgOutbox {
    fn describe(&self) -> String {
        format!(
            "{} (table {SCHEMA}.notify_outbox, rollout `{}`)",
            self.url.shown(),
            self.rollout
        )
    }

    fn enqueue(&self, entry: &Entry) -> Result<bool, NotifyError> {
        let body = encode(entry)?;
        let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
        let inserted = wait_for(ENQUEUE_LIMIT, async {
            let s = self.session.lock().await;
            s.client
                .execute(
                    &format!(
                        "INSERT INTO {SCHEMA}.notify_outbox (rollout, target, event_id, seq, entry)
                         VALUES ($1, $2, $3, $4, $5::text::jsonb)
                         ON CONFLICT DO NOTHING"
                    ),
                    &[&self.rollout, &entry.target, &entry.event.id, &seq, &body],
                )
                .await
        })?
        .map_err(|e| self.failed("enqueuing a notification", &e))?;
        Ok(inserted == 1)
    }

    async fn update(&self, entry: &Entry) -> Result<(), NotifyError> {
        let body = encode(entry)?;
        let s = self.session.lock().await;
        s.client
            .execute(
                &format!(
                    "UPDATE {SCHEMA}.notify_outbox
                     SET entry = $4::text::jsonb,
                         delivered_at = CASE WHEN $5 THEN coalesce(delivered_at, now()) END
                     WHERE rollout = $1 AND target = $2 AND event_id = $3"
                ),
                &[
                    &self.rollout,
                    &entry.target,
                    &entry.event.id,
                    &body,
                    &entry.delivered_ms.is_some(),
                ],
            )
            .await
            .map_err(|e| self.failed("updating a notification", &e))?;
        Ok(())
    }

    async fn entries(&self) -> Result<Vec<Entry>, NotifyError> {
        let s = self.session.lock().await;
        let rows = s
            .client
            .query(
                &format!(
                    "SELECT target, event_id, entry::text FROM {SCHEMA}.notify_outbox
                     WHERE rollout = $1"
                ),
                &[&self.rollout],
            )
            .await
            .map_err(|e| self.failed("reading the outbox", &e))?;
        let mut entries = Vec::new();
        for row in rows {
            let text: String = row.get(2);
            match serde_json::from_str::<Entry>(&text) {
                Ok(e) => entries.push(e),
                Err(e) => tracing::warn!(
                    "{}: outbox row ({}, {}) is not an entry: {e}",
                    self.url.shown(),
                    row.get::<_, String>(0),
                    row.get::<_, String>(1)
                ),
            }
        }
        sort(&mut entries);
        Ok(entries)
    }

    async fn lock(&self) -> Result<RoundLock, NotifyError> {
        let s = self.session.lock().await;
        let taken: bool = s
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&ROUND_LOCK_CLASS, &self.rollout],
            )
            .await
            .map_err(|e| self.failed("locking the outbox", &e))?
            .get(0);
        Ok(if taken {
            RoundLock::Held(Box::new(Held {
                session: self.session.clone(),
                rollout: self.rollout.clone(),
            }))
        } else {
            RoundLock::Busy
        })
    }

    async fn read_state(&self, name: &str) -> Result<Option<Vec<u8>>, NotifyError> {
        let s = self.session.lock().await;
        let row = s
            .client
            .query_opt(
                &format!("SELECT body FROM {SCHEMA}.notify_state WHERE rollout = $1 AND name = $2"),
                &[&self.rollout, &name],
            )
            .await
            .map_err(|e| self.failed("reading a target's state", &e))?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn write_state(&self, name: &str, bytes: &[u8]) -> Result<(), NotifyError> {
        let s = self.session.lock().await;
        s.client
            .execute(
                &format!(
                    "INSERT INTO {SCHEMA}.notify_state (rollout, name, body) VALUES ($1, $2, $3)
                     ON CONFLICT (rollout, name) DO UPDATE SET body = EXCLUDED.body"
                ),
                &[&self.rollout, &name, &bytes],
            )
            .await
            .map_err(|e| self.failed("writing a target's state", &e))?;
        Ok(())
    }
}
