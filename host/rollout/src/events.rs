//! Rollout events: one JSON object each, written to the store's event log
//! (`<state_dir>/<name>.events.jsonl` for the file store), and a progress
//! line on stderr.

use std::io::IsTerminal;

use serde_json::{Map, Value, json};

use super::notify::RolloutNotify;
use super::state::unix_ms;
use super::store::EventSink;

pub struct Events {
    log: Box<dyn EventSink>,
    rollout: String,
    started_unix_ms: u64,
    quiet: bool,
    color: bool,
    /// The spec's `[[notify]]` rules, when it has any.
    notify: Option<RolloutNotify>,
}

impl Events {
    /// Events of `rollout` written to `log`.
    pub fn new(log: Box<dyn EventSink>, rollout: &str, started_unix_ms: u64) -> Events {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Events {
            log,
            rollout: rollout.to_string(),
            started_unix_ms,
            quiet: false,
            color,
            notify: None,
        }
    }

    pub fn quiet(mut self, quiet: bool) -> Events {
        self.quiet = quiet;
        self
    }

    /// Notifies the events the spec's `[[notify]]` rules want.
    pub fn notify(mut self, notify: Option<RolloutNotify>) -> Events {
        self.notify = notify;
        self
    }

    pub fn notifier(&self) -> Option<&std::sync::Arc<gate_notify::Notifier>> {
        self.notify.as_ref().map(RolloutNotify::notifier)
    }

    /// Records an event. `fields` must be a JSON object; it is merged in.
    pub fn emit(&self, kind: &str, message: &str, fields: Value) {
        let ts_ms = unix_ms();
        let mut obj = Map::new();
        obj.insert(
            "ts".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        obj.insert("ts_ms".into(), json!(ts_ms));
        obj.insert("rollout".into(), json!(self.rollout));
        obj.insert("event".into(), json!(kind));
        obj.insert("message".into(), json!(message));
        if let Value::Object(f) = fields {
            obj.extend(f);
        }
        if let Some(n) = &self.notify {
            n.on_event(&obj);
        }
        self.log.write(&Value::Object(obj));
        if !self.quiet {
            let elapsed = ts_ms.saturating_sub(self.started_unix_ms) as f64 / 1000.0;
            let label = if self.color {
                let c = match kind {
                    "rollback" | "error" | "health-failed" | "aborted" => "31",
                    "promote" | "done" => "32",
                    "analysis" => "36",
                    "awaiting-approval" => "33",
                    _ => "1",
                };
                format!("\x1b[{c}m{kind}\x1b[0m")
            } else {
                kind.to_string()
            };
            eprintln!("[{elapsed:7.2}s] {label}: {message}");
        }
    }
}
