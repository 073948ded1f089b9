//! `security.api-keys-rotated`: every key in an inventory file was rotated
//! within the allowed age, and none is past its expiry.
//!
//! Inventories often sit next to the secrets themselves, so only the fields
//! gate reads (id, owner, dates) ever reach a finding; any other field,
//! including key material, is ignored.

use gate_plugin_sdk::date::parse_timestamp;
use gate_plugin_sdk::host::clock;
use gate_plugin_sdk::paths::read_bytes;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;
use serde_json::Value;

use crate::compliance::documents;
use crate::grants::{Grants, HostGrants, unreadable};
use gate_configfile::Format;

pub const ID: &str = "security.api-keys-rotated";
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
const DAY: i64 = 86_400;
/// Rotation dates this far ahead of "now" are clock skew, not data errors.
const FUTURE_TOLERANCE: i64 = DAY;

pub struct ApiKeysRotated;

impl Check for ApiKeysRotated {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "API keys are rotated".to_string(),
            description: "Reads a key inventory (TOML `[[key]]`, or JSON/YAML with a `key`/`keys` list) and \
                          checks that every key was rotated (or, if never, created) no more than \
                          `max_age_days` ago and has not expired. One finding per key, subject `key:<id>`; \
                          key material in the inventory is never read into a finding."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("inventory", "string", true, "The inventory file (.toml, .json, .yaml/.yml). Each key has `id`, optional `owner`, `created` and/or `rotated_at` (a date or RFC 3339 timestamp), optional `expires` and optional per-key `max_age_days`."),
                param("max_age_days", "integer", true, "Longest time since the last rotation (or creation) a key may go."),
                param_default("warn_days", "integer", "Keys within this many days of `max_age_days` or of `expires` are reported as `warn`.", "0"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let now = clock::now().0;
        match params::parse(ctx, params) {
            Ok(p) => evaluate(ctx, &p, now, &HostGrants),
            Err(f) => f,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub inventory: String,
    pub max_age_days: i64,
    #[serde(default)]
    pub warn_days: i64,
}

/// The fields gate reads from one inventory entry.
#[derive(Debug, Default)]
struct Key {
    id: Option<String>,
    owner: Option<String>,
    created: Option<String>,
    rotated: Option<String>,
    expires: Option<String>,
    max_age_days: Option<Result<i64, String>>,
}

/// A date field as text: strings as written, TOML dates as their TOML text.
fn text(entry: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match entry.get(*n)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

impl Key {
    fn read(entry: &Value) -> Key {
        Key {
            id: text(entry, &["id", "name"]).filter(|s| !s.trim().is_empty()),
            owner: text(entry, &["owner"]),
            created: text(entry, &["created", "created_at"]),
            rotated: text(entry, &["rotated_at", "rotated", "last_rotated"]),
            expires: text(entry, &["expires", "expires_at"]),
            max_age_days: entry.get("max_age_days").map(|v| {
                v.as_i64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`max_age_days` must be a positive integer, not {v}"))
            }),
        }
    }
}

pub fn evaluate(ctx: &Context, p: &Params, now: i64, grants: &dyn Grants) -> Vec<Finding> {
    let mut problems = Vec::new();
    if p.max_age_days <= 0 {
        problems.push("`max_age_days` must be a positive number of days".to_string());
    }
    if p.warn_days < 0 {
        problems.push("`warn_days` must not be negative".to_string());
    }
    let format = Format::detect_structured(&p.inventory);
    if format.is_none() {
        problems.push(format!(
            "cannot tell the format of `{}`: use a .toml, .json, .yaml or .yml file",
            p.inventory
        ));
    }
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let format = format.unwrap_or(Format::Toml);
    let path = p.inventory.as_str();
    let text = match grants
        .resolve(path)
        .and_then(|g| read_bytes(&g, MAX_FILE_BYTES))
        .and_then(|b| String::from_utf8(b).map_err(|_| "not valid UTF-8".to_string()))
    {
        Ok(t) => t,
        Err(e) => return vec![unreadable(ctx, path, &e)],
    };
    let invalid = |message: String| {
        vec![
            ctx.finding(path, Status::Error)
                .message(message)
                .remediation("list keys as `[[key]]` tables (TOML) or a `keys` array (JSON/YAML) with `id` and `rotated_at`/`created`")
                .location(path, None, None)
                .build(),
        ]
    };
    let docs = match documents(format, &text) {
        Ok(d) => d,
        Err(e) => return invalid(format!("`{path}` is not valid {}: {e}", format.name())),
    };
    let entries: Vec<&Value> = docs
        .iter()
        .flat_map(|doc| match doc {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            other => ["key", "keys"]
                .iter()
                .filter_map(|k| other.get(*k).and_then(Value::as_array))
                .flatten()
                .collect(),
        })
        .collect();
    if entries.is_empty() {
        return invalid(format!(
            "no keys in `{path}`: an empty inventory proves nothing about rotation"
        ));
    }
    let keys: Vec<Key> = entries.iter().map(|e| Key::read(e)).collect();
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let duplicate = key
                .id
                .as_ref()
                .is_some_and(|id| keys.iter().filter(|k| k.id.as_ref() == Some(id)).count() > 1);
            let line = key.id.as_deref().and_then(|id| id_line(&text, id));
            assess(ctx, p, path, now, i + 1, key, duplicate).map_location(path, line)
        })
        .collect()
}

/// The line that names key `id` (`id = "x"`, `"id": "x"`, `id: x`).
fn id_line(text: &str, id: &str) -> Option<u32> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            (t.starts_with("id") || t.starts_with("\"id\"") || t.starts_with("name"))
                && l.contains(id)
        })
        .map(|i| i as u32 + 1)
}

