//! Rules beyond the schema: per file (before merging) and on the merged policy.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate, Utc};
use gate_trust::AllowedSigners;

use super::decode::did_you_mean;
use super::document::{
    CheckDecl, ConnectionDecl, ExemptionDecl, GateDecl, MetricsDecl, MigrationsDecl, PluginDecl,
    PolicyDoc,
};
use super::errors::Errors;
use super::signed;
use super::source::At;
use super::{
    AuditConfig, CheckConfig, Connection, Enforcement, Exemption, ExemptionTrust, GateSpec,
    MetricsProvider, MigrationsConfig, Origin, PluginSpec, Policy, PolicyError, RestoreDrill,
    RuleRef, VerifyQuery, ids,
};

pub(crate) const DEFAULT_WARN_DAYS: u32 = 14;

/// Checks one file on its own. Run on every file of an `extends` chain, so an
/// error in a base policy is reported even where a child overrides the value.
pub(crate) fn check_document(doc: &PolicyDoc, errors: &mut Errors) {
    if let Some(name) = doc.name.as_ref().filter(|n| n.value.trim().is_empty()) {
        errors.push(PolicyError::at(&name.origin, "policy `name` is empty"));
    }
    for e in doc.extends.iter().filter(|e| e.value.trim().is_empty()) {
        errors.push(PolicyError::at(&e.origin, "empty path in `extends`"));
    }

    if let Some(m) = &doc.migrations {
        check_migrations(m, errors);
    }

    check_plugin_decls(&doc.plugins, errors);
    check_connection_decls(&doc.connections, errors);
    check_metrics_decls(&doc.metrics, errors);
    check_gate_decls(&doc.gates, errors);
    check_check_decls(&doc.checks, errors);
    check_exemptions(&doc.exemptions, errors);
}

/// Plugin names (unique, kebab-case), `sha256` pins and grants.
fn check_plugin_decls(decls: &[PluginDecl], errors: &mut Errors) {
    let mut plugins = Seen::new("[[plugin]]", "plugins merge by name across `extends` only");
    for p in decls {
        plugins.check(&p.name, errors);
        if !ids::is_plugin_name(&p.name.value) {
            errors.push(
                PolicyError::at(
                    &p.name.origin,
                    format!("invalid plugin name `{}`", p.name.value),
                )
                .with_help(kebab_help(
                    &p.name.value,
                    ids::is_plugin_name,
                    "`acme-checks`",
                )),
            );
        }
        if let Some(sha) = &p.sha256
            && !(sha.value.len() == 64 && sha.value.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errors.push(
                PolicyError::at(&sha.origin, "`sha256` must be 64 hexadecimal characters")
                    .with_help("compute it with `sha256sum <plugin.wasm>`"),
            );
        }
        p.grants.check(errors);
    }
}

/// Connection kinds and `url_env` names.
fn check_connection_decls(decls: &[ConnectionDecl], errors: &mut Errors) {
    for c in decls {
        if let Some(kind) = c.kind.as_ref().filter(|k| k.value != "postgres") {
            errors.push(
                PolicyError::at(
                    &kind.origin,
                    format!("unknown connection kind `{}`", kind.value),
                )
                .with_help("the supported kind is `postgres`"),
            );
        }
        if let Some(env) = &c.url_env {
            if env.value.contains("://") {
                errors.push(
                    PolicyError::at(
                        &env.origin,
                        "`url_env` must name an environment variable, not hold a URL",
                    )
                    .with_help(
                        "secrets come from the environment: export the URL, e.g. as \
                             DATABASE_URL, and write `url_env = \"DATABASE_URL\"`",
                    ),
                );
            } else if !is_env_name(&env.value) {
                errors.push(
                    PolicyError::at(
                        &env.origin,
                        format!(
                            "`url_env` is not an environment variable name: `{}`",
                            env.value
                        ),
                    )
                    .with_help("use letters, digits and `_`, e.g. `url_env = \"DATABASE_URL\"`"),
                );
            }
        }
    }
}

