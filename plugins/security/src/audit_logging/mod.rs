//! `security.audit-logging`: audit logs are being written (recently modified),
//! and PostgreSQL logs what the policy requires.

use std::collections::BTreeMap;

use gate_plugin_sdk::host::clock;
use gate_plugin_sdk::redact::shown;
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;
use serde_json::Value;

use crate::grants::{Grants, HostGrants, unreadable};
use crate::pg::{self, Query, cell, truthy};
use crate::walk::expand;

pub const ID: &str = "security.audit-logging";

/// `log_statement` levels, each logging everything the previous one does.
const STATEMENT_LEVELS: &[&str] = &["none", "ddl", "mod", "all"];

pub struct AuditLogging;

impl Check for AuditLogging {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Audit logging is on".to_string(),
            description: "Audit log files exist and were modified within `max_age_minutes` (a glob checks the \
                          newest match, for rotated logs), and PostgreSQL settings on `connection` are as \
                          `require` says: `log_statement` is at least the required level \
                          (none < ddl < mod < all), booleans compare as booleans, anything else exactly."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("files", "list<{ path, max_age_minutes }>", false, "Audit logs that must be fresh; `path` may be a glob, in which case the newest matching file counts."),
                param("connection", "string", false, "A `[connections.NAME]` entry whose `pg_settings` are checked."),
                param("require", "{ setting = value }", false, "PostgreSQL settings and their required values, e.g. `{ log_statement = \"ddl\", log_connections = true }`; needs `connection`."),
            ],
            capabilities: vec!["fs|sql".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let connection = p.connection.clone().unwrap_or_default();
        let query = pg::host(&connection);
        let now = clock::now().0;
        evaluate(ctx, &p, now, &HostGrants, &modified, &query)
    }
}

/// Modification time through WASI's `stat` (unlike mode bits, WASI has it).
fn modified(absolute: &str) -> Result<i64, String> {
    let md = std::fs::metadata(absolute).map_err(|e| e.to_string())?;
    let mtime = md.modified().map_err(|e| e.to_string())?;
    Ok(match mtime.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub files: Vec<LogFile>,
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default)]
    pub require: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub path: String,
    pub max_age_minutes: u64,
}

/// A required setting, ready to compare.
#[derive(Debug)]
enum Want {
    /// `log_statement`: at least this level (index into [`STATEMENT_LEVELS`]).
    AtLeast(usize),
    Bool(bool),
    Exact(String),
}

impl Want {
    fn describe(&self) -> String {
        match self {
            Want::AtLeast(i) => format!("at least `{}`", STATEMENT_LEVELS[*i]),
            Want::Bool(b) => format!("`{}`", if *b { "on" } else { "off" }),
            Want::Exact(s) => format!("`{s}`"),
        }
    }

    /// `vartype` is pg_settings' type: enum values are case-insensitive,
    /// strings (e.g. `log_line_prefix`) are compared exactly.
    fn accepts(&self, actual: &str, vartype: &str) -> Option<bool> {
        match self {
            Want::AtLeast(i) => {
                let level = STATEMENT_LEVELS
                    .iter()
                    .position(|l| l.eq_ignore_ascii_case(actual))?;
                Some(level >= *i)
            }
            Want::Bool(b) => Some(truthy(actual)? == *b),
            Want::Exact(s) if vartype == "string" => Some(s == actual),
            Want::Exact(s) => Some(s.eq_ignore_ascii_case(actual.trim())),
        }
    }
}

fn want(name: &str, value: &Value) -> Result<Want, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => return Ok(Want::Bool(*b)),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "`require.{name}` must be a string, number or boolean, not {other}"
            ));
        }
    };
    if name == "log_statement" {
        return STATEMENT_LEVELS
            .iter()
            .position(|l| l.eq_ignore_ascii_case(&text))
            .map(Want::AtLeast)
            .ok_or_else(|| {
                format!("`require.log_statement` `{text}` is not one of none, ddl, mod, all")
            });
    }
    Ok(match truthy(&text) {
        Some(b) if !text.chars().all(|c| c.is_ascii_digit()) => Want::Bool(b),
        _ => Want::Exact(text),
    })
}

pub fn evaluate(
    ctx: &Context,
    p: &Params,
    now: i64,
    grants: &dyn Grants,
    modified: &dyn Fn(&str) -> Result<i64, String>,
    query: Query,
) -> Vec<Finding> {
    let mut problems = Vec::new();
    if p.files.is_empty() && p.connection.is_none() {
        problems.push("set `files`, `connection`, or both".to_string());
    }
    match (&p.connection, p.require.is_empty()) {
        (Some(_), true) => {
            problems.push("`connection` needs `require` settings to check".to_string())
        }
        (None, false) => problems.push("`require` needs a `connection`".to_string()),
        _ => {}
    }
    let mut wants = Vec::new();
    for (name, value) in &p.require {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            problems.push(format!("`{name}` is not a PostgreSQL setting name"));
            continue;
        }
        match want(name, value) {
            Ok(w) => wants.push((name.as_str(), w)),
            Err(e) => problems.push(e),
        }
    }
    for f in &p.files {
        if f.max_age_minutes == 0 {
            problems.push(format!("{}: `max_age_minutes` must be at least 1", f.path));
        }
    }
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let mut out = Vec::new();
    for f in &p.files {
        out.push(check_file(ctx, f, now, grants, modified));
    }
    if let Some(connection) = &p.connection {
        out.extend(check_settings(ctx, connection, &wants, query));
    }
    out
}

