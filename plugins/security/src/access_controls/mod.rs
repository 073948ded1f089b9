//! `security.access-controls`: secret files are not readable beyond their
//! owner (mode, owner, group), and the application's PostgreSQL role holds no
//! more power than it needs.
//!
//! WASI exposes neither mode bits nor ownership, so file facts come from the
//! host's `files.stat`, which applies the same `fs` grant as reads.

use gate_plugin_sdk::host::files::{self, FileStat};
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;

use crate::grants::{Grants, HostGrants, unreadable};
use crate::pg::{self, Query, cell, truthy};
use crate::walk::expand;

pub const ID: &str = "security.access-controls";
const DEFAULT_MAX_MODE: u32 = 0o600;

/// Role attributes an application role should not hold, in report order.
const ATTRIBUTES: &[(&str, &str, &str)] = &[
    (
        "createrole",
        "CREATEROLE",
        "can create, alter and drop other roles",
    ),
    ("createdb", "CREATEDB", "can create databases"),
    (
        "replication",
        "REPLICATION",
        "can stream the whole cluster's WAL",
    ),
    (
        "bypassrls",
        "BYPASSRLS",
        "bypasses every row-level security policy",
    ),
];

pub struct AccessControls;

impl Check for AccessControls {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Secret files and database roles are locked down".to_string(),
            description: "Files: the mode grants no permission bit beyond `max_mode` (default 0600), and the \
                          owner and group are as required. PostgreSQL (`connection`): the application role is \
                          not a superuser (nor a member of one), holds no CREATEROLE, CREATEDB, REPLICATION or \
                          BYPASSRLS unless allowed, and PUBLIC may not CREATE in any user schema."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("files", "list<{ path, max_mode = \"0600\", owner?, group? } | string>", false, "Files (or globs) to check. `max_mode` is an octal string; `owner`/`group` are names or numeric ids. A plain string means `{ path = \"...\" }`."),
                param("connection", "string", false, "A `[connections.NAME]` entry; when set, the role checks run on it."),
                param("role", "string", false, "The application role to check; defaults to the connection's `current_user`."),
                param("allow", "list<string>", false, "Role attributes the application may hold: any of `createrole`, `createdb`, `replication`, `bypassrls`."),
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
        evaluate(ctx, &p, &HostGrants, &|path| files::stat(path), &query)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub allow: Vec<String>,
}

/// A `files` entry: a path, or a table with limits.
#[derive(Debug)]
pub enum FileSpec {
    Path(String),
    Full(FileRule),
}

/// By hand rather than `untagged`, so a typo inside a table is reported as
/// itself ("unknown field `mode`") instead of "did not match any variant".
impl<'de> Deserialize<'de> for FileSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(FileSpec::Path(s)),
            v @ serde_json::Value::Object(_) => serde_json::from_value(v)
                .map(FileSpec::Full)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "a `files` entry must be a path or a {{ path, max_mode, owner, group }} table, not {other}"
            ))),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    pub path: String,
    #[serde(default)]
    pub max_mode: Option<serde_json::Value>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
}

struct Rule {
    path: String,
    max_mode: u32,
    owner: Option<String>,
    group: Option<String>,
}

/// `"0600"`, `"600"` or `"0o600"`; TOML integers are refused because `600`
/// would be read as decimal.
fn parse_mode(value: &serde_json::Value) -> Result<u32, String> {
    let serde_json::Value::String(s) = value else {
        return Err(format!(
            "`max_mode` {value} must be an octal string such as \"0600\""
        ));
    };
    let digits = s.trim().trim_start_matches("0o");
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(format!(
            "`max_mode` \"{s}\" is not an octal mode such as \"0600\""
        ));
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|e| e.to_string())?;
    if mode > 0o7777 {
        return Err(format!("`max_mode` \"{s}\" is larger than 07777"));
    }
    Ok(mode)
}

