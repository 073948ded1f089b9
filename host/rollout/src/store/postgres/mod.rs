//! The PostgreSQL store (`[rollout] state = "postgres://…"`): one rollout
//! driven from many machines. The state, the lease, the command inbox, the
//! events and the audit log live in the `gate` schema ([`schema`]), so
//! `gate approve|status|rollback|abort` on any machine with the same spec
//! act on the running rollout within a tick.
//!
//! - [`url`]: the URL, its password kept out of messages, TLS modes refused;
//! - [`schema`]: tables, numbered migrations, the version check;
//! - [`lease`]: the lease with fencing tokens on the database clock, and its heartbeat;
//! - [`events`]: the event log written in order by a background task;
//! - [`outbox`]: the notification outbox every runner shares;
//! - [`background`]: tasks the process waits for before exiting.
//!
//! One session serves the store; the heartbeat and the event writer share
//! it. The connection is opened by `gate_sandbox::postgres::connect_with`,
//! the one place gate connects to PostgreSQL.

mod background;
mod events;
pub mod lease;
pub mod outbox;
pub mod schema;
pub mod url;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gate_audit::{Appended, Draft, key};
use gate_sandbox::postgres::{Session, connect_with, db_error};
use tokio::sync::Mutex;

use super::{EventSink, Holder, Lease, Store, StoreError};
use crate::incident::Incident;
use crate::spec::Spec;
use crate::state::{Command, RolloutState, unix_ms};
use schema::SCHEMA;
pub use url::{DbUrl, UrlError};

/// The largest state read back (as for the file store).
const MAX_STATE_BYTES: usize = 16 << 20;

pub struct PgStore {
    name: String,
    url: DbUrl,
    ttl: Duration,
    session: Arc<Mutex<Session>>,
}

/// Connects to `url` (durable commits on), and brings the schema to this
/// gate's version.
pub async fn connect(url: &DbUrl) -> Result<Session, StoreError> {
    let mut session = session(url).await?;
    schema::ensure(&mut session.client, url.shown()).await?;
    Ok(session)
}

/// Connects to `url` with durable commits, touching no schema (for readers
/// such as `gate audit verify`).
pub async fn session(url: &DbUrl) -> Result<Session, StoreError> {
    let session = connect_with(url.shown(), url.config())
        .await
        .map_err(|e| StoreError::Unusable(e.to_string()))?;
    session
        .client
        .batch_execute("SET synchronous_commit = on")
        .await
        .map_err(|e| StoreError::Unusable(format!("{}: {}", url.shown(), db_error(&e))))?;
    Ok(session)
}

impl PgStore {
    pub async fn open(spec: &Spec, url: &DbUrl) -> Result<PgStore, StoreError> {
        Ok(PgStore {
            name: spec.name.clone(),
            url: url.clone(),
            ttl: spec.lease_ttl,
            session: Arc::new(Mutex::new(connect(url).await?)),
        })
    }

    fn io(&self, what: &str, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Io(format!("{}: {what}: {}", self.url.shown(), db_error(e)))
    }

    fn lost(&self) -> StoreError {
        StoreError::LeaseLost {
            rollout: self.name.clone(),
            holder: None,
        }
    }
}