fn check_file(
    ctx: &Context,
    f: &LogFile,
    now: i64,
    grants: &dyn Grants,
    modified: &dyn Fn(&str) -> Result<i64, String>,
) -> Finding {
    let files = match expand(grants, &f.path) {
        Ok(files) => files,
        Err(e) => return unreadable(ctx, &f.path, &e),
    };
    let mut newest: Option<(String, i64)> = None;
    for file in files {
        match modified(&file.absolute.to_string_lossy()) {
            Ok(t) => {
                if newest.as_ref().is_none_or(|(_, best)| t > *best) {
                    newest = Some((file.display, t));
                }
            }
            Err(e) => return unreadable(ctx, &file.display, &e),
        }
    }
    let Some((display, mtime)) = newest else {
        return unreadable(ctx, &f.path, "no such file");
    };
    let age_minutes = (now - mtime).max(0) / 60;
    let fresh = age_minutes <= f.max_age_minutes as i64;
    let builder = if fresh {
        ctx.finding(&f.path, Status::Pass).message(format!(
            "`{display}` was written {age_minutes} minute(s) ago (limit {})",
            f.max_age_minutes
        ))
    } else {
        ctx.finding(&f.path, Status::Fail)
            .rule("stale")
            .message(format!(
                "`{display}` was last written {age_minutes} minutes ago, more than the {} allowed: audit events may not be recorded",
                f.max_age_minutes
            ))
            .remediation("check that the audit logger is running and writing to this file (and that rotation points here)")
    };
    let mut b = builder
        .evidence("age_minutes", age_minutes)
        .evidence("max_age_minutes", f.max_age_minutes)
        .location(&display, None, None);
    if display != f.path {
        b = b.evidence("newest", &display);
    }
    b.build()
}

const SETTINGS_SQL: &str = "SELECT name::text, setting, vartype::text FROM pg_settings WHERE name = ANY(string_to_array($1, ','))";

fn check_settings(
    ctx: &Context,
    connection: &str,
    wants: &[(&str, Want)],
    query: Query,
) -> Vec<Finding> {
    let names: Vec<&str> = wants.iter().map(|(n, _)| *n).collect();
    let rows = match query(SETTINGS_SQL, &[Some(names.join(","))]) {
        Ok(rows) => rows,
        Err(e) => {
            return vec![
                ctx.finding(connection, Status::Error)
                    .message(format!("cannot read settings on `{connection}`: {e}"))
                    .remediation(format!(
                        "check that [connections.{connection}] is defined, its url_env is set, the database is up, \
                         and the plugin's grants include `sql = [\"{connection}\"]`"
                    ))
                    .build(),
            ];
        }
    };
    wants
        .iter()
        .map(|(name, want)| {
            let subject = format!("setting:{name}");
            let Some(row) = rows.iter().find(|r| cell(r, 0).eq_ignore_ascii_case(name)) else {
                return ctx
                    .finding(subject, Status::Error)
                    .message(format!(
                        "`{name}` is not in pg_settings on `{connection}` (unknown, or not visible to this role)"
                    ))
                    .remediation("check the setting's name; extension settings need the extension loaded")
                    .build();
            };
            let raw = cell(row, 1);
            let shown = shown(name, raw);
            let actual = shown.as_str();
            let base = |s: Status| {
                ctx.finding(&subject, s)
                    .evidence("actual", actual)
                    .evidence("required", want.describe())
                    .evidence("connection", connection)
            };
            match want.accepts(raw, cell(row, 2)) {
                Some(true) => base(Status::Pass)
                    .message(format!("`{name}` is `{actual}` (required {})", want.describe()))
                    .build(),
                Some(false) => base(Status::Fail)
                    .rule(*name)
                    .message(format!("`{name}` is `{actual}`, required {}", want.describe()))
                    .remediation(format!(
                        "ALTER SYSTEM SET {name} = '{}'; SELECT pg_reload_conf(); (or set it in postgresql.conf)",
                        match want {
                            Want::AtLeast(i) => STATEMENT_LEVELS[*i].to_string(),
                            Want::Bool(b) => if *b { "on" } else { "off" }.to_string(),
                            Want::Exact(s) => s.clone(),
                        }
                    ))
                    .build(),
                None => base(Status::Error)
                    .message(format!("`{name}` has value `{actual}`, which cannot be compared with {}", want.describe()))
                    .build(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
