//! `config.error-handling`: error reporting is configured, debug error pages
//! are off, and a live error response leaks no stack trace.

use gate_plugin_sdk::redact::shown;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::assertions::{self, Spec, truthy};
use crate::http_probe::{self, Fetch};
use crate::source::{self, SourceFile};
use crate::traces;
use gate_configfile::{self as document, Entry, Format};

pub const ID: &str = "config.error-handling";
const DEFAULT_TIMEOUT_MS: u32 = 5_000;
const PROBE_MAX_BYTES: u32 = 1 << 20;

pub struct ErrorHandling;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default, rename = "assert")]
    pub assertions: Vec<Spec>,
    #[serde(default = "yes")]
    pub forbid_debug: bool,
    #[serde(default)]
    pub probe: Option<Probes>,
    #[serde(default)]
    pub format: Option<String>,
}

fn yes() -> bool {
    true
}

/// One probe table, or a list of them.
#[derive(Debug)]
pub enum Probes {
    One(Probe),
    Many(Vec<Probe>),
}

/// By hand rather than `untagged`, so a typo inside a probe is reported as
/// itself ("unknown field `status`") instead of "did not match any variant".
impl<'de> Deserialize<'de> for Probes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            v @ serde_json::Value::Array(_) => serde_json::from_value(v)
                .map(Probes::Many)
                .map_err(D::Error::custom),
            v => serde_json::from_value(v)
                .map(Probes::One)
                .map_err(D::Error::custom),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub url: String,
    #[serde(default)]
    pub expect_status: Option<u16>,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn get() -> String {
    "GET".to_string()
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Check for ErrorHandling {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Errors are handled, not leaked".to_string(),
            description: "Config files: assertions hold (e.g. an error reporter is configured) and no setting \
                          turns on debug error pages (DEBUG, display_errors, include-stacktrace, development \
                          environments...). Probe: a request that triggers an error gets the expected status \
                          and a body without stack traces (Python, JVM, .NET, Go, Rust, Node, Ruby, PHP), SQL \
                          error text or framework debug pages."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("files", "list<string>", false, "Config files (JSON, YAML, TOML, .env, .properties, .ini) to inspect."),
                param("assert", "list<{ path, equals?, matches?, exists?, absent?, min?, max?, message? }>", false, "Assertions over `files`, e.g. `{ path = \"sentry.dsn\", exists = true }`; keys are dotted paths, `*` matches one segment."),
                param_default("forbid_debug", "bool", "Fail files that enable debug error output (DEBUG=true, display_errors=On, server.error.include-stacktrace=always, NODE_ENV=development, ...).", "true"),
                param("probe", "{ url, expect_status?, method = \"GET\", headers?, body?, timeout_ms = 5000 } | list", false, "Requests that trigger an error; the response must have `expect_status` (when set) and must not leak a stack trace or debug page."),
                param("format", "string", false, "Force the file format instead of guessing it from the file name."),
            ],
            capabilities: vec!["fs|http".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        match params::parse(ctx, params) {
            Ok(p) => evaluate(ctx, &p, &source::read, &http_probe::host),
            Err(f) => f,
        }
    }
}

/// A setting that makes a framework render internals to clients.
struct DebugRule {
    id: &'static str,
    /// Lower-case key names (the last path segment, or the whole dotted key).
    keys: &'static [&'static str],
    bad: fn(&str) -> bool,
    why: &'static str,
}

fn is_true(v: &str) -> bool {
    truthy(v) == Some(true)
}

const DEBUG_RULES: &[DebugRule] = &[
    DebugRule {
        id: "debug-mode",
        keys: &[
            "debug",
            "app_debug",
            "flask_debug",
            "django_debug",
            "debug_mode",
        ],
        bad: is_true,
        why: "debug mode renders stack traces and settings to clients (Django, Flask, Laravel, Symfony)",
    },
    DebugRule {
        id: "display-errors",
        keys: &["display_errors", "display_startup_errors"],
        bad: |v| {
            is_true(v) || matches!(v.trim().to_ascii_lowercase().as_str(), "stdout" | "stderr")
        },
        why: "PHP prints errors with file paths and lines into responses",
    },
    DebugRule {
        id: "include-stacktrace",
        keys: &[
            "server.error.include-stacktrace",
            "server.error.include_stacktrace",
        ],
        bad: |v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "always" | "on_param" | "on-param" | "on_trace_param"
            )
        },
        why: "Spring Boot adds the stack trace to error responses",
    },
    DebugRule {
        id: "include-exception",
        keys: &[
            "server.error.include-exception",
            "server.error.include_exception",
        ],
        bad: is_true,
        why: "Spring Boot adds the exception class to error responses",
    },
    DebugRule {
        id: "detailed-errors",
        keys: &[
            "aspnetcore_detailederrors",
            "aspnetcore_detailed_errors",
            "detailederrors",
            "show_detailed_exceptions",
            "consider_all_requests_local",
            "show_exceptions",
            "propagate_exceptions",
        ],
        bad: is_true,
        why: "the framework renders exception details (ASP.NET Core, Rails, Flask) to clients",
    },
    DebugRule {
        id: "development-environment",
        keys: &[
            "node_env",
            "rails_env",
            "rack_env",
            "aspnetcore_environment",
            "dotnet_environment",
            "app_env",
            "flask_env",
            "environment",
        ],
        bad: |v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "development" | "dev" | "local"
            )
        },
        why: "development environments enable verbose error pages (Express, Rails, ASP.NET Core, Symfony, Laravel)",
    },
];

