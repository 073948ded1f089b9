//! Rules, their templates and the outbox together: [`Notifier::notify`]
//! writes an event to the outbox for every rule that wants it (rendered
//! now, so every attempt sends the same bytes), and [`Background`] delivers
//! beside whatever is running, within bounded time at its end.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::NotifyError;
use crate::config::Rule;
use crate::deliver::{Deliverer, Round, unix_ms};
use crate::event::Event;
use crate::outbox::{Entry, FileOutbox, Outbox};
use crate::template::Templates;

pub struct Notifier {
    rules: Vec<(Rule, Templates)>,
    outbox: Arc<dyn Outbox>,
    deliverer: Deliverer,
    wake: Notify,
    last_seq: AtomicU64,
}

impl Notifier {
    /// The notifier of `rules` with its outbox in `outbox_dir`; `None` when
    /// there is no rule. Every template is read and compiled now.
    pub fn new(rules: &[Rule], outbox_dir: &Path) -> Result<Option<Arc<Notifier>>, NotifyError> {
        Notifier::with_outbox(rules, Arc::new(FileOutbox::new(outbox_dir)))
    }

    /// The notifier of `rules` with `outbox`; `None` when there is no rule.
    pub fn with_outbox(
        rules: &[Rule],
        outbox: Arc<dyn Outbox>,
    ) -> Result<Option<Arc<Notifier>>, NotifyError> {
        if rules.is_empty() {
            return Ok(None);
        }
        let rules = rules
            .iter()
            .map(|r| Ok((r.clone(), Templates::load(&r.templates)?)))
            .collect::<Result<Vec<_>, NotifyError>>()?;
        let plain: Vec<Rule> = rules.iter().map(|(r, _)| r.clone()).collect();
        Ok(Some(Arc::new(Notifier {
            deliverer: Deliverer::new(&plain),
            rules,
            outbox,
            wake: Notify::new(),
            last_seq: AtomicU64::new(0),
        })))
    }

    pub fn outbox(&self) -> &dyn Outbox {
        self.outbox.as_ref()
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|(r, _)| r)
    }

    /// Enqueues `event` for every rule that wants it; returns how many
    /// entries were new. A template that fails at render time does not lose
    /// the notification: the event's summary is sent instead, and the error
    /// is returned for the caller to show.
    pub fn notify(&self, event: &Event) -> (usize, Vec<NotifyError>) {
        let mut added = 0;
        let mut errors = Vec::new();
        for (rule, templates) in &self.rules {
            if !rule.wants(event.kind) {
                continue;
            }
            let message = match templates.render(event) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(e);
                    format!("{}\n", event.summary)
                }
            };
            let entry = Entry {
                event: event.clone(),
                target: rule.name.clone(),
                seq: self.next_seq(),
                message,
                attempts: 0,
                next_attempt_ms: 0,
                delivered_ms: None,
                last_error: None,
            };
            match self.outbox.enqueue(&entry) {
                Ok(true) => added += 1,
                Ok(false) => {}
                Err(e) => errors.push(e),
            }
        }
        if added > 0 {
            self.wake.notify_one();
        }
        (added, errors)
    }

    /// Unix microseconds, strictly increasing within this process.
    fn next_seq(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let mut last = self.last_seq.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .last_seq
                .compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Delivers what is due until nothing is pending or `budget` has passed.
    pub async fn deliver(&self, budget: Duration) -> Result<Round, NotifyError> {
        self.deliverer
            .until(self.outbox.as_ref(), Instant::now() + budget)
            .await
    }

    /// Starts delivering in the background (a tokio task).
    pub fn spawn(self: &Arc<Self>) -> Background {
        let (stop, mut stopped) = watch::channel(false);
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut total = Round::default();
            loop {
                // Each round is bounded, so a stop is seen within a timeout.
                let deadline = Instant::now() + Duration::from_secs(30);
                match me.deliverer.round(me.outbox.as_ref(), deadline).await {
                    Ok(r) => merge(&mut total, r),
                    Err(e) => tracing::warn!("{e}"),
                }
                let now = unix_ms();
                let wait = total
                    .next_due_ms
                    .map_or(Duration::from_secs(1), |d| {
                        Duration::from_millis(d.saturating_sub(now))
                    })
                    .clamp(Duration::from_millis(10), Duration::from_secs(1));
                tokio::select! {
                    _ = me.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => return total,
                }
            }
        });
        Background {
            notifier: self.clone(),
            stop,
            task,
        }
    }
}

fn merge(total: &mut Round, r: Round) {
    total.delivered += r.delivered;
    total.failed_attempts += r.failed_attempts;
    total.failures.extend(r.failures);
    total.pending = r.pending;
    total.next_due_ms = r.next_due_ms;
    total.busy = r.busy;
}

/// Delivery running beside a rollout.
pub struct Background {
    notifier: Arc<Notifier>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Round>,
}

impl Background {
    /// Stops the background rounds and delivers what is left for at most
    /// `grace`; whatever is still pending stays in the outbox for the next
    /// run or `gate notify deliver`.
    pub async fn finish(self, grace: Duration) -> Round {
        let deadline = Instant::now() + grace;
        let _ = self.stop.send(true);
        let mut total = match tokio::time::timeout_at(deadline, self.task).await {
            Ok(Ok(r)) => r,
            // Still in an attempt at the deadline (the task is dropped with
            // it; the entry stays pending) or it panicked.
            _ => Round::default(),
        };
        if Instant::now() < deadline {
            match self
                .notifier
                .deliverer
                .until(self.notifier.outbox.as_ref(), deadline)
                .await
            {
                Ok(r) => merge(&mut total, r),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        total
    }
}
