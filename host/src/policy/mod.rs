//! Policies: which checks form which gate, how strict each is, and which
//! exemptions apply (DESIGN §5).
//!
//! Loading keeps source spans so that every error names file:line:col, and
//! collects all errors before reporting them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;

pub use crate::model::{Enforcement, OnError, Severity};

mod decode;
mod document;
mod errors;
mod exemption;
pub mod glob;
pub mod grant;
mod grants;
pub(crate) mod ids;
mod load;
mod merge;
mod raw;
mod source;
mod validate;

pub(crate) use decode::did_you_mean;

/// The span-keeping TOML decoder and its error collection, shared with the
/// rollout spec (host/src/rollout/spec), so both formats report
/// file:line:col with `help:` lines the same way.
pub(crate) mod toml_spans {
    pub(crate) use super::decode::{Item, decode, entries_in_file_order, unknown_key};
    pub(crate) use super::document::parse_toml;
    pub(crate) use super::errors::Errors;
    pub(crate) use super::source::SourceFile;
}
pub use load::{LoadOptions, load};

/// Where a policy item was written: file, line and column (1-based).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A loaded, merged and validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    /// The top-level policy file.
    pub source: PathBuf,
    pub max_exemption_days: Option<u32>,
    /// Exemptions expiring within this many days add a warning (default 14).
    pub warn_days: u32,
    /// `[[plugin]]` entries merged by name. Built-ins appear here only when configured.
    pub plugins: Vec<PluginSpec>,
    pub connections: BTreeMap<String, Connection>,
    pub metrics: BTreeMap<String, MetricsProvider>,
    /// Gates in declaration order, merged by name.
    pub gates: Vec<GateSpec>,
    /// `[[check]]` entries merged by id.
    pub checks: Vec<CheckConfig>,
    pub exemptions: Vec<Exemption>,
    /// `[migrations]`; defaults when the policy has none.
    pub migrations: MigrationsConfig,
}

impl Policy {
    pub fn plugin(&self, name: &str) -> Option<&PluginSpec> {
        self.plugins.iter().find(|p| p.name == name)
    }

    pub fn check_config(&self, id: &str) -> Option<&CheckConfig> {
        self.checks.iter().find(|c| c.id == id)
    }

    pub fn gate(&self, name: &str) -> Option<&GateSpec> {
        self.gates.iter().find(|g| g.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct PluginSpec {
    pub name: String,
    /// External plugin file, resolved against the directory of the policy file that
    /// declared it. `None` configures a built-in.
    pub path: Option<PathBuf>,
    /// Lower-case hex sha256 pin; required with `path`.
    pub sha256: Option<String>,
    pub grants: Grants,
    pub origin: Origin,
}

/// Capabilities and limits granted to one plugin (`[plugin.grants]`). Everything
/// not listed is denied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// URL grants: scheme, host, port and path matched field by field.
    pub http: Vec<grant::HttpGrant>,
    /// `host:port` grants.
    pub net: Vec<grant::NetGrant>,
    /// Unix sockets: a directory and a name pattern.
    pub unix: Vec<grant::UnixGrant>,
    pub fs: Vec<FsGrant>,
    /// Variable names; `*` allowed as a suffix wildcard, e.g. `APP_*`.
    pub env: Vec<String>,
    /// Named `[connections.*]`.
    pub sql: Vec<String>,
    /// Named `[metrics.*]` providers.
    pub metrics: Vec<String>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// Cap on the size of a plugin's output (findings plus log messages), in KiB.
    pub output_kb: Option<u64>,
}

/// A directory (or file) the plugin may read, as written in the policy
/// (`"./src"`, `"/etc/ssl:ro"`, `"/tmp/out:rw"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsGrant {
    /// As written, without the `:ro`/`:rw` suffix; relative paths resolve against
    /// the working directory at evaluation time.
    pub path: PathBuf,
    pub writable: bool,
}

#[derive(Clone, Debug)]
pub struct Connection {
    /// `postgres`.
    pub kind: String,
    /// Name of the environment variable holding the URL; the URL never sits in the file.
    pub url_env: String,
    /// Connections that `gate migrate trace` may write to.
    pub scratch: bool,
    pub origin: Origin,
}

/// `[migrations]`: where migrations live and how they are validated.
#[derive(Clone, Debug, Default)]
pub struct MigrationsConfig {
    /// Migration directories or files, resolved against the policy's directory.
    pub paths: Vec<PathBuf>,
    /// Target PostgreSQL major version; rules that depend on it use it
    /// (`None`: the validator's default).
    pub pg_version: Option<u32>,
    /// Rule ids switched off.
    pub exclude: Vec<RuleRef>,
    /// Rule ids switched on that are off by default.
    pub include: Vec<RuleRef>,
    /// Whether files of an unknown layout run inside a transaction (default true).
    pub assume_in_transaction: bool,
    /// Where `[migrations]` was written, if it was.
    pub origin: Option<Origin>,
}

/// A rule id as written in `[migrations]`, kept with its place for errors
/// (rule ids are checked against the validator's `describe()` when it loads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub id: String,
    pub origin: Origin,
}

impl MigrationsConfig {
    /// The validator's `config` argument: `{pg_version, exclude, include, assume_in_transaction}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "pg_version": self.pg_version,
            "exclude": self.exclude.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            "include": self.include.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            "assume_in_transaction": self.assume_in_transaction,
        })
    }
}

#[derive(Clone, Debug)]
pub struct MetricsProvider {
    /// `prometheus`.
    pub kind: String,
    pub url: String,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct GateSpec {
    pub name: String,
    /// Check ids or globs, e.g. `infra.*`.
    pub checks: Vec<String>,
    pub enforcement: Enforcement,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct CheckConfig {
    pub id: String,
    pub severity: Option<Severity>,
    pub enforcement: Option<Enforcement>,
    pub on_error: Option<OnError>,
    /// The `params` table converted to JSON (TOML dates become RFC 3339 strings).
    pub params: serde_json::Value,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Exemption {
    /// Check id, or a glob over ids.
    pub check: String,
    /// Glob over finding subjects; `None` matches every finding of the check.
    pub subject_match: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub ticket: Option<String>,
    /// Holds through the end of this UTC day.
    pub expires: NaiveDate,
    pub origin: Origin,
}

/// One problem in a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// `None` only when the file itself could not be read.
    pub origin: Option<Origin>,
    pub file: PathBuf,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: error: {}", self.message)?,
            None => write!(f, "{}: error: {}", self.file.display(), self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found while loading a policy, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        write!(
            f,
            "\n{} error{} in policy",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for PolicyErrors {}
