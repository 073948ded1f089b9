//! The event log in PostgreSQL (`gate.events`): [`EventSink::write`] is
//! synchronous and must not fail the rollout, so it queues each event on an
//! unbounded channel to one task that inserts them in order; dropping the
//! sink waits briefly for the queue to drain.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use super::super::{EventSink, StoreError};
use super::background::Finishing;
use super::schema::SCHEMA;
use gate_sandbox::postgres::{Session, db_error};

pub struct PgEvents {
    queue: Option<mpsc::UnboundedSender<String>>,
    finished: Finishing,
}

impl PgEvents {
    pub fn start(session: Arc<Mutex<Session>>, rollout: String) -> Result<PgEvents, StoreError> {
        let (queue, mut queued) = mpsc::unbounded_channel::<String>();
        let finished = Finishing::spawn(async move {
            let mut warned = false;
            while let Some(event) = queued.recv().await {
                let session = session.lock().await;
                let inserted = session
                    .client
                    .execute(
                        &format!(
                            "INSERT INTO {SCHEMA}.events (rollout, body) VALUES ($1, $2::text::jsonb)"
                        ),
                        &[&rollout, &event],
                    )
                    .await;
                if let Err(e) = inserted
                    && !std::mem::replace(&mut warned, true)
                {
                    eprintln!(
                        "warning: events of `{rollout}` are not being stored: {}",
                        db_error(&e)
                    );
                }
            }
        })?;
        Ok(PgEvents {
            queue: Some(queue),
            finished,
        })
    }
}

impl EventSink for PgEvents {
    fn write(&self, event: &Value) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(event.to_string());
        }
    }
}

impl Drop for PgEvents {
    fn drop(&mut self) {
        // Closing the channel ends the task once it has inserted the rest.
        self.queue = None;
        self.finished.wait();
    }
}
