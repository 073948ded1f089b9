//! `config.metrics`: the application's `/metrics` endpoint serves valid
//! Prometheus text and exposes the series the policy requires.

use std::collections::BTreeMap;

use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::http_probe::{self, Fetch};
use crate::prometheus::{self, Selector};

pub const ID: &str = "config.metrics";
const DEFAULT_TIMEOUT_MS: u32 = 5_000;
const DEFAULT_MAX_BYTES: u32 = 8 << 20;
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

pub struct Metrics;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub url: String,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u32,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

fn default_max_bytes() -> u32 {
    DEFAULT_MAX_BYTES
}

impl Check for Metrics {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Metrics endpoint exposes the required series".to_string(),
            description: "Fetches the endpoint over the `http` grant, parses it as the Prometheus text \
                          exposition format (a syntax error fails with its line number) and checks that each \
                          required series is present."
                .to_string(),
            default_severity: Severity::Medium,
            params: vec![
                param("url", "string", true, "The metrics endpoint, e.g. `http://127.0.0.1:9100/metrics`."),
                param("required", "list<string>", false, "Series that must be present: a metric name (a histogram or summary name also finds its `_bucket`/`_sum`/`_count` samples) or a selector such as `http_requests_total{code=\"200\"}`."),
                param("labels", "{ name = value }", false, "Labels every required series must carry, e.g. `{ job = \"api\" }`."),
                param_default("timeout_ms", "integer", "Time allowed for the request.", "5000"),
                param_default("max_bytes", "integer", "Largest response read; a bigger one is an error rather than half-parsed.", "8388608"),
            ],
            capabilities: vec!["http".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        match params::parse(ctx, params) {
            Ok(p) => evaluate(ctx, &p, &http_probe::host),
            Err(f) => f,
        }
    }
}

pub fn evaluate(ctx: &Context, p: &Params, fetch: Fetch) -> Vec<Finding> {
    let selectors = match validate(p) {
        Ok(s) => s,
        Err(problems) => return params::invalid(ctx, problems.join("; ")),
    };
    let url = p.url.as_str();
    let response = match fetch_metrics(ctx, p, fetch) {
        Ok(r) => r,
        Err(f) => return f,
    };
    let Ok(text) = std::str::from_utf8(&response.body) else {
        return vec![
            ctx.finding(url, Status::Fail)
                .rule("parse")
                .message(format!("{url} did not return UTF-8 text"))
                .remediation("serve the Prometheus text format (text/plain; version=0.0.4)")
                .build(),
        ];
    };
    let exp = match prometheus::parse(text) {
        Ok(e) => e,
        Err(e) => return vec![not_prometheus(ctx, url, text, &response, &e)],
    };
    let families = exp
        .samples
        .iter()
        .map(|s| exp.family_of(&s.name))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut out = vec![
        ctx.finding(url, Status::Pass)
            .message(format!(
                "{url} serves valid Prometheus text: {families} families, {} samples",
                exp.samples.len()
            ))
            .evidence("samples", exp.samples.len())
            .evidence("status", response.status)
            .build(),
    ];
    let extra: Vec<(String, String)> = p
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (raw, sel) in &selectors {
        out.push(selector_finding(ctx, url, &exp, raw, sel, &extra));
    }
    out
}

/// The `required` selectors, or every problem with the parameters.
fn validate(p: &Params) -> Result<Vec<(&str, Selector)>, Vec<String>> {
    let mut problems = Vec::new();
    if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
        problems.push(format!(
            "`url` `{}` must be an http:// or https:// URL",
            p.url
        ));
    }
    let mut selectors = Vec::new();
    for r in &p.required {
        match Selector::parse(r) {
            Ok(s) => selectors.push((r.as_str(), s)),
            Err(e) => problems.push(format!("`required`: {e}")),
        }
    }
    for name in p.labels.keys() {
        if Selector::parse(&format!("x{{{name}=\"\"}}")).is_err() {
            problems.push(format!("`labels`: `{name}` is not a label name"));
        }
    }
    if p.timeout_ms == 0 || p.max_bytes == 0 {
        problems.push("`timeout_ms` and `max_bytes` must be positive".to_string());
    }
    if problems.is_empty() {
        Ok(selectors)
    } else {
        Err(problems)
    }
}

