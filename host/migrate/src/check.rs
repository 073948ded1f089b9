//! `config.migrations-tested`: the migrations not yet applied pass the
//! migration validator.
//!
//! A hosted check (see `gate_eval::hosted`): it runs under the `config`
//! plugin's sandbox. The host reads the files only inside its `fs` grant,
//! queries the migration table only on a connection its `sql` grant names
//! (read-only transaction, rolled back), and validates the pending files
//! with the built-in `migrations` validator component.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use gate_eval::hosted::{CheckFuture, HostedCheck};

use super::expand::state::Record;
use super::in_progress;
use super::layout::{self, Migration, Tool};
use super::lint::{VALIDATOR, config_json};
use super::pending::Scope;
use gate_core::model::{Severity, Status};
use gate_eval::policy::{Grants, MigrationsConfig, Policy, RuleRef};
use gate_sandbox::capabilities::{Sandbox, granted};
use gate_sandbox::plugin::{CheckMeta, CheckRun, LoadedPlugin, ParamMeta, RawFinding, Runtime};
use gate_sandbox::postgres::Session;

pub const ID: &str = "config.migrations-tested";

pub fn meta() -> CheckMeta {
    let param =
        |name: &str, kind: &str, required: bool, description: &str, default: Option<&str>| {
            ParamMeta {
                name: name.into(),
                kind: kind.into(),
                required,
                description: description.into(),
                default: default.map(Into::into),
            }
        };
    CheckMeta {
        id: ID.into(),
        title: "Pending migrations pass the migration validator".into(),
        description: "Migrations not yet applied (per the migration tool's table on a named \
            connection, or every file without one) are validated by the built-in `migrations` \
            validator: no blocking locks, no breaking changes without an expand/contract plan. \
            Inherits pg_version, exclude, include and assume_in_transaction from [migrations]."
            .into(),
        default_severity: Severity::High,
        params: vec![
            param(
                "paths",
                "list<string>",
                true,
                "Migration directories or files (layout detected: sqlx, diesel, dbmate, Flyway, golang-migrate).",
                None,
            ),
            param(
                "connection",
                "string",
                false,
                "A [connections.NAME] whose migration table says what is applied (needs the `sql` grant).",
                None,
            ),
            param(
                "trace_connection",
                "string",
                false,
                "A [connections.NAME] marked `scratch = true`: the pending migrations are also traced there (rolled back), as `gate migrate trace` does (needs the `sql` grant).",
                None,
            ),
            param(
                "verify_down",
                "bool",
                false,
                "With trace_connection: also apply each down migration and compare the schema.",
                Some("false"),
            ),
            param(
                "table",
                "string",
                false,
                "Migration table: _sqlx_migrations, __diesel_schema_migrations, flyway_schema_history or schema_migrations (dbmate, golang-migrate).",
                Some("\"_sqlx_migrations\""),
            ),
            param(
                "layout",
                "string",
                false,
                "Force a layout: sqlx, diesel, dbmate, flyway, golang-migrate or plain.",
                None,
            ),
            param(
                "pg_version",
                "integer",
                false,
                "Target PostgreSQL major version (default: [migrations] pg_version).",
                None,
            ),
            param(
                "exclude",
                "list<string>",
                false,
                "Rule ids switched off (default: [migrations] exclude).",
                None,
            ),
        ],
        capabilities: vec!["fs".into()],
    }
}

/// Parsed params.
struct Params {
    paths: Vec<PathBuf>,
    connection: Option<String>,
    trace_connection: Option<String>,
    verify_down: bool,
    table: String,
    tool: Option<Tool>,
    config: MigrationsConfig,
}

/// Params the check accepts.
const KNOWN_PARAMS: [&str; 10] = [
    "paths",
    "connection",
    "trace_connection",
    "verify_down",
    "table",
    "layout",
    "pg_version",
    "exclude",
    "include",
    "assume_in_transaction",
];

/// A param of the `[[check]]` the check cannot use; reported as the
/// check's `error` finding.
#[derive(Debug, thiserror::Error)]
enum ParamsError {
    #[error("params must be a table")]
    NotTable,
    #[error("unknown param `{0}`; known: {known}", known = KNOWN_PARAMS.join(", "))]
    Unknown(String),
    #[error("`{0}` must be a list of strings")]
    NotStrings(String),
    #[error("`{0}` must be a string")]
    NotString(String),
    #[error("`paths` is required: the migration directories, e.g. paths = [\"migrations\"]")]
    NoPaths,
    #[error("`layout = \"{0}\"`: use one of sqlx, diesel, dbmate, flyway, golang-migrate, plain")]
    Layout(String),
    #[error(
        "`table = \"{0}\"` is not a table name (letters, digits, `_`, optionally schema-qualified)"
    )]
    Table(String),
    #[error(
        "`pg_version` must be a PostgreSQL major version, {} to {}",
        gate_sqlkit::PG_MAJOR_VERSIONS.start(),
        gate_sqlkit::PG_MAJOR_VERSIONS.end()
    )]
    PgVersion,
    #[error("`verify_down` must be true or false")]
    VerifyDown,
}

