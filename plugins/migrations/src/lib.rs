//! gate's built-in migration validator (`migrations`).
//!
//! The analysis is plain Rust ([`validate`], [`describe`], and for a run in
//! parts [`parts`], [`validate_part`] and [`merge`]) so it runs and is
//! tested natively; the WIT glue for the
//! `gate:plugin/migration-validator-in-parts` world (0.1.2) is only
//! compiled for wasm32.
//!
//! Each file is split with `gate-sqlkit`, every statement is parsed with
//! sqlparser (PostgreSQL dialect) for parse coverage, and the analysis walks
//! the statement's tokens into typed facts the rules judge, so a statement
//! sqlparser cannot parse (DROP INDEX CONCURRENTLY IF EXISTS, REINDEX
//! CONCURRENTLY, DO blocks, …) is checked by the same rules and only gets an
//! extra `parse-error` note.

mod analyze;
pub mod rules;

pub use analyze::{merge, parts, validate, validate_part};

/// Finding status, as in the WIT `status` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// How a statement changes the schema's contract with running code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Additive and compatible with the running release.
    Expand,
    /// DML, backfills, DO blocks: changes data, not the schema.
    Data,
    /// Removes or tightens something; safe only once the running code stopped using it.
    Contract,
    /// Breaks the running release as soon as it is applied (renames, type changes).
    Breaking,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Expand => "expand",
            Class::Data => "data",
            Class::Contract => "contract",
            Class::Breaking => "breaking",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// A finding, field for field the WIT `finding` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub check: String,
    pub rule: Option<String>,
    pub subject: String,
    pub status: Status,
    pub severity: Option<Severity>,
    pub message: String,
    pub evidence: Vec<(String, String)>,
    pub remediation: Option<String>,
    pub location: Option<Location>,
}

impl Finding {
    pub fn evidence(&self, key: &str) -> Option<&str> {
        self.evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One migration file, as the WIT `migration-file` record.
#[derive(Clone, Debug)]
pub struct MigrationFile {
    pub path: String,
    pub contents: String,
    pub first_line: u32,
    pub in_transaction: bool,
}

/// A rule as `describe()` lists it.
#[derive(Clone, Debug)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub default_severity: Severity,
}

pub const PLUGIN_ID: &str = "migrations";
pub const CHECK_ID: &str = "migrations";
pub const DESCRIPTION: &str = "Static analysis of PostgreSQL migrations: locking, backward compatibility and expand/contract classification";

/// Every rule, including the pseudo-rules, for `describe()`.
pub fn describe() -> Vec<RuleInfo> {
    rules::all()
        .map(|r| RuleInfo {
            id: r.id.to_string(),
            title: r.title.to_string(),
            description: r.description(),
            default_severity: r.severity,
        })
        .collect()
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.2",
        world: "gate:plugin/migration-validator-in-parts",
        generate_all,
    });

    use gate::plugin::types as wit;

    struct Component;

    fn severity(s: crate::Severity) -> wit::Severity {
        match s {
            crate::Severity::Info => wit::Severity::Info,
            crate::Severity::Low => wit::Severity::Low,
            crate::Severity::Medium => wit::Severity::Medium,
            crate::Severity::High => wit::Severity::High,
            crate::Severity::Critical => wit::Severity::Critical,
        }
    }

    fn status(s: crate::Status) -> wit::Status {
        match s {
            crate::Status::Pass => wit::Status::Pass,
            crate::Status::Skip => wit::Status::Skip,
            crate::Status::Warn => wit::Status::Warn,
            crate::Status::Fail => wit::Status::Fail,
            crate::Status::Error => wit::Status::Error,
        }
    }

    impl Guest for Component {
        fn describe() -> wit::PluginInfo {
            wit::PluginInfo {
                id: crate::PLUGIN_ID.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                description: crate::DESCRIPTION.to_string(),
                checks: crate::describe()
                    .into_iter()
                    .map(|r| wit::CheckInfo {
                        id: r.id,
                        title: r.title,
                        description: r.description,
                        default_severity: severity(r.default_severity),
                        params: Vec::new(),
                        capabilities: Vec::new(),
                    })
                    .collect(),
            }
        }

        fn validate(files: Vec<MigrationFile>, config: String) -> Vec<wit::Finding> {
            findings(crate::validate(&migrations(files), &config))
        }

        fn parts(files: Vec<MigrationFile>, config: String, available: u32) -> u32 {
            crate::parts(&migrations(files), &config, available)
        }

        fn validate_part(
            files: Vec<MigrationFile>,
            config: String,
            part: Part,
        ) -> Vec<wit::Finding> {
            let files = migrations(files);
            findings(crate::validate_part(
                &files, &config, part.index, part.count,
            ))
        }

        fn merge(config: String, parts: Vec<Vec<wit::Finding>>) -> Vec<wit::Finding> {
            let parts = parts
                .into_iter()
                .map(|part| part.into_iter().map(from_wit).collect())
                .collect();
            findings(crate::merge(&config, parts))
        }
    }

    fn migrations(files: Vec<MigrationFile>) -> Vec<crate::MigrationFile> {
        files
            .into_iter()
            .map(|f| crate::MigrationFile {
                path: f.path,
                contents: f.contents,
                first_line: f.first_line,
                in_transaction: f.in_transaction,
            })
            .collect()
    }

    fn findings(findings: Vec<crate::Finding>) -> Vec<wit::Finding> {
        findings
            .into_iter()
            .map(|f| wit::Finding {
                check: f.check,
                rule: f.rule,
                subject: f.subject,
                status: status(f.status),
                severity: f.severity.map(severity),
                message: f.message,
                evidence: f.evidence,
                remediation: f.remediation,
                location: f.location.map(|l| wit::Location {
                    file: l.file,
                    line: l.line,
                    column: l.column,
                }),
            })
            .collect()
    }

    /// A part's finding back from the host: the inverse of [`findings`].
    fn from_wit(f: wit::Finding) -> crate::Finding {
        crate::Finding {
            check: f.check,
            rule: f.rule,
            subject: f.subject,
            status: match f.status {
                wit::Status::Pass => crate::Status::Pass,
                wit::Status::Skip => crate::Status::Skip,
                wit::Status::Warn => crate::Status::Warn,
                wit::Status::Fail => crate::Status::Fail,
                wit::Status::Error => crate::Status::Error,
            },
            severity: f.severity.map(|s| match s {
                wit::Severity::Info => crate::Severity::Info,
                wit::Severity::Low => crate::Severity::Low,
                wit::Severity::Medium => crate::Severity::Medium,
                wit::Severity::High => crate::Severity::High,
                wit::Severity::Critical => crate::Severity::Critical,
            }),
            message: f.message,
            evidence: f.evidence,
            remediation: f.remediation,
            location: f.location.map(|l| crate::Location {
                file: l.file,
                line: l.line,
                column: l.column,
            }),
        }
    }

    export!(Component);
}
