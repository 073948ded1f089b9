//! The lease on a rollout's row: taken when free or expired, with a fencing
//! token one larger than any before it; renewed only by its holder while it
//! is live; expiring by the database's clock (`now()`), never a runner's.
//! A held lease is kept alive by a heartbeat every third of its TTL, and
//! released when the runner finishes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, oneshot};
use tokio_postgres::{Client, Row};

use super::super::{Holder, StoreError};
use super::background::Finishing;
use super::schema::SCHEMA;
use gate_sandbox::postgres::{Session, db_error};

/// How often a held lease is renewed: three renewals fit in one TTL, so one
/// or two slow round trips do not lose it.
pub fn renew_every(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(100))
}

/// The TTL as the milliseconds the statements add to `now()`.
pub fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// The columns every lease statement returns, as a holder.
const HOLDER_COLUMNS: &str = "lease_holder, lease_token, \
     (extract(epoch FROM lease_expires) * 1000)::bigint";

fn holder_of(row: &Row) -> Option<Holder> {
    Some(Holder {
        runner: row.get::<_, Option<String>>(0)?,
        token: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
        expires_unix_ms: row
            .get::<_, Option<i64>>(2)
            .and_then(|ms| u64::try_from(ms).ok()),
    })
}

fn io(what: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Io(format!("{what}: {}", db_error(e)))
}

/// Takes the lease of `rollout` for `runner` when it is free or expired.
pub async fn acquire(
    client: &Client,
    rollout: &str,
    runner: &str,
    ttl: Duration,
) -> Result<Result<Holder, Holder>, StoreError> {
    let taken = client
        .query_opt(
            &format!(
                "INSERT INTO {SCHEMA}.rollouts AS r (name, lease_holder, lease_token, lease_expires)
                 VALUES ($1, $2, 1, now() + $3::bigint * interval '1 millisecond')
                 ON CONFLICT (name) DO UPDATE
                    SET lease_holder = EXCLUDED.lease_holder,
                        lease_token = r.lease_token + 1,
                        lease_expires = EXCLUDED.lease_expires
                  WHERE r.lease_holder IS NULL OR r.lease_expires IS NULL OR r.lease_expires < now()
                 RETURNING {HOLDER_COLUMNS}"
            ),
            &[&rollout, &runner, &ttl_ms(ttl)],
        )
        .await
        .map_err(|e| io("taking the lease", &e))?;
    if let Some(holder) = taken.as_ref().and_then(holder_of) {
        return Ok(Ok(holder));
    }
    // Held by a live runner (or it expired this very moment: say who had it).
    let current = live_holder(client, rollout).await?;
    Ok(Err(current.unwrap_or(Holder {
        runner: "another runner".into(),
        token: 0,
        expires_unix_ms: None,
    })))
}

/// The live holder of `rollout`'s lease: expired leases are nobody's.
pub async fn live_holder(client: &Client, rollout: &str) -> Result<Option<Holder>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {HOLDER_COLUMNS} FROM {SCHEMA}.rollouts
                  WHERE name = $1 AND lease_holder IS NOT NULL AND lease_expires >= now()"
            ),
            &[&rollout],
        )
        .await
        .map_err(|e| io("reading the lease", &e))?;
    Ok(row.as_ref().and_then(holder_of))
}

/// Extends `held` by the TTL if it is still the live lease; else
/// [`StoreError::LeaseLost`] naming whoever holds it now.
pub async fn renew(
    client: &Client,
    rollout: &str,
    held: &Holder,
    ttl: Duration,
) -> Result<(), StoreError> {
    let token = i64::try_from(held.token).unwrap_or(i64::MAX);
    let renewed = client
        .execute(
            &format!(
                "UPDATE {SCHEMA}.rollouts SET lease_expires = now() + $4::bigint * interval '1 millisecond'
                  WHERE name = $1 AND lease_token = $2 AND lease_holder = $3
                    AND lease_expires >= now()"
            ),
            &[&rollout, &token, &held.runner, &ttl_ms(ttl)],
        )
        .await
        .map_err(|e| io("renewing the lease", &e))?;
    if renewed == 1 {
        return Ok(());
    }
    Err(StoreError::LeaseLost {
        rollout: rollout.to_string(),
        holder: live_holder(client, rollout).await?,
    })
}

/// Gives the lease up, if it is still `held`'s, so the next runner need not
/// wait for it to expire.
async fn release(client: &Client, rollout: &str, held: &Holder) {
    let token = i64::try_from(held.token).unwrap_or(i64::MAX);
    let _ = client
        .execute(
            &format!(
                "UPDATE {SCHEMA}.rollouts SET lease_holder = NULL, lease_expires = NULL
                  WHERE name = $1 AND lease_token = $2 AND lease_holder = $3"
            ),
            &[&rollout, &token, &held.runner],
        )
        .await;
}

/// What keeps a held lease alive: a heartbeat renewing it every third of
/// its TTL until the lease is dropped (then released) or lost.
pub struct Heartbeat {
    stop: Option<oneshot::Sender<()>>,
    finished: Finishing,
}

impl Heartbeat {
    pub fn start(
        session: Arc<Mutex<Session>>,
        rollout: String,
        held: Holder,
        ttl: Duration,
    ) -> Result<Heartbeat, StoreError> {
        let (stop, mut stopped) = oneshot::channel();
        let finished = Finishing::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => {
                        release(&session.lock().await.client, &rollout, &held).await;
                        return;
                    }
                    () = tokio::time::sleep(renew_every(ttl)) => {
                        let session = session.lock().await;
                        // Lost for good: the next fence says so. A failed
                        // round trip is tried again at the next beat.
                        if let Err(StoreError::LeaseLost { .. }) =
                            renew(&session.client, &rollout, &held, ttl).await
                        {
                            return;
                        }
                    }
                }
            }
        })?;
        Ok(Heartbeat {
            stop: Some(stop),
            finished,
        })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.finished.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_fit_three_times_in_a_ttl() {
        assert_eq!(renew_every(Duration::from_secs(15)), Duration::from_secs(5));
        assert_eq!(
            renew_every(Duration::from_secs(2)),
            Duration::from_secs(2) / 3
        );
        assert_eq!(
            renew_every(Duration::from_millis(90)),
            Duration::from_millis(100)
        );
        assert_eq!(ttl_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(ttl_ms(Duration::MAX), i64::MAX);
    }
}