fn parse_params(value: &Value) -> Result<Params, ParamsError> {
    let obj = value.as_object().ok_or(ParamsError::NotTable)?;
    if let Some(k) = obj.keys().find(|k| !KNOWN_PARAMS.contains(&k.as_str())) {
        return Err(ParamsError::Unknown(k.clone()));
    }
    let obj = RawParams(obj);
    let paths: Vec<PathBuf> = obj
        .strings("paths")?
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if paths.is_empty() {
        return Err(ParamsError::NoPaths);
    }
    let tool = match obj.text("layout")? {
        None => None,
        Some(l) => Some(Tool::parse(&l).ok_or(ParamsError::Layout(l))?),
    };
    Ok(Params {
        paths,
        connection: obj.text("connection")?,
        trace_connection: obj.text("trace_connection")?,
        verify_down: obj.verify_down()?,
        table: obj.table()?,
        tool,
        config: MigrationsConfig {
            paths: Vec::new(),
            pg_version: obj.pg_version()?,
            exclude: obj.rules("exclude")?,
            include: obj.rules("include")?,
            assume_in_transaction: obj
                .0
                .get("assume_in_transaction")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            origin: None,
        },
    })
}

/// The params table, read one typed value at a time.
struct RawParams<'a>(&'a Map<String, Value>);

impl RawParams<'_> {
    fn strings(&self, key: &str) -> Result<Vec<String>, ParamsError> {
        match self.0.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ParamsError::NotStrings(key.to_string()))
                })
                .collect(),
            Some(_) => Err(ParamsError::NotStrings(key.to_string())),
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>, ParamsError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ParamsError::NotString(key.to_string())),
        }
    }

    /// Rule ids, with an origin that names the params.
    fn rules(&self, key: &str) -> Result<Vec<RuleRef>, ParamsError> {
        Ok(self
            .strings(key)?
            .into_iter()
            .map(|id| RuleRef {
                id,
                origin: gate_eval::policy::Origin {
                    file: PathBuf::from("params"),
                    line: 0,
                    column: 0,
                },
            })
            .collect())
    }

    /// The migration table: letters, digits and `_`, optionally
    /// schema-qualified (it is written into a query).
    fn table(&self) -> Result<String, ParamsError> {
        let table = self
            .text("table")?
            .unwrap_or_else(|| "_sqlx_migrations".into());
        let ident = |s: &str| {
            !s.is_empty()
                && s.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
        };
        if !ident(&table) {
            return Err(ParamsError::Table(table));
        }
        Ok(table)
    }

    fn pg_version(&self) -> Result<Option<u32>, ParamsError> {
        Ok(match self.0.get("pg_version") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                u32::try_from(v.as_u64().unwrap_or(0))
                    .ok()
                    .filter(|v| gate_sqlkit::PG_MAJOR_VERSIONS.contains(v))
                    .ok_or(ParamsError::PgVersion)?,
            ),
        })
    }

    fn verify_down(&self) -> Result<bool, ParamsError> {
        match self.0.get("verify_down") {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ParamsError::VerifyDown),
        }
    }
}

fn error(message: String) -> Vec<RawFinding> {
    vec![RawFinding {
        rule: None,
        subject: ID.into(),
        status: Status::Error,
        severity: None,
        message,
        evidence: Vec::new(),
        remediation: None,
        location: None,
    }]
}

/// `config.migrations-tested`, registered with the evaluation layer's
/// [`HostedChecks`](gate_eval::hosted::HostedChecks).
#[derive(Clone, Copy, Debug, Default)]
pub struct MigrationsTested;