/// Metrics provider kinds and URLs.
fn check_metrics_decls(decls: &[MetricsDecl], errors: &mut Errors) {
    for m in decls {
        if let Some(kind) = m.kind.as_ref().filter(|k| k.value != "prometheus") {
            errors.push(
                PolicyError::at(
                    &kind.origin,
                    format!("unknown metrics provider kind `{}`", kind.value),
                )
                .with_help("the supported kind is `prometheus`"),
            );
        }
        if let Some(url) = m.url.as_ref().filter(|u| !is_http_url(&u.value)) {
            errors.push(
                PolicyError::at(
                    &url.origin,
                    format!("`url` is not an http(s) URL: `{}`", url.value),
                )
                .with_help("e.g. `url = \"http://127.0.0.1:9090\"`"),
            );
        }
    }
}

/// Gate names (present, unique) and their check patterns.
fn check_gate_decls(decls: &[GateDecl], errors: &mut Errors) {
    let mut gates = Seen::new("[[gate]]", "gates merge by name across `extends` only");
    for g in decls {
        if g.name.value.trim().is_empty() {
            errors.push(PolicyError::at(&g.name.origin, "gate `name` is empty"));
        }
        gates.check(&g.name, errors);
        for c in g.checks.iter().flat_map(|c| &c.value) {
            if let Some(problem) = ids::check_pattern_problem(&c.value) {
                errors.push(
                    PolicyError::at(
                        &c.origin,
                        format!("invalid check id or pattern `{}`: {problem}", c.value),
                    )
                    .with_help(id_help(&c.value)),
                );
            }
        }
    }
}

/// `[[check]]` ids: unique, one id each, not a pattern.
fn check_check_decls(decls: &[CheckDecl], errors: &mut Errors) {
    let mut checks = Seen::new("[[check]]", "checks merge by id across `extends` only");
    for c in decls {
        checks.check(&c.id, errors);
        if super::glob::is_pattern(&c.id.value) {
            errors.push(
                PolicyError::at(
                    &c.id.origin,
                    format!(
                        "[[check]] configures one check, but `{}` is a pattern",
                        c.id.value
                    ),
                )
                .with_help("write one [[check]] entry per check id"),
            );
        } else if let Some(problem) = ids::check_id_problem(&c.id.value) {
            errors.push(
                PolicyError::at(
                    &c.id.origin,
                    format!("invalid check id `{}`: {problem}", c.id.value),
                )
                .with_help(id_help(&c.id.value)),
            );
        }
    }
}

/// Checks exemptions on their own, wherever they were written.
pub(crate) fn check_exemptions(exemptions: &[ExemptionDecl], errors: &mut Errors) {
    for e in exemptions {
        if let Some(problem) = ids::check_pattern_problem(&e.check.value) {
            errors.push(
                PolicyError::at(
                    &e.check.origin,
                    format!("invalid check id or pattern `{}`: {problem}", e.check.value),
                )
                .with_help(id_help(&e.check.value)),
            );
        }
        let required = [("reason", &e.reason), ("approved_by", &e.approved_by)];
        for (key, value) in required {
            if value.value.trim().is_empty() {
                errors.push(
                    PolicyError::at(&value.origin, format!("exemption `{key}` is empty"))
                        .with_help("an exemption must say why it is needed and who approved it"),
                );
            }
        }
        let optional = [("match", &e.subject_match), ("ticket", &e.ticket)];
        for (key, value) in optional {
            if let Some(v) = value.as_ref().filter(|v| v.value.trim().is_empty()) {
                errors.push(
                    PolicyError::at(&v.origin, format!("exemption `{key}` is empty"))
                        .with_help(format!("remove `{key}` or give it a value")),
                );
            }
        }
    }
}

