//! The audit logs the served policies and specs write: their entries (each
//! with its one-line summary) and whether the log verifies.

use chrono::{DateTime, Utc};
use gate_audit::{Entry, Kind};
use serde::Serialize;

use crate::app::App;
use crate::audit_index::Slot;
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

/// Every served log, with its verification and the entries `filter`
/// selects (at most `limit` per log, newest first).
pub fn logs(app: &App, filter: &ParsedFilter, limit: usize) -> Result<Vec<LogView>, ApiError> {
    let mut out = Vec::new();
    for index in &app.audits {
        let looked = index.look()?;
        let selected: Vec<Slot> = looked
            .slots()
            .iter()
            .rev()
            .filter(|s| filter.kind.is_none_or(|k| s.kind == k))
            .filter(|s| filter.since.is_none_or(|t| s.time >= t))
            .copied()
            .collect();
        let matching = selected.len();
        let shown = &selected[..limit.min(matching)];
        let entries = looked
            .read(shown)?
            .into_iter()
            .map(|entry| ShownEntry {
                summary: entry.record.summary(),
                entry,
            })
            .collect();
        out.push(LogView {
            dir: index.location.clone(),
            verification: looked.verification.clone(),
            matching,
            entries,
        });
    }
    Ok(out)
}
