//! `security.tls`: TLS endpoints refuse protocol versions below `min_version`,
//! do not negotiate a weak cipher, and send HSTS on HTTPS.
//!
//! Three findings per endpoint, one per rule, all with the endpoint as subject:
//!
//! - `protocol`: the version the host's handshake negotiates (it offers every
//!   version OpenSSL can speak), then one handshake restricted to each version
//!   below `min_version`; any that succeeds fails the rule.
//! - `cipher`: the negotiated suite against `forbidden_ciphers` and
//!   `min_cipher_bits`.
//! - `hsts`: a GET of `https://<endpoint><hsts_path>` must carry a valid
//!   `Strict-Transport-Security` header with `max-age >= hsts_min_age`.
//!
//! Certificate validity is `infra.certificates`' job, not this check's.

pub mod ciphers;
pub mod hsts;
pub mod version;

use gate_plugin_sdk::host::http::{self, Request, Response};
use gate_plugin_sdk::host::net::{self, TlsInfo, TlsOptions};
use gate_plugin_sdk::target::{Target, is_grant_denial};
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use version::TlsVersion;

pub const ID: &str = "security.tls";
const DEFAULT_HSTS_MIN_AGE: u64 = 15_552_000;
const DEFAULT_MIN_CIPHER_BITS: u32 = 128;
const DEFAULT_TIMEOUT_MS: u32 = 5000;

pub struct Tls;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub endpoints: Vec<String>,
    #[serde(
        default = "default_min_version",
        deserialize_with = "version::deserialize_min"
    )]
    pub min_version: TlsVersion,
    #[serde(default = "default_true")]
    pub hsts: bool,
    #[serde(default = "default_hsts_min_age")]
    pub hsts_min_age: u64,
    #[serde(default = "default_hsts_path")]
    pub hsts_path: String,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default = "default_forbidden")]
    pub forbidden_ciphers: Vec<String>,
    #[serde(default = "default_min_cipher_bits")]
    pub min_cipher_bits: u32,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn default_min_version() -> TlsVersion {
    TlsVersion::Tls12
}
fn default_true() -> bool {
    true
}
fn default_hsts_min_age() -> u64 {
    DEFAULT_HSTS_MIN_AGE
}
fn default_hsts_path() -> String {
    "/".to_string()
}
fn default_forbidden() -> Vec<String> {
    ciphers::DEFAULT_FORBIDDEN
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_min_cipher_bits() -> u32 {
    DEFAULT_MIN_CIPHER_BITS
}
fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.endpoints.is_empty() {
            problems.push("`endpoints` must list at least one host:port".to_string());
        }
        for endpoint in &self.endpoints {
            if let Err(e) = Target::parse(endpoint) {
                problems.push(format!("`endpoints`: {e}"));
            }
        }
        for pattern in &self.forbidden_ciphers {
            if let Some(p) = ciphers::pattern_problem(pattern) {
                problems.push(format!("`forbidden_ciphers`: {p}"));
            }
        }
        if !self.hsts_path.starts_with('/') || self.hsts_path.contains(char::is_whitespace) {
            problems.push(format!(
                "`hsts_path` must be a path starting with /, not `{}`",
                self.hsts_path
            ));
        }
        if let Some(name) = &self.server_name
            && (name.trim().is_empty() || name.contains(char::is_whitespace))
        {
            problems.push(format!("`server_name` `{name}` is not a host name"));
        }
        if self.ca_file.as_deref().is_some_and(|f| f.trim().is_empty()) {
            problems.push("`ca_file` is empty".to_string());
        }
        if self.ca_file.is_some() && !self.hsts {
            problems.push(
                "`ca_file` only applies to the HSTS request, and `hsts` is false".to_string(),
            );
        }
        if self.timeout_ms == 0 {
            problems.push("`timeout_ms` must be above 0".to_string());
        }
        problems
    }
}