/// Checks the merged policy and builds the public [`Policy`].
///
/// `name` is the top-level file's own `[policy] name`; `today` bounds exemption
/// lifetimes. Checks for missing things are skipped when some file could not be
/// decoded, since they would only echo that error.
pub(crate) fn finish(
    doc: PolicyDoc,
    source: PathBuf,
    name: Option<At<String>>,
    top_complete: bool,
    options: &super::LoadOptions,
    errors: &mut Errors,
) -> Policy {
    let today = options.today;
    let complete = doc.complete;
    if name.is_none() && top_complete {
        errors.push(missing_name(&source));
    }
    check_plugin_pins_and_grants(&doc, complete, errors);
    check_required_keys(&doc, complete, errors);
    check_gates_have_checks(&doc.gates, complete, errors);
    check_exemption_lifetimes(&doc, today, errors);
    check_restore_drills(&doc, complete, errors);
    let audit = audit_config(doc.audit_dir.clone(), &source);
    let signers = signed::load_signers(doc.exemption_signers.as_ref(), errors);
    Policy {
        name: name.map(|n| n.value).unwrap_or_default(),
        source,
        max_exemption_days: doc.max_exemption_days.map(|d| d.value),
        warn_days: doc.warn_days.map_or(DEFAULT_WARN_DAYS, |d| d.value),
        plugins: plugin_specs(doc.plugins),
        connections: connections(doc.connections),
        metrics: providers(doc.metrics),
        gates: gate_specs(doc.gates),
        checks: check_configs(doc.checks),
        exemptions: exemptions(doc.exemptions, signers.as_ref(), options.now),
        migrations: migrations_config(doc.migrations),
        audit,
        notify: doc.notify,
        restore_drills: restore_drills(doc.restore_drills),
        inputs: Vec::new(),
    }
}

/// Default limit on a restore drill, from its start to verified.
const DEFAULT_RESTORE_TIMEOUT_SECS: u64 = 600;

/// Each `[drills.restore.NAME]` names a connection the policy defines, and
/// a timeout above zero.
fn check_restore_drills(doc: &PolicyDoc, complete: bool, errors: &mut Errors) {
    for d in &doc.restore_drills {
        if complete && !doc.connections.iter().any(|c| c.name == d.connection) {
            errors.push(
                PolicyError::at(
                    &d.origin,
                    format!(
                        "[drills.restore.{}] names no connection of this policy",
                        d.connection
                    ),
                )
                .with_help(format!(
                    "define `[connections.{}]` (kind = \"postgres\", url_env = …): the drill reads the database's user and name from it",
                    d.connection
                )),
            );
        }
        if let Some(t) = &d.timeout_secs
            && t.value == 0
        {
            errors.push(
                PolicyError::at(&t.origin, "`timeout_secs` must be more than 0").with_help(
                    format!("remove it for the default, {DEFAULT_RESTORE_TIMEOUT_SECS} s"),
                ),
            );
        }
    }
}

fn restore_drills(decls: Vec<super::document::RestoreDrillDecl>) -> BTreeMap<String, RestoreDrill> {
    decls
        .into_iter()
        .map(|d| {
            let drill = RestoreDrill {
                connection: d.connection.clone(),
                base_backups: d.base_backups.value,
                wal_archive: d.wal_archive.value,
                timeout_secs: d
                    .timeout_secs
                    .map_or(DEFAULT_RESTORE_TIMEOUT_SECS, |t| t.value),
                verify: d
                    .verify
                    .into_iter()
                    .map(|q| VerifyQuery {
                        sql: q.value.0,
                        expect: q.value.1,
                        origin: q.origin,
                    })
                    .collect(),
                origin: d.origin,
            };
            (d.connection, drill)
        })
        .collect()
}

/// The error for a top-level file without `[policy] name`.
fn missing_name(source: &Path) -> PolicyError {
    PolicyError::at(
        &Origin {
            file: source.to_path_buf(),
            line: 1,
            column: 1,
        },
        "the policy has no name",
    )
    .with_help("add `[policy]` with `name = \"…\"` to this file")
}