/// A successful, complete answer from the metrics URL, or the finding saying
/// why there is none.
fn fetch_metrics(
    ctx: &Context,
    p: &Params,
    fetch: Fetch,
) -> Result<http_probe::Response, Vec<Finding>> {
    let url = p.url.as_str();
    let request = http_probe::get(
        url,
        p.timeout_ms,
        p.max_bytes,
        vec![("Accept".to_string(), ACCEPT.to_string())],
    );
    let error = |message: String, hint: &str| {
        vec![
            ctx.finding(url, Status::Error)
                .message(message)
                .remediation(hint)
                .build(),
        ]
    };
    let response = match fetch(&request) {
        Ok(r) => r,
        Err(e) => {
            return Err(error(
                format!("cannot fetch {url}: {e}"),
                http_probe::hint(&e),
            ));
        }
    };
    if matches!(response.status, 401 | 403 | 407) {
        return Err(error(
            format!(
                "{url} answered {}: gate is not allowed to read the metrics",
                response.status
            ),
            "expose /metrics to the network gate runs from without authentication, or point `url` at an unauthenticated listener",
        ));
    }
    if !(200..300).contains(&response.status) {
        return Err(vec![
            ctx.finding(url, Status::Fail)
                .rule("status")
                .message(format!(
                    "{url} answered HTTP {} instead of serving metrics",
                    response.status
                ))
                .evidence("status", response.status)
                .remediation("make the application serve its metrics at this URL")
                .build(),
        ]);
    }
    if response.truncated {
        return Err(error(
            format!(
                "{url} returned more than {} bytes; it was not parsed",
                p.max_bytes
            ),
            "raise `max_bytes`",
        ));
    }
    Ok(response)
}

/// The `parse` failure: the line the parser stopped at, as evidence.
fn not_prometheus(
    ctx: &Context,
    url: &str,
    text: &str,
    response: &http_probe::Response,
    e: &prometheus::ParseError,
) -> Finding {
    let shown = text
        .split('\n')
        .nth(e.line.saturating_sub(1) as usize)
        .map(|l| l.chars().take(200).collect::<String>())
        .unwrap_or_default();
    ctx.finding(url, Status::Fail)
        .rule("parse")
        .message(format!(
            "{url} is not valid Prometheus text: line {}: {}",
            e.line, e.message
        ))
        .evidence("line", e.line)
        .evidence("text", shown)
        .evidence(
            "content_type",
            http_probe::header(response, "content-type").unwrap_or("(none)"),
        )
        .remediation("fix the exporter; `promtool check metrics` reports the same problems")
        .location(url, Some(e.line), None)
        .build()
}

/// Whether one `required` series is exposed (with the `labels` every series needs).
fn selector_finding(
    ctx: &Context,
    url: &str,
    exp: &prometheus::Exposition,
    raw: &str,
    sel: &Selector,
    extra: &[(String, String)],
) -> Finding {
    let subject = format!("{url}#{raw}");
    let (hits, total) = sel.matches(exp, extra);
    let wanted = describe_labels(&sel.labels, extra);
    if let Some(first) = hits.first() {
        return ctx
            .finding(&subject, Status::Pass)
            .message(format!(
                "`{raw}`{wanted} is exposed ({} samples)",
                hits.len()
            ))
            .evidence("samples", hits.len())
            .evidence("type", exp.kind_of(exp.family_of(&first.name)).name())
            .location(url, Some(first.line), None)
            .build();
    }
    let message = if total > 0 {
        format!(
            "`{}` is exposed ({total} samples), but none with labels{wanted}",
            sel.name
        )
    } else {
        format!("`{raw}`{wanted} is not exposed by {url}")
    };
    ctx.finding(&subject, Status::Fail)
        .rule("missing")
        .message(message)
        .evidence("samples_with_name", total)
        .remediation("instrument the application to export this series (and check the metric name against the exporter's output)")
        .build()
}