/// The host calls the check makes (a trait so tests can stand in for the host).
pub trait Probe {
    fn inspect(&self, target: &str, opts: &TlsOptions) -> Result<TlsInfo, String>;
    fn accepts_version(
        &self,
        target: &str,
        version: &str,
        opts: &TlsOptions,
    ) -> Result<bool, String>;
    fn fetch(&self, request: &Request) -> Result<Response, String>;
}

/// The real host.
pub struct HostProbe;

impl Probe for HostProbe {
    fn inspect(&self, target: &str, opts: &TlsOptions) -> Result<TlsInfo, String> {
        net::tls_inspect(target, opts)
    }
    fn accepts_version(
        &self,
        target: &str,
        version: &str,
        opts: &TlsOptions,
    ) -> Result<bool, String> {
        net::tls_accepts_version(target, version, opts)
    }
    fn fetch(&self, request: &Request) -> Result<Response, String> {
        http::fetch(request)
    }
}

impl Check for Tls {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "TLS configuration".to_string(),
            description: "Endpoints refuse TLS versions below min_version, negotiate no weak cipher, and send HSTS on HTTPS"
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param(
                    "endpoints",
                    "list<string>",
                    true,
                    "host:port TLS endpoints",
                ),
                param_default(
                    "min_version",
                    "string",
                    "Lowest TLS version the endpoints may accept: \"1.0\", \"1.1\", \"1.2\" or \"1.3\"",
                    "\"1.2\"",
                ),
                param_default(
                    "hsts",
                    "bool",
                    "Require a Strict-Transport-Security header on https://<endpoint><hsts_path> (needs an http grant)",
                    "true",
                ),
                param_default(
                    "hsts_min_age",
                    "integer",
                    "Minimum HSTS max-age, in seconds (15552000 = 180 days)",
                    &DEFAULT_HSTS_MIN_AGE.to_string(),
                ),
                param_default(
                    "hsts_path",
                    "string",
                    "Path fetched to read the HSTS header",
                    "\"/\"",
                ),
                param(
                    "server_name",
                    "string",
                    false,
                    "SNI sent in the handshakes; defaults to each endpoint's host",
                ),
                param(
                    "ca_file",
                    "string",
                    false,
                    "PEM trust roots for the HSTS request (private CAs; needs an fs grant)",
                ),
                param_default(
                    "forbidden_ciphers",
                    "list<string>",
                    "Cipher-suite patterns that must not be negotiated (OpenSSL or IANA names, tokens joined by - or _, * for a prefix)",
                    &format!("{:?}", ciphers::DEFAULT_FORBIDDEN),
                ),
                param_default(
                    "min_cipher_bits",
                    "integer",
                    "Minimum symmetric key strength of the negotiated cipher",
                    &DEFAULT_MIN_CIPHER_BITS.to_string(),
                ),
                param_default(
                    "timeout_ms",
                    "integer",
                    "Timeout of each handshake and of the HSTS request, in milliseconds",
                    &DEFAULT_TIMEOUT_MS.to_string(),
                ),
            ],
            capabilities: vec!["net".to_string(), "http".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let params: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        evaluate(ctx, &params, &HostProbe)
    }
}

/// Checks every endpoint through `probe`.
pub fn evaluate(ctx: &Context, params: &Params, probe: &dyn Probe) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let opts = TlsOptions {
        server_name: params.server_name.clone(),
        ca_file: None,
        timeout_ms: params.timeout_ms,
    };
    let mut findings = Vec::new();
    for endpoint in &params.endpoints {
        let target = Target::parse(endpoint).expect("validated").to_string();
        let info = match probe.inspect(&target, &opts) {
            Ok(info) => info,
            Err(e) => {
                findings.push(cannot_see(ctx, &target, None, &e, &target));
                continue;
            }
        };
        findings.push(protocol(ctx, params, &target, &info, &opts, probe));
        findings.push(cipher(ctx, params, &target, &info));
        if params.hsts {
            findings.push(hsts_header(ctx, params, &target, probe));
        }
    }
    findings
}

