//! Policies: which checks form which gate, how strict each is, and which
//! exemptions apply ([docs/policy.md](../../../../docs/policy.md)).
//!
//! Loading keeps source spans so that every error names file:line:col, and
//! collects all errors before reporting them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;

pub use gate_core::model::{Enforcement, OnError, Severity};
pub use gate_core::origin::Origin;
pub use gate_sandbox::grants::{FsGrant, Grants};
pub(crate) use gate_sandbox::ids;
pub use gate_sandbox::plugin::PluginSpec;
pub use gate_sandbox::resources::{Connection, MetricsProvider};
pub use gate_sandbox::{glob, grant};

mod decode;
mod document;
mod errors;
mod exemption;
mod grants;
mod load;
mod merge;
pub mod notify;
mod raw;
pub mod signed;
mod source;
mod validate;

pub use decode::did_you_mean;

/// The span-keeping TOML decoder and its error collection, shared with the
/// rollout spec (`gate-rollout`'s `spec`), so both formats report
/// file:line:col with `help:` lines the same way.
pub mod toml_spans {
    pub use super::decode::{Item, decode, entries_in_file_order, unknown_key};
    pub use super::document::parse_toml;
    pub use super::errors::Errors;
    pub use super::source::SourceFile;
}
pub use load::{LoadOptions, load};

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
    /// `[audit]`; `.gate/audit` beside the policy file when it has none.
    pub audit: AuditConfig,
    /// `[[notify]]` rules merged by name: where `gate evaluate` sends
    /// `evaluation-failed` and `exemption-expiring`.
    pub notify: Vec<gate_notify::Rule>,
    /// `[drills.restore.NAME]`, by connection name (docs/drills.md).
    pub restore_drills: BTreeMap<String, RestoreDrill>,
    /// Every file the policy was read from (itself, what it extends, its
    /// exemption files) with its digest, for the audit record.
    pub inputs: Vec<InputFile>,
}

/// A file a policy was read from, as it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

impl InputFile {
    fn of(src: &source::SourceFile) -> InputFile {
        use sha2::Digest;
        InputFile {
            path: src.path.clone(),
            sha256: hex::encode(sha2::Sha256::digest(src.text.as_bytes())),
        }
    }
}

/// `[audit]`: where decisions are recorded ([docs/audit.md](../../../../docs/audit.md)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditConfig {
    /// The audit directory, resolved against the declaring file's directory.
    pub dir: PathBuf,
    /// Where `[audit] dir` was written, if it was.
    pub origin: Option<Origin>,
}

impl Policy {
    /// The named connections and metrics providers its grants refer to.
    pub fn resources(&self) -> gate_sandbox::capabilities::Resources {
        gate_sandbox::capabilities::Resources {
            connections: self.connections.clone(),
            metrics: self.metrics.clone(),
        }
    }

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

/// `[drills.restore.NAME]`: where the base backups and the WAL archive of
/// connection NAME's database are, and what to ask of a restored copy.
#[derive(Clone, Debug)]
pub struct RestoreDrill {
    pub connection: String,
    /// A directory of plain-format `pg_basebackup` backups, one per subdirectory.
    pub base_backups: PathBuf,
    /// The directory `archive_command` copies WAL segments into.
    pub wal_archive: PathBuf,
    /// How long the restore may take before the drill fails (default 600 s).
    pub timeout_secs: u64,
    pub verify: Vec<VerifyQuery>,
    pub origin: Origin,
}

/// A query run against the restored copy and the text it must return
/// (rows on lines, columns separated by `|`, as `psql -At` prints them).
#[derive(Clone, Debug)]
pub struct VerifyQuery {
    pub sql: String,
    pub expect: String,
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
    /// The armored SSHSIG over [`signed::canonical`] of the fields above.
    pub signature: Option<String>,
    /// Whether the signature was required, and what checking it found.
    pub trust: ExemptionTrust,
    pub origin: Origin,
}

/// An exemption's signature, as checked when the policy was loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExemptionTrust {
    /// The policy names no `exemption_signers`: exemptions apply unsigned.
    NotRequired,
    /// Signed by `approved_by` under a key the `exemption_signers` file lists.
    Signed {
        principal: String,
        fingerprint: String,
    },
    /// Not honoured: unsigned, or the signature does not verify (why).
    Refused(String),
}

impl Exemption {
    /// Whether the exemption may apply at all (its signature, if one is
    /// required, verified).
    pub fn is_honoured(&self) -> bool {
        !matches!(self.trust, ExemptionTrust::Refused(_))
    }
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