fn token(holder: &Holder) -> i64 {
    i64::try_from(holder.token).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for PgStore {
    fn describe(&self) -> String {
        format!("{} (schema {SCHEMA})", self.url.shown())
    }

    async fn acquire(&self, runner: &str) -> Result<Result<Lease, Holder>, StoreError> {
        let taken = {
            let session = self.session.lock().await;
            lease::acquire(&session.client, &self.name, runner, self.ttl).await?
        };
        Ok(match taken {
            Ok(holder) => {
                let heartbeat = lease::Heartbeat::start(
                    self.session.clone(),
                    self.name.clone(),
                    holder.clone(),
                    self.ttl,
                )?;
                Ok(Lease {
                    holder,
                    _guard: Some(Box::new(heartbeat)),
                })
            }
            Err(holder) => Err(holder),
        })
    }

    async fn holder(&self) -> Result<Option<Holder>, StoreError> {
        let session = self.session.lock().await;
        lease::live_holder(&session.client, &self.name).await
    }

    async fn fence(&self, lease: &Lease) -> Result<(), StoreError> {
        let session = self.session.lock().await;
        lease::renew(&session.client, &self.name, &lease.holder, self.ttl).await
    }

    async fn load(&self) -> Result<Option<RolloutState>, StoreError> {
        let session = self.session.lock().await;
        let row = session
            .client
            .query_opt(
                &format!("SELECT state::text FROM {SCHEMA}.rollouts WHERE name = $1"),
                &[&self.name],
            )
            .await
            .map_err(|e| self.io("reading the state", &e))?;
        let Some(text) = row.and_then(|r| r.get::<_, Option<String>>(0)) else {
            return Ok(None);
        };
        if text.len() > MAX_STATE_BYTES {
            return Err(StoreError::Io(format!(
                "{}: the state of `{}` is larger than {MAX_STATE_BYTES} bytes",
                self.url.shown(),
                self.name
            )));
        }
        serde_json::from_str(&text).map(Some).map_err(|e| {
            StoreError::Io(format!(
                "{}: corrupt state of rollout `{}`: {e}",
                self.url.shown(),
                self.name
            ))
        })
    }

    async fn save(&self, lease: &Lease, state: &mut RolloutState) -> Result<(), StoreError> {
        let mut next = state.clone();
        next.updated_unix_ms = unix_ms();
        next.revision += 1;
        let json = serde_json::to_string(&next).map_err(|e| StoreError::Io(e.to_string()))?;
        let revision = i64::try_from(next.revision).unwrap_or(i64::MAX);
        let session = self.session.lock().await;
        let written = session
            .client
            .execute(
                &format!(
                    "UPDATE {SCHEMA}.rollouts SET state = $3::text::jsonb, revision = $4
                      WHERE name = $1 AND lease_token = $2 AND lease_holder = $5"
                ),
                &[
                    &self.name,
                    &token(&lease.holder),
                    &json,
                    &revision,
                    &lease.holder.runner,
                ],
            )
            .await
            .map_err(|e| self.io("writing the state", &e))?;
        if written != 1 {
            let holder = lease::live_holder(&session.client, &self.name).await?;
            return Err(StoreError::LeaseLost {
                rollout: self.name.clone(),
                holder,
            });
        }
        *state = next;
        Ok(())
    }

    async fn archive(&self, lease: &Lease, old: &RolloutState) -> Result<(), StoreError> {
        let json = serde_json::to_string(old).map_err(|e| StoreError::Io(e.to_string()))?;
        let mut session = self.session.lock().await;
        let tx = session
            .client
            .transaction()
            .await
            .map_err(|e| self.io("archiving the state", &e))?;
        let cleared = tx
            .execute(
                &format!(
                    "UPDATE {SCHEMA}.rollouts SET state = NULL
                      WHERE name = $1 AND lease_token = $2 AND lease_holder = $3"
                ),
                &[&self.name, &token(&lease.holder), &lease.holder.runner],
            )
            .await
            .map_err(|e| self.io("archiving the state", &e))?;
        if cleared != 1 {
            return Err(self.lost());
        }
        tx.execute(
            &format!(
                "INSERT INTO {SCHEMA}.archived_states (rollout, state) VALUES ($1, $2::text::jsonb)"
            ),
            &[&self.name, &json],
        )
        .await
        .map_err(|e| self.io("archiving the state", &e))?;
        tx.execute(
            &format!(
                "UPDATE {SCHEMA}.commands SET done_at = now() WHERE rollout = $1 AND done_at IS NULL"
            ),
            &[&self.name],
        )
        .await
        .map_err(|e| self.io("dropping old commands", &e))?;
        tx.commit()
            .await
            .map_err(|e| self.io("archiving the state", &e))
    }

    async fn send(&self, command: &Command) -> Result<String, StoreError> {
        let body = serde_json::to_string(command).map_err(|e| StoreError::Io(e.to_string()))?;
        let session = self.session.lock().await;
        let row = session
            .client
            .query_one(
                &format!(
                    "INSERT INTO {SCHEMA}.commands (rollout, body) VALUES ($1, $2::text::jsonb) RETURNING id"
                ),
                &[&self.name, &body],
            )
            .await
            .map_err(|e| self.io("sending the command", &e))?;
        Ok(row.get::<_, i64>(0).to_string())
    }

    async fn pending(&self) -> Result<Vec<Command>, StoreError> {
        let session = self.session.lock().await;
        let rows = session
            .client
            .query(
                &format!(
                    "SELECT id, body::text FROM {SCHEMA}.commands
                      WHERE rollout = $1 AND done_at IS NULL ORDER BY id"
                ),
                &[&self.name],
            )
            .await
            .map_err(|e| self.io("reading commands", &e))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let mut command: Command = serde_json::from_str(row.get::<_, &str>(1)).ok()?;
                command.id = row.get::<_, i64>(0).to_string();
                Some(command)
            })
            .collect())
    }

    async fn done(&self, command: &Command) -> Result<(), StoreError> {
        let id: i64 = command.id.parse().map_err(|_| {
            StoreError::Io(format!(
                "`{}` is not a command id of this store",
                command.id
            ))
        })?;
        let session = self.session.lock().await;
        session
            .client
            .execute(
                &format!(
                    "UPDATE {SCHEMA}.commands SET done_at = now()
                      WHERE id = $1 AND rollout = $2 AND done_at IS NULL"
                ),
                &[&id, &self.name],
            )
            .await
            .map_err(|e| self.io("marking the command done", &e))?;
        Ok(())
    }

    fn events(&self) -> Result<Box<dyn EventSink>, StoreError> {
        Ok(Box::new(events::PgEvents::start(
            self.session.clone(),
            self.name.clone(),
        )?))
    }

    async fn read_events(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, serde_json::Value)>, StoreError> {
        // Positions are the rows' ids. Two writers (a runner and a CLI
        // recording a refusal) may commit ids out of order, so a reader
        // polling with `after` can miss an event written in that instant:
        // events inform, the audit log is the record.
        let after = after.map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let session = self.session.lock().await;
        let rows = session
            .client
            .query(
                &format!(
                    "SELECT id, body::text FROM {SCHEMA}.events
                      WHERE rollout = $1 AND id > $2 ORDER BY id LIMIT $3"
                ),
                &[&self.name, &after, &limit],
            )
            .await
            .map_err(|e| self.io("reading events", &e))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let id = u64::try_from(row.get::<_, i64>(0)).ok()?;
                Some((id, serde_json::from_str(row.get::<_, &str>(1)).ok()?))
            })
            .collect())
    }

    async fn record(&self, draft: Draft) -> Result<Appended, StoreError> {
        let signer = key::path().and_then(|p| key::load_or_create(&p))?;
        let mut session = self.session.lock().await;
        Ok(gate_audit::pg::append(
            &mut session.client,
            SCHEMA,
            self.url.shown(),
            &signer,
            draft,
        )
        .await?)
    }

    fn audit_location(&self) -> String {
        self.url.shown().to_string()
    }

    async fn audit_snapshot(&self) -> Result<Option<gate_audit::Snapshot>, StoreError> {
        let mut session = self.session.lock().await;
        let read = gate_audit::pg::read(&mut session.client, SCHEMA, self.url.shown()).await?;
        Ok(read.map(|r| r.snapshot))
    }

    async fn open_incident(&self, mut incident: Incident) -> Result<(Incident, bool), StoreError> {
        let io = |e: &tokio_postgres::Error| self.io("opening the incident", e);
        let trigger: &'static str = incident.trigger.kind().into();
        let mut session = self.session.lock().await;
        let tx = session.client.transaction().await.map_err(|e| io(&e))?;
        let same = tx
            .query_opt(
                &format!(
                    "SELECT body::text FROM {SCHEMA}.incidents
                      WHERE rollout = $1 AND run_id = $2 AND trigger = $3"
                ),
                &[&incident.rollout, &incident.run_id, &trigger],
            )
            .await
            .map_err(|e| io(&e))?;
        if let Some(row) = same {
            return Ok((parse_incident(&self.url, row.get(0))?, false));
        }
        let day = crate::incident::day(incident.opened_unix_ms);
        let n: i32 = tx
            .query_one(
                &format!(
                    "SELECT coalesce(max(n), 0) + 1 FROM {SCHEMA}.incidents
                      WHERE rollout = $1 AND day = $2::text::date"
                ),
                &[&incident.rollout, &day],
            )
            .await
            .map_err(|e| io(&e))?
            .get(0);
        incident.id = Incident::make_id(
            &incident.rollout,
            incident.opened_unix_ms,
            u32::try_from(n).unwrap_or(1),
        );
        let body = serde_json::to_string(&incident).map_err(|e| StoreError::Io(e.to_string()))?;
        tx.execute(
            &format!(
                "INSERT INTO {SCHEMA}.incidents (id, rollout, run_id, trigger, day, n, body)
                 VALUES ($1, $2, $3, $4, $5::text::date, $6, $7::text::jsonb)"
            ),
            &[
                &incident.id,
                &incident.rollout,
                &incident.run_id,
                &trigger,
                &day,
                &n,
                &body,
            ],
        )
        .await
        .map_err(|e| io(&e))?;
        tx.commit().await.map_err(|e| io(&e))?;
        Ok((incident, true))
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let body = serde_json::to_string(incident).map_err(|e| StoreError::Io(e.to_string()))?;
        let session = self.session.lock().await;
        session
            .client
            .execute(
                &format!("UPDATE {SCHEMA}.incidents SET body = $2::text::jsonb WHERE id = $1"),
                &[&incident.id, &body],
            )
            .await
            .map_err(|e| self.io("updating the incident", &e))?;
        Ok(())
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let session = self.session.lock().await;
        let rows = session
            .client
            .query(
                &format!(
                    "SELECT body::text FROM {SCHEMA}.incidents WHERE rollout = $1 ORDER BY opened, n"
                ),
                &[&self.name],
            )
            .await
            .map_err(|e| self.io("reading incidents", &e))?;
        let mut all = rows
            .iter()
            .map(|r| parse_incident(&self.url, r.get(0)))
            .collect::<Result<Vec<_>, _>>()?;
        Incident::sort(&mut all);
        Ok(all)
    }
}

fn parse_incident(url: &DbUrl, body: &str) -> Result<Incident, StoreError> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Io(format!("{}: a corrupt incident: {e}", url.shown())))
}