/// Plugins: a `path` needs a `sha256` pin and a pin needs a `path`; the
/// connections and metrics providers their grants name must be defined.
fn check_plugin_pins_and_grants(doc: &PolicyDoc, complete: bool, errors: &mut Errors) {
    let connections: HashMap<&str, ()> = doc
        .connections
        .iter()
        .map(|c| (c.name.as_str(), ()))
        .collect();
    let providers: HashMap<&str, ()> = doc.metrics.iter().map(|m| (m.name.as_str(), ())).collect();
    for p in &doc.plugins {
        match (&p.path, &p.sha256) {
            (Some(path), None) if complete && p.clean => errors.push(
                PolicyError::at(
                    &path.origin,
                    format!("plugin `{}` has a `path` but no `sha256` pin", p.name.value),
                )
                .with_help(format!(
                    "add `sha256 = \"…\"`; compute it with `sha256sum {}`",
                    path.value.display()
                )),
            ),
            (None, Some(sha)) if complete && p.clean => errors.push(
                PolicyError::at(
                    &sha.origin,
                    format!(
                        "`sha256` pins a plugin file, but plugin `{}` has no `path`",
                        p.name.value
                    ),
                )
                .with_help("built-in plugins need no pin: remove `sha256`, or add `path`"),
            ),
            _ => {}
        }
        if !complete {
            continue;
        }
        let references = [
            (&p.grants.sql, &connections, "connection", "connections"),
            (&p.grants.metrics, &providers, "metrics provider", "metrics"),
        ];
        for (grants, defined, what, table) in references {
            for g in grants
                .iter()
                .filter(|g| !defined.contains_key(g.value.as_str()))
            {
                let help = match did_you_mean(&g.value, defined.keys().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("define it with `[{table}.{}]`", g.value),
                };
                errors.push(
                    PolicyError::at(
                        &g.origin,
                        format!("grant names {what} `{}`, which is not defined", g.value),
                    )
                    .with_help(help),
                );
            }
        }
    }
}

/// Connections and metrics providers have their required keys.
fn check_required_keys(doc: &PolicyDoc, complete: bool, errors: &mut Errors) {
    for c in doc.connections.iter().filter(|c| complete && c.clean) {
        let fields = [
            ("kind", c.kind.is_some(), "`kind = \"postgres\"`"),
            (
                "url_env",
                c.url_env.is_some(),
                "`url_env = \"DATABASE_URL\"`, naming the environment variable that holds the URL",
            ),
        ];
        for (key, present, example) in fields {
            if !present {
                errors.push(
                    PolicyError::at(
                        &c.origin,
                        format!(
                            "[connections.{}] is missing the required key `{key}`",
                            c.name
                        ),
                    )
                    .with_help(format!("add {example}")),
                );
            }
        }
    }
    for m in doc.metrics.iter().filter(|m| complete && m.clean) {
        let fields = [
            ("kind", m.kind.is_some(), "`kind = \"prometheus\"`"),
            ("url", m.url.is_some(), "`url = \"http://127.0.0.1:9090\"`"),
        ];
        for (key, present, example) in fields {
            if !present {
                errors.push(
                    PolicyError::at(
                        &m.origin,
                        format!("[metrics.{}] is missing the required key `{key}`", m.name),
                    )
                    .with_help(format!("add {example}")),
                );
            }
        }
    }
}

/// Every gate lists checks.
fn check_gates_have_checks(gates: &[GateDecl], complete: bool, errors: &mut Errors) {
    for g in gates {
        let empty = match &g.checks {
            Some(list) if list.value.is_empty() => Some(&list.origin),
            None if complete && g.clean => Some(&g.origin),
            _ => None,
        };
        if let Some(at) = empty {
            errors.push(
                PolicyError::at(at, format!("gate `{}` has no checks", g.name.value)).with_help(
                    "list check ids or patterns, e.g. `checks = [\"infra.*\"]`; \
                         to switch a gate off, set `enforcement = \"off\"`",
                ),
            );
        }
    }
}

/// No exemption outlives `max_exemption_days` from `today`.
fn check_exemption_lifetimes(doc: &PolicyDoc, today: NaiveDate, errors: &mut Errors) {
    if let Some(cap) = &doc.max_exemption_days {
        for e in &doc.exemptions {
            let days = (e.expires.value - today).num_days();
            if days > i64::from(cap.value) {
                let latest = today
                    .checked_add_days(Days::new(cap.value.into()))
                    .map_or_else(|| "far future".to_string(), |d| d.to_string());
                errors.push(
                    PolicyError::at(
                        &e.expires.origin,
                        format!(
                            "exemption expires {}, {days} days from today ({today}), \
                             beyond the policy's limit of {} days",
                            e.expires.value, cap.value
                        ),
                    )
                    .with_help(format!(
                        "expire it on or before {latest}; \
                         the limit is `max_exemption_days = {}` at {}",
                        cap.value, cap.origin
                    )),
                );
            }
        }
    }
}