fn describe_labels(own: &[(String, String)], extra: &[(String, String)]) -> String {
    let all: Vec<String> = own
        .iter()
        .chain(extra)
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    if all.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", all.join(", "))
    }
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
            headers: vec![("Content-Type".into(), "text/plain; version=0.0.4".into())],
            body: body.as_bytes().to_vec(),
            truncated: false,
            elapsed_ms: 3,
        }
    }

    fn run(params: serde_json::Value, reply: Result<Response, String>) -> Vec<Finding> {
        let p: Params = match params::parse(&ctx(), &params) {
            Ok(p) => p,
            Err(f) => return f,
        };
        evaluate(&ctx(), &p, &|req| {
            assert_eq!(req.method, "GET");
            assert!(req.headers.iter().any(|(k, _)| k == "Accept"));
            reply.clone()
        })
    }

    fn statuses(f: &[Finding]) -> Vec<Status> {
        f.iter().map(|f| f.status).collect()
    }

    const BODY: &str = "# HELP up Whether the app is up.\n# TYPE up gauge\nup{job=\"api\"} 1\n\
        # TYPE http_requests_total counter\nhttp_requests_total{job=\"api\",code=\"200\"} 10\n\
        # TYPE req_seconds histogram\nreq_seconds_bucket{job=\"api\",le=\"0.1\"} 1\nreq_seconds_bucket{job=\"api\",le=\"+Inf\"} 2\nreq_seconds_sum{job=\"api\"} 0.3\nreq_seconds_count{job=\"api\"} 2\n";

    #[test]
    fn required_series_present_and_missing() {
        let out = run(
            json!({"url": "http://127.0.0.1:9000/metrics", "required": [
                "up", "req_seconds", "http_requests_total{code=\"200\"}", "http_requests_total{code=\"500\"}", "db_pool_connections"
            ], "labels": {"job": "api"}}),
            Ok(response(200, BODY)),
        );
        assert_eq!(
            statuses(&out),
            [
                Status::Pass,
                Status::Pass,
                Status::Pass,
                Status::Pass,
                Status::Fail,
                Status::Fail
            ],
            "{out:#?}"
        );
        assert_eq!(out[1].subject, "http://127.0.0.1:9000/metrics#up");
        assert_eq!(
            out[2].evidence[1],
            ("type".to_string(), "histogram".to_string())
        );
        assert!(
            out[4]
                .message
                .contains("but none with labels {code=\"500\", job=\"api\"}"),
            "{}",
            out[4].message
        );
        assert!(out[5].message.contains("is not exposed"));
    }

    #[test]
    fn a_parse_error_fails_with_its_line() {
        let out = run(
            json!({"url": "http://127.0.0.1:9000/metrics", "required": ["up"]}),
            Ok(response(200, "up 1\nhttp_requests_total{code=200} 3\n")),
        );
        assert_eq!(statuses(&out), [Status::Fail]);
        assert_eq!(out[0].rule.as_deref(), Some("parse"));
        assert_eq!(out[0].location.as_ref().unwrap().line, Some(2));
        assert!(out[0].message.contains("line 2"), "{}", out[0].message);
    }

    #[test]
    fn http_errors() {
        let p = json!({"url": "http://127.0.0.1:9000/metrics", "required": ["up"]});
        let out = run(p.clone(), Ok(response(404, "not found")));
        assert_eq!(statuses(&out), [Status::Fail]);
        assert_eq!(out[0].rule.as_deref(), Some("status"));
        let out = run(p.clone(), Ok(response(401, "")));
        assert_eq!(statuses(&out), [Status::Error]);
        let out = run(
            p.clone(),
            Err("GET http://127.0.0.1:9000/metrics: connection refused".into()),
        );
        assert_eq!(statuses(&out), [Status::Error]);
        let mut big = response(200, "up 1\n");
        big.truncated = true;
        let out = run(p, Ok(big));
        assert_eq!(statuses(&out), [Status::Error]);
    }

    #[test]
    fn bad_params() {
        let out = run(
            json!({"url": "127.0.0.1:9000", "required": ["9lives", "ok{a=b}"], "labels": {"bad-name": "x"}}),
            Ok(response(200, "")),
        );
        assert_eq!(out.len(), 1);
        for part in ["http://", "9lives", "ok{a=b}", "bad-name"] {
            assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
        }
    }
}
