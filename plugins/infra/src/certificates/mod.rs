//! `infra.certificates`: TLS endpoints present a chain that verifies, covers the
//! host name and stays valid for at least `min_days`; certificates in PEM/DER
//! files stay valid for at least `min_days`.
//!
//! Endpoints go through the host's TLS inspection (OpenSSL, which records
//! verification problems instead of aborting the handshake). Files are parsed
//! here, in the guest; they carry no trust anchor, so for files the check judges
//! validity dates (and the host name, when `server_name` is set), not the chain.

pub mod cert;
pub mod hostname;
pub mod rfc3339;

use gate_plugin_sdk::host::{clock, net};
use gate_plugin_sdk::target::{Target, is_grant_denial};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, FindingBuilder, Severity, Status, param, param_default,
    params, paths,
};
use serde::Deserialize;

use cert::Cert;
use net::{TlsInfo, TlsOptions};

pub const ID: &str = "infra.certificates";
const DEFAULT_MIN_DAYS: u32 = 30;
const DEFAULT_TIMEOUT_MS: u32 = 5000;
/// Certificate files are small; anything bigger is not one.
const MAX_FILE_BYTES: u64 = 1 << 20;
const DAY: i64 = 86_400;

pub struct Certificates;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default = "default_min_days")]
    pub min_days: u32,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn default_min_days() -> u32 {
    DEFAULT_MIN_DAYS
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.endpoints.is_empty() && self.files.is_empty() {
            problems.push("set `endpoints`, `files` or both".to_string());
        }
        for endpoint in &self.endpoints {
            if let Err(e) = Target::parse(endpoint) {
                problems.push(format!("`endpoints`: {e}"));
            }
        }
        if self.files.iter().any(|f| f.trim().is_empty()) {
            problems.push("`files` contains an empty path".to_string());
        }
        if let Some(name) = &self.server_name
            && (name.trim().is_empty() || name.contains(char::is_whitespace))
        {
            problems.push(format!("`server_name` `{name}` is not a host name"));
        }
        if self.ca_file.as_deref().is_some_and(|f| f.trim().is_empty()) {
            problems.push("`ca_file` is empty".to_string());
        }
        if self.ca_file.is_some() && self.endpoints.is_empty() {
            problems.push("`ca_file` only applies to `endpoints`, and none are set".to_string());
        }
        if self.timeout_ms == 0 {
            problems.push("`timeout_ms` must be above 0".to_string());
        }
        problems
    }
}

impl Check for Certificates {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "TLS certificates".to_string(),
            description: "TLS endpoints and PEM files: chain valid, hostname matches, at least min_days to expiry"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param(
                    "endpoints",
                    "list<string>",
                    false,
                    "host:port TLS endpoints to inspect (handshake with SNI)",
                ),
                param(
                    "files",
                    "list<string>",
                    false,
                    "PEM (or DER) certificate files; every certificate in a file is checked",
                ),
                param_default(
                    "min_days",
                    "integer",
                    "Minimum whole days left before a certificate expires",
                    &DEFAULT_MIN_DAYS.to_string(),
                ),
                param(
                    "server_name",
                    "string",
                    false,
                    "SNI and the name the certificate must cover; defaults to each endpoint's host. For files: the name the first certificate must cover",
                ),
                param(
                    "ca_file",
                    "string",
                    false,
                    "PEM trust roots for endpoints instead of the system roots (needs an fs grant)",
                ),
                param_default(
                    "timeout_ms",
                    "integer",
                    "Timeout of each TLS handshake, in milliseconds",
                    &DEFAULT_TIMEOUT_MS.to_string(),
                ),
            ],
            capabilities: vec!["net|fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let params: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        let (now, _) = clock::now();
        evaluate(ctx, &params, now, net::tls_inspect, |path| {
            let granted = paths::resolve(path)?;
            paths::read_bytes(&granted, MAX_FILE_BYTES)
        })
    }
}