/// The plugins, their `sha256` pins lower-cased.
fn plugin_specs(plugins: Vec<PluginDecl>) -> Vec<PluginSpec> {
    plugins
        .into_iter()
        .map(|p| PluginSpec {
            name: p.name.value,
            path: p.path.map(|p| p.value),
            sha256: p.sha256.map(|s| s.value.to_ascii_lowercase()),
            grants: p.grants.finish(),
            origin: p.origin,
        })
        .collect()
}

/// The connections by name.
fn connections(connections: Vec<ConnectionDecl>) -> BTreeMap<String, Connection> {
    connections
        .into_iter()
        .map(|c| {
            let connection = Connection {
                kind: c.kind.map(|k| k.value).unwrap_or_default(),
                url_env: c.url_env.map(|u| u.value).unwrap_or_default(),
                scratch: c.scratch.is_some_and(|s| s.value),
                origin: c.origin,
            };
            (c.name, connection)
        })
        .collect()
}

/// The metrics providers by name.
fn providers(metrics: Vec<MetricsDecl>) -> BTreeMap<String, MetricsProvider> {
    metrics
        .into_iter()
        .map(|m| {
            let provider = MetricsProvider {
                kind: m.kind.map(|k| k.value).unwrap_or_default(),
                url: m.url.map(|u| u.value).unwrap_or_default(),
                origin: m.origin,
            };
            (m.name, provider)
        })
        .collect()
}

/// The gates; `enforcement` defaults to block.
fn gate_specs(gates: Vec<GateDecl>) -> Vec<GateSpec> {
    gates
        .into_iter()
        .map(|g| GateSpec {
            name: g.name.value,
            checks: g
                .checks
                .map(|c| c.value.into_iter().map(|c| c.value).collect())
                .unwrap_or_default(),
            enforcement: g.enforcement.map_or(Enforcement::Block, |e| e.value),
            origin: g.origin,
        })
        .collect()
}

/// The `[[check]]` settings; `params` default to an empty table.
fn check_configs(checks: Vec<CheckDecl>) -> Vec<CheckConfig> {
    checks
        .into_iter()
        .map(|c| CheckConfig {
            id: c.id.value,
            severity: c.severity.map(|s| s.value),
            enforcement: c.enforcement.map(|e| e.value),
            on_error: c.on_error.map(|o| o.value),
            params: c.params.map_or_else(
                || serde_json::Value::Object(Default::default()),
                |p| p.value,
            ),
            origin: c.origin,
        })
        .collect()
}

/// The exemptions, each with its signature checked when the policy names
/// `exemption_signers`.
fn exemptions(
    exemptions: Vec<ExemptionDecl>,
    signers: Option<&Result<AllowedSigners, String>>,
    now: DateTime<Utc>,
) -> Vec<Exemption> {
    exemptions
        .into_iter()
        .map(|e| {
            let trust = signers.map_or(ExemptionTrust::NotRequired, |s| signed::trust(&e, s, now));
            Exemption {
                check: e.check.value,
                subject_match: e.subject_match.map(|m| m.value),
                reason: e.reason.value,
                approved_by: e.approved_by.value,
                ticket: e.ticket.map(|t| t.value),
                expires: e.expires.value,
                signature: e.signature.map(|s| s.value),
                trust,
                origin: e.origin,
            }
        })
        .collect()
}

/// `[audit]`, or `.gate/audit` beside the top-level policy file.
fn audit_config(dir: Option<At<PathBuf>>, source: &Path) -> AuditConfig {
    match dir {
        Some(d) => AuditConfig {
            dir: d.value,
            origin: Some(d.origin),
        },
        None => AuditConfig {
            dir: super::source::resolve(source.parent().unwrap_or(Path::new("")), ".gate/audit"),
            origin: None,
        },
    }
}

