//! HTTP through the host's `http` capability, behind a function type so the
//! checks' logic runs natively in tests against canned responses.

use gate_plugin_sdk::host::http;
pub use gate_plugin_sdk::host::http::{Request, Response};
use gate_plugin_sdk::target::is_grant_denial;

pub type Fetch<'a> = &'a dyn Fn(&Request) -> Result<Response, String>;

/// The real thing: asks the host.
pub fn host(request: &Request) -> Result<Response, String> {
    http::fetch(request)
}

pub fn get(url: &str, timeout_ms: u32, max_bytes: u32, headers: Vec<(String, String)>) -> Request {
    Request {
        method: "GET".to_string(),
        url: url.to_string(),
        headers,
        body: None,
        timeout_ms,
        max_bytes,
        ca_file: None,
    }
}

/// A `probe` table's request: its method and headers, and an optional body.
pub fn probe_request(
    method: &str,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    body: Option<&str>,
    timeout_ms: u32,
    max_bytes: u32,
) -> Request {
    Request {
        method: method.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: body.map(|b| b.as_bytes().to_vec()),
        ..get(url, timeout_ms, max_bytes, Vec::new())
    }
}

/// The remediation for a failed fetch: a missing grant, or an unreachable URL.
pub fn hint(error: &str) -> &'static str {
    if is_grant_denial(error) {
        "add the URL (or a `*` pattern covering it) to the `config` plugin's `http` grant"
    } else {
        "check that the service is running and reachable from where gate runs"
    }
}

/// A header's value, case-insensitively.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `probe.url` problem: it must be an http:// or https:// URL.
pub fn url_problem(url: &str) -> Option<String> {
    (!(url.starts_with("http://") || url.starts_with("https://")))
        .then(|| format!("`probe.url` `{url}` must be an http:// or https:// URL"))
}

/// Problems with the rest of a `probe` table's request, in this order:
/// `expect_status`, `method`, `timeout_ms`.
pub fn request_problems(expect_status: Option<u16>, method: &str, timeout_ms: u32) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(s) = expect_status
        && !(100..=599).contains(&s)
    {
        problems.push(format!("`probe.expect_status` {s} is not an HTTP status"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        problems.push(format!(
            "`probe.method` `{method}` must be an upper-case HTTP method"
        ));
    }
    if timeout_ms == 0 {
        problems.push("`probe.timeout_ms` must be positive".to_string());
    }
    problems
}