fn debug_rule(entry: &Entry) -> Option<&'static DebugRule> {
    let key = entry.key().to_ascii_lowercase();
    let leaf = entry.leaf().to_ascii_lowercase();
    DEBUG_RULES
        .iter()
        .find(|r| r.keys.iter().any(|k| *k == leaf || *k == key) && (r.bad)(&entry.value))
}

pub fn evaluate(
    ctx: &Context,
    p: &Params,
    read: &dyn Fn(&str) -> Result<SourceFile, String>,
    fetch: Fetch,
) -> Vec<Finding> {
    let mut problems = Vec::new();
    let probes: Vec<Probe> = match &p.probe {
        None => Vec::new(),
        Some(Probes::One(one)) => vec![one.clone()],
        Some(Probes::Many(many)) => many.clone(),
    };
    if p.files.is_empty() && probes.is_empty() {
        problems
            .push("set `files` (with `assert` or `forbid_debug`), `probe`, or both".to_string());
    }
    if !p.files.is_empty() && p.assertions.is_empty() && !p.forbid_debug {
        problems.push("`files` needs `assert` when `forbid_debug = false`".to_string());
    }
    if p.files.is_empty() && !p.assertions.is_empty() {
        problems.push("`assert` needs `files`".to_string());
    }
    let assertions = match assertions::compile(&p.assertions) {
        Ok(a) => a,
        Err(e) => {
            problems.extend(e);
            Vec::new()
        }
    };
    let forced = match p.format.as_deref().map(|f| (f, Format::from_name(f))) {
        None => None,
        Some((_, Some(f))) => Some(f),
        Some((f, None)) => {
            problems.push(format!(
                "unknown `format` `{f}`; use one of {}",
                Format::NAMES
            ));
            None
        }
    };
    for probe in &probes {
        problems.extend(validate_probe(probe));
    }
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let mut out = Vec::new();
    for path in &p.files {
        let file = match read(path) {
            Ok(f) => f,
            Err(e) => {
                out.push(source::unreadable(ctx, path, &e));
                continue;
            }
        };
        let Some(format) = forced.or_else(|| Format::detect(path)) else {
            out.push(
                ctx.finding(path, Status::Error)
                    .message(format!("cannot tell the format of {path}; set `format`"))
                    .build(),
            );
            continue;
        };
        let entries = match document::entries(format, &file.text) {
            Ok(e) => e,
            Err(e) => {
                out.push(source::unparsable(ctx, path, format, &e));
                continue;
            }
        };
        if p.forbid_debug {
            out.extend(debug_findings(ctx, path, format, &file.text, &entries));
        }
        out.extend(assertions::check_file(
            ctx,
            path,
            format,
            &file.text,
            &entries,
            &assertions,
        ));
    }
    for probe in &probes {
        out.extend(run_probe(ctx, probe, fetch));
    }
    out
}

fn debug_findings(
    ctx: &Context,
    path: &str,
    format: Format,
    text: &str,
    entries: &[Entry],
) -> Vec<Finding> {
    let mut used = std::collections::HashSet::new();
    let mut out: Vec<Finding> = entries
        .iter()
        .filter_map(|e| debug_rule(e).map(|r| (e, r)))
        .map(|(e, rule)| {
            let at = document::locate(format, text, e, &mut used);
            ctx.finding(format!("{path}#{}", e.key()), Status::Fail)
                .rule(rule.id)
                .message(format!(
                    "`{}` is `{}` in {path}: {}",
                    e.key(),
                    shown(&e.key(), &e.value),
                    rule.why
                ))
                .evidence("key", e.key())
                .evidence("value", shown(&e.key(), &e.value))
                .remediation(format!("turn `{}` off for this environment", e.key()))
                .location(path, at.map(|a| a.0), at.map(|a| a.1))
                .build()
        })
        .collect();
    if out.is_empty() {
        out.push(
            ctx.finding(path, Status::Pass)
                .message(format!("no setting in {path} enables debug error output"))
                .evidence("settings", entries.len())
                .location(path, None, None)
                .build(),
        );
    }
    out
}

