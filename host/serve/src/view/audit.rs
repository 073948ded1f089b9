//! The audit logs the served policies and specs write: their entries (each
//! with its one-line summary) and whether the log verifies.

use std::path::Path;

use chrono::{DateTime, Utc};
use gate_audit::{AuditLog, Entry, Kind, Snapshot, Verifier};
use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;

/// Whether a log verified against the checkpoints' key.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Verification {
    /// Every entry and checkpoint verified.
    Verified { entries: u64, checkpoints: u64 },
    /// An entry or checkpoint is not what was recorded.
    Tampered { detail: String },
    /// It could not be checked (unreadable, no key).
    Unchecked { detail: String },
    /// No log exists yet.
    Empty,
}

impl Verification {
    pub fn label(&self) -> &'static str {
        match self {
            Verification::Verified { .. } => "verified",
            Verification::Tampered { .. } => "tampered",
            Verification::Unchecked { .. } => "unchecked",
            Verification::Empty => "empty",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Verification::Verified {
                entries,
                checkpoints,
            } => format!("{entries} entries, {checkpoints} checkpoints"),
            Verification::Tampered { detail } | Verification::Unchecked { detail } => {
                detail.clone()
            }
            Verification::Empty => "no entries yet".into(),
        }
    }
}

/// One entry as shown.
#[derive(Clone, Debug, Serialize)]
pub struct ShownEntry {
    #[serde(flatten)]
    pub entry: Entry,
    pub summary: String,
}

impl ShownEntry {
    pub fn kind(&self) -> &'static str {
        self.entry.record.kind().into()
    }

    pub fn time(&self) -> String {
        self.entry
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// One log as shown: its directory, verification and the entries asked for (newest first).
#[derive(Clone, Debug, Serialize)]
pub struct LogView {
    pub dir: String,
    pub verification: Verification,
    /// Entries matching the filter.
    pub matching: usize,
    pub entries: Vec<ShownEntry>,
}

/// `?kind=&since=` of the audit page and API.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Filter {
    pub kind: Option<String>,
    pub since: Option<String>,
}

/// The filter, parsed: an unknown kind or time is a 400.
pub struct ParsedFilter {
    pub kind: Option<Kind>,
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn parse(&self) -> Result<ParsedFilter, ApiError> {
        let kind = match self.kind.as_deref().filter(|k| !k.is_empty()) {
            None => None,
            Some(k) => Some(k.parse::<Kind>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "unknown entry kind `{}`",
                    gate_redact::scrub(k).chars().take(40).collect::<String>()
                ))
            })?),
        };
        let since = match self.since.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::BadRequest(
                            "since: expected an RFC 3339 time such as 2026-12-01T00:00:00Z".into(),
                        )
                    })?,
            ),
        };
        Ok(ParsedFilter { kind, since })
    }
}

/// The log's files as read now; `None` when there is no log yet.
pub fn snapshot(dir: &Path) -> Result<Option<Snapshot>, ApiError> {
    match AuditLog::open(dir, false)? {
        Some(log) => Ok(Some(log.snapshot()?)),
        None => Ok(None),
    }
}

/// Every entry of the log at `dir`, oldest first (none when there is no log).
pub fn entries(dir: &Path) -> Result<Vec<Entry>, ApiError> {
    match snapshot(dir)? {
        Some(snap) => Ok(snap.entries()?),
        None => Ok(Vec::new()),
    }
}

pub fn verify(snap: &Snapshot, verifier: Option<&Verifier>) -> Verification {
    let Some(verifier) = verifier else {
        return Verification::Unchecked {
            detail: "no verifier key: pass --vkey (gate audit key prints it)".into(),
        };
    };
    match gate_audit::verify(snap, verifier, None) {
        Ok(v) => Verification::Verified {
            entries: v.entries,
            checkpoints: v.checkpoints,
        },
        Err(e) if e.is_tampering() => Verification::Tampered {
            detail: gate_redact::scrub(&e.to_string()),
        },
        Err(e) => Verification::Unchecked {
            detail: gate_redact::scrub(&e.to_string()),
        },
    }
}

/// Every served log, verified, with the entries `filter` selects (at most
/// `limit` per log, newest first).
pub fn logs(app: &App, filter: &ParsedFilter, limit: usize) -> Result<Vec<LogView>, ApiError> {
    let mut out = Vec::new();
    for source in &app.audits {
        let dir = source.dir.display().to_string();
        let Some(snap) = snapshot(&source.dir)? else {
            out.push(LogView {
                dir,
                verification: Verification::Empty,
                matching: 0,
                entries: Vec::new(),
            });
            continue;
        };
        let verification = verify(&snap, app.verifier.as_ref());
        let selected: Vec<Entry> = snap
            .entries()?
            .into_iter()
            .filter(|e| filter.kind.is_none_or(|k| e.record.kind() == k))
            .filter(|e| filter.since.is_none_or(|t| e.time >= t))
            .collect();
        let matching = selected.len();
        let entries = selected
            .into_iter()
            .rev()
            .take(limit)
            .map(|entry| ShownEntry {
                summary: entry.record.summary(),
                entry,
            })
            .collect();
        out.push(LogView {
            dir,
            verification,
            matching,
            entries,
        });
    }
    Ok(out)
}
