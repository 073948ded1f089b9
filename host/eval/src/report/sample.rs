//! A hand-built report that exercises every renderer path: each check status,
//! findings with and without rule and location, evidence, an error reason, an
//! exemption notice of each kind, and a blocking, a warn and an off gate.
//!
//! Used by the renderers' snapshot tests; public so that CLI tests can reuse it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid sample date")
}

fn evidence(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn location(file: &str, line: Option<u32>, column: Option<u32>) -> Option<Location> {
    Some(Location {
        file: file.to_string(),
        line,
        column,
    })
}

fn finding(subject: &str, status: Status, severity: Severity, message: &str) -> FindingReport {
    FindingReport {
        rule: None,
        subject: subject.to_string(),
        status,
        severity,
        message: message.to_string(),
        evidence: BTreeMap::new(),
        remediation: None,
        location: None,
        exemption: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    id: &str,
    title: &str,
    plugin: &str,
    status: CheckStatus,
    severity: Severity,
    enforcement: Enforcement,
    duration_ms: u64,
    findings: Vec<FindingReport>,
) -> CheckReport {
    let blocking = enforcement == Enforcement::Block
        && matches!(status, CheckStatus::Fail | CheckStatus::Error);
    CheckReport {
        id: id.to_string(),
        title: title.to_string(),
        plugin: plugin.to_string(),
        status,
        severity,
        enforcement,
        blocking,
        duration_ms,
        host_ms: duration_ms / 2,
        instances: 1,
        findings,
        exemption: None,
        error: None,
        description: format!("{title}."),
    }
}

/// The exemption that the sample applies to `security.api-keys-rotated`.
pub fn applied_exemption() -> ExemptionRef {
    ExemptionRef {
        check: "security.api-keys-rotated".to_string(),
        subject_match: Some("key:legacy-billing".to_string()),
        reason: "vendor rotates the billing key in January".to_string(),
        approved_by: "secops@example.com".to_string(),
        ticket: Some("SEC-1234".to_string()),
        expires: date(2026, 3, 10),
        source: "policies/exemptions/billing.toml:1:1".to_string(),
        signed_by: Some(SignedBy {
            principal: "secops@example.com".to_string(),
            fingerprint: "SHA256:2bHkqSLtLxFp5PBJg6dlWWMtyiwX3vBCJv8rZJ0AxU8".to_string(),
        }),
    }
}

/// A report of two evaluated gates (one blocking, one warn) and one that is off.
pub fn sample_report() -> Report {
    Report {
        verdict: Verdict::Fail,
        policy: "production".to_string(),
        policy_file: "policies/production.toml".to_string(),
        started_at: Utc
            .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .expect("valid sample time"),
        duration_ms: 5042,
        gates: vec![
            GateReport {
                name: "preflight".to_string(),
                enforcement: Enforcement::Block,
                verdict: GateVerdict::Fail,
                checks: vec![
                    disk_space(),
                    no_secrets(),
                    api_keys_rotated(),
                    db_replicas(),
                    feature_flags(),
                    tls(Enforcement::Block),
                ],
            },
            GateReport {
                name: "hygiene".to_string(),
                enforcement: Enforcement::Warn,
                verdict: GateVerdict::Warn,
                checks: vec![logging_levels(), env_vars(), tls(Enforcement::Warn)],
            },
            GateReport {
                name: "canary".to_string(),
                enforcement: Enforcement::Off,
                verdict: GateVerdict::Off,
                checks: Vec::new(),
            },
        ],
        exemption_notices: notices(),
        tool: ToolInfo {
            name: "gate".to_string(),
            version: "0.1.0".to_string(),
        },
        timings: Timings {
            startup_ms: 12,
            checks_ms: 5042,
            plugin_ms: 2600,
            host_ms: 2442,
        },
    }
}

/// `infra.disk-space`: a pass with evidence.
fn disk_space() -> CheckReport {
    check(
        "infra.disk-space",
        "Free disk space and inodes",
        "builtin-infra",
        CheckStatus::Pass,
        Severity::High,
        Enforcement::Block,
        12,
        vec![FindingReport {
            evidence: evidence(&[("free_percent", "42"), ("free_inodes", "1200345")]),
            ..finding(
                "/var/lib/postgresql",
                Status::Pass,
                Severity::High,
                "42% free, 15% required",
            )
        }],
    )
}

/// `security.no-secrets`: a blocking fail, findings with rule, location and remediation.
fn no_secrets() -> CheckReport {
    check(
        "security.no-secrets",
        "No secrets in the source tree",
        "builtin-security",
        CheckStatus::Fail,
        Severity::Critical,
        Enforcement::Block,
        30,
        vec![
            FindingReport {
                rule: Some("aws-access-key".to_string()),
                evidence: evidence(&[("match", "AKIA************MPLE"), ("entropy", "4.1")]),
                remediation: Some(
                    "remove the key from the file, rotate it, and load it from the environment"
                        .to_string(),
                ),
                location: location("src/app/config.rs", Some(12), Some(5)),
                ..finding(
                    "src/app/config.rs",
                    Status::Fail,
                    Severity::Critical,
                    "AWS access key id in source",
                )
            },
            FindingReport {
                rule: Some("private-key".to_string()),
                evidence: evidence(&[("match", "-----BEGIN RSA PRIVATE KEY----- [redacted]")]),
                location: location("deploy\\keys\\id rsa.pem", Some(1), None),
                ..finding(
                    "deploy/keys/id rsa.pem",
                    Status::Fail,
                    Severity::Critical,
                    "PEM private key in source",
                )
            },
            finding(
                "README.md",
                Status::Pass,
                Severity::Critical,
                "no secret patterns matched",
            ),
        ],
    )
}

/// `security.api-keys-rotated`: exempt, its one finding covered by [`applied_exemption`].
fn api_keys_rotated() -> CheckReport {
    let exemption = applied_exemption();
    CheckReport {
        exemption: Some(exemption.clone()),
        ..check(
            "security.api-keys-rotated",
            "API keys rotated",
            "builtin-security",
            CheckStatus::Exempt,
            Severity::High,
            Enforcement::Block,
            3,
            vec![FindingReport {
                evidence: evidence(&[("age_days", "412"), ("max_age_days", "90")]),
                remediation: Some("rotate the key and update the inventory".to_string()),
                exemption: Some(exemption.clone()),
                ..finding(
                    "key:legacy-billing",
                    Status::Fail,
                    Severity::High,
                    "key last rotated 412 days ago (limit 90)",
                )
            }],
        )
    }
}

/// `infra.db-replicas`: an error with its reason.
fn db_replicas() -> CheckReport {
    CheckReport {
        error: Some("timed out after 5000 ms (wall-clock limit)".to_string()),
        ..check(
            "infra.db-replicas",
            "Database replicas streaming",
            "builtin-infra",
            CheckStatus::Error,
            Severity::High,
            Enforcement::Block,
            5000,
            Vec::new(),
        )
    }
}

/// `config.feature-flags`: skipped.
fn feature_flags() -> CheckReport {
    check(
        "config.feature-flags",
        "Feature flag file valid",
        "builtin-config",
        CheckStatus::Skip,
        Severity::Medium,
        Enforcement::Block,
        0,
        vec![finding(
            "flags",
            Status::Skip,
            Severity::Medium,
            "no flag file is configured for this environment",
        )],
    )
}

/// `config.logging-levels`: a non-blocking fail, with text that renderers must escape.
fn logging_levels() -> CheckReport {
    check(
        "config.logging-levels",
        "No debug logging in production",
        "builtin-config",
        CheckStatus::Fail,
        Severity::Low,
        Enforcement::Warn,
        2,
        vec![FindingReport {
            rule: Some("debug-level".to_string()),
            evidence: evidence(&[("key", "logging.level"), ("value", "debug")]),
            remediation: Some("set logging.level to info | warn".to_string()),
            location: location("./config/prod,eu.yaml", Some(7), None),
            ..finding(
                "config/prod,eu.yaml",
                Status::Fail,
                Severity::Low,
                "level | debug on 50% of loggers, e.g. app:web\nsecond line <b>&</b> `tick` *star*",
            )
        }],
    )
}

/// `config.env-vars`: a pass.
fn env_vars() -> CheckReport {
    check(
        "config.env-vars",
        "Required environment variables",
        "builtin-config",
        CheckStatus::Pass,
        Severity::Medium,
        Enforcement::Warn,
        1,
        vec![finding(
            "DATABASE_URL",
            Status::Pass,
            Severity::Medium,
            "set and matches the required pattern",
        )],
    )
}

/// `security.tls`: a warn, in two gates of different enforcement.
fn tls(enforcement: Enforcement) -> CheckReport {
    check(
        "security.tls",
        "TLS protocol and ciphers",
        "builtin-security",
        CheckStatus::Warn,
        Severity::Medium,
        enforcement,
        41,
        vec![FindingReport {
            evidence: evidence(&[("protocol", "TLSv1.1"), ("cipher", "ECDHE-RSA-AES128-SHA")]),
            remediation: Some("set ssl_protocols TLSv1.2 TLSv1.3".to_string()),
            ..finding(
                "api.internal:443",
                Status::Warn,
                Severity::Medium,
                "TLS 1.1 is still accepted",
            )
        }],
    )
}

/// One exemption notice of each kind.
fn notices() -> Vec<ExemptionNotice> {
    let exemption = applied_exemption();
    vec![
        ExemptionNotice {
            kind: NoticeKind::Expired,
            message: "expired on 2026-01-31 and no longer applies".to_string(),
            exemption: ExemptionRef {
                check: "config.cache".to_string(),
                subject_match: None,
                reason: "Redis migration in progress".to_string(),
                approved_by: "platform@example.com".to_string(),
                ticket: None,
                expires: date(2026, 1, 31),
                source: "policies/production.toml:88:1".to_string(),
                signed_by: None,
            },
        },
        ExemptionNotice {
            kind: NoticeKind::ExpiringSoon,
            message: "expires in 9 days (2026-03-10)".to_string(),
            exemption: exemption.clone(),
        },
        ExemptionNotice {
            kind: NoticeKind::Unused,
            message: "matched no finding in this run".to_string(),
            exemption: ExemptionRef {
                check: "infra.backup".to_string(),
                subject_match: Some("s3://old-bucket/*".to_string()),
                reason: "bucket | decommissioned".to_string(),
                approved_by: "dba@example.com".to_string(),
                ticket: Some("OPS-77".to_string()),
                expires: date(2026, 6, 30),
                source: "policies/production.toml:95:1".to_string(),
                signed_by: None,
            },
        },
        ExemptionNotice {
            kind: NoticeKind::Unverified,
            message: "its signature (key SHA256:2bHkqSLtLxFp5PBJg6dlWWMtyiwX3vBCJv8rZJ0AxU8) does not match its fields: it was edited after it was signed".to_string(),
            exemption: ExemptionRef {
                check: "security.tls".to_string(),
                subject_match: Some("legacy.example.com:443".to_string()),
                reason: "partner still on TLS 1.1".to_string(),
                approved_by: "secops@example.com".to_string(),
                ticket: None,
                expires: date(2026, 4, 30),
                source: "policies/exemptions/tls.toml:1:1".to_string(),
                signed_by: None,
            },
        },
    ]
}