/// Checks every endpoint and file at `now` (Unix seconds). `inspect` is the
/// host's `net.tls-inspect`, `read` reads a file through the `fs` grant.
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    now: i64,
    inspect: impl Fn(&str, &TlsOptions) -> Result<TlsInfo, String>,
    read: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let mut findings = Vec::new();
    for endpoint in &params.endpoints {
        let target = Target::parse(endpoint).expect("validated");
        let opts = TlsOptions {
            server_name: params.server_name.clone(),
            ca_file: params.ca_file.clone(),
            timeout_ms: params.timeout_ms,
        };
        let subject = target.to_string();
        findings.push(match inspect(&subject, &opts) {
            Ok(info) => assess_endpoint(ctx, params, &subject, &target, &info, now),
            Err(e) => cannot_inspect(ctx, &subject, &e, params.ca_file.as_deref()),
        });
    }
    for file in &params.files {
        match read(file).and_then(|bytes| cert::parse_file(&bytes)) {
            Ok(certs) => findings.extend(assess_file(ctx, params, file, &certs, now)),
            Err(e) => findings.push(
                ctx.finding(file, Status::Error)
                    .message(format!("cannot read certificates from {file}: {e}"))
                    .remediation(
                        "check that the file exists, holds PEM or DER certificates, and that the `infra` plugin's `fs` grant covers it",
                    )
                    .build(),
            ),
        }
    }
    findings
}

fn cannot_inspect(ctx: &Context, subject: &str, error: &str, ca_file: Option<&str>) -> Finding {
    let hint = if is_grant_denial(error) {
        let mut hint = format!(
            "grant the probe: `net = [\"{subject}\"]` under [plugin.grants] of the `infra` plugin"
        );
        if let Some(ca) = ca_file {
            hint.push_str(&format!(", and `fs` access to `{ca}` for `ca_file`"));
        }
        hint
    } else {
        "check that the endpoint is up and speaks TLS on that port".to_string()
    };
    ctx.finding(subject, Status::Error)
        .message(format!("cannot inspect TLS on {subject}: {error}"))
        .remediation(hint)
        .build()
}

/// Whole days from `now` to `not_after`, rounded down (negative once expired).
fn days_left(cert: &Cert, now: i64) -> i64 {
    (cert.not_after - now).div_euclid(DAY)
}

/// A problem with one certificate's dates, if any.
fn date_problem(cert: &Cert, now: i64, min_days: u32, what: &str) -> Option<(String, bool)> {
    let until = rfc3339::format(cert.not_after);
    if now < cert.not_before {
        return Some((
            format!(
                "{what} is not valid until {}",
                rfc3339::format(cert.not_before)
            ),
            true,
        ));
    }
    if now >= cert.not_after {
        let ago = (now - cert.not_after).div_euclid(DAY);
        return Some((format!("{what} expired on {until} ({ago} days ago)"), true));
    }
    let left = days_left(cert, now);
    (left < i64::from(min_days)).then(|| {
        (
            format!("{what} expires on {until}, in {left} days (min_days {min_days})"),
            false,
        )
    })
}

fn cert_evidence(finding: FindingBuilder, cert: &Cert, now: i64) -> FindingBuilder {
    let mut finding = finding
        .evidence("subject", &cert.subject)
        .evidence("issuer", &cert.issuer)
        .evidence("not_before", rfc3339::format(cert.not_before))
        .evidence("not_after", rfc3339::format(cert.not_after))
        .evidence("days_left", days_left(cert, now))
        .evidence("sans", cert.sans.join(", "))
        .evidence("serial", &cert.serial);
    if let Some(fp) = &cert.sha256_fingerprint {
        finding = finding.evidence("sha256_fingerprint", fp);
    }
    finding
}

