//! Network attacks driven by a list of cases in the params, one finding per
//! case (subject `case-N`), so one run can try a whole generated corpus.
//! A `pass` finding means the host let the request through; whether that was
//! inside the grant is judged by the test, from what its listeners received.

use gate_plugin_sdk::host::{http, net, unix};
use gate_plugin_sdk::{Context, Finding, Status};

fn list(params: &serde_json::Value, key: &str) -> Vec<serde_json::Value> {
    params
        .get(key)
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default()
}

fn finding(ctx: &Context, i: usize, r: Result<String, String>) -> Finding {
    let subject = format!("case-{i}");
    match r {
        Ok(got) => ctx.finding(subject, Status::Pass).message(got).build(),
        Err(e) => ctx.finding(subject, Status::Error).message(e).build(),
    }
}

fn exchange_options() -> net::ExchangeOptions {
    net::ExchangeOptions {
        max_bytes: 256,
        delimiter: Some("\n".into()),
        timeout_ms: 2000,
    }
}

/// Runs the network check `id`, or `None` when `id` is not one of them.
pub fn run(id: &str, ctx: &Context, params: &serde_json::Value) -> Option<Vec<Finding>> {
    let findings = match id {
        // `cases`: [{ url, headers: { name: value } }]; each request carries
        // `X-Case: N` so the listener can tell which case reached it.
        "hostile.http-cases" => list(params, "cases")
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let mut headers: Vec<(String, String)> = case["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                headers.push(("X-Case".into(), i.to_string()));
                let req = http::Request {
                    method: "GET".into(),
                    url: case["url"].as_str().unwrap_or_default().into(),
                    headers,
                    body: None,
                    timeout_ms: 2000,
                    max_bytes: 4096,
                    ca_file: None,
                };
                let r = http::fetch(&req)
                    .map(|r| format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)));
                finding(ctx, i, r)
            })
            .collect(),
        // `targets`: ["host:port"]; sends `case-N\n` and reads one line.
        "hostile.net-cases" => list(params, "targets")
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let data = format!("case-{i}\n");
                let r = net::exchange(
                    t.as_str().unwrap_or_default(),
                    data.as_bytes(),
                    &exchange_options(),
                )
                .map(|b| String::from_utf8_lossy(&b).into_owned());
                finding(ctx, i, r)
            })
            .collect(),
        // `paths`: socket paths; sends `case-N\n` and reads one line.
        "hostile.unix-cases" => list(params, "paths")
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let data = format!("case-{i}\n");
                let r = unix::exchange(
                    p.as_str().unwrap_or_default(),
                    data.as_bytes(),
                    &exchange_options(),
                )
                .map(|b| String::from_utf8_lossy(&b).into_owned());
                finding(ctx, i, r)
            })
            .collect(),
        // `hosts`: names or addresses to resolve.
        "hostile.resolve-cases" => list(params, "hosts")
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let r = net::resolve(h.as_str().unwrap_or_default(), 2000).map(|a| a.join(","));
                finding(ctx, i, r)
            })
            .collect(),
        _ => return None,
    };
    Some(findings)
}