fn validate_probe(probe: &Probe) -> Vec<String> {
    let mut problems: Vec<String> = http_probe::url_problem(&probe.url).into_iter().collect();
    problems.extend(http_probe::request_problems(
        probe.expect_status,
        &probe.method,
        probe.timeout_ms,
    ));
    problems
}

fn run_probe(ctx: &Context, probe: &Probe, fetch: Fetch) -> Vec<Finding> {
    let url = probe.url.as_str();
    let request = http_probe::probe_request(
        &probe.method,
        url,
        &probe.headers,
        probe.body.as_deref(),
        probe.timeout_ms,
        PROBE_MAX_BYTES,
    );
    let response = match fetch(&request) {
        Ok(r) => r,
        Err(e) => {
            return vec![
                ctx.finding(url, Status::Error)
                    .message(format!("cannot probe {url}: {e}"))
                    .remediation(http_probe::hint(&e))
                    .build(),
            ];
        }
    };
    let mut out = Vec::new();
    if let Some(want) = probe.expect_status
        && response.status != want
    {
        out.push(
            ctx.finding(url, Status::Fail)
                .rule("status")
                .message(format!(
                    "{} {url} answered {}, expected {want}",
                    probe.method, response.status
                ))
                .evidence("status", response.status)
                .evidence("expected", want)
                .remediation(
                    "map this error to the intended status in the application's error handler",
                )
                .build(),
        );
    }
    let body = String::from_utf8_lossy(&response.body);
    for leak in traces::scan(&body) {
        out.push(
            ctx.finding(url, Status::Fail)
                .rule(leak.id)
                .message(format!("the error response from {url} contains {}", leak.what))
                .evidence("excerpt", &leak.excerpt)
                .evidence("status", response.status)
                .remediation("return a generic error body in production and log the details server-side (turn off debug mode / detailed errors)")
                .build(),
        );
    }
    for header in ["x-debug-token", "x-debug-token-link", "x-debug-exception"] {
        if let Some(v) = http_probe::header(&response, header) {
            out.push(
                ctx.finding(url, Status::Fail)
                    .rule("debug-header")
                    .message(format!("the error response from {url} carries `{header}`: a profiler or debug mode is on"))
                    .evidence("header", format!("{header}: {}", v.chars().take(80).collect::<String>()))
                    .remediation("disable the framework's profiler/debug mode in production")
                    .build(),
            );
        }
    }
    if out.is_empty() {
        out.push(
            ctx.finding(url, Status::Pass)
                .message(format!(
                    "{} {url} answered {} without leaking a stack trace or debug page",
                    probe.method, response.status
                ))
                .evidence("status", response.status)
                .evidence("bytes", response.body.len())
                .build(),
        );
    } else if response.truncated {
        // Only the first part was scanned; say so on the findings' evidence.
        for f in &mut out {
            f.evidence
                .push(("truncated".to_string(), "true".to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use gate_plugin_sdk::host::http::Response;
    use serde_json::json;

    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
            truncated: false,
            elapsed_ms: 1,
        }
    }

    fn run(
        params: serde_json::Value,
        files: &[(&str, &str)],
        reply: Result<Response, String>,
    ) -> Vec<Finding> {
        let p: Params = match params::parse(&ctx(), &params) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let read = |path: &str| {
            files
                .iter()
                .find(|(n, _)| *n == path)
                .map(|(n, t)| SourceFile::new(*n, *t))
                .ok_or_else(|| format!("{path}: No such file or directory"))
        };
        evaluate(&ctx(), &p, &read, &|_| reply.clone())
    }

    fn summary(out: &[Finding]) -> Vec<(String, Status, Option<String>)> {
        out.iter()
            .map(|f| (f.subject.clone(), f.status, f.rule.clone()))
            .collect()
    }

    #[test]
    fn debug_settings_fail_with_lines() {
        let out = run(
            json!({"files": [".env", "php.ini", "application.properties", "appsettings.json"]}),
            &[
                (
                    ".env",
                    "APP_ENV=production\nAPP_DEBUG=true\nSENTRY_DSN=https://k@o1.ingest.sentry.io/1\n",
                ),
                ("php.ini", "[PHP]\ndisplay_errors = On\nlog_errors = On\n"),
                (
                    "application.properties",
                    "server.error.include-stacktrace=always\nserver.error.include-message=never\n",
                ),
                (
                    "appsettings.json",
                    "{\"Logging\": {\"LogLevel\": {\"Default\": \"Warning\"}}, \"DetailedErrors\": false}",
                ),
            ],
            Err("no probe".into()),
        );
        assert_eq!(
            summary(&out),
            [
                (
                    ".env#APP_DEBUG".to_string(),
                    Status::Fail,
                    Some("debug-mode".to_string())
                ),
                (
                    "php.ini#PHP.display_errors".to_string(),
                    Status::Fail,
                    Some("display-errors".to_string())
                ),
                (
                    "application.properties#server.error.include-stacktrace".to_string(),
                    Status::Fail,
                    Some("include-stacktrace".to_string())
                ),
                ("appsettings.json".to_string(), Status::Pass, None),
            ]
        );
        assert_eq!(out[0].location.as_ref().unwrap().line, Some(2));
        assert_eq!(out[1].location.as_ref().unwrap().line, Some(2));
    }

    #[test]
    fn assertions_about_error_reporting() {
        let out = run(
            json!({"files": ["config/production.yaml"], "assert": [
                {"path": "sentry.dsn", "exists": true},
                {"path": "errors.expose_details", "equals": false}
            ]}),
            &[(
                "config/production.yaml",
                "sentry:\n  dsn: https://abc@o1.ingest.sentry.io/5\nerrors:\n  expose_details: true\n",
            )],
            Err("no probe".into()),
        );
        assert_eq!(
            summary(&out),
            [
                ("config/production.yaml".to_string(), Status::Pass, None),
                (
                    "config/production.yaml:sentry.dsn".to_string(),
                    Status::Pass,
                    None
                ),
                (
                    "config/production.yaml:errors.expose_details".to_string(),
                    Status::Fail,
                    None
                ),
            ]
        );
    }

    #[test]
    fn probe_clean_and_leaking() {
        let clean = run(
            json!({"probe": {"url": "http://127.0.0.1:8080/boom", "expect_status": 500}}),
            &[],
            Ok(response(500, "<h1>500 Internal Server Error</h1>")),
        );
        assert_eq!(
            summary(&clean),
            [("http://127.0.0.1:8080/boom".to_string(), Status::Pass, None)]
        );

        let leaking = run(
            json!({"probe": [{"url": "http://127.0.0.1:8080/boom", "expect_status": 500}]}),
            &[],
            Ok(response(
                200,
                "Traceback (most recent call last):\n  File \"/app/app.py\", line 9, in boom\n",
            )),
        );
        assert_eq!(
            summary(&leaking),
            [
                (
                    "http://127.0.0.1:8080/boom".to_string(),
                    Status::Fail,
                    Some("status".to_string())
                ),
                (
                    "http://127.0.0.1:8080/boom".to_string(),
                    Status::Fail,
                    Some("python-traceback".to_string())
                ),
            ]
        );
        let mut r = response(500, "oops");
        r.headers.push(("X-Debug-Token".into(), "a1b2c3".into()));
        let out = run(json!({"probe": {"url": "http://h/x"}}), &[], Ok(r));
        assert_eq!(out[0].rule.as_deref(), Some("debug-header"));
    }

    #[test]
    fn cannot_see_is_an_error() {
        let out = run(
            json!({"files": ["missing.env"], "probe": {"url": "http://127.0.0.1:1/boom"}}),
            &[],
            Err("GET http://127.0.0.1:1/boom: error sending request: Connection refused".into()),
        );
        assert_eq!(
            out.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Error, Status::Error]
        );
        let out = run(
            json!({"files": ["bad.json"]}),
            &[("bad.json", "{")],
            Err(String::new()),
        );
        assert_eq!(out[0].status, Status::Error);
    }

    #[test]
    fn bad_params() {
        let out = run(
            json!({"assert": [{"path": "a"}], "probe": {"url": "ftp://x", "expect_status": 999, "method": "get"}, "format": "xml"}),
            &[],
            Err(String::new()),
        );
        assert_eq!(out.len(), 1);
        for part in [
            "`assert` needs `files`",
            "needs one of",
            "ftp://x",
            "999",
            "`get`",
            "`xml`",
        ] {
            assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
        }
        let out = run(json!({}), &[], Err(String::new()));
        assert!(out[0].message.contains("set `files`"));
        let out = run(
            json!({"probe": {"url": "http://x/", "status": 500}}),
            &[],
            Err(String::new()),
        );
        assert!(
            out[0].message.contains("unknown field `status`"),
            "{}",
            out[0].message
        );
    }
}
