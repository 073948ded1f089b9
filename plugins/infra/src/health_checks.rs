//! `infra.health-checks`: HTTP endpoints answer the expected status within a
//! latency bound, optionally with a body that contains a marker, with retries.
//!
//! An endpoint passes when any attempt is healthy. An endpoint that is down
//! (refused, timed out, reset) after every attempt fails: the check saw it
//! down, which is what it is there to see. Only what stops it from looking is
//! an `error`: a URL outside the `http` grant, or a malformed endpoint.

use gate_plugin_sdk::host::http::{self, Request, Response};
use gate_plugin_sdk::redact::url as redact;
use gate_plugin_sdk::target::is_grant_denial;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

pub const ID: &str = "infra.health-checks";
const DEFAULT_TIMEOUT_MS: u32 = 5000;
const DEFAULT_RETRY_DELAY_MS: u32 = 1000;
const MAX_RETRIES: u32 = 10;
/// Enough of a body to find a marker in a health page; larger bodies are cut.
const BODY_CAP: u32 = 1 << 20;

pub struct HealthChecks;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub retries: u32,
    #[serde(default = "default_retry_delay")]
    pub retry_delay_ms: u32,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    #[serde(default)]
    pub ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: String,
    #[serde(default)]
    pub expect_status: ExpectStatus,
    #[serde(default)]
    pub max_latency_ms: Option<u32>,
    #[serde(default)]
    pub contains: Option<String>,
}

/// One status code, or a list of acceptable ones.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ExpectStatus {
    One(u16),
    Any(Vec<u16>),
}

impl Default for ExpectStatus {
    fn default() -> Self {
        ExpectStatus::One(200)
    }
}

impl ExpectStatus {
    fn codes(&self) -> &[u16] {
        match self {
            ExpectStatus::One(code) => std::slice::from_ref(code),
            ExpectStatus::Any(codes) => codes,
        }
    }

    fn accepts(&self, status: u16) -> bool {
        self.codes().contains(&status)
    }

    fn describe(&self) -> String {
        let codes: Vec<String> = self.codes().iter().map(u16::to_string).collect();
        codes.join(" or ")
    }
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

fn default_retry_delay() -> u32 {
    DEFAULT_RETRY_DELAY_MS
}

impl Params {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.endpoints.is_empty() {
            problems.push("`endpoints` must list at least one endpoint".to_string());
        }
        for endpoint in &self.endpoints {
            if let Err(e) = check_url(&endpoint.url) {
                problems.push(e);
            }
            if endpoint.expect_status.codes().is_empty() {
                problems.push(format!("{}: `expect_status` is empty", endpoint.url));
            }
            for code in endpoint.expect_status.codes() {
                if !(100..=599).contains(code) {
                    problems.push(format!(
                        "{}: `expect_status` {code} is not an HTTP status",
                        endpoint.url
                    ));
                }
            }
            if endpoint.max_latency_ms == Some(0) {
                problems.push(format!(
                    "{}: `max_latency_ms` must be above 0",
                    endpoint.url
                ));
            }
            if endpoint.contains.as_deref() == Some("") {
                problems.push(format!("{}: `contains` is empty", endpoint.url));
            }
        }
        if self.retries > MAX_RETRIES {
            problems.push(format!(
                "`retries` must be at most {MAX_RETRIES}, not {}",
                self.retries
            ));
        }
        if self.timeout_ms == 0 {
            problems.push("`timeout_ms` must be above 0".to_string());
        }
        problems
    }
}

/// Accepts `http://host[:port]/...` and `https://...`; anything else is a typo
/// better caught before a request is made.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{}` is not an http:// or https:// URL", redact(url)))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || url.chars().any(char::is_whitespace) {
        return Err(format!("`{}` has no host", redact(url)));
    }
    Ok(())
}

