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