trait MapLocation {
    fn map_location(self, path: &str, line: Option<u32>) -> Self;
}

impl MapLocation for Finding {
    fn map_location(mut self, path: &str, line: Option<u32>) -> Finding {
        if line.is_some() {
            self.location = Some(gate_plugin_sdk::Location {
                file: path.to_string(),
                line,
                column: None,
            });
        }
        self
    }
}

fn day(ts: i64) -> String {
    gate_plugin_sdk::date::format_date(ts)
}

/// A key's dates, read and checked.
struct Dated<'k> {
    max_age: i64,
    /// `rotated_at`, or `created` when the key was never rotated.
    field: &'static str,
    since: i64,
    expires: Option<i64>,
    key: &'k Key,
}

fn assess(
    ctx: &Context,
    p: &Params,
    path: &str,
    now: i64,
    index: usize,
    key: &Key,
    duplicate: bool,
) -> Finding {
    let error = |subject: String, message: String, hint: &str| {
        ctx.finding(subject, Status::Error)
            .message(message)
            .remediation(hint)
            .location(path, None, None)
            .build()
    };
    let Some(id) = &key.id else {
        return error(
            format!("key:#{index}"),
            format!("entry {index} in `{path}` has no `id`"),
            "give every key an `id` so findings and exemptions can name it",
        );
    };
    let subject = format!("key:{id}");
    if duplicate {
        return error(
            subject,
            format!("key `{id}` appears more than once in `{path}`"),
            "keep one entry per key id",
        );
    }
    let dated = match dates(p, now, id, key) {
        Ok(d) => d,
        Err((message, hint)) => return error(subject, message, hint),
    };
    let age_days = (now - dated.since).max(0) / DAY;
    let (status, rule, message, hint) = verdict(p, path, now, id, &dated, age_days);
    let mut f = ctx
        .finding(subject, status)
        .message(message)
        .evidence("age_days", age_days)
        .evidence("max_age_days", dated.max_age)
        .evidence(dated.field, day(dated.since));
    if let Some(owner) = &dated.key.owner {
        f = f.evidence("owner", owner);
    }
    if let Some(exp) = dated.expires {
        f = f.evidence("expires", day(exp));
    }
    if let Some(rule) = rule {
        f = f.rule(rule);
    }
    if status != Status::Pass {
        f = f.remediation(hint);
    }
    f.location(path, None, None).build()
}

/// The key's limit and dates, or why they cannot be read (and the fix).
fn dates<'k>(
    p: &Params,
    now: i64,
    id: &str,
    key: &'k Key,
) -> Result<Dated<'k>, (String, &'static str)> {
    const DATE_HINT: &str = "write dates as YYYY-MM-DD or RFC 3339";
    let max_age = match &key.max_age_days {
        None => p.max_age_days,
        Some(Ok(n)) => *n,
        Some(Err(e)) => {
            return Err((format!("key `{id}`: {e}"), "fix the entry's `max_age_days`"));
        }
    };
    let (field, raw) = match (&key.rotated, &key.created) {
        (Some(r), _) => ("rotated_at", r),
        (None, Some(c)) => ("created", c),
        (None, None) => {
            return Err((
                format!("key `{id}` has neither `rotated_at` nor `created`, so its age is unknown"),
                "record when the key was created and last rotated",
            ));
        }
    };
    let since =
        parse_timestamp(raw).map_err(|e| (format!("key `{id}`: `{field}` {e}"), DATE_HINT))?;
    if since > now + FUTURE_TOLERANCE {
        return Err((
            format!("key `{id}`: `{field}` {} is in the future", day(since)),
            "fix the date in the inventory",
        ));
    }
    let expires = match key.expires.as_deref().map(parse_timestamp) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err((format!("key `{id}`: `expires` {e}"), DATE_HINT)),
    };
    Ok(Dated {
        max_age,
        field,
        since,
        expires,
        key,
    })
}

/// Status, rule, message and remediation for a key of `age_days`.
fn verdict(
    p: &Params,
    path: &str,
    now: i64,
    id: &str,
    dated: &Dated,
    age_days: i64,
) -> (Status, Option<&'static str>, String, String) {
    let (warn, max_age) = (p.warn_days, dated.max_age);
    if let Some(exp) = dated.expires.filter(|e| *e <= now) {
        (
            Status::Fail,
            Some("expired"),
            format!("key `{id}` expired on {}", day(exp)),
            format!("rotate `{id}` and record the new expiry in `{path}`"),
        )
    } else if age_days > max_age {
        (
            Status::Fail,
            Some("max-age"),
            format!(
                "key `{id}` was last rotated {age_days} days ago ({}), more than the {max_age} allowed",
                day(dated.since)
            ),
            format!("rotate `{id}` and update `rotated_at` in `{path}`"),
        )
    } else if warn > 0 && age_days > max_age - warn {
        (
            Status::Warn,
            Some("max-age"),
            format!(
                "key `{id}` is due for rotation in {} days",
                max_age - age_days
            ),
            format!("schedule the rotation of `{id}`"),
        )
    } else if let Some(exp) = dated.expires.filter(|e| warn > 0 && *e - now < warn * DAY) {
        (
            Status::Warn,
            Some("expired"),
            format!("key `{id}` expires on {}", day(exp)),
            format!("rotate `{id}` before it expires"),
        )
    } else {
        (
            Status::Pass,
            None,
            format!("key `{id}` was rotated {age_days} days ago (limit {max_age})"),
            String::new(),
        )
    }
}

#[cfg(test)]
mod tests;