impl Check for HealthChecks {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "HTTP health checks".to_string(),
            description:
                "HTTP endpoints answer an expected status within a latency bound, with retries"
                    .to_string(),
            default_severity: Severity::High,
            params: vec![
                param(
                    "endpoints",
                    "list<{ url, expect_status = 200, max_latency_ms?, contains? }>",
                    true,
                    "Endpoints to GET; expect_status may be a list of codes; contains is a substring the body must have",
                ),
                param_default(
                    "retries",
                    "integer",
                    "Extra attempts after a failed one (at most 10); an endpoint passes when any attempt is healthy",
                    "0",
                ),
                param_default(
                    "retry_delay_ms",
                    "integer",
                    "Pause between attempts, in milliseconds",
                    &DEFAULT_RETRY_DELAY_MS.to_string(),
                ),
                param_default(
                    "timeout_ms",
                    "integer",
                    "Timeout of each attempt, in milliseconds",
                    &DEFAULT_TIMEOUT_MS.to_string(),
                ),
                param(
                    "ca_file",
                    "string",
                    false,
                    "PEM trust roots for https:// endpoints instead of the system roots (needs an fs grant)",
                ),
            ],
            capabilities: vec!["http".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let params: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(findings) => return findings,
        };
        evaluate(ctx, &params, http::fetch, |ms| {
            std::thread::sleep(std::time::Duration::from_millis(ms.into()))
        })
    }
}

/// How one attempt went.
enum Attempt {
    Healthy {
        status: u16,
        latency_ms: u32,
    },
    Unhealthy {
        reason: String,
        status: Option<u16>,
        latency_ms: Option<u32>,
    },
    Denied(String),
}

/// Checks every endpoint; `fetch` is the host's `http.fetch` and `sleep` waits
/// between attempts (both closures so tests run instantly).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    mut fetch: impl FnMut(&Request) -> Result<Response, String>,
    mut sleep: impl FnMut(u32),
) -> Vec<Finding> {
    let problems = params.problems();
    if !problems.is_empty() {
        return params::invalid(ctx, problems.join("; "));
    }
    let attempts = params.retries + 1;
    params
        .endpoints
        .iter()
        .map(|endpoint| {
            let subject = redact(&endpoint.url);
            let request = Request {
                method: "GET".to_string(),
                url: endpoint.url.clone(),
                headers: Vec::new(),
                body: None,
                timeout_ms: params.timeout_ms,
                max_bytes: if endpoint.contains.is_some() { BODY_CAP } else { 4096 },
                ca_file: params.ca_file.clone(),
            };
            let mut last = None;
            for attempt in 1..=attempts {
                if attempt > 1 {
                    sleep(params.retry_delay_ms);
                }
                match judge(endpoint, fetch(&request)) {
                    Attempt::Healthy { status, latency_ms } => {
                        return healthy(ctx, &subject, status, latency_ms, attempt);
                    }
                    Attempt::Denied(e) => return denied(ctx, &subject, &endpoint.url, &e),
                    unhealthy => last = Some(unhealthy),
                }
            }
            let Some(Attempt::Unhealthy { reason, status, latency_ms }) = last else {
                unreachable!("at least one attempt is made");
            };
            let mut finding = ctx
                .finding(&subject, Status::Fail)
                .message(format!(
                    "{subject}: {reason} ({attempts} attempt{})",
                    if attempts == 1 { "" } else { "s" }
                ))
                .evidence("attempts", attempts)
                .evidence("expect_status", endpoint.expect_status.describe());
            if let Some(status) = status {
                finding = finding.evidence("status", status);
            }
            if let Some(latency) = latency_ms {
                finding = finding.evidence("latency_ms", latency);
            }
            if let Some(max) = endpoint.max_latency_ms {
                finding = finding.evidence("max_latency_ms", max);
            }
            finding
                .evidence("error", &reason)
                .remediation(
                    "the endpoint is down or unhealthy: check the service, its logs and its dependencies before deploying",
                )
                .build()
        })
        .collect()
}

fn judge(endpoint: &Endpoint, result: Result<Response, String>) -> Attempt {
    let response = match result {
        Ok(r) => r,
        Err(e) if is_grant_denial(&e) => return Attempt::Denied(e),
        Err(e) => {
            // The host prefixes "GET <url>: "; the subject already says it.
            let e = e
                .strip_prefix(&format!("GET {}: ", endpoint.url))
                .unwrap_or(&e);
            return Attempt::Unhealthy {
                reason: redact_all(e, &endpoint.url),
                status: None,
                latency_ms: None,
            };
        }
    };
    let unhealthy = |reason: String| Attempt::Unhealthy {
        reason,
        status: Some(response.status),
        latency_ms: Some(response.elapsed_ms),
    };
    if !endpoint.expect_status.accepts(response.status) {
        return unhealthy(format!(
            "status {}, expected {}",
            response.status,
            endpoint.expect_status.describe()
        ));
    }
    if let Some(max) = endpoint.max_latency_ms
        && response.elapsed_ms > max
    {
        return unhealthy(format!(
            "answered in {} ms, above max_latency_ms {max}",
            response.elapsed_ms
        ));
    }
    if let Some(marker) = &endpoint.contains {
        let body = String::from_utf8_lossy(&response.body);
        if !body.contains(marker.as_str()) {
            let cut = if response.truncated {
                format!(" (in the first {BODY_CAP} bytes)")
            } else {
                String::new()
            };
            return unhealthy(format!("the body does not contain {marker:?}{cut}"));
        }
    }
    Attempt::Healthy {
        status: response.status,
        latency_ms: response.elapsed_ms,
    }
}