fn assess_endpoint(
    ctx: &Context,
    params: &Params,
    subject: &str,
    target: &Target,
    info: &TlsInfo,
    now: i64,
) -> Finding {
    let chain: Vec<Cert> = info.chain.iter().map(Cert::from).collect();
    let Some(leaf) = chain.first() else {
        return ctx
            .finding(subject, Status::Error)
            .message(format!(
                "{subject} completed a TLS handshake without presenting a certificate"
            ))
            .evidence("protocol", &info.protocol)
            .evidence("cipher", &info.cipher)
            .build();
    };
    let name = params
        .server_name
        .clone()
        .unwrap_or_else(|| target.host.clone());
    // (problem, breaks clients now)
    let mut problems: Vec<(String, bool)> = Vec::new();
    let leaf_dates = date_problem(leaf, now, params.min_days, "the certificate");
    let expiry_explains_verify = leaf_dates
        .as_ref()
        .is_some_and(|(_, now_broken)| *now_broken);
    if !info.verified {
        let reason = info
            .verify_error
            .as_deref()
            .unwrap_or("verification failed");
        let redundant = expiry_explains_verify
            && (reason.contains("expired") || reason.contains("not yet valid"));
        if !redundant {
            problems.push((format!("the chain does not verify: {reason}"), true));
        }
    }
    if !info.hostname_matches {
        let sans = if leaf.sans.is_empty() {
            format!("no SANs; subject {}", leaf.subject)
        } else {
            format!("SANs: {}", leaf.sans.join(", "))
        };
        problems.push((
            format!("the certificate does not cover {name} ({sans})"),
            true,
        ));
    }
    problems.extend(leaf_dates);
    for (i, c) in chain.iter().enumerate().skip(1) {
        let what = format!("chain certificate {} ({})", i + 1, c.subject);
        problems.extend(date_problem(c, now, params.min_days, &what));
    }

    let left = days_left(leaf, now);
    let mut finding = if problems.is_empty() {
        ctx.finding(subject, Status::Pass).message(format!(
            "{subject}: chain verified, covers {name}, expires on {} ({left} days left)",
            rfc3339::format(leaf.not_after)
        ))
    } else {
        let broken = problems.iter().any(|(_, now_broken)| *now_broken);
        let texts: Vec<&str> = problems.iter().map(|(t, _)| t.as_str()).collect();
        let mut f = ctx
            .finding(subject, Status::Fail)
            .message(format!("{subject}: {}", texts.join("; ")))
            .remediation(if broken {
                "clients reject this certificate now: deploy a certificate that is currently valid, issued for this name, with its full intermediate chain"
            } else {
                "renew the certificate (and check that automated renewal, e.g. certbot or cert-manager, runs)"
            });
        if broken {
            f = f.severity(Severity::Critical);
        }
        f
    };
    finding = finding.evidence("server_name", &name);
    finding = cert_evidence(finding, leaf, now)
        .evidence("protocol", &info.protocol)
        .evidence("verified", info.verified)
        .evidence("hostname_matches", info.hostname_matches)
        .evidence("chain_length", chain.len());
    if let Some(e) = &info.verify_error {
        finding = finding.evidence("verify_error", e);
    }
    finding.build()
}

fn assess_file(
    ctx: &Context,
    params: &Params,
    file: &str,
    certs: &[Cert],
    now: i64,
) -> Vec<Finding> {
    let total = certs.len();
    certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let what = if total == 1 {
                format!("certificate {}", c.subject)
            } else {
                format!("certificate {} of {total} ({})", i + 1, c.subject)
            };
            let mut problems: Vec<(String, bool)> = Vec::new();
            problems.extend(date_problem(c, now, params.min_days, &what));
            if i == 0
                && let Some(name) = &params.server_name
                && !hostname::matches(&c.sans, &c.subject, name)
            {
                problems.push((format!("{what} does not cover {name}"), true));
            }
            let finding = if problems.is_empty() {
                ctx.finding(file, Status::Pass).message(format!(
                    "{file}: {what} expires on {} ({} days left)",
                    rfc3339::format(c.not_after),
                    days_left(c, now)
                ))
            } else {
                let broken = problems.iter().any(|(_, b)| *b);
                let texts: Vec<&str> = problems.iter().map(|(t, _)| t.as_str()).collect();
                let f = ctx
                    .finding(file, Status::Fail)
                    .message(format!("{file}: {}", texts.join("; ")))
                    .remediation(
                        "renew the certificate and replace the file (and check that automated renewal runs)",
                    );
                if broken { f.severity(Severity::Critical) } else { f }
            };
            cert_evidence(finding.evidence("index", format!("{} of {total}", i + 1)), c, now)
                .build()
        })
        .collect()
}

#[cfg(test)]
mod tests;
