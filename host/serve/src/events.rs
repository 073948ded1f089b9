//! `/api/events`: the served rollouts' events as server-sent events, as they
//! happen. Each rollout's event log is polled through its store with
//! `read_events` from the last position sent, so every event is sent once
//! per connection; a comment line keeps idle connections open. A connection
//! opens each rollout's store once (for a database, one client) and opens it
//! again only after a read through it failed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use gate_rollout::store::Store;
use serde_json::json;

use crate::app::App;
use crate::error::ApiError;

/// How often the event logs are read.
pub const POLL: Duration = Duration::from_millis(300);
/// Events read per rollout and poll at most.
const BATCH: usize = 256;

/// `?from=start` sends every recorded event first; by default only events
/// recorded after the connection opened are sent.
#[derive(Debug, Default, serde::Deserialize)]
pub struct From {
    pub from: Option<String>,
}

/// Where a connection is in each rollout's event log.
struct Cursor {
    app: Arc<App>,
    /// Per served spec (same order), the last position sent.
    positions: Vec<Option<u64>>,
    /// Per served spec, its store while reads through it succeed.
    stores: Vec<Option<Box<dyn Store>>>,
    queue: VecDeque<Event>,
}

pub async fn stream(
    State(app): State<Arc<App>>,
    Query(from): Query<From>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let positions = match from.from.as_deref() {
        Some("start") => vec![None; app.specs.len()],
        None | Some("now") => {
            let mut positions = Vec::with_capacity(app.specs.len());
            for spec in &app.specs {
                let store = gate_rollout::store::open(spec).await?;
                let all = store.read_events(None, usize::MAX).await?;
                positions.push(all.last().map(|(p, _)| *p));
            }
            positions
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "from: expected `start` or `now`".into(),
            ));
        }
    };
    let cursor = Cursor {
        stores: app.specs.iter().map(|_| None).collect(),
        app,
        positions,
        queue: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(event) = cursor.queue.pop_front() {
                return Some((Ok(event), cursor));
            }
            cursor.poll().await;
            if cursor.queue.is_empty() {
                tokio::time::sleep(POLL).await;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))))
}

impl Cursor {
    /// Reads what each rollout recorded since the last poll into the queue.
    async fn poll(&mut self) {
        for (i, spec) in self.app.specs.iter().enumerate() {
            if self.stores[i].is_none() {
                match gate_rollout::store::open(spec).await {
                    Ok(store) => self.stores[i] = Some(store),
                    Err(e) => {
                        tracing::warn!("opening the state of rollout `{}`: {e}", spec.name);
                        continue;
                    }
                }
            }
            let Some(store) = &self.stores[i] else {
                continue;
            };
            let events = match store.read_events(self.positions[i], BATCH).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!("reading the events of rollout `{}`: {e}", spec.name);
                    self.stores[i] = None;
                    continue;
                }
            };
            for (position, mut event) in events {
                self.positions[i] = Some(position);
                crate::view::scrub(&mut event);
                let data = json!({ "rollout": spec.name, "position": position, "event": event });
                match Event::default()
                    .event("rollout")
                    .id(format!("{}:{position}", spec.name))
                    .json_data(data)
                {
                    Ok(e) => self.queue.push_back(e),
                    Err(e) => tracing::warn!("an event could not be sent: {e}"),
                }
            }
        }
    }
}