/// `[migrations]`, or the defaults (transactions assumed) without it.
fn migrations_config(migrations: Option<MigrationsDecl>) -> MigrationsConfig {
    migrations
        .map(|m| {
            let rules = |v: Option<Vec<At<String>>>| -> Vec<RuleRef> {
                v.unwrap_or_default()
                    .into_iter()
                    .map(|r| RuleRef {
                        id: r.value,
                        origin: r.origin,
                    })
                    .collect()
            };
            MigrationsConfig {
                paths: m
                    .paths
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.value)
                    .collect(),
                pg_version: m.pg_version.map(|v| v.value),
                exclude: rules(m.exclude),
                include: rules(m.include),
                assume_in_transaction: m.assume_in_transaction.is_none_or(|a| a.value),
                origin: Some(m.origin),
            }
        })
        .unwrap_or_else(|| MigrationsConfig {
            assume_in_transaction: true,
            ..MigrationsConfig::default()
        })
}

/// Oldest and newest PostgreSQL major versions the validators know (one
/// constant, shared with the migration validator and `gate-migrate`).
const PG_VERSIONS: std::ops::RangeInclusive<u32> = gate_sqlkit::PG_MAJOR_VERSIONS;

fn check_migrations(m: &super::document::MigrationsDecl, errors: &mut Errors) {
    if let Some(v) = &m.pg_version
        && !PG_VERSIONS.contains(&v.value)
    {
        errors.push(
            PolicyError::at(
                &v.origin,
                format!(
                    "`pg_version = {}` is not a PostgreSQL major version gate knows",
                    v.value
                ),
            )
            .with_help(format!(
                "write the major version only, from {} to {}, e.g. `pg_version = 15`",
                PG_VERSIONS.start(),
                PG_VERSIONS.end()
            )),
        );
    }
    for (key, list) in [("exclude", &m.exclude), ("include", &m.include)] {
        for r in list.iter().flatten() {
            if !is_rule(&r.value) {
                errors.push(
                    PolicyError::at(
                        &r.origin,
                        format!("invalid rule id `{}` in `{key}`", r.value),
                    )
                    .with_help(kebab_help(
                        &r.value,
                        is_rule,
                        "`adding-not-null-field`",
                    )),
                );
            }
        }
    }
    if let (Some(ex), Some(inc)) = (&m.exclude, &m.include) {
        for r in inc {
            if let Some(first) = ex.iter().find(|e| e.value == r.value) {
                errors.push(
                    PolicyError::at(
                        &r.origin,
                        format!("rule `{}` is both included and excluded", r.value),
                    )
                    .with_help(format!(
                        "it is excluded at {}; keep one of the two",
                        first.origin
                    )),
                );
            }
        }
    }
}

fn is_rule(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Reports a name declared twice in one file.
struct Seen<'a> {
    what: &'static str,
    note: &'static str,
    first: HashMap<&'a str, &'a Origin>,
}

impl<'a> Seen<'a> {
    fn new(what: &'static str, note: &'static str) -> Self {
        Seen {
            what,
            note,
            first: HashMap::new(),
        }
    }

    fn check(&mut self, name: &'a At<String>, errors: &mut Errors) {
        if let Some(first) = self.first.get(name.value.as_str()) {
            errors.push(
                PolicyError::at(
                    &name.origin,
                    format!("duplicate {} `{}` in this file", self.what, name.value),
                )
                .with_help(format!(
                    "first declared at {first}; {}, so combine the two entries",
                    self.note
                )),
            );
        } else {
            self.first.insert(&name.value, &name.origin);
        }
    }
}

fn id_help(given: &str) -> String {
    let fixed = normalize(given);
    if fixed != given && ids::check_pattern_problem(&fixed).is_none() {
        format!("did you mean `{fixed}`?")
    } else {
        "check ids look like `infra.disk-space` (plugin, a dot, then the check); \
         patterns may use `*`, e.g. `infra.*`"
            .to_string()
    }
}

fn kebab_help(given: &str, valid: fn(&str) -> bool, example: &str) -> String {
    let fixed = normalize(given);
    if valid(&fixed) {
        format!("did you mean `{fixed}`?")
    } else {
        format!("use lower-case letters, digits and single dashes, e.g. {example}")
    }
}

fn normalize(s: &str) -> String {
    s.trim().to_lowercase().replace(['_', ' '], "-")
}

fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_http_url(s: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|scheme| s.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty()))
}