impl HostedCheck for MigrationsTested {
    fn plugin(&self) -> &'static str {
        "config"
    }

    fn meta(&self) -> CheckMeta {
        meta()
    }

    /// `[migrations]` gives the defaults for the params the `[[check]]`
    /// leaves out, so the check and `gate migrate lint` agree.
    fn default_params(&self, policy: &Policy, params: &mut Map<String, Value>) {
        let m = &policy.migrations;
        if m.origin.is_none() {
            return;
        }
        let ids = |rules: &[RuleRef]| {
            serde_json::Value::from(rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
        };
        if !params.contains_key("paths") && !m.paths.is_empty() {
            let paths: Vec<String> = m.paths.iter().map(|p| p.display().to_string()).collect();
            params.insert("paths".into(), paths.into());
        }
        if let (false, Some(v)) = (params.contains_key("pg_version"), m.pg_version) {
            params.insert("pg_version".into(), v.into());
        }
        if !params.contains_key("exclude") && !m.exclude.is_empty() {
            params.insert("exclude".into(), ids(&m.exclude));
        }
        if !params.contains_key("include") && !m.include.is_empty() {
            params.insert("include".into(), ids(&m.include));
        }
        if !params.contains_key("assume_in_transaction") {
            params.insert(
                "assume_in_transaction".into(),
                m.assume_in_transaction.into(),
            );
        }
    }

    fn run<'a>(
        &'a self,
        runtime: &'a Runtime,
        plugin: &'a LoadedPlugin,
        params: &'a Value,
    ) -> CheckFuture<'a> {
        Box::pin(run(runtime, plugin, params))
    }
}

/// Runs the check under the `config` plugin's sandbox and timeout.
pub async fn run(runtime: &Runtime, plugin: &LoadedPlugin, params: &Value) -> CheckRun {
    let started = Instant::now();
    let sandbox = plugin.sandbox.clone();
    let timeout = sandbox.limits.timeout;
    // Time inside the validator component; the rest is the host's.
    let mut plugin_time = Duration::ZERO;
    let run = findings(runtime, &sandbox, params, &mut plugin_time);
    let outcome = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(findings)) => Ok(findings),
        Ok(Err(message)) => Ok(error(message)),
        Err(_) => Err(format!(
            "timed out after {} ms (plugin `{}` timeout_ms)",
            timeout.as_millis(),
            sandbox.plugin
        )),
    };
    let duration = started.elapsed();
    CheckRun {
        outcome,
        duration,
        host_time: duration.saturating_sub(plugin_time),
        instances: 1,
    }
}

/// `Err` is a problem that makes the check unable to see what it checks (an `error` finding).
async fn findings(
    runtime: &Runtime,
    sandbox: &Arc<Sandbox>,
    params: &Value,
    plugin_time: &mut Duration,
) -> Result<Vec<RawFinding>, String> {
    let p = parse_params(params).map_err(|e| e.to_string())?;
    let migrations = discover(sandbox, &p).await?;
    let mut notes = Vec::new();
    let applied = match &p.connection {
        None => None,
        Some(name) => {
            Some(applied_or_none(sandbox, name, &p.table, &migrations, &mut notes).await?)
        }
    };
    let (done, pending) = split_applied(&migrations, applied);
    let mut out = vec![summary(&p, &migrations, done, pending.len())];
    if let Some(name) = &p.connection
        && let Some(record) = expand_in_progress(sandbox, name).await?
    {
        let conflicts = in_progress::conflicts(&pending, &record);
        out.extend(in_progress::findings(name, &record, &conflicts));
    }
    out.extend(notes.into_iter().map(|note| RawFinding {
        rule: Some("migration-table".into()),
        subject: p.table.clone(),
        status: Status::Warn,
        severity: Some(Severity::Low),
        message: note,
        evidence: Vec::new(),
        remediation: Some(
            "check `table` (and the connection) if migrations were applied already".into(),
        ),
        location: None,
    }));
    if pending.is_empty() {
        return Ok(out);
    }
    out.extend(validate(runtime, sandbox, &p, &pending, plugin_time).await?);
    // The trace, where configured: the pending migrations on a scratch database.
    if let Some(name) = &p.trace_connection {
        out.extend(trace(sandbox, name, p.verify_down, &pending).await?);
    }
    Ok(out)
}

/// The migrations under `p.paths`. Every listing and read goes through the
/// `fs` grants, beneath their directory handles, on the blocking pool: `run`
/// bounds it by the timeout.
async fn discover(sandbox: &Arc<Sandbox>, p: &Params) -> Result<Vec<Migration>, String> {
    let options = layout::Options {
        cwd: sandbox.cwd.clone(),
        assume_in_transaction: p.config.assume_in_transaction,
        tool: p.tool,
        files: sandbox.fs.clone(),
    };
    let paths = p.paths.clone();
    let owner = sandbox.clone();
    let migrations = tokio::task::spawn_blocking(move || layout::discover(&paths, &options))
        .await
        .map_err(|e| format!("reading migrations failed: {e}"))?
        .map_err(|e| match e {
            layout::LayoutError::Fs(f) => owner.fs_message(&f),
            other => other.to_string(),
        })?;
    if migrations.is_empty() {
        return Err(super::lint::no_migrations(&p.paths));
    }
    Ok(migrations)
}

