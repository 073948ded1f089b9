//! Rollout events: one JSON object per line in `<state_dir>/<name>.events.jsonl`,
//! and a progress line on stderr.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::state::unix_ms;

pub struct Events {
    /// The event log, opened once for appending, never through a symlink.
    log: File,
    rollout: String,
    started_unix_ms: u64,
    quiet: bool,
    color: bool,
}

impl Events {
    /// Opens the event log at `path` in the private state directory.
    pub fn new(path: &Path, rollout: &str, started_unix_ms: u64) -> Result<Events, String> {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let log = gate_core::private_dir::PrivateDir::open(dir, true)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{}: no directory", dir.display()))?
            .append(&name)
            .map_err(|e| e.to_string())?;
        Ok(Events {
            log,
            rollout: rollout.to_string(),
            started_unix_ms,
            quiet: false,
            color,
        })
    }

    pub fn quiet(mut self, quiet: bool) -> Events {
        self.quiet = quiet;
        self
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
        let line = Value::Object(obj).to_string();
        // One write per line: O_APPEND keeps concurrent writers' lines whole.
        let _ = (&self.log).write_all(format!("{line}\n").as_bytes());
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
