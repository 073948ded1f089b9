//! Delivery rounds: under the outbox lock, every pending entry that is due
//! is attempted once, with the rule's timeout; a 2xx answer marks it
//! delivered, anything else schedules the next attempt with exponential
//! backoff, or at the time a `Retry-After` answer gives (seconds or an
//! HTTP-date). A round never runs past its deadline, so whoever calls it
//! (the rollout beside its controller, `gate evaluate`, `gate notify
//! deliver`) bounds the time notifications can take.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::NotifyError;
use crate::config::{Rule, Target};
use crate::outbox::{Entry, Outbox, RoundLock};

/// The first retry's delay; each further one doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// The longest delay between two attempts (backoff or `Retry-After`).
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// Why an attempt failed.
#[derive(Debug)]
pub struct Failure {
    /// Shown and kept in the entry: never a secret.
    pub reason: String,
    /// From a `Retry-After` header.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn config(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn answer(reason: impl Into<String>) -> Failure {
        Failure::config(reason)
    }

    /// A network error, by kind only (reqwest's text names the URL, which
    /// is harmless, but the kind is what helps).
    pub fn network(e: reqwest::Error) -> Failure {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        Failure::config(format!("{kind}: {}", without_url(e)))
    }

    /// The answer's body on a 2xx status, else the failure it means.
    pub async fn check(response: reqwest::Response) -> Result<String, Failure> {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, SystemTime::now()));
        if status.is_success() {
            return response.text().await.map_err(Failure::network);
        }
        Err(Failure {
            reason: format!(
                "HTTP {}{}",
                status.as_u16(),
                retry_after.map_or(String::new(), |d| format!(
                    ", Retry-After {} s",
                    d.as_secs()
                ))
            ),
            retry_after,
        })
    }
}

fn without_url(e: reqwest::Error) -> String {
    use std::error::Error;
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// A `Retry-After` value: delay-seconds, or an HTTP-date (RFC 9110 §10.2.3).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The delay before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = BACKOFF_BASE.saturating_mul(1 << attempts.saturating_sub(1).min(20));
    retry_after.unwrap_or(exponential).min(BACKOFF_MAX)
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a round did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Round {
    pub delivered: usize,
    pub failed_attempts: usize,
    /// Entries still pending after the round.
    pub pending: usize,
    /// When the earliest pending entry is due (Unix ms).
    pub next_due_ms: Option<u64>,
    /// Another process held the outbox lock: nothing was attempted.
    pub busy: bool,
    /// One line per failed attempt: `target event-id: reason`.
    pub failures: Vec<String>,
}

/// Sends entries of `outbox` to the targets of `rules`.
pub struct Deliverer {
    client: reqwest::Client,
    rules: BTreeMap<String, Rule>,
}

impl Deliverer {
    pub fn new(rules: &[Rule]) -> Deliverer {
        Deliverer {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            rules: rules.iter().map(|r| (r.name.clone(), r.clone())).collect(),
        }
    }

    /// One round: every entry due now, until `deadline`.
    pub async fn round(
        &self,
        outbox: &dyn Outbox,
        deadline: Instant,
    ) -> Result<Round, NotifyError> {
        let mut round = Round::default();
        let _lock = match outbox.lock().await? {
            RoundLock::Held(lock) => lock,
            RoundLock::Empty => return Ok(round),
            RoundLock::Busy => {
                round.busy = true;
                return Ok(round);
            }
        };
        // A chat thread's updates must follow its first message in order:
        // one entry of a thread not delivered holds back the later ones.
        let mut held: BTreeSet<(String, String, String)> = BTreeSet::new();
        for mut entry in outbox.entries().await? {
            if entry.delivered_ms.is_some() {
                continue;
            }
            let rule = self.rules.get(&entry.target);
            let ordered = matches!(rule.map(|r| &r.target), Some(Target::Slack { .. }))
                && !entry.event.thread.is_empty();
            let key = (
                entry.target.clone(),
                entry.event.subject.clone(),
                entry.event.thread.clone(),
            );
            let now = unix_ms();
            let left = deadline.saturating_duration_since(Instant::now());
            if (ordered && held.contains(&key)) || entry.next_attempt_ms > now || left.is_zero() {
                round.pending += 1;
                round.next_due_ms = Some(
                    round
                        .next_due_ms
                        .map_or(entry.next_attempt_ms, |d| d.min(entry.next_attempt_ms)),
                );
                if ordered {
                    held.insert(key);
                }
                continue;
            }
            let result = match rule {
                None => Err(Failure::config(format!(
                    "no `[[notify]]` rule is named `{}` any more",
                    entry.target
                ))),
                Some(rule) => {
                    let timeout = rule.timeout.min(left).max(Duration::from_millis(1));
                    self.attempt(outbox, rule, &entry, timeout).await
                }
            };
            entry.attempts += 1;
            match result {
                Ok(()) => {
                    entry.delivered_ms = Some(unix_ms());
                    entry.last_error = None;
                    round.delivered += 1;
                }
                Err(f) => {
                    let delay = backoff(entry.attempts, f.retry_after);
                    entry.next_attempt_ms = unix_ms() + delay.as_millis() as u64;
                    round
                        .failures
                        .push(format!("{} {}: {}", entry.target, entry.event.id, f.reason));
                    entry.last_error = Some(f.reason);
                    round.failed_attempts += 1;
                    round.pending += 1;
                    round.next_due_ms = Some(
                        round
                            .next_due_ms
                            .map_or(entry.next_attempt_ms, |d| d.min(entry.next_attempt_ms)),
                    );
                    if ordered {
                        held.insert(key);
                    }
                }
            }
            outbox.update(&entry).await?;
        }
        Ok(round)
    }

    /// Rounds until nothing is pending or `deadline`; waits for entries that
    /// come due before it.
    pub async fn until(
        &self,
        outbox: &dyn Outbox,
        deadline: Instant,
    ) -> Result<Round, NotifyError> {
        let mut total = Round::default();
        loop {
            let r = self.round(outbox, deadline).await?;
            total.delivered += r.delivered;
            total.failed_attempts += r.failed_attempts;
            total.failures.extend(r.failures);
            total.pending = r.pending;
            total.next_due_ms = r.next_due_ms;
            total.busy = r.busy;
            if r.pending == 0 || r.busy {
                return Ok(total);
            }
            let now = unix_ms();
            let due = r.next_due_ms.unwrap_or(now);
            let wait =
                Duration::from_millis(due.saturating_sub(now)).max(Duration::from_millis(10));
            if Instant::now() + wait >= deadline {
                return Ok(total);
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        outbox: &dyn Outbox,
        rule: &Rule,
        entry: &Entry,
        timeout: Duration,
    ) -> Result<(), Failure> {
        match &rule.target {
            Target::Webhook { url, secret_env } => {
                crate::webhook::send(&self.client, url, secret_env, entry, timeout).await
            }
            Target::Slack { .. } => {
                crate::slack::send(&self.client, rule, outbox, entry, timeout).await
            }
            Target::Markdown { dir } => crate::markdown::write(dir, entry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(2, None), Duration::from_millis(1000));
        assert_eq!(backoff(4, None), Duration::from_millis(4000));
        assert_eq!(backoff(40, None), BACKOFF_MAX);
        assert_eq!(
            backoff(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(99_999))), BACKOFF_MAX);
    }
}