/// The versions applied on connection `name` (through the `sql` grant);
/// none, with a note, when the migration table does not exist.
async fn applied_or_none(
    sandbox: &Sandbox,
    name: &str,
    table: &str,
    migrations: &[Migration],
    notes: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    if !granted(&sandbox.grants.sql, name) {
        return Err(sandbox.denied("sql", name, name));
    }
    Ok(
        match applied_versions(sandbox, name, table, is_golang(migrations)).await? {
            Some(v) => v,
            None => {
                notes.push(format!(
                    "table {table} does not exist on `{name}`: no migration is applied yet, so all are pending"
                ));
                Vec::new()
            }
        },
    )
}

fn is_golang(migrations: &[Migration]) -> bool {
    migrations
        .first()
        .is_some_and(|m| m.tool == Tool::GolangMigrate)
}

/// A version without its leading zeros, as the tools compare them.
fn normal_version(v: &str) -> String {
    let t = v.trim().trim_start_matches('0');
    if t.is_empty() {
        "0".to_string()
    } else {
        t.to_string()
    }
}

/// How many migrations are applied, and the pending ones. Without a
/// connection (`applied` is `None`) every migration is pending.
fn split_applied(
    migrations: &[Migration],
    applied: Option<Vec<String>>,
) -> (usize, Vec<Migration>) {
    let applied_set: Option<Vec<String>> =
        applied.map(|v| v.iter().map(|s| normal_version(s)).collect());
    // golang-migrate keeps one row, the current version: everything up to it
    // is applied. The other tools keep one row per applied migration.
    let golang = is_golang(migrations);
    let current: Option<u128> = applied_set
        .as_ref()
        .and_then(|a| a.iter().filter_map(|v| v.parse::<u128>().ok()).max());
    let (done, pending): (Vec<&Migration>, Vec<&Migration>) = migrations.iter().partition(|m| {
        if golang {
            return normal_version(&m.version)
                .parse::<u128>()
                .ok()
                .zip(current)
                .is_some_and(|(v, c)| v <= c);
        }
        applied_set
            .as_ref()
            .is_some_and(|a| a.contains(&normal_version(&m.version)))
    });
    (done.len(), pending.into_iter().cloned().collect())
}

/// The `pending-migrations` finding: what was found, applied and validated.
fn summary(p: &Params, migrations: &[Migration], done: usize, pending: usize) -> RawFinding {
    let mut evidence = vec![
        ("migrations".to_string(), migrations.len().to_string()),
        ("applied".to_string(), done.to_string()),
        ("pending".to_string(), pending.to_string()),
    ];
    if let Some(m) = migrations.first() {
        evidence.push(("layout".into(), m.tool.name().into()));
    }
    if let Some(name) = &p.connection {
        evidence.push(("connection".into(), name.clone()));
        evidence.push(("table".into(), p.table.clone()));
    }
    let message = match (&p.connection, pending) {
        (_, 0) => format!(
            "no pending migration ({} found, {done} applied)",
            migrations.len(),
        ),
        (Some(name), n) => format!(
            "{n} pending migration{} validated ({done} already applied on `{name}`, skipped)",
            if n == 1 { "" } else { "s" },
        ),
        (None, n) => format!(
            "{n} migration{} validated (no connection: every file counts as pending)",
            if n == 1 { "" } else { "s" }
        ),
    };
    RawFinding {
        rule: Some("pending-migrations".into()),
        subject: "migrations".into(),
        status: Status::Pass,
        severity: Some(Severity::Info),
        message,
        evidence,
        remediation: None,
        location: None,
    }
}