fn cannot_see(
    ctx: &Context,
    target: &str,
    rule: Option<&str>,
    error: &str,
    grant: &str,
) -> Finding {
    let (what, hint) = if error.contains("not granted `http`") {
        (
            "read HSTS from",
            format!(
                "grant the request: `http = [\"{grant}\"]` under [plugin.grants] of the `security` plugin, or set `hsts = false`"
            ),
        )
    } else if is_grant_denial(error) {
        (
            "inspect TLS on",
            format!(
                "grant the probe: `net = [\"{grant}\"]` under [plugin.grants] of the `security` plugin"
            ),
        )
    } else if rule == Some("hsts") {
        (
            "read HSTS from",
            "check that the endpoint serves HTTPS; for a private CA set `ca_file` (and grant `fs` access to it)"
                .to_string(),
        )
    } else {
        (
            "inspect TLS on",
            "check that the endpoint is up and speaks TLS on that port".to_string(),
        )
    };
    let mut finding = ctx
        .finding(target, Status::Error)
        .message(format!("cannot {what} {target}: {error}"))
        .remediation(hint);
    if let Some(rule) = rule {
        finding = finding.rule(rule);
    }
    finding.build()
}

fn list(versions: &[TlsVersion]) -> String {
    let names: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
    names.join(", ")
}

fn protocol(
    ctx: &Context,
    params: &Params,
    target: &str,
    info: &TlsInfo,
    opts: &TlsOptions,
    probe: &dyn Probe,
) -> Finding {
    let min = params.min_version;
    let negotiated = TlsVersion::parse(&info.protocol);
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let mut errors = Vec::new();
    for v in version::PROBED.into_iter().filter(|v| *v < min) {
        if negotiated == Some(v) {
            // The full handshake already proved it is accepted.
            accepted.push(v);
            continue;
        }
        match probe.accepts_version(target, v.probe_arg(), opts) {
            Ok(true) => accepted.push(v),
            Ok(false) => refused.push(v),
            Err(e) => errors.push(format!("{v}: {e}")),
        }
    }
    let below = negotiated.is_none_or(|n| n < min);
    let finding = if below || !accepted.is_empty() {
        let mut problems = Vec::new();
        if below {
            problems.push(format!(
                "negotiates {}, below min_version {min}",
                info.protocol
            ));
        }
        if !accepted.is_empty() {
            problems.push(format!("server still accepts {}", list(&accepted)));
        }
        if !errors.is_empty() {
            problems.push(format!("could not probe {}", errors.join("; ")));
        }
        ctx.finding(target, Status::Fail)
            .message(format!("{target}: {}", problems.join("; ")))
            .remediation(format!(
                "disable every protocol below {min} on the server (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`, HAProxy: `ssl-min-ver TLSv1.2`)"
            ))
    } else if !errors.is_empty() {
        return ctx
            .finding(target, Status::Error)
            .rule("protocol")
            .message(format!(
                "{target}: cannot tell which TLS versions are accepted: {}",
                errors.join("; ")
            ))
            .evidence("protocol", &info.protocol)
            .build();
    } else {
        let refuses = if refused.is_empty() {
            String::new()
        } else {
            format!("; refuses {}", list(&refused))
        };
        ctx.finding(target, Status::Pass).message(format!(
            "{target}: negotiates {}{refuses} (min_version {min})",
            info.protocol
        ))
    };
    finding
        .rule("protocol")
        .evidence("protocol", &info.protocol)
        .evidence("min_version", min)
        .evidence("accepted_below_min", list(&accepted))
        .evidence("refused_below_min", list(&refused))
        .build()
}