pub fn mode_string(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// `rw-r-----` style, for messages.
fn symbolic(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// What the bits beyond the allowed mode let others do.
fn describe_excess(excess: u32) -> String {
    let mut parts = Vec::new();
    for (bit, what) in [
        (0o4000, "setuid"),
        (0o2000, "setgid"),
        (0o1000, "sticky"),
        (0o400, "owner read"),
        (0o200, "owner write"),
        (0o100, "owner execute"),
        (0o040, "group read"),
        (0o020, "group write"),
        (0o010, "group execute"),
        (0o004, "others read"),
        (0o002, "others write"),
        (0o001, "others execute"),
    ] {
        if excess & bit != 0 {
            parts.push(what);
        }
    }
    parts.join(", ")
}

pub fn evaluate(
    ctx: &Context,
    p: &Params,
    grants: &dyn Grants,
    stat: &dyn Fn(&str) -> Result<FileStat, String>,
    query: Query,
) -> Vec<Finding> {
    let mut problems = Vec::new();
    if p.files.is_empty() && p.connection.is_none() {
        problems.push("set `files`, `connection`, or both".to_string());
    }
    if p.connection.is_none() && (p.role.is_some() || !p.allow.is_empty()) {
        problems.push("`role` and `allow` need a `connection`".to_string());
    }
    for a in &p.allow {
        if !ATTRIBUTES.iter().any(|(name, _, _)| name == a) {
            problems.push(format!(
                "`allow` names `{a}`; allowed are createrole, createdb, replication, bypassrls (superuser is never allowed)"
            ));
        }
    }
    let mut rules = Vec::new();
    for spec in &p.files {
        let rule = match spec {
            FileSpec::Path(path) => Rule {
                path: path.clone(),
                max_mode: DEFAULT_MAX_MODE,
                owner: None,
                group: None,
            },
            FileSpec::Full(r) => Rule {
                path: r.path.clone(),
                max_mode: match r.max_mode.as_ref().map(parse_mode) {
                    None => DEFAULT_MAX_MODE,
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        problems.push(format!("{}: {e}", r.path));
                        continue;
                    }
                },
                owner: r.owner.clone(),
                group: r.group.clone(),
            },
        };
        if rule.path.trim().is_empty() {
            problems.push("a `files` entry has an empty path".to_string());
        }
        rules.push(rule);
    }
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let mut findings = Vec::new();
    for rule in &rules {
        findings.extend(check_files(ctx, rule, grants, stat));
    }
    if let Some(connection) = &p.connection {
        findings.extend(check_roles(
            ctx,
            connection,
            p.role.as_deref(),
            &p.allow,
            query,
        ));
    }
    crate::cap(ctx, findings)
}

fn check_files(
    ctx: &Context,
    rule: &Rule,
    grants: &dyn Grants,
    stat: &dyn Fn(&str) -> Result<FileStat, String>,
) -> Vec<Finding> {
    let files = match expand(grants, &rule.path) {
        Ok(f) => f,
        Err(e) => return vec![unreadable(ctx, &rule.path, &e)],
    };
    let mut out = Vec::new();
    for file in files {
        // The canonical path: a symlink is judged by the file it points to.
        let absolute = file.absolute.to_string_lossy().into_owned();
        match stat(&absolute) {
            Ok(st) => out.extend(judge_file(ctx, &file.display, rule, &st)),
            Err(e) => out.push(unreadable(ctx, &file.display, &e)),
        }
    }
    out
}

fn who(name: &Option<String>, id: u32) -> String {
    match name {
        Some(n) => format!("{n} ({id})"),
        None => id.to_string(),
    }
}

fn judge_file(ctx: &Context, display: &str, rule: &Rule, st: &FileStat) -> Vec<Finding> {
    let mode = st.mode & 0o7777;
    let evidence = |f: gate_plugin_sdk::FindingBuilder| {
        f.evidence("mode", mode_string(mode))
            .evidence("max_mode", mode_string(rule.max_mode))
            .evidence("owner", who(&st.owner, st.uid))
            .evidence("group", who(&st.group, st.gid))
            .evidence("kind", &st.kind)
            .location(display, None, None)
    };
    let mut out = Vec::new();
    let excess = mode & !rule.max_mode;
    if excess != 0 {
        out.push(
            evidence(ctx.finding(display, Status::Fail).rule("mode"))
                .message(format!(
                    "`{display}` has mode {} ({}), more than {} allows: {}",
                    mode_string(mode),
                    symbolic(mode),
                    mode_string(rule.max_mode),
                    describe_excess(excess)
                ))
                .remediation(format!(
                    "chmod {} {display}",
                    mode_string(mode & rule.max_mode)
                ))
                .build(),
        );
    }
    let matches = |want: &str, name: &Option<String>, id: u32| {
        name.as_deref() == Some(want) || want == id.to_string()
    };
    if let Some(want) = &rule.owner
        && !matches(want, &st.owner, st.uid)
    {
        out.push(
            evidence(ctx.finding(display, Status::Fail).rule("owner"))
                .message(format!(
                    "`{display}` is owned by {}, not `{want}`",
                    who(&st.owner, st.uid)
                ))
                .remediation(format!("chown {want} {display}"))
                .build(),
        );
    }
    if let Some(want) = &rule.group
        && !matches(want, &st.group, st.gid)
    {
        out.push(
            evidence(ctx.finding(display, Status::Fail).rule("group"))
                .message(format!(
                    "`{display}` belongs to group {}, not `{want}`",
                    who(&st.group, st.gid)
                ))
                .remediation(format!("chgrp {want} {display}"))
                .build(),
        );
    }
    if out.is_empty() {
        out.push(
            evidence(ctx.finding(display, Status::Pass))
                .message(format!(
                    "`{display}` has mode {} (at most {}), owner {}",
                    mode_string(mode),
                    mode_string(rule.max_mode),
                    who(&st.owner, st.uid)
                ))
                .build(),
        );
    }
    out
}

const ROLE_SQL: &str = "\
SELECT r.rolname::text, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       (SELECT string_agg(s.rolname::text, ', ' ORDER BY s.rolname)
          FROM pg_roles s
         WHERE s.rolsuper AND s.oid <> r.oid AND pg_has_role(r.oid, s.oid, 'MEMBER')) AS superuser_via
  FROM pg_roles r
 WHERE r.rolname = COALESCE($1, current_user::text)";