/// The validator component's findings on the pending migrations, with each
/// rule's default severity where the finding names none.
async fn validate(
    runtime: &Runtime,
    sandbox: &Sandbox,
    p: &Params,
    pending: &[Migration],
    plugin_time: &mut Duration,
) -> Result<Vec<RawFinding>, String> {
    let validator_sandbox = Arc::new(Sandbox::new(
        VALIDATOR,
        Grants::default(),
        &sandbox.cwd,
        sandbox.clock,
    ));
    let validator = runtime
        .load_validator(VALIDATOR, validator_sandbox)
        .await
        .map_err(|e| e.to_string())?;
    super::lint::check_rule_ids(&p.config, &validator).map_err(|e| e.to_string())?;
    let run = runtime
        .validate(
            &validator,
            super::lint::files(pending),
            // The database knows what is pending: those files run together.
            &config_json(&p.config, Scope::Run),
        )
        .await;
    *plugin_time += run.duration.saturating_sub(run.host_time);
    let found = run
        .outcome
        .map_err(|reason| format!("validator `{VALIDATOR}` failed: {reason}"))?;
    let severities: BTreeMap<&str, Severity> = validator
        .meta
        .checks
        .iter()
        .map(|c| (c.id.as_str(), c.default_severity))
        .collect();
    Ok(found
        .into_iter()
        .map(|mut f| {
            if f.severity.is_none() {
                f.severity = f.rule.as_deref().and_then(|r| severities.get(r)).copied();
            }
            f
        })
        .collect())
}

/// The pending migrations traced on scratch connection `name` (rolled
/// back), their rules prefixed with `trace:`.
async fn trace(
    sandbox: &Sandbox,
    name: &str,
    verify_down: bool,
    pending: &[Migration],
) -> Result<Vec<RawFinding>, String> {
    if !granted(&sandbox.grants.sql, name) {
        return Err(sandbox.denied("sql", name, name));
    }
    let options = super::trace::TraceOptions {
        connection: name.to_string(),
        commit: false,
        verify_down,
        lock_timeout: Duration::from_secs(5),
    };
    let traced = super::trace::trace_findings(
        &sandbox.resources.connections,
        "the policy",
        pending,
        &options,
    )
    .await
    .map_err(|e| format!("trace on `{name}`: {e}"))?;
    Ok(traced
        .into_iter()
        .map(|f| RawFinding {
            rule: f.rule.map(|r| format!("trace:{r}")),
            subject: f.subject,
            status: f.status,
            severity: Some(f.severity),
            message: f.message,
            evidence: f.evidence.into_iter().collect(),
            remediation: f.remediation,
            location: f.location,
        })
        .collect())
}

/// The versions recorded in the migration table; `None` when it does not exist.
/// A least-privileged session on connection `name` (the caller checked the
/// `sql` grant).
async fn session_on(sandbox: &Sandbox, name: &str) -> Result<Session, String> {
    let url = gate_sandbox::postgres::url(&sandbox.resources.connections, name)
        .map_err(|e| e.to_string())?;
    gate_sandbox::postgres::connect_least_privileged(name, &url)
        .await
        .map_err(|e| e.to_string())
}

/// The expand/contract migration in progress on connection `name`, read in
/// a read-only transaction.
async fn expand_in_progress(sandbox: &Sandbox, name: &str) -> Result<Option<Record>, String> {
    let session = session_on(sandbox, name).await?;
    let client = &session.client;
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .map_err(|e| format!("`{name}`: {e}"))?;
    let record = in_progress::read(client)
        .await
        .map_err(|e| format!("`{name}`: reading expand/contract migrations: {e}"));
    let _ = client.batch_execute("ROLLBACK").await;
    record
}

async fn applied_versions(
    sandbox: &Sandbox,
    name: &str,
    table: &str,
    golang: bool,
) -> Result<Option<Vec<String>>, String> {
    let session = session_on(sandbox, name).await?;
    let client = &session.client;
    let bare = table.rsplit('.').next().unwrap_or(table);
    // golang-migrate: a dirty version failed half-way, so only the versions
    // before it are applied.
    let column = if golang && bare == "schema_migrations" {
        "(CASE WHEN dirty THEN version - 1 ELSE version END)::text"
    } else {
        "version::text"
    };
    let filter = match bare {
        "_sqlx_migrations" | "flyway_schema_history" => " WHERE success",
        _ => "",
    };
    let result = async {
        client
            .batch_execute("BEGIN READ ONLY")
            .await
            .map_err(|e| format!("`{name}`: {e}"))?;
        let exists = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await
            .map_err(|e| format!("`{name}`: {e}"))?;
        if !exists.get::<_, bool>(0) {
            return Ok(None);
        }
        let rows = client
            .query(&format!("SELECT {column} FROM {table}{filter}"), &[])
            .await
            .map_err(|e| format!("`{name}`: reading {table}: {e}"))?;
        Ok(Some(
            rows.iter()
                .filter_map(|r| r.get::<_, Option<String>>(0))
                .collect(),
        ))
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    result
}