/// Host error texts repeat the URL; keep a password in it out of the report.
fn redact_all(text: &str, url: &str) -> String {
    let safe = redact(url);
    if safe == url {
        text.to_string()
    } else {
        text.replace(url, &safe)
    }
}

fn healthy(ctx: &Context, subject: &str, status: u16, latency_ms: u32, attempts: u32) -> Finding {
    let retried = if attempts > 1 {
        format!(" on attempt {attempts}")
    } else {
        String::new()
    };
    ctx.finding(subject, Status::Pass)
        .message(format!(
            "{subject} answered {status} in {latency_ms} ms{retried}"
        ))
        .evidence("status", status)
        .evidence("latency_ms", latency_ms)
        .evidence("attempts", attempts)
        .build()
}

fn denied(ctx: &Context, subject: &str, url: &str, error: &str) -> Finding {
    ctx.finding(subject, Status::Error)
        .message(format!("cannot fetch {subject}: {}", redact_all(error, url)))
        .remediation(
            "grant the request: `http = [\"<url pattern>\"]` under [plugin.grants] of the `infra` plugin",
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params parse")
    }

    fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
        f.evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn response(status: u16, elapsed_ms: u32, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            truncated: false,
            elapsed_ms,
        }
    }

    const REFUSED: &str = "GET http://127.0.0.1:1/healthz: error sending request: tcp connect error: Connection refused (os error 111)";

    /// Plays back `answers` in order and records the delays slept.
    fn play(
        json: serde_json::Value,
        answers: Vec<Result<Response, String>>,
    ) -> (Vec<Finding>, usize, Vec<u32>) {
        let answers = RefCell::new(answers.into_iter());
        let calls = RefCell::new(0);
        let mut slept = Vec::new();
        let out = evaluate(
            &ctx(),
            &params(json),
            |_| {
                *calls.borrow_mut() += 1;
                answers.borrow_mut().next().expect("an answer per attempt")
            },
            |ms| slept.push(ms),
        );
        let calls = *calls.borrow();
        (out, calls, slept)
    }

    #[test]
    fn healthy_endpoint_passes_with_status_latency_and_attempts() {
        let (out, calls, _) = play(
            serde_json::json!({"endpoints": [{"url": "http://app/healthz", "max_latency_ms": 500}]}),
            vec![Ok(response(200, 12, "ok"))],
        );
        assert_eq!(calls, 1);
        let f = &out[0];
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.subject, "http://app/healthz");
        assert_eq!(f.message, "http://app/healthz answered 200 in 12 ms");
        assert_eq!(evidence(f, "status"), Some("200"));
        assert_eq!(evidence(f, "latency_ms"), Some("12"));
        assert_eq!(evidence(f, "attempts"), Some("1"));
    }

    #[test]
    fn wrong_status_fails_after_every_retry_with_the_delay_between() {
        let (out, calls, slept) = play(
            serde_json::json!({"endpoints": [{"url": "http://app/healthz"}], "retries": 2, "retry_delay_ms": 250}),
            vec![
                Ok(response(503, 3, "")),
                Ok(response(503, 3, "")),
                Ok(response(502, 4, "")),
            ],
        );
        assert_eq!(calls, 3);
        assert_eq!(slept, vec![250, 250]);
        let f = &out[0];
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "http://app/healthz: status 502, expected 200 (3 attempts)"
        );
        assert_eq!(evidence(f, "attempts"), Some("3"));
        assert_eq!(evidence(f, "status"), Some("502"));
        assert!(f.remediation.is_some());
    }

    #[test]
    fn a_later_attempt_can_pass() {
        let (out, calls, slept) = play(
            serde_json::json!({"endpoints": [{"url": "http://app/"}], "retries": 3}),
            vec![Err(REFUSED.to_string()), Ok(response(200, 5, ""))],
        );
        assert_eq!(calls, 2);
        assert_eq!(slept, vec![DEFAULT_RETRY_DELAY_MS]);
        assert_eq!(out[0].status, Status::Pass);
        assert_eq!(evidence(&out[0], "attempts"), Some("2"));
        assert!(out[0].message.ends_with("on attempt 2"));
    }

    #[test]
    fn refused_after_all_retries_is_a_fail_not_an_error() {
        let (out, _, _) = play(
            serde_json::json!({"endpoints": [{"url": "http://127.0.0.1:1/healthz"}], "retries": 1, "retry_delay_ms": 0}),
            vec![Err(REFUSED.to_string()), Err(REFUSED.to_string())],
        );
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(
            out[0].message,
            "http://127.0.0.1:1/healthz: error sending request: tcp connect error: Connection refused (os error 111) (2 attempts)"
        );
        assert_eq!(evidence(&out[0], "status"), None);
    }

    #[test]
    fn latency_above_the_bound_fails() {
        let (out, _, _) = play(
            serde_json::json!({"endpoints": [{"url": "http://app/slow", "max_latency_ms": 100}]}),
            vec![Ok(response(200, 340, ""))],
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0]
                .message
                .contains("answered in 340 ms, above max_latency_ms 100"),
            "{}",
            out[0].message
        );
        assert_eq!(evidence(&out[0], "latency_ms"), Some("340"));
        assert_eq!(evidence(&out[0], "max_latency_ms"), Some("100"));
    }

    #[test]
    fn expected_status_lists_and_body_markers() {
        let (out, _, _) = play(
            serde_json::json!({"endpoints": [
                {"url": "http://app/a", "expect_status": [200, 204]},
                {"url": "http://app/b", "contains": "\"status\":\"UP\""},
                {"url": "http://app/c", "contains": "UP"}
            ]}),
            vec![
                Ok(response(204, 1, "")),
                Ok(response(200, 1, "{\"status\":\"UP\"}")),
                Ok(response(200, 1, "{\"status\":\"DOWN\"}")),
            ],
        );
        assert_eq!(out[0].status, Status::Pass);
        assert_eq!(out[1].status, Status::Pass);
        assert_eq!(out[2].status, Status::Fail);
        assert!(out[2].message.contains("does not contain \"UP\""));
    }

    #[test]
    fn a_denied_grant_is_an_error_and_not_retried() {
        let (out, calls, _) = play(
            serde_json::json!({"endpoints": [{"url": "http://other/"}], "retries": 3}),
            vec![Err(
                "plugin `infra` is not granted `http` access to `http://other/`".to_string(),
            )],
        );
        assert_eq!(calls, 1);
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].remediation.as_deref().unwrap().contains("http = ["));
    }

    #[test]
    fn passwords_in_urls_never_reach_the_report() {
        let (out, _, _) = play(
            serde_json::json!({"endpoints": [{"url": "http://ops:s3cret@app/h"}]}),
            vec![Err(
                "GET http://ops:s3cret@app/h: connection refused".to_string()
            )],
        );
        let text = format!(
            "{} {} {:?}",
            out[0].subject, out[0].message, out[0].evidence
        );
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn bad_params_are_one_error_listing_every_problem() {
        let (out, calls, _) = play(
            serde_json::json!({
                "endpoints": [
                    {"url": "ftp://app/"},
                    {"url": "http:///path"},
                    {"url": "http://app/", "expect_status": 99, "max_latency_ms": 0, "contains": ""}
                ],
                "retries": 11,
                "timeout_ms": 0
            }),
            vec![],
        );
        assert_eq!(calls, 0);
        assert_eq!(out.len(), 1);
        let m = &out[0].message;
        for needle in [
            "`ftp://app/` is not an http:// or https:// URL",
            "`http:///path` has no host",
            "99 is not an HTTP status",
            "`max_latency_ms` must be above 0",
            "`contains` is empty",
            "`retries` must be at most 10",
            "`timeout_ms` must be above 0",
        ] {
            assert!(m.contains(needle), "{needle} missing from {m}");
        }
        let out = HealthChecks.run(
            &ctx(),
            &serde_json::json!({"endpoints": [{"url": "http://a/", "status": 200}]}),
        );
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("status"), "{}", out[0].message);
    }
}
