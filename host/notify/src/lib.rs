//! Notifications ([docs/incidents.md](../../../docs/incidents.md#notifications)):
//! what a rollout, `gate evaluate` or a drill tells the people on call, and
//! getting it to them exactly once.
//!
//! - [`event`]: the event kinds and events, each with a stable id;
//! - [`config`]: a `[[notify]]` rule (the TOML is decoded by the policy and
//!   spec loaders into it);
//! - [`template`]: the communication templates (minijinja), overridable;
//! - [`outbox`]: the durable outbox an event is written to before anything
//!   is sent, and marked delivered in only after a 2xx answer;
//! - [`deliver`]: delivery rounds with backoff and `Retry-After`, to
//!   [`webhook`] (Standard Webhooks signatures), [`slack`] (one message per
//!   rollout) and [`markdown`] (files);
//! - [`notifier`]: rules, templates and outbox together, and the background
//!   delivery beside a rollout;
//! - [`drill`]: the drill result event, for `gate drill`.

pub mod config;
pub mod deliver;
pub mod drill;
pub mod event;
pub mod markdown;
pub mod notifier;
pub mod outbox;
pub mod sample;
pub mod slack;
pub mod template;
pub mod webhook;

pub use config::{Rule, Target, TargetKind};
pub use event::{Event, EventKind};
pub use notifier::{Background, Notifier};
pub use outbox::{FileOutbox, Outbox};

/// Why a notification could not be prepared or an outbox used. A failed
/// delivery attempt is not an error: it is retried.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A template cannot be read, compiled or rendered; `at` is its file
    /// (and line, when known).
    #[error("{at}: template error: {message}")]
    Template { at: String, message: String },
    /// The outbox cannot be used.
    #[error("notification outbox: {0}")]
    Outbox(String),
}
