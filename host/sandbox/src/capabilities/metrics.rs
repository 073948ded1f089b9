//! `metrics`: PromQL instant and range queries, and read-only API GETs, on
//! named Prometheus providers.

use std::sync::OnceLock;

use url::Url;

use super::{HostState, bounded, granted};
use crate::bindings::gate::plugin::metrics::{Host, Sample, Series};
use crate::grant::check_url;

/// Largest API response handed to a plugin.
const MAX_BODY: usize = 16 << 20;

pub(crate) fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // The provider's URL is what is reached, never a proxy from the environment.
            .no_proxy()
            .build()
            .expect("HTTP client")
    })
}

impl HostState {
    fn provider_url(&self, provider: &str) -> Result<String, String> {
        if !granted(&self.sandbox.grants.metrics, provider) {
            return Err(self.sandbox.denied("metrics", provider, provider));
        }
        let p = self
            .sandbox
            .resources
            .metrics
            .get(provider)
            .ok_or_else(|| format!("no metrics provider named `{provider}`; define [metrics.{provider}] in the policy"))?;
        Ok(p.url.trim_end_matches('/').to_string())
    }
}

/// The URL of an API GET: the provider's base plus `path`, parsed and checked
/// like an `http` request, and still under the base's `/api/v1/` or `/-/`
/// afterwards (so no dot segment, encoding or query can leave them).
fn api_url(base: &str, path: &str) -> Result<Url, String> {
    let refused = || format!("`{path}`: only paths under /api/v1/ and /-/ are allowed");
    if !(path.starts_with("/api/v1/") || path.starts_with("/-/")) || path.contains('#') {
        return Err(refused());
    }
    let base = Url::parse(base).map_err(|e| format!("provider URL `{base}`: {e}"))?;
    let root = base[..url::Position::AfterPath].trim_end_matches('/');
    let url = check_url(&format!("{root}{path}")).map_err(|e| e.to_string())?;
    let prefix = base.path().trim_end_matches('/');
    let under = url.path().strip_prefix(prefix).unwrap_or_default();
    if url.origin() != base.origin() || !(under.starts_with("/api/v1/") || under.starts_with("/-/"))
    {
        return Err(refused());
    }
    Ok(url)
}

async fn get(url: String, query: &[(&str, String)]) -> Result<(u16, String), String> {
    let full = reqwest::Url::parse_with_params(&url, query).map_err(|e| format!("{url}: {e}"))?;
    let mut resp = client()
        .get(full)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("{url}: {e}"))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url}: response larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Runs a PromQL API call and returns `data`, or Prometheus' own error.
pub async fn promql(
    url: String,
    query: Vec<(&'static str, String)>,
) -> Result<serde_json::Value, String> {
    let (status, body) = get(url.clone(), &query).await?;
    let v: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| format!("{url}: HTTP {status}, not a Prometheus API response: {e}"))?;
    if v["status"] != "success" {
        return Err(format!(
            "{url}: {} ({})",
            v["error"].as_str().unwrap_or("query failed"),
            v["errorType"].as_str().unwrap_or("error")
        ));
    }
    Ok(v["data"].clone())
}

fn labels(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn point(v: &serde_json::Value) -> Option<(f64, f64)> {
    let t = v.get(0)?.as_f64()?;
    let x = v.get(1)?.as_str()?.parse::<f64>().ok()?;
    Some((t, x))
}

impl Host for HostState {
    async fn instant(
        &mut self,
        provider: String,
        query: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<Sample>, String>> {
        let base = match self.provider_url(&provider) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        let budget = self.budget(timeout_ms);
        let what = format!("PromQL on `{provider}`");
        Ok(bounded(budget, &what, async move {
            let data = promql(format!("{base}/api/v1/query"), vec![("query", query)]).await?;
            let result = &data["result"];
            Ok(match data["resultType"].as_str() {
                Some("vector") => result
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| {
                        let (timestamp, value) = point(&s["value"])?;
                        Some(Sample {
                            labels: labels(&s["metric"]),
                            timestamp,
                            value,
                        })
                    })
                    .collect(),
                Some("scalar") => point(result)
                    .map(|(timestamp, value)| {
                        vec![Sample {
                            labels: vec![],
                            timestamp,
                            value,
                        }]
                    })
                    .unwrap_or_default(),
                other => {
                    return Err(format!(
                        "unsupported result type {other:?} for an instant query"
                    ));
                }
            })
        })
        .await)
    }

    async fn range(
        &mut self,
        provider: String,
        query: String,
        start: i64,
        end: i64,
        step_seconds: u32,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<Series>, String>> {
        let base = match self.provider_url(&provider) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        let budget = self.budget(timeout_ms);
        let what = format!("PromQL range on `{provider}`");
        Ok(bounded(budget, &what, async move {
            let data = promql(
                format!("{base}/api/v1/query_range"),
                vec![
                    ("query", query),
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                    ("step", step_seconds.max(1).to_string()),
                ],
            )
            .await?;
            Ok(data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| Series {
                    labels: labels(&s["metric"]),
                    points: s["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(point)
                        .collect(),
                })
                .collect())
        })
        .await)
    }

    async fn api(
        &mut self,
        provider: String,
        path: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<(u16, String), String>> {
        let base = match self.provider_url(&provider) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        let url = match api_url(&base, &path) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        let budget = self.budget(timeout_ms);
        let what = format!("GET {path} on `{provider}`");
        Ok(bounded(budget, &what, get(url.to_string(), &[])).await)
    }
}

#[cfg(test)]
mod tests {
    use super::api_url;

    #[test]
    fn api_paths_stay_under_the_api() {
        let base = "http://prom:9090/prefix/";
        let ok = api_url(base, "/api/v1/targets?state=active").unwrap();
        assert_eq!(
            ok.as_str(),
            "http://prom:9090/prefix/api/v1/targets?state=active"
        );
        assert!(api_url(base, "/-/healthy").is_ok());
        for bad in [
            "/api/v1/../../admin",
            "/api/v1/%2e%2e/%2e%2e/admin",
            "/api/v1/..%2fadmin",
            "/-/../api/v2/x",
            "/api/v2/x",
            "/api/v1/x#/../../y",
            "/api/v1\\..\\..\\x",
            "//evil:1/api/v1/x",
        ] {
            assert!(api_url(base, bad).is_err(), "{bad} must be refused");
        }
    }
}
