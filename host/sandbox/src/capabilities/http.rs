//! `http`: requests to granted URLs, with a timeout and a response-size cap.
//! The URL is parsed and checked once ([`check_url`]), matched against the
//! typed grants, and that parsed `Url` is what the client sends. Redirects are
//! followed (up to five) only while every hop passes the same check.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use url::Url;

use super::{HostState, Sandbox, bounded};
use crate::bindings::gate::plugin::http::{Host, Request, Response};
use crate::grant::{check_headers, check_url};

const MAX_REDIRECTS: usize = 5;
/// Ceiling on any response body, whatever the plugin asks for.
pub(super) const MAX_BODY: u32 = 16 << 20;

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // HTTP_PROXY and friends would send the checked URL somewhere else.
        .no_proxy()
        .user_agent(concat!("gate/", env!("CARGO_PKG_VERSION")))
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| builder().build().expect("HTTP client"))
}

/// A client trusting only the roots in `pem` (the granted file `ca`).
fn client_with_ca(ca: &str, pem: &[u8]) -> Result<reqwest::Client, String> {
    let certs =
        reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("ca_file {ca}: {e}"))?;
    builder()
        .tls_certs_only(certs)
        .build()
        .map_err(|e| format!("ca_file {ca}: {e}"))
}

/// The parsed URL, when it passes [`check_url`] and some grant covers it.
fn granted_url(sandbox: &Sandbox, raw: &str) -> Result<Url, String> {
    allowed_url(sandbox, parsed_url(sandbox, raw)?)
}

/// `raw` parsed and checked by [`check_url`].
fn parsed_url(sandbox: &Sandbox, raw: &str) -> Result<Url, String> {
    check_url(raw).map_err(|e| format!("plugin `{}`: {e}", sandbox.plugin))
}

/// `url`, when some grant covers it.
fn allowed_url(sandbox: &Sandbox, url: Url) -> Result<Url, String> {
    if !sandbox.grants.http.iter().any(|g| g.allows(&url)) {
        return Err(denied_url(sandbox, &url));
    }
    Ok(url)
}

/// The message for a URL outside the grants.
fn denied_url(sandbox: &Sandbox, url: &Url) -> String {
    let exact = &url[..url::Position::AfterPath];
    sandbox.denied("http", url.as_str(), exact)
}

impl Host for HostState {
    async fn fetch(&mut self, req: Request) -> wasmtime::Result<Result<Response, String>> {
        let url = match parsed_url(&self.sandbox, &req.url) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(stubbed) = self.stubbed(
            |s| s.http(&req.method, &url, req.max_bytes),
            |s| denied_url(s, &url),
        ) {
            return Ok(stubbed);
        }
        let first = match allowed_url(&self.sandbox, url) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = check_headers(req.headers.iter().map(|(k, _)| k.as_str())) {
            return Ok(Err(e.to_string()));
        }
        let method = match reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes()) {
            Ok(m) => m,
            Err(_) => return Ok(Err(format!("invalid HTTP method `{}`", req.method))),
        };
        let ca_budget = self.budget(req.timeout_ms);
        let client = match client_for(&self.sandbox, req.ca_file.as_deref(), ca_budget).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let sandbox = self.sandbox.clone();
        let what = format!("{} {}", req.method, req.url);
        let budget = self.budget(req.timeout_ms);
        let label = what.clone();
        Ok(bounded(budget, &label, async move {
            let started = Instant::now();
            let mut url = first;
            let mut hops = 0;
            loop {
                let mut rb = client.request(method.clone(), url.clone());
                for (k, v) in &req.headers {
                    rb = rb.header(k, v);
                }
                if let Some(body) = &req.body {
                    rb = rb.body(body.clone());
                }
                let mut resp = rb
                    .send()
                    .await
                    .map_err(|e| format!("{what}: {}", error_chain(&e)))?;
                if resp.status().is_redirection()
                    && hops < MAX_REDIRECTS
                    && let Some(next) = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| resp.url().join(l).ok())
                {
                    url = granted_url(&sandbox, next.as_str())
                        .map_err(|e| format!("redirect from {what}: {e}"))?;
                    hops += 1;
                    continue;
                }
                let status = resp.status().as_u16();
                let headers = response_headers(resp.headers());
                let cap = req.max_bytes.clamp(1, MAX_BODY) as usize;
                let (body, truncated) = read_capped(&mut resp, cap)
                    .await
                    .map_err(|e| format!("{what}: {e}"))?;
                return Ok(Response {
                    status,
                    headers,
                    body,
                    truncated,
                    elapsed_ms: started.elapsed().as_millis() as u32,
                });
            }
        })
        .await)
    }
}

/// The shared client, or one trusting the request's granted CA file.
async fn client_for(
    sandbox: &Arc<Sandbox>,
    ca_file: Option<&str>,
    budget: Duration,
) -> Result<reqwest::Client, String> {
    match ca_file {
        None => Ok(client().clone()),
        Some(ca) => sandbox
            .read_granted(ca, super::CA_FILE_CAP, budget)
            .await
            .and_then(|pem| client_with_ca(ca, &pem)),
    }
}

/// The response's headers as the plugin sees them.
fn response_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The body, up to `cap` bytes; `true` when more was cut off.
async fn read_capped(
    resp: &mut reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
