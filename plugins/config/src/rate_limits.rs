//! `config.rate-limits`: rate limiting is configured, within bounds, and
//! (optionally) a live burst of requests actually gets limited.

use std::collections::BTreeMap;

use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;

use crate::assertions::{self, Spec};
use crate::http_probe::{self, Fetch};
use crate::nginx;
use crate::source::{self, SourceFile};
use gate_configfile::{self as document, Entry, Format};

pub const ID: &str = "config.rate-limits";
const MAX_BURST: u32 = 1_000;
const PROBE_MAX_BYTES: u32 = 64 << 10;

pub struct RateLimits;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default, rename = "assert")]
    pub assertions: Vec<Spec>,
    #[serde(default)]
    pub probe: Option<Probe>,
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub url: String,
    pub burst: u32,
    #[serde(default = "too_many_requests")]
    pub expect_status: u16,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn too_many_requests() -> u16 {
    429
}

fn get() -> String {
    "GET".to_string()
}

fn default_timeout() -> u32 {
    2_000
}

impl Check for RateLimits {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Rate limits configured and enforced".to_string(),
            description: "Config files: rate-limit settings are present and, with `assert`, within bounds (nginx \
                          `limit_req_zone`/`limit_req` directives are read as `limit_req_zone.<zone>.rate` in \
                          requests per second and `limit_req.<zone>.burst`). Probe: `burst` requests sent in a row \
                          must see at least one `expect_status` response."
                .to_string(),
            default_severity: Severity::Medium,
            params: vec![
                param("files", "list<string>", false, "Config files: JSON, YAML, TOML, .env, .properties, .ini, or nginx configuration (a `.conf` file with blocks)."),
                param("assert", "list<{ path, min?, max?, equals?, matches?, exists?, absent?, message? }>", false, "Assertions over `files`, e.g. `{ path = \"ratelimit.rps\", min = 1, max = 1000 }` or `{ path = \"limit_req_zone.api.rate\", max = 50 }`. Numbers are compared by their leading number (`10r/s` is 10). Without `assert`, each file must contain some rate-limit setting."),
                param("probe", "{ url, burst, expect_status = 429, method = \"GET\", headers?, timeout_ms = 2000 }", false, "Live check: send `burst` requests (at most 1000) one after another; at least one must be answered with `expect_status`. nginx answers 503 unless `limit_req_status 429` is set."),
                param("format", "string", false, "Force the file format (json, yaml, toml, env, properties, ini, nginx) instead of guessing it from the file name."),
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

#[derive(Clone, Copy, Debug, PartialEq)]
enum FileFormat {
    Nginx,
    Doc(Format),
}

pub fn evaluate(
    ctx: &Context,
    p: &Params,
    read: &dyn Fn(&str) -> Result<SourceFile, String>,
    fetch: Fetch,
) -> Vec<Finding> {
    let mut problems = Vec::new();
    if p.files.is_empty() && p.probe.is_none() {
        problems.push("set `files`, `probe`, or both".to_string());
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
    let forced = match p.format.as_deref() {
        None => None,
        Some("nginx") => Some(FileFormat::Nginx),
        Some(name) => match Format::from_name(name) {
            Some(f) => Some(FileFormat::Doc(f)),
            None => {
                problems.push(format!(
                    "unknown `format` `{name}`; use one of {}, nginx",
                    Format::NAMES
                ));
                None
            }
        },
    };
    if let Some(probe) = &p.probe {
        problems.extend(probe_problems(probe));
    }
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let mut out = Vec::new();
    for path in &p.files {
        match read(path) {
            Ok(file) => out.extend(check_file(ctx, path, &file, forced, &assertions)),
            Err(e) => out.push(source::unreadable(ctx, path, &e)),
        }
    }
    if let Some(probe) = &p.probe {
        out.push(run_probe(ctx, probe, fetch));
    }
    out
}

/// What is wrong with the `probe` table.
fn probe_problems(probe: &Probe) -> Vec<String> {
    let mut problems: Vec<String> = http_probe::url_problem(&probe.url).into_iter().collect();
    if probe.burst < 2 || probe.burst > MAX_BURST {
        problems.push(format!("`probe.burst` must be between 2 and {MAX_BURST}"));
    }
    problems.extend(http_probe::request_problems(
        Some(probe.expect_status),
        &probe.method,
        probe.timeout_ms,
    ));
    problems
}

/// One file's findings: the assertions, or without any, whether it configures
/// a rate limit at all.
fn check_file(
    ctx: &Context,
    path: &str,
    file: &SourceFile,
    forced: Option<FileFormat>,
    assertions: &[assertions::Assertion],
) -> Vec<Finding> {
    let format = forced.or_else(|| {
        if nginx::looks_like_nginx(path, &file.text) {
            Some(FileFormat::Nginx)
        } else {
            Format::detect(path).map(FileFormat::Doc)
        }
    });
    let (entries, doc_format) = match format {
        None => {
            return vec![
                ctx.finding(path, Status::Error)
                    .message(format!("cannot tell the format of {path}; set `format`"))
                    .build(),
            ];
        }
        // Nginx entries carry their lines, so the document format is only for locating.
        Some(FileFormat::Nginx) => (nginx::entries(&file.text), Format::Ini),
        Some(FileFormat::Doc(f)) => match document::entries(f, &file.text) {
            Ok(e) => (e, f),
            Err(e) => return vec![source::unparsable(ctx, path, f, &e)],
        },
    };
    if assertions.is_empty() {
        presence(ctx, path, format == Some(FileFormat::Nginx), &entries)
    } else {
        assertions::check_file(ctx, path, doc_format, &file.text, &entries, assertions)
    }
}

/// Without assertions: the file must configure some rate limit.
fn presence(ctx: &Context, path: &str, is_nginx: bool, entries: &[Entry]) -> Vec<Finding> {
    if is_nginx {
        let zones: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.path[0] == "limit_req_zone" && e.leaf() == "size")
            .collect();
        let uses: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.path[0] == "limit_req" && e.leaf() == "burst")
            .collect();
        let mut out = Vec::new();
        for u in &uses {
            if !zones.iter().any(|z| z.path[1] == u.path[1]) {
                out.push(
                    ctx.finding(format!("{path}#limit_req.{}", u.path[1]), Status::Fail)
                        .rule("undefined-zone")
                        .message(format!(
                            "`limit_req zone={}` uses a zone no `limit_req_zone` defines in {path}",
                            u.path[1]
                        ))
                        .remediation("define the zone with `limit_req_zone` in the http block")
                        .location(path, u.position.map(|p| p.0), None)
                        .build(),
                );
            }
        }
        if zones.is_empty() || uses.is_empty() {
            let missing = if zones.is_empty() {
                "no `limit_req_zone` defines a zone"
            } else {
                "no `limit_req` applies a zone"
            };
            out.push(
                ctx.finding(path, Status::Fail)
                    .rule("missing")
                    .message(format!("{path} does not rate-limit requests: {missing}"))
                    .remediation("add `limit_req_zone ... rate=...;` in the http block and `limit_req zone=...;` in the locations to protect")
                    .location(path, None, None)
                    .build(),
            );
        } else if out.is_empty() {
            let names: Vec<String> = zones.iter().map(|z| z.path[1].clone()).collect();
            out.push(
                ctx.finding(path, Status::Pass)
                    .message(format!(
                        "{path} defines rate-limit zone(s) {} and applies them {} time(s)",
                        names.join(", "),
                        uses.len()
                    ))
                    .evidence("zones", names.join(", "))
                    .location(path, None, None)
                    .build(),
            );
        }
        return out;
    }
    let hits: Vec<String> = entries
        .iter()
        .map(Entry::key)
        .filter(|k| {
            let squashed: String = k
                .to_ascii_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            ["ratelimit", "throttl", "limiter"]
                .iter()
                .any(|w| squashed.contains(w))
        })
        .collect();
    if hits.is_empty() {
        vec![
            ctx.finding(path, Status::Fail)
                .rule("missing")
                .message(format!("{path} has no rate-limit setting (no key mentions rate limits, throttling or a limiter)"))
                .remediation("configure rate limiting, or name the exact keys with `assert`")
                .location(path, None, None)
                .build(),
        ]
    } else {
        vec![
            ctx.finding(path, Status::Pass)
                .message(format!(
                    "{path} configures rate limiting ({} setting(s))",
                    hits.len()
                ))
                .evidence(
                    "keys",
                    hits.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                )
                .location(path, None, None)
                .build(),
        ]
    }
}

fn run_probe(ctx: &Context, probe: &Probe, fetch: Fetch) -> Finding {
    let url = probe.url.as_str();
    let request = http_probe::probe_request(
        &probe.method,
        url,
        &probe.headers,
        None,
        probe.timeout_ms,
        PROBE_MAX_BYTES,
    );
    let mut statuses: BTreeMap<u16, u32> = BTreeMap::new();
    let mut errors = 0u32;
    let mut last_error = None;
    let mut first_limited = None;
    for i in 1..=probe.burst {
        match fetch(&request) {
            Ok(r) => {
                *statuses.entry(r.status).or_default() += 1;
                if r.status == probe.expect_status {
                    first_limited = Some(i);
                    // The limit is proven; more requests only add load.
                    break;
                }
            }
            Err(e) => {
                errors += 1;
                // A denied grant or a dead server will not change on retry.
                if errors >= 3 && statuses.is_empty() {
                    last_error = Some(e);
                    break;
                }
                last_error = Some(e);
            }
        }
    }
    let sent = statuses.values().sum::<u32>() + errors;
    let seen = statuses
        .iter()
        .map(|(s, n)| format!("{s}×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let base = |status| {
        ctx.finding(url, status)
            .evidence("sent", sent)
            .evidence(
                "statuses",
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.clone()
                },
            )
            .evidence("expect_status", probe.expect_status)
    };
    if statuses.is_empty() {
        let e = last_error.unwrap_or_default();
        return base(Status::Error)
            .message(format!("cannot probe {url}: {e}"))
            .remediation(http_probe::hint(&e))
            .build();
    }
    match first_limited {
        Some(n) => base(Status::Pass)
            .message(format!(
                "{url} answered {} after {n} request(s) in a row: the rate limit holds",
                probe.expect_status
            ))
            .evidence("limited_at", n)
            .build(),
        None => {
            let mut hint = format!(
                "configure a rate limit in front of {url} (nginx `limit_req`, an API gateway, or the application) that triggers within {} requests",
                probe.burst
            );
            if statuses.contains_key(&503) && probe.expect_status == 429 {
                hint.push_str("; nginx answers 503 by default, so add `limit_req_status 429;`");
            }
            let mut f = base(Status::Fail)
                .rule("not-limited")
                .message(format!(
                    "{sent} requests in a row to {url} never got {} (saw {seen})",
                    probe.expect_status
                ))
                .remediation(hint);
            if errors > 0 {
                f = f.evidence("errors", errors);
            }
            f.build()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use gate_plugin_sdk::host::http::Response;
    use serde_json::json;

    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn ok(status: u16) -> Result<Response, String> {
        Ok(Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            truncated: false,
            elapsed_ms: 1,
        })
    }

    fn run(
        params: serde_json::Value,
        files: &[(&str, &str)],
        server: &dyn Fn(u32) -> Result<Response, String>,
    ) -> (Vec<Finding>, u32) {
        let p: Params = match params::parse(&ctx(), &params) {
            Ok(p) => p,
            Err(f) => return (f, 0),
        };
        let read = |path: &str| {
            files
                .iter()
                .find(|(n, _)| *n == path)
                .map(|(n, t)| SourceFile::new(*n, *t))
                .ok_or_else(|| format!("{path}: No such file or directory"))
        };
        let calls = Cell::new(0);
        let out = evaluate(&ctx(), &p, &read, &|_| {
            calls.set(calls.get() + 1);
            server(calls.get())
        });
        (out, calls.get())
    }

    fn summary(out: &[Finding]) -> Vec<(String, Status, Option<String>)> {
        out.iter()
            .map(|f| (f.subject.clone(), f.status, f.rule.clone()))
            .collect()
    }

    const NGINX: &str = "http {\n  limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;\n  server {\n    location /api/ { limit_req zone=api burst=20 nodelay; }\n  }\n}\n";

    #[test]
    fn nginx_presence_and_bounds() {
        let (out, _) = run(
            json!({"files": ["nginx.conf"]}),
            &[("nginx.conf", NGINX)],
            &|_| ok(200),
        );
        assert_eq!(
            summary(&out),
            [("nginx.conf".to_string(), Status::Pass, None)]
        );

        let (out, _) = run(
            json!({"files": ["nginx.conf"], "assert": [
                {"path": "limit_req_zone.api.rate", "min": 1, "max": 5},
                {"path": "limit_req.api.burst", "max": 50}
            ]}),
            &[("nginx.conf", NGINX)],
            &|_| ok(200),
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("10 is above the maximum 5"),
            "{}",
            out[0].message
        );
        assert_eq!(out[0].location.as_ref().unwrap().line, Some(2));
        assert_eq!(out[1].status, Status::Pass);

        let no_limit = "http { server { location / { proxy_pass http://app; } } }\n";
        let (out, _) = run(
            json!({"files": ["site.conf"]}),
            &[("site.conf", no_limit)],
            &|_| ok(200),
        );
        assert_eq!(
            summary(&out),
            [(
                "site.conf".to_string(),
                Status::Fail,
                Some("missing".to_string())
            )]
        );

        let bad_zone = "http { limit_req_zone $x zone=a:1m rate=1r/s; server { location / { limit_req zone=b; } } }\n";
        let (out, _) = run(
            json!({"files": ["site.conf"]}),
            &[("site.conf", bad_zone)],
            &|_| ok(200),
        );
        assert_eq!(out[0].rule.as_deref(), Some("undefined-zone"));
    }

    #[test]
    fn structured_files() {
        let yaml = "server:\n  port: 8080\nratelimit:\n  rps: 100\n  burst: 20\n";
        let (out, _) = run(
            json!({"files": ["app.yaml"]}),
            &[("app.yaml", yaml)],
            &|_| ok(200),
        );
        assert_eq!(out[0].status, Status::Pass);
        let (out, _) = run(
            json!({"files": ["app.yaml"], "assert": [{"path": "ratelimit.rps", "min": 1, "max": 1000}]}),
            &[("app.yaml", yaml)],
            &|_| ok(200),
        );
        assert_eq!(
            summary(&out),
            [("app.yaml:ratelimit.rps".to_string(), Status::Pass, None)]
        );
        let (out, _) = run(
            json!({"files": ["app.yaml"]}),
            &[("app.yaml", "server:\n  port: 8080\n")],
            &|_| ok(200),
        );
        assert_eq!(out[0].status, Status::Fail);
    }

    #[test]
    fn probe_sees_the_limit_and_stops() {
        let (out, calls) = run(
            json!({"probe": {"url": "http://127.0.0.1:8080/api", "burst": 50}}),
            &[],
            &|n| ok(if n > 5 { 429 } else { 200 }),
        );
        assert_eq!(calls, 6);
        assert_eq!(out[0].status, Status::Pass);
        assert!(
            out[0]
                .evidence
                .contains(&("limited_at".to_string(), "6".to_string()))
        );
    }

    #[test]
    fn probe_never_limited_fails_with_the_nginx_hint() {
        let (out, calls) = run(
            json!({"probe": {"url": "http://127.0.0.1:8080/api", "burst": 20}}),
            &[],
            &|n| ok(if n > 10 { 503 } else { 200 }),
        );
        assert_eq!(calls, 20);
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("saw 200×10, 503×10"),
            "{}",
            out[0].message
        );
        assert!(
            out[0]
                .remediation
                .as_ref()
                .unwrap()
                .contains("limit_req_status 429")
        );
        // Expecting nginx's default 503 passes.
        let (out, _) = run(
            json!({"probe": {"url": "http://127.0.0.1:8080/api", "burst": 20, "expect_status": 503}}),
            &[],
            &|n| ok(if n > 10 { 503 } else { 200 }),
        );
        assert_eq!(out[0].status, Status::Pass);
    }

    #[test]
    fn cannot_see_is_an_error() {
        let (out, calls) = run(
            json!({"files": ["missing.conf"], "probe": {"url": "http://127.0.0.1:1/", "burst": 100}}),
            &[],
            &|_| Err("GET http://127.0.0.1:1/: Connection refused".into()),
        );
        assert_eq!(calls, 3, "gives up early on a dead server");
        assert_eq!(
            out.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Error, Status::Error]
        );
    }

    #[test]
    fn bad_params() {
        let (out, _) = run(
            json!({"assert": [{"path": "x", "max": 1}], "probe": {"url": "x", "burst": 5000, "expect_status": 1000}, "format": "hcl"}),
            &[],
            &|_| ok(200),
        );
        assert_eq!(out.len(), 1);
        for part in [
            "`assert` needs `files`",
            "`probe.url`",
            "between 2 and 1000",
            "1000 is not",
            "`hcl`",
        ] {
            assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
        }
        let (out, _) = run(json!({"probe": {"url": "http://x/"}}), &[], &|_| ok(200));
        assert!(out[0].message.contains("burst"));
    }
}
