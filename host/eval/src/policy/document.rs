//! One policy or exemption file, decoded: every item with the location of each
//! field, before `extends` merging.

use std::path::PathBuf;

use chrono::NaiveDate;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::decode::{decode, entries_in_file_order, expect_table, unknown_key};
use super::errors::Errors;
use super::grants::GrantsDecl;
use super::raw::{
    RawAudit, RawCheck, RawConnection, RawExemption, RawGate, RawGrants, RawHeader, RawMetrics,
    RawMigrations, RawPlugin, RawRestoreDrill, fields_of,
};
use super::source::{At, SourceFile, resolve};
use super::{Enforcement, OnError, Origin, PolicyError, Severity};

/// A policy file as written. Also used as the accumulator when merging.
#[derive(Debug)]
pub(crate) struct PolicyDoc {
    pub file: PathBuf,
    pub name: Option<At<String>>,
    pub extends: Vec<At<String>>,
    pub max_exemption_days: Option<At<u32>>,
    pub warn_days: Option<At<u32>>,
    /// `exemptions = [...]` patterns, relative to `file`.
    pub exemption_files: Vec<At<String>>,
    /// `exemption_signers`: the allowed_signers file, resolved against `file`'s directory.
    pub exemption_signers: Option<At<PathBuf>>,
    pub plugins: Vec<PluginDecl>,
    pub connections: Vec<ConnectionDecl>,
    pub metrics: Vec<MetricsDecl>,
    pub gates: Vec<GateDecl>,
    pub checks: Vec<CheckDecl>,
    pub exemptions: Vec<ExemptionDecl>,
    /// `[migrations]`, when the file has one.
    pub migrations: Option<MigrationsDecl>,
    /// `[audit] dir`, resolved against the file's directory, when set.
    pub audit_dir: Option<At<PathBuf>>,
    /// `[[notify]]` rules.
    pub notify: Vec<gate_notify::Rule>,
    /// `[drills.restore.NAME]` tables.
    pub restore_drills: Vec<RestoreDrillDecl>,
    /// False when something other files may refer to could not be decoded at all
    /// (a syntax error, the `[policy]` table, a connection or metrics provider):
    /// checks that look for something missing would then only repeat that error,
    /// so they are skipped. Gates, checks and plugins dropped for lacking their
    /// name cannot be referred to, so they do not count.
    pub complete: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct PluginDecl {
    pub name: At<String>,
    /// Resolved against the declaring file's directory.
    pub path: Option<At<PathBuf>>,
    pub sha256: Option<At<String>>,
    pub grants: GrantsDecl,
    pub origin: Origin,
    pub clean: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct ConnectionDecl {
    pub name: String,
    pub kind: Option<At<String>>,
    pub url_env: Option<At<String>>,
    pub scratch: Option<At<bool>>,
    pub origin: Origin,
    pub clean: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct MigrationsDecl {
    /// Resolved against the declaring file's directory.
    pub paths: Option<Vec<At<PathBuf>>>,
    pub pg_version: Option<At<u32>>,
    pub exclude: Option<Vec<At<String>>>,
    pub include: Option<Vec<At<String>>>,
    pub assume_in_transaction: Option<At<bool>>,
    pub origin: Origin,
}

/// `[drills.restore.NAME]`: paths resolved against the declaring file's directory.
#[derive(Clone, Debug)]
pub(crate) struct RestoreDrillDecl {
    pub connection: String,
    pub base_backups: At<PathBuf>,
    pub wal_archive: At<PathBuf>,
    pub timeout_secs: Option<At<u64>>,
    pub verify: Vec<At<(String, String)>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub(crate) struct MetricsDecl {
    pub name: String,
    pub kind: Option<At<String>>,
    pub url: Option<At<String>>,
    pub origin: Origin,
    pub clean: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct GateDecl {
    pub name: At<String>,
    pub checks: Option<At<Vec<At<String>>>>,
    pub enforcement: Option<At<Enforcement>>,
    pub origin: Origin,
    pub clean: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct CheckDecl {
    pub id: At<String>,
    pub severity: Option<At<Severity>>,
    pub enforcement: Option<At<Enforcement>>,
    pub on_error: Option<At<OnError>>,
    pub params: Option<At<serde_json::Value>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub(crate) struct ExemptionDecl {
    pub check: At<String>,
    pub subject_match: Option<At<String>>,
    pub reason: At<String>,
    pub approved_by: At<String>,
    pub ticket: Option<At<String>>,
    pub expires: At<NaiveDate>,
    /// The armored SSHSIG over the exemption's canonical form.
    pub signature: Option<At<String>>,
    pub origin: Origin,
}

const POLICY_KEYS: &[&str] = &[
    "policy",
    "plugin",
    "connections",
    "metrics",
    "gate",
    "check",
    "exemption",
    "migrations",
    "audit",
    "notify",
    "drills",
];

impl PolicyDoc {
    pub fn empty(file: PathBuf) -> Self {
        PolicyDoc {
            file,
            name: None,
            extends: Vec::new(),
            max_exemption_days: None,
            warn_days: None,
            exemption_files: Vec::new(),
            exemption_signers: None,
            plugins: Vec::new(),
            connections: Vec::new(),
            metrics: Vec::new(),
            gates: Vec::new(),
            checks: Vec::new(),
            exemptions: Vec::new(),
            migrations: None,
            audit_dir: None,
            notify: Vec::new(),
            restore_drills: Vec::new(),
            complete: true,
        }
    }

    /// Decodes a policy file, reporting every problem in it.
    pub fn parse(src: &SourceFile, errors: &mut Errors) -> Self {
        let mut doc = PolicyDoc::empty(src.path.clone());
        let Some(root) = parse_toml(src, errors) else {
            doc.complete = false;
            return doc;
        };
        for (key, value) in entries_in_file_order(&root) {
            match key.get_ref().as_ref() {
                "policy" => doc.header(src, value, errors),
                "plugin" => {
                    for item in array_items(src, value, "plugin", errors) {
                        doc.plugin(src, item, errors);
                    }
                }
                "connections" => match named_items(src, value, "connections", errors) {
                    Some(items) => {
                        for (name, item) in items {
                            doc.connection(src, name, item, errors);
                        }
                    }
                    None => doc.complete = false,
                },
                "metrics" => match named_items(src, value, "metrics", errors) {
                    Some(items) => {
                        for (name, item) in items {
                            doc.metrics_provider(src, name, item, errors);
                        }
                    }
                    None => doc.complete = false,
                },
                "gate" => {
                    for item in array_items(src, value, "gate", errors) {
                        doc.gate(src, item, errors);
                    }
                }
                "check" => {
                    for item in array_items(src, value, "check", errors) {
                        doc.check(src, item, errors);
                    }
                }
                "exemption" => {
                    for item in array_items(src, value, "exemption", errors) {
                        doc.exemptions.extend(exemption(src, item, errors));
                    }
                }
                "migrations" => doc.migrations_table(src, value, errors),
                "audit" => doc.audit_table(src, value, errors),
                "notify" => {
                    doc.notify = super::notify::decode_rules(
                        src,
                        value,
                        &super::notify::POLICY_EVENTS,
                        errors,
                    )
                }
                "drills" => doc.drills_table(src, value, errors),
                name => {
                    let error = unknown_key(src, &key, "a policy file", POLICY_KEYS);
                    // `name = "x"` written above `[policy]` instead of under it; but
                    // `[[exemptions]]` is more likely a typo for `[[exemption]]`.
                    let array_of_tables = match value.get_ref() {
                        DeValue::Array(a) => {
                            !a.is_empty() && a.iter().all(|v| v.get_ref().is_table())
                        }
                        _ => false,
                    };
                    if !fields_of::<RawHeader>().contains(&name) || array_of_tables {
                        errors.push(error);
                        continue;
                    }
                    errors.push(error.with_help(format!("`{name}` belongs in the [policy] table")));
                    // Reported once is enough: do not also say the policy has no name.
                    if let (None, DeValue::String(s)) = (&doc.name, value.get_ref()) {
                        doc.name = Some(src.at(Spanned::new(value.span(), s.to_string())));
                    }
                }
            }
        }
        doc
    }

    fn header(&mut self, src: &SourceFile, value: Spanned<DeValue<'_>>, errors: &mut Errors) {
        let Some(raw) = decode::<RawHeader>(src, value, "[policy]", errors).item else {
            self.complete = false;
            return;
        };
        let list = |v: Option<Vec<Spanned<String>>>| -> Vec<At<String>> {
            v.unwrap_or_default()
                .into_iter()
                .map(|s| src.at(s))
                .collect()
        };
        self.name = raw.name.map(|s| src.at(s));
        self.extends = list(raw.extends);
        self.max_exemption_days = raw.max_exemption_days.map(|s| src.at(s));
        self.warn_days = raw.warn_days.map(|s| src.at(s));
        self.exemption_files = list(raw.exemptions);
        self.exemption_signers = raw.exemption_signers.map(|s| {
            let at = src.at(s);
            At {
                value: resolve(src.dir(), &at.value),
                origin: at.origin,
            }
        });
    }

    fn plugin(&mut self, src: &SourceFile, mut value: Spanned<DeValue<'_>>, errors: &mut Errors) {
        let origin = src.origin_of(&value.span());
        // Grants are decoded separately so that their errors and the plugin's all show.
        let grants = match value.get_mut() {
            DeValue::Table(table) => table.remove("grants"),
            _ => None,
        };
        let plugin = decode::<RawPlugin>(src, value, "[[plugin]]", errors);
        let grants = grants.map(|g| decode::<RawGrants>(src, g, "[plugin.grants]", errors));
        let grants = grants.and_then(|g| g.item).unwrap_or_default();
        let Some(raw) = plugin.item else {
            return;
        };
        self.plugins.push(PluginDecl {
            name: src.at(raw.name),
            path: raw.path.map(|p| {
                let p = src.at(p);
                if p.value.trim().is_empty() {
                    errors.push(
                        PolicyError::at(&p.origin, "plugin `path` is empty").with_help(
                            "name the plugin's .wasm file, or remove `path` for a built-in",
                        ),
                    );
                }
                At {
                    value: resolve(src.dir(), &p.value),
                    origin: p.origin,
                }
            }),
            sha256: raw.sha256.map(|s| src.at(s)),
            grants: GrantsDecl::from_raw(src, grants),
            origin,
            clean: plugin.clean,
        });
    }

    fn connection(
        &mut self,
        src: &SourceFile,
        name: String,
        value: Spanned<DeValue<'_>>,
        errors: &mut Errors,
    ) {
        let origin = src.origin_of(&value.span());
        let what = format!("[connections.{name}]");
        let decoded = decode::<RawConnection>(src, value, &what, errors);
        let Some(raw) = decoded.item else {
            self.complete = false;
            return;
        };
        self.connections.push(ConnectionDecl {
            name,
            kind: raw.kind.map(|s| src.at(s)),
            url_env: raw.url_env.map(|s| src.at(s)),
            scratch: raw.scratch.map(|s| src.at(s)),
            origin,
            clean: decoded.clean,
        });
    }

    fn migrations_table(
        &mut self,
        src: &SourceFile,
        value: Spanned<DeValue<'_>>,
        errors: &mut Errors,
    ) {
        let origin = src.origin_of(&value.span());
        let Some(raw) = decode::<RawMigrations>(src, value, "[migrations]", errors).item else {
            return;
        };
        let list = |v: Option<Vec<Spanned<String>>>| -> Option<Vec<At<String>>> {
            v.map(|v| v.into_iter().map(|s| src.at(s)).collect())
        };
        self.migrations = Some(MigrationsDecl {
            paths: list(raw.paths).map(|paths| {
                paths
                    .into_iter()
                    .map(|p| {
                        if p.value.trim().is_empty() {
                            errors.push(PolicyError::at(&p.origin, "empty path in `paths`"));
                        }
                        At {
                            value: resolve(src.dir(), &p.value),
                            origin: p.origin,
                        }
                    })
                    .collect()
            }),
            pg_version: raw.pg_version.map(|s| src.at(s)),
            exclude: list(raw.exclude),
            include: list(raw.include),
            assume_in_transaction: raw.assume_in_transaction.map(|s| src.at(s)),
            origin,
        });
    }

    fn audit_table(&mut self, src: &SourceFile, value: Spanned<DeValue<'_>>, errors: &mut Errors) {
        let Some(raw) = decode::<RawAudit>(src, value, "[audit]", errors).item else {
            return;
        };
        self.audit_dir = raw.dir.map(|d| {
            let d = src.at(d);
            if d.value.trim().is_empty() {
                errors.push(PolicyError::at(&d.origin, "`dir` is empty").with_help(
                    "name the audit directory, or remove `dir` for `.gate/audit` beside the policy",
                ));
            }
            At {
                value: resolve(src.dir(), &d.value),
                origin: d.origin,
            }
        });
    }

    /// `[drills]`: so far only `[drills.restore.NAME]`.
    fn drills_table(&mut self, src: &SourceFile, value: Spanned<DeValue<'_>>, errors: &mut Errors) {
        let Some(items) = named_items(src, value, "drills", errors) else {
            return;
        };
        for (key, value) in items {
            if key != "restore" {
                let key = Spanned::new(value.span(), std::borrow::Cow::Owned(key));
                errors.push(unknown_key(src, &key, "[drills]", &["restore"]));
                continue;
            }
            let Some(drills) = named_items(src, value, "drills.restore", errors) else {
                continue;
            };
            for (name, item) in drills {
                self.restore_drill(src, name, item, errors);
            }
        }
    }

    fn restore_drill(
        &mut self,
        src: &SourceFile,
        connection: String,
        value: Spanned<DeValue<'_>>,
        errors: &mut Errors,
    ) {
        let origin = src.origin_of(&value.span());
        let what = format!("[drills.restore.{connection}]");
        let Some(raw) = decode::<RawRestoreDrill>(src, value, &what, errors).item else {
            return;
        };
        let mut path = |s: Spanned<String>, key: &str| {
            let at = src.at(s);
            if at.value.trim().is_empty() {
                errors.push(PolicyError::at(&at.origin, format!("`{key}` is empty")));
            }
            At {
                value: resolve(src.dir(), &at.value),
                origin: at.origin,
            }
        };
        let base_backups = path(raw.base_backups, "base_backups");
        let wal_archive = path(raw.wal_archive, "wal_archive");
        let verify = raw
            .verify
            .unwrap_or_default()
            .into_iter()
            .map(|q| {
                let at = src.at(q);
                if at.value.sql.trim().is_empty() {
                    errors.push(PolicyError::at(&at.origin, "`sql` is empty"));
                }
                At {
                    value: (at.value.sql, at.value.expect),
                    origin: at.origin,
                }
            })
            .collect();
        self.restore_drills.push(RestoreDrillDecl {
            connection,
            base_backups,
            wal_archive,
            timeout_secs: raw.timeout_secs.map(|t| src.at(t)),
            verify,
            origin,
        });
    }

    fn metrics_provider(
        &mut self,
        src: &SourceFile,
        name: String,
        value: Spanned<DeValue<'_>>,
        errors: &mut Errors,
    ) {
        let origin = src.origin_of(&value.span());
        let what = format!("[metrics.{name}]");
        let decoded = decode::<RawMetrics>(src, value, &what, errors);
        let Some(raw) = decoded.item else {
            self.complete = false;
            return;
        };
        self.metrics.push(MetricsDecl {
            name,
            kind: raw.kind.map(|s| src.at(s)),
            url: raw.url.map(|s| src.at(s)),
            origin,
            clean: decoded.clean,
        });
    }

    fn gate(&mut self, src: &SourceFile, value: Spanned<DeValue<'_>>, errors: &mut Errors) {
        let origin = src.origin_of(&value.span());
        let decoded = decode::<RawGate>(src, value, "[[gate]]", errors);
        let Some(raw) = decoded.item else {
            return;
        };
        self.gates.push(GateDecl {
            name: src.at(raw.name),
            checks: raw.checks.map(|list| {
                let list = src.at(list);
                At {
                    value: list.value.into_iter().map(|c| src.at(c)).collect(),
                    origin: list.origin,
                }
            }),
            enforcement: raw.enforcement.map(|s| src.at(s)),
            origin,
            clean: decoded.clean,
        });
    }

    fn check(&mut self, src: &SourceFile, value: Spanned<DeValue<'_>>, errors: &mut Errors) {
        let origin = src.origin_of(&value.span());
        let Some(raw) = decode::<RawCheck>(src, value, "[[check]]", errors).item else {
            return;
        };
        let params = raw.params.and_then(|p| {
            let p = src.at(p);
            match table_to_json(p.value) {
                Ok(value) => Some(At {
                    value,
                    origin: p.origin,
                }),
                Err(message) => {
                    errors.push(PolicyError::at(&p.origin, message));
                    None
                }
            }
        });
        self.checks.push(CheckDecl {
            id: src.at(raw.id),
            severity: raw.severity.map(|s| src.at(s)),
            enforcement: raw.enforcement.map(|s| src.at(s)),
            on_error: raw.on_error.map(|s| src.at(s)),
            params,
            origin,
        });
    }
}

/// Decodes an exemption file: nothing but `[[exemption]]` entries.
pub(crate) fn parse_exemption_file(src: &SourceFile, errors: &mut Errors) -> Vec<ExemptionDecl> {
    let Some(root) = parse_toml(src, errors) else {
        return Vec::new();
    };
    let mut exemptions = Vec::new();
    for (key, value) in entries_in_file_order(&root) {
        if key.get_ref() == "exemption" {
            for item in array_items(src, value, "exemption", errors) {
                exemptions.extend(exemption(src, item, errors));
            }
        } else {
            errors.push(
                PolicyError::at(
                    &src.origin_of(&key.span()),
                    format!("`{}` is not allowed in an exemption file", key.get_ref()),
                )
                .with_help(
                    "exemption files contain only [[exemption]] entries; \
                     everything else belongs in the policy file",
                ),
            );
        }
    }
    exemptions
}

fn exemption(
    src: &SourceFile,
    value: Spanned<DeValue<'_>>,
    errors: &mut Errors,
) -> Option<ExemptionDecl> {
    let origin = src.origin_of(&value.span());
    let raw = decode::<RawExemption>(src, value, "[[exemption]]", errors).item?;
    let expires = src.at(raw.expires);
    let date = match (expires.value.date, expires.value.time, expires.value.offset) {
        (Some(d), None, None) => {
            NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
        }
        _ => {
            errors.push(
                PolicyError::at(
                    &expires.origin,
                    format!(
                        "`expires` must be a date without a time, found `{}`",
                        expires.value
                    ),
                )
                .with_help(
                    "write a date such as `expires = 2026-12-31`; \
                     the exemption holds through the end of that day (UTC)",
                ),
            );
            return None;
        }
    }?;
    Some(ExemptionDecl {
        check: src.at(raw.check),
        subject_match: raw.subject_match.map(|s| src.at(s)),
        reason: src.at(raw.reason),
        approved_by: src.at(raw.approved_by),
        ticket: raw.ticket.map(|s| src.at(s)),
        expires: At {
            value: date,
            origin: expires.origin,
        },
        signature: raw.signature.map(|s| src.at(s)),
        origin,
    })
}

/// Parses the file into a spanned tree; a syntax error is the one error for the file.
pub fn parse_toml<'i>(src: &'i SourceFile, errors: &mut Errors) -> Option<DeTable<'i>> {
    match DeTable::parse(&src.text) {
        Ok(root) => Some(root.into_inner()),
        Err(e) => {
            let at = e.span().unwrap_or(0..0);
            errors.push(PolicyError::at(
                &src.origin_of(&at),
                format!("invalid TOML: {}", e.message().trim_end()),
            ));
            None
        }
    }
}

/// The entries of an array of tables such as `[[gate]]`.
fn array_items<'i>(
    src: &SourceFile,
    value: Spanned<DeValue<'i>>,
    key: &str,
    errors: &mut Errors,
) -> Vec<Spanned<DeValue<'i>>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().collect(),
        other => {
            let error = PolicyError::at(
                &src.origin_of(&span),
                format!(
                    "`{key}` must be an array of tables, found {}",
                    other.type_str()
                ),
            );
            errors.push(if other.is_table() {
                error.with_help(format!(
                    "write `[[{key}]]` with double brackets: a policy may have many"
                ))
            } else {
                error
            });
            Vec::new()
        }
    }
}

/// The entries of a table of named items such as `[connections.NAME]`.
fn named_items<'i>(
    src: &SourceFile,
    value: Spanned<DeValue<'i>>,
    key: &str,
    errors: &mut Errors,
) -> Option<Vec<(String, Spanned<DeValue<'i>>)>> {
    let table = expect_table(src, value, &format!("`{key}`"), errors)?;
    let items = entries_in_file_order(&table)
        .into_iter()
        .map(|(k, v)| (k.into_inner().into_owned(), v))
        .collect();
    Some(items)
}

/// `params` as JSON; TOML dates and times become RFC 3339 strings.
fn table_to_json(table: toml::Table) -> Result<serde_json::Value, String> {
    fn convert(value: toml::Value) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        Ok(match value {
            toml::Value::String(s) => J::String(s),
            toml::Value::Integer(i) => J::from(i),
            toml::Value::Float(f) => serde_json::Number::from_f64(f)
                .map(J::Number)
                .ok_or_else(|| format!("`params` cannot hold {f}: it has no JSON form"))?,
            toml::Value::Boolean(b) => J::Bool(b),
            toml::Value::Datetime(d) => J::String(d.to_string()),
            toml::Value::Array(items) => {
                J::Array(items.into_iter().map(convert).collect::<Result<_, _>>()?)
            }
            toml::Value::Table(t) => table_to_json(t)?,
        })
    }
    let mut map = serde_json::Map::new();
    for (k, v) in table {
        map.insert(k, convert(v)?);
    }
    Ok(serde_json::Value::Object(map))
}