/// Non-system schemas, and whether PUBLIC holds CREATE on each (a NULL ACL
/// means the owner-only default).
const SCHEMA_SQL: &str = "\
SELECT n.nspname::text,
       EXISTS (SELECT 1 FROM aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS public_create
  FROM pg_namespace n
 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
 ORDER BY 1";

fn check_roles(
    ctx: &Context,
    connection: &str,
    role: Option<&str>,
    allow: &[String],
    query: Query,
) -> Vec<Finding> {
    let cannot = |what: &str, e: String| {
        ctx.finding(connection, Status::Error)
            .message(format!("cannot read {what} on `{connection}`: {e}"))
            .remediation(format!(
                "check that [connections.{connection}] is defined, its url_env is set, the database is up, \
                 and the plugin's grants include `sql = [\"{connection}\"]`"
            ))
            .build()
    };
    let mut out = Vec::new();
    match query(ROLE_SQL, &[role.map(str::to_string)]) {
        Err(e) => out.push(cannot("role attributes", e)),
        Ok(rows) if rows.is_empty() => out.push(
            ctx.finding(
                format!("role:{}", role.unwrap_or("current_user")),
                Status::Error,
            )
            .message(format!(
                "role `{}` does not exist on `{connection}`",
                role.unwrap_or("current_user")
            ))
            .remediation("set `role` to the role the application connects as")
            .build(),
        ),
        Ok(rows) => out.extend(judge_role(ctx, connection, &rows[0], allow)),
    }
    match query(SCHEMA_SQL, &[]) {
        Err(e) => out.push(cannot("schema privileges", e)),
        Ok(rows) if rows.is_empty() => out.push(
            ctx.finding(connection, Status::Error)
                .message(format!("no schemas visible on `{connection}`"))
                .build(),
        ),
        Ok(rows) => {
            for row in rows {
                let schema = cell(&row, 0);
                let subject = format!("schema:{schema}");
                match truthy(cell(&row, 1)) {
                    Some(true) => out.push(
                        ctx.finding(subject, Status::Fail)
                            .rule("public-create")
                            .message(format!(
                                "PUBLIC may CREATE in schema `{schema}`: every role can plant objects that shadow the application's (search_path hijacking)"
                            ))
                            .evidence("connection", connection)
                            .remediation(format!("REVOKE CREATE ON SCHEMA \"{schema}\" FROM PUBLIC;"))
                            .build(),
                    ),
                    Some(false) => out.push(
                        ctx.finding(subject, Status::Pass)
                            .message(format!("PUBLIC may not CREATE in schema `{schema}`"))
                            .evidence("connection", connection)
                            .build(),
                    ),
                    None => out.push(
                        ctx.finding(subject, Status::Error)
                            .message(format!("unexpected answer for schema `{schema}`: {:?}", cell(&row, 1)))
                            .build(),
                    ),
                }
            }
        }
    }
    out
}

fn judge_role(
    ctx: &Context,
    connection: &str,
    row: &[Option<String>],
    allow: &[String],
) -> Vec<Finding> {
    let name = cell(row, 0).to_string();
    let subject = format!("role:{name}");
    let flag = |i: usize| truthy(cell(row, i));
    let mut out = Vec::new();
    let mut attributes = Vec::new();
    let flags = [flag(1), flag(2), flag(3), flag(4), flag(5)];
    if flags.iter().any(Option::is_none) {
        return vec![
            ctx.finding(subject, Status::Error)
                .message(format!("unexpected role attributes for `{name}`: {row:?}"))
                .build(),
        ];
    }
    if flags[0] == Some(true) {
        out.push(
            ctx.finding(&subject, Status::Fail)
                .rule("superuser")
                .severity(Severity::Critical)
                .message(format!(
                    "application role `{name}` is a superuser: it bypasses every permission check"
                ))
                .evidence("connection", connection)
                .remediation(format!(
                    "connect as a dedicated role without SUPERUSER (ALTER ROLE \"{name}\" NOSUPERUSER)"
                ))
                .build(),
        );
    }
    if let Some(via) = row.get(6).cloned().flatten().filter(|v| !v.is_empty()) {
        out.push(
            ctx.finding(&subject, Status::Fail)
                .rule("superuser-member")
                .severity(Severity::Critical)
                .message(format!(
                    "application role `{name}` is a member of superuser role(s) {via}: it can SET ROLE to them"
                ))
                .evidence("superuser_roles", &via)
                .evidence("connection", connection)
                .remediation(format!("REVOKE {via} FROM \"{name}\";"))
                .build(),
        );
    }
    for (i, (key, attr, meaning)) in ATTRIBUTES.iter().enumerate() {
        if flags[i + 1] != Some(true) {
            continue;
        }
        attributes.push(*attr);
        if allow.iter().any(|a| a == key) {
            continue;
        }
        out.push(
            ctx.finding(&subject, Status::Fail)
                .rule(*key)
                .message(format!("application role `{name}` has {attr}: it {meaning}"))
                .evidence("connection", connection)
                .remediation(format!(
                    "ALTER ROLE \"{name}\" NO{attr}; or add \"{key}\" to `allow` if the application needs it"
                ))
                .build(),
        );
    }
    if out.is_empty() {
        let held = if attributes.is_empty() {
            "no elevated attributes".to_string()
        } else {
            format!("only allowed attributes ({})", attributes.join(", "))
        };
        out.push(
            ctx.finding(&subject, Status::Pass)
                .message(format!(
                    "application role `{name}` is not a superuser and holds {held}"
                ))
                .evidence("connection", connection)
                .build(),
        );
    }
    out
}

#[cfg(test)]
mod tests;