fn cipher(ctx: &Context, params: &Params, target: &str, info: &TlsInfo) -> Finding {
    if info.cipher.is_empty() {
        return ctx
            .finding(target, Status::Error)
            .rule("cipher")
            .message(format!("{target}: the handshake reported no cipher suite"))
            .build();
    }
    let mut problems = Vec::new();
    if let Some(pattern) = ciphers::forbidden_by(&params.forbidden_ciphers, &info.cipher) {
        problems.push(format!(
            "negotiates {}, forbidden by `{pattern}`",
            info.cipher
        ));
    }
    if info.cipher_bits < params.min_cipher_bits {
        problems.push(format!(
            "negotiates a {}-bit cipher ({}), below min_cipher_bits {}",
            info.cipher_bits, info.cipher, params.min_cipher_bits
        ));
    }
    let finding = if problems.is_empty() {
        ctx.finding(target, Status::Pass).message(format!(
            "{target}: negotiates {} ({}-bit) over {}",
            info.cipher, info.cipher_bits, info.protocol
        ))
    } else {
        ctx.finding(target, Status::Fail)
            .message(format!("{target}: {}", problems.join("; ")))
            .remediation(
                "remove weak suites from the server's cipher list (nginx: `ssl_ciphers HIGH:!aNULL:!MD5:!RC4:!3DES;` with `ssl_prefer_server_ciphers on;`)",
            )
    };
    finding
        .rule("cipher")
        .evidence("cipher", &info.cipher)
        .evidence("cipher_bits", info.cipher_bits)
        .evidence("protocol", &info.protocol)
        .build()
}

fn hsts_header(ctx: &Context, params: &Params, target: &str, probe: &dyn Probe) -> Finding {
    let url = format!("https://{target}{}", params.hsts_path);
    let request = Request {
        method: "GET".to_string(),
        url: url.clone(),
        headers: Vec::new(),
        body: None,
        timeout_ms: params.timeout_ms,
        max_bytes: 1,
        ca_file: params.ca_file.clone(),
    };
    let response = match probe.fetch(&request) {
        Ok(r) => r,
        Err(e) => {
            return cannot_see(
                ctx,
                target,
                Some("hsts"),
                &e,
                &format!("https://{target}/*"),
            );
        }
    };
    let min = params.hsts_min_age;
    let value = hsts::header(&response.headers);
    let verdict = match value.map(hsts::parse) {
        None => Err(format!("{url} sends no Strict-Transport-Security header")),
        Some(Err(e)) => Err(format!(
            "{url} sends an invalid Strict-Transport-Security header, which browsers ignore: {e}"
        )),
        Some(Ok(h)) if h.max_age < min => Err(format!(
            "{url} sends Strict-Transport-Security max-age={} ({}), below hsts_min_age {min} ({})",
            h.max_age,
            days(h.max_age),
            days(min)
        )),
        Some(Ok(h)) => Ok(h),
    };
    let finding = match &verdict {
        Ok(h) => ctx.finding(target, Status::Pass).message(format!(
            "{url} sends Strict-Transport-Security max-age={} ({}){}",
            h.max_age,
            days(h.max_age),
            if h.include_subdomains { "; includeSubDomains" } else { "" }
        )),
        Err(message) => ctx
            .finding(target, Status::Fail)
            .message(message.clone())
            .remediation(format!(
                "send `Strict-Transport-Security: max-age={}` (or more) on every HTTPS response (nginx: `add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains\" always;`)",
                min.max(31_536_000)
            )),
    };
    let mut finding = finding
        .rule("hsts")
        .evidence("url", &url)
        .evidence("status", response.status)
        .evidence("header", value.unwrap_or(""));
    if let Ok(h) = &verdict {
        finding = finding
            .evidence("max_age", h.max_age)
            .evidence("include_subdomains", h.include_subdomains)
            .evidence("preload", h.preload);
    }
    finding.build()
}

fn days(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        s if s >= 86_400 => plural(s / 86_400, "day"),
        s if s >= 3600 => plural(s / 3600, "hour"),
        s => plural(s, "second"),
    }
}

#[cfg(test)]
mod tests;
